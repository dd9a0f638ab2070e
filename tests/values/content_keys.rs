//! Arguments keyed by their content: `#[memoize]` keys arrays, DataFrames and images by
//! `ContentKey` (their type, shape or schema, and data), so equal content is a hit
//! whatever the layout, and other content a miss; `content = [..]` does it for any
//! `Cacheable` argument, and `ContentKey::of` for a `SmartCache`.
#![cfg(feature = "ndarray")]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use ndarray::{Array1, Array2, ShapeBuilder};
use smartcache::prelude::*;

static SUMS: AtomicUsize = AtomicUsize::new(0);

#[memoize(tier = "memory")]
fn weighted_sum(x: &Array2<f64>, weight: u32) -> f64 {
    SUMS.fetch_add(1, SeqCst);
    x.sum() * f64::from(weight)
}

#[test]
fn an_array_argument_is_keyed_by_its_content() {
    let a = Array2::from_shape_fn((300, 200), |(i, j)| (i * 200 + j) as f64);
    assert_eq!(weighted_sum(&a, 2), a.sum() * 2.0);
    // Equal content in another allocation, and in column-major layout: hits.
    let copy = a.clone();
    assert_eq!(weighted_sum(&copy, 2), a.sum() * 2.0);
    let fortran = {
        let mut f = Array2::<f64>::zeros((300, 200).f());
        f.assign(&a);
        f
    };
    assert!(!fortran.is_standard_layout());
    assert_eq!(weighted_sum(&fortran, 2), a.sum() * 2.0);
    assert_eq!(SUMS.load(SeqCst), 1, "equal content was a miss");
    // Other content, another shape, another argument: misses.
    let mut changed = a.clone();
    changed[[299, 199]] += 1.0;
    weighted_sum(&changed, 2);
    weighted_sum(&a.clone().into_shape_with_order((200, 300)).unwrap(), 2);
    weighted_sum(&a, 3);
    assert_eq!(SUMS.load(SeqCst), 4);
}

#[derive(Clone, serde::Serialize, serde::Deserialize, Cacheable)]
struct Samples {
    values: Vec<f64>, // not Hash: no key by itself
}

static MEANS: AtomicUsize = AtomicUsize::new(0);

#[memoize(tier = "memory", content = [samples])]
fn mean(samples: &Samples) -> f64 {
    MEANS.fetch_add(1, SeqCst);
    samples.values.iter().sum::<f64>() / samples.values.len() as f64
}

#[test]
fn content_keys_any_cacheable_argument() {
    let s = Samples {
        values: vec![1.0, 2.0, 3.0],
    };
    assert_eq!(mean(&s), 2.0);
    assert_eq!(mean(&s.clone()), 2.0);
    assert_eq!(MEANS.load(SeqCst), 1);
    assert_eq!(
        mean(&Samples {
            values: vec![1.0, 2.0, 4.0]
        }),
        7.0 / 3.0
    );
    assert_eq!(MEANS.load(SeqCst), 2);
}

#[test]
fn a_smart_cache_keys_by_content_with_content_key() {
    let cache: SmartCache<ContentKey, f64> = CacheConfig::temporary().build().expect("build");
    let x = Array1::linspace(0.0, 1.0, 1000);
    cache.insert(ContentKey::of(&x), x.sum()).expect("insert");
    assert_eq!(
        cache.get(&ContentKey::of(&x.clone())).as_deref(),
        Some(&x.sum())
    );
    assert_eq!(cache.get(&ContentKey::of(&(&x * 2.0))), None);
    assert_eq!(
        smartcache::content_hash(&x),
        ContentKey::of(&x).as_u128(),
        "one hash"
    );
}

#[cfg(feature = "polars")]
mod frames {
    use super::*;
    use polars::prelude::*;

    static ROWS: AtomicUsize = AtomicUsize::new(0);

    #[memoize(tier = "memory")]
    fn row_count(df: &DataFrame) -> usize {
        ROWS.fetch_add(1, SeqCst);
        df.height()
    }

    fn frame(last: i64) -> DataFrame {
        DataFrame::new(
            3,
            vec![
                Series::new("a".into(), [1i64, 2, last]).into_column(),
                Series::new("b".into(), ["x", "y", "z"]).into_column(),
            ],
        )
        .expect("frame")
    }

    #[test]
    fn a_dataframe_argument_is_keyed_by_its_schema_and_data() {
        assert_eq!(row_count(&frame(3)), 3);
        assert_eq!(row_count(&frame(3)), 3);
        assert_eq!(ROWS.load(SeqCst), 1, "an equal frame was a miss");
        assert_eq!(row_count(&frame(4)), 3);
        let renamed = frame(3).rename("a", "c".into()).expect("rename").clone();
        assert_eq!(row_count(&renamed), 3);
        assert_eq!(ROWS.load(SeqCst), 3, "another frame was a hit");
    }
}
