//! `#[memoize]` in each of its forms: a function whose results stay in memory, one whose
//! results go to sled, one whose results go to files (and so outlive the process and are
//! shared with other processes), one whose results go where their type and size send
//! them, an `async fn` (feature `async`), a method, a whole configuration, results that
//! choose their own lifetime, the companions of a memoized function, and the stats of each.
//!
//! ```sh
//! cargo run --release --example memoize --features async
//! ```
//!
//! Run it twice: the second run finds the sled and file results of the first. Storage
//! goes to `$SMARTCACHE_DIR`, else the platform cache folder.

use std::time::{Duration, Instant};

use smartcache::prelude::*;

// ANCHOR: decorators
// ANCHOR: mcache
/// Kept in memory for ten minutes: the `@mcache` of Python.
#[memoize(tier = "memory", ttl = "10m")]
fn fibonacci(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fibonacci(n - 1) + fibonacci(n - 2)
    }
}
// ANCHOR_END: mcache

// ANCHOR: bcache
/// Kept in sled, under a namespace of its own: the `@bcache` of Python.
#[memoize(tier = "sled", namespace = "example-primes")]
fn primes_below(limit: u64) -> Vec<u64> {
    std::thread::sleep(Duration::from_millis(200)); // an expensive computation
    (2..limit)
        .filter(|n| (2..).take_while(|d| d * d <= *n).all(|d| n % d != 0))
        .collect()
}
// ANCHOR_END: bcache

// ANCHOR: fcache
/// Kept in files, compressed: the `@fcache(compress=True)` of Python. `verbose` does
/// not change the result, so it is not part of the key.
#[memoize(tier = "file", compression = "zstd", ignore = [verbose])]
fn report(title: &str, rows: usize, verbose: bool) -> Vec<String> {
    if verbose {
        println!("  (computing the report {title:?})");
    }
    std::thread::sleep(Duration::from_millis(300));
    (0..rows).map(|i| format!("{title} row {i}")).collect()
}
// ANCHOR_END: fcache

// ANCHOR: ucache
/// No tier named: each result goes where its type and size send it (the `@ucache` and
/// `hybrid_cache` of Python). A short histogram stays in memory, a long one goes to a file.
#[memoize(namespace = "example-histogram")]
fn histogram(buckets: usize) -> Vec<u64> {
    (0..buckets as u64).map(|b| b * b % 97).collect()
}
// ANCHOR_END: ucache

// ANCHOR: acache
/// An `async fn` (feature `async`): the `@acache` of Python. Disk and Redis work runs on
/// a thread pool, off the executor.
#[cfg(feature = "async")]
#[memoize(tier = "memory")]
async fn fetch_price(symbol: String) -> Option<u64> {
    tokio::time::sleep(Duration::from_millis(150)).await; // a slow service
    (!symbol.is_empty()).then(|| symbol.bytes().map(u64::from).sum())
}
// ANCHOR_END: acache
// ANCHOR_END: decorators

struct Geometry {
    precision: u32,
}

// ANCHOR: method
impl Geometry {
    /// A method that reads `self` is keyed by its instance; `key = ..` keys it by the
    /// part of `self` that decides the result (here `precision`, as `Geometry` is no key).
    #[memoize(tier = "memory", key = (self.precision, sides): (u32, u32))]
    fn polygon_area(&self, sides: u32) -> f64 {
        let n = f64::from(sides);
        let area = n / 2.0 * (2.0 * std::f64::consts::PI / n).sin();
        let scale = 10f64.powi(self.precision as i32);
        (area * scale).round() / scale
    }
}
// ANCHOR_END: method

// ANCHOR: config
/// A whole configuration: any `CacheConfig` expression (the `@ucache(config=..)` of
/// Python). The attribute's other options apply on top of it.
#[memoize(
    config = configure_for::<Vec<f64>>()
        .tti(Duration::from_secs(600))
        .compression(Compression::Zstd(9)),
    namespace = "example-samples"
)]
fn samples(n: usize) -> Vec<f64> {
    (0..n).map(|i| (i as f64).sqrt()).collect()
}
// ANCHOR_END: config

// ANCHOR: ttl_of
/// A lookup that found something is kept for a day; one that found nothing, for a second.
fn lifetime(found: &Option<String>) -> Option<Duration> {
    Some(if found.is_some() {
        Duration::from_secs(86_400)
    } else {
        Duration::from_secs(1)
    })
}

/// `cache_none` stores `None` results too (by default they are returned, not stored).
#[memoize(tier = "memory", cache_none, ttl_of = lifetime)]
fn user_name(id: u64) -> Option<String> {
    id.is_multiple_of(2).then(|| format!("user-{id}"))
}
// ANCHOR_END: ttl_of

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let value = f();
    println!(
        "  {what:<36} {:>10.3} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    value
}

fn main() -> Result<(), CacheError> {
    println!("memory: fibonacci(90)");
    let first = timed("first call", || fibonacci(90));
    let again = timed("second call", || fibonacci(90));
    assert_eq!(first, again);

    println!("sled: primes_below(20_000)");
    let primes = timed("call (a hit on the second run)", || primes_below(20_000));
    timed("again", || primes_below(20_000));
    println!("  {} primes", primes.len());

    println!("file: report(\"q3\", 50_000)");
    timed("call (a hit on the second run)", || {
        report("q3", 50_000, true)
    });
    timed("again, verbose off: same key", || {
        report("q3", 50_000, false)
    });

    println!("auto: histogram");
    for buckets in [100, 500_000] {
        histogram(buckets);
        let tier = histogram_cache().tier_of(&buckets).map_or("-", Tier::name);
        println!("  histogram({buckets}) is kept in {tier}");
    }

    println!("method: Geometry::polygon_area");
    let geometry = Geometry { precision: 4 };
    timed("hexagon", || geometry.polygon_area(6));
    println!(
        "  area {}",
        timed("hexagon again", || geometry.polygon_area(6))
    );

    println!("config: samples");
    let policy = samples_cache().config().policy();
    println!(
        "  samples(1000) has {} values; its cache: time to idle {:?}, compression {:?}",
        samples(1000).len(),
        policy.time_to_idle(),
        policy.compression()
    );

    println!("ttl_of: user_name");
    println!(
        "  user_name(2) = {:?}, user_name(3) = {:?}",
        user_name(2),
        user_name(3)
    );

    // ANCHOR: companions
    // The companions of a memoized function.
    let (_, cached) = fibonacci_with_cached_flag(90); // (result, was it cached?)
    let fresh = fibonacci_uncached(20); // runs the body; the cache is not touched
    let redone = fibonacci_refresh(30); // runs the body and stores the result
    fibonacci_prime(1_000, 42)?; // stores a result without running the body
    let removed = fibonacci_cache().remove(&1_000)?; // the SmartCache behind it
                                                     // ANCHOR_END: companions
    println!("companions: fibonacci");
    println!("  fibonacci_with_cached_flag(90): cached {cached}");
    println!("  fibonacci_uncached(20) = {fresh}, fibonacci_refresh(30) = {redone}");
    println!("  fibonacci_prime(1000, 42), then removed: {removed}");

    #[cfg(feature = "async")]
    {
        println!("async: fetch_price");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a tokio runtime");
        runtime.block_on(async {
            let start = Instant::now();
            let price = fetch_price("ACME".into()).await;
            println!(
                "  first call {:>29.3} ms",
                start.elapsed().as_secs_f64() * 1e3
            );
            let start = Instant::now();
            assert_eq!(fetch_price("ACME".into()).await, price);
            println!(
                "  second call {:>28.3} ms",
                start.elapsed().as_secs_f64() * 1e3
            );
        });
    }

    println!("\nstats");
    println!("fibonacci:\n{}", fibonacci_cache().stats());
    println!("primes_below:\n{}", primes_below_cache().stats());
    println!("report:\n{}", report_cache().stats());
    println!(
        "storage: {}",
        report_cache()
            .path()
            .map_or("none".into(), |p| p.display().to_string())
    );
    Ok(())
}
