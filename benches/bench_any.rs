//! An `AnyCache` against a typed `SmartCache`: insert, then a get from disk, of a 128 MiB
//! `Array2<f64>`. Target: at most 1.2× the typed cache, as the value keeps its raw codec.
//! For context, the same array through serde (bincode), the form a serde trait-object
//! registry (typetag) would store.
//!
//! Each contender gets an owned copy of the array (made outside the timing) and frees what
//! it reads inside it. Neither keeps the value in memory (`promote_max(0)`), so every get
//! reads the file.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::BatchSize;
use ndarray::Array2;
use smartcache::prelude::*;

/// The array stored through its serde form, element by element.
#[derive(Clone, serde::Serialize, serde::Deserialize, Cacheable)]
struct ThroughSerde {
    array: Array2<f64>,
}

const ROWS: usize = 4096;
const COLS: usize = 4096; // 4096 × 4096 × 8 bytes = 128 MiB

fn main() {
    let mut c = common::criterion()
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = |name: &str| {
        CacheConfig::default()
            .dir(dir.path())
            .namespace(name)
            .promote_max(0)
    };
    let typed: SmartCache<u32, Array2<f64>> = config("typed").build().expect("typed cache");
    let any: AnyCache<u32> = AnyCache::with_config(config("any")).expect("any cache");
    let serde: SmartCache<u32, ThroughSerde> = config("serde").build().expect("serde cache");
    let array = Array2::from_shape_fn((ROWS, COLS), |(i, j)| (i * COLS + j) as f64);
    assert_eq!(typed.route(&array), Tier::File);

    let mut group = c.benchmark_group("any_128mib");
    group.bench_function("any_cache", |b| {
        b.iter_batched(
            || Box::new(array.clone()),
            |v| {
                any.insert(1, v).expect("insert");
                any.get_as::<Array2<f64>>(&1).expect("hit")
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("typed", |b| {
        b.iter_batched(
            || array.clone(),
            |v| {
                typed.insert(1, v).expect("insert");
                typed.get(&1).expect("hit")
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("serde_bincode", |b| {
        b.iter_batched(
            || ThroughSerde {
                array: array.clone(),
            },
            |v| {
                serde.insert(1, v).expect("insert");
                serde.get(&1).expect("hit")
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
    c.final_summary();
    assert_eq!(
        black_box(any.get_as::<Array2<f64>>(&1)).as_deref(),
        Some(&array)
    );
    assert_eq!(any.stats().file.invalid + typed.stats().file.invalid, 0);
    common::report_ratio("any_128mib", "any_cache", "typed", "<= 1.2x");
    common::report_ratio("any_128mib", "serde_bincode", "typed", "context");
}
