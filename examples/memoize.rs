//! `#[memoize]` in each of its forms: a function whose results stay in memory, one whose
//! results go to sled, one whose results go to files (and so outlive the process and are
//! shared with other processes), a method, an `async fn` (feature `async`), and the
//! stats of each.
//!
//! Run it twice: the second run finds the sled and file results of the first.
//!
//! ```console
//! cargo run --release --example memoize --features async
//! ```

use std::time::{Duration, Instant};

use smartcache::prelude::*;

/// Kept in memory: the `@mcache` of Python.
#[memoize(tier = "memory", ttl = "10m")]
fn fibonacci(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fibonacci(n - 1) + fibonacci(n - 2)
    }
}

/// Kept in sled, under a namespace of its own: the `@bcache` of Python.
#[memoize(tier = "sled", namespace = "example-primes")]
fn primes_below(limit: u64) -> Vec<u64> {
    std::thread::sleep(Duration::from_millis(200)); // an expensive computation
    (2..limit)
        .filter(|n| (2..).take_while(|d| d * d <= *n).all(|d| n % d != 0))
        .collect()
}

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

struct Geometry {
    precision: u32,
}

impl Geometry {
    /// A method: `&self` is left out of the key unless `key = ..` puts part of it in.
    #[memoize(tier = "memory", key = (self.precision, sides): (u32, u32))]
    fn polygon_area(&self, sides: u32) -> f64 {
        let n = f64::from(sides);
        let area = n / 2.0 * (2.0 * std::f64::consts::PI / n).sin();
        let scale = 10f64.powi(self.precision as i32);
        (area * scale).round() / scale
    }
}

#[cfg(feature = "async")]
#[memoize(tier = "memory")]
async fn fetch_price(symbol: String) -> Option<u64> {
    tokio::time::sleep(Duration::from_millis(150)).await; // a slow service
    (!symbol.is_empty()).then(|| symbol.bytes().map(u64::from).sum())
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let value = f();
    println!(
        "  {what:<36} {:>10.3} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    value
}

fn main() {
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

    println!("method: Geometry::polygon_area");
    let geometry = Geometry { precision: 4 };
    timed("hexagon", || geometry.polygon_area(6));
    println!(
        "  area {}",
        timed("hexagon again", || geometry.polygon_area(6))
    );

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
}
