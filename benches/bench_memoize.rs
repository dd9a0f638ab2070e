//! A memoized function's hit against the lightest memoizers: the `cached` crate's
//! `#[cached]` and `quick_cache` on the same function and arguments, with a raw
//! `moka::sync::Cache::get` beside them.
//!
//! Targets: on one thread a hit costs at most 1.5× `#[cached]`'s; with two threads hitting
//! the same function, at least `#[cached]`'s throughput (the time per call of each is
//! printed, so the ratio must be at most 1×).

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use smartcache::prelude::*;

const KEYS: u64 = 10_000;
const THREADS: u64 = 2;

fn work(x: u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
}

#[memoize(tier = "memory")]
fn memoized(x: u64) -> u64 {
    work(x)
}

#[cached::proc_macro::cached(max_size = 20_000)]
fn with_cached(x: u64) -> u64 {
    work(x)
}

/// The same function on a bare `quick_cache`, the store a memoized function's memory tier
/// is on.
fn with_quick_cache(x: u64) -> u64 {
    static QUICK: std::sync::LazyLock<quick_cache::sync::Cache<u64, u64>> =
        std::sync::LazyLock::new(|| quick_cache::sync::Cache::new(20_000));
    QUICK
        .get_or_insert_with(&x, || Ok::<u64, ()>(work(x)))
        .unwrap_or_default()
}

/// The time `THREADS` threads take together to make `iters` calls of `call` (each a
/// share), divided by nothing: Criterion divides by `iters`, so this is the time per
/// call of the whole, the inverse of throughput.
fn on_threads(iters: u64, call: fn(u64) -> u64) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                let mut k = t * 997;
                for _ in 0..iters / THREADS {
                    k = (k + 1) % KEYS;
                    black_box(call(black_box(k)));
                }
            });
        }
    });
    start.elapsed()
}

fn main() {
    let mut c = common::criterion();
    let moka: moka::sync::Cache<u64, u64> = moka::sync::Cache::new(20_000);
    for k in 0..KEYS {
        memoized(k);
        with_cached(k);
        with_quick_cache(k);
        moka.insert(k, work(k));
    }
    moka.run_pending_tasks();

    let mut group = c.benchmark_group("memoize_hit");
    group.bench_function("smartcache_memoize", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % KEYS;
            black_box(memoized(black_box(k)))
        })
    });
    group.bench_function("cached_macro", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % KEYS;
            black_box(with_cached(black_box(k)))
        })
    });
    group.bench_function("quick_cache", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % KEYS;
            black_box(with_quick_cache(black_box(k)))
        })
    });
    group.bench_function("moka_get", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % KEYS;
            black_box(moka.get(black_box(&k)))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("memoize_hit_2_threads");
    group.bench_function("smartcache_memoize", |b| {
        b.iter_custom(|iters| on_threads(iters, memoized))
    });
    group.bench_function("cached_macro", |b| {
        b.iter_custom(|iters| on_threads(iters, with_cached))
    });
    group.bench_function("quick_cache", |b| {
        b.iter_custom(|iters| on_threads(iters, with_quick_cache))
    });
    group.finish();

    let stats = memoized_cache().stats();
    assert_eq!(stats.misses, KEYS, "every timed call was a hit: {stats}");
    let hit = "memoize_hit";
    common::report_ratio(hit, "smartcache_memoize", "cached_macro", "<= 1.5x");
    common::report_ratio(hit, "smartcache_memoize", "quick_cache", "context");
    common::report_ratio(hit, "smartcache_memoize", "moka_get", "context");
    let both = "memoize_hit_2_threads";
    common::report_ratio(both, "smartcache_memoize", "cached_macro", "<= 1x");
    common::report_ratio(both, "smartcache_memoize", "quick_cache", "context");
}
