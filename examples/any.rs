//! One cache for values of many types, and a memoized function whose results are of
//! many types.
//!
//! ```sh
//! cargo run --release --features ndarray --example any
//! ```
//!
//! Run it twice. The first run stores a struct, a matrix and a list, each where its own
//! type sends it; the second reads the persisted ones back as their types, in a new
//! process. `--clear` empties the example's cache. Storage goes to `$SMARTCACHE_DIR`, else
//! the platform cache folder.

use ndarray::Array2;
use smartcache::prelude::*;

// ANCHOR: summary
/// A result of the kind a pipeline keeps beside its arrays. `any` registers the type, so
/// that an `AnyCache` can read its values back in any process.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, Cacheable)]
#[cacheable(any, tier = "sled", tag = "example::Summary")]
struct Summary {
    rows: u64,
    mean: f64,
}
// ANCHOR_END: summary

// ANCHOR: memoize
/// Results of many types, each routed and stored by its own type.
#[memoize(namespace = "example-any-load")]
fn load(what: u32) -> Box<dyn AnyCacheable> {
    match what {
        0 => Box::new(String::from("a label")),          // memory
        _ => Box::new(Array2::<f64>::zeros((512, 512))), // 2 MiB: a file
    }
}
// ANCHOR_END: memoize

fn main() -> Result<(), CacheError> {
    // ANCHOR: build
    let cache: AnyCache<String> =
        AnyCache::with_config(CacheConfig::default().namespace("example-any"))?;
    // ANCHOR_END: build
    if std::env::args().any(|a| a == "--clear") {
        cache.clear()?;
        println!("cleared");
        return Ok(());
    }
    let matrix = || Array2::from_shape_fn((512, 512), |(i, j)| (i + j) as f64);
    let summary = Summary {
        rows: 512,
        mean: 511.0,
    };
    let names = vec!["ada".to_string(), "grace".to_string()];

    show::<Array2<f64>>(&cache, "matrix", "Array2<f64>", || Box::new(matrix()))?;
    show::<Summary>(&cache, "summary", "Summary", || Box::new(summary.clone()))?;
    show::<Vec<String>>(&cache, "names", "Vec<String>", || Box::new(names.clone()))?;

    // ANCHOR: wrong_type
    // Asking for the wrong type is an error that names both.
    if let Err(e) = cache.try_get_as::<String>("summary") {
        println!("as a String: {e}");
    }
    // ANCHOR_END: wrong_type
    println!(
        "{} types registered; {}",
        smartcache::any::registered_types().len(),
        cache.stats()
    );

    // ANCHOR: memoize_call
    let matrix = load(1);
    let matrix: Option<&Array2<f64>> = matrix.downcast_ref();
    let label = load(0);
    println!(
        "load: a {:?} matrix, and the label {:?}",
        matrix.map(|m| m.shape().to_vec()),
        label.downcast_ref::<String>()
    );
    // ANCHOR_END: memoize_call
    cache.flush()
}

// ANCHOR: show
/// Reads `key` as a `T` (called `name`), or stores the value `make` builds, and says
/// which and where.
fn show<T: AnyCacheable>(
    cache: &AnyCache<String>,
    key: &str,
    name: &str,
    make: impl FnOnce() -> Box<dyn AnyCacheable>,
) -> Result<(), CacheError> {
    match cache.try_get_as::<T>(key)? {
        Some(_) => println!(
            "{key}: hit, {name} from {}",
            cache.tier_of(key).map_or("?".into(), |t| t.to_string())
        ),
        None => println!(
            "{key}: stored a {name} in {}",
            cache.insert(key.into(), make())?
        ),
    }
    Ok(())
}
// ANCHOR_END: show
