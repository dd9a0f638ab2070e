//! A memoized function's hit, against the floor its memory tier sets (a raw
//! `moka::sync::Cache::get` of the same key), with the `cached` crate's `#[cached]` and
//! `quick_cache` on the same function and arguments beside it. Target: at most 1.5× moka.

mod common;

use std::hint::black_box;

use smartcache::prelude::*;

const KEYS: u64 = 10_000;

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

fn main() {
    let mut c = common::criterion();
    let moka: moka::sync::Cache<u64, u64> = moka::sync::Cache::new(20_000);
    let quick: quick_cache::sync::Cache<u64, u64> = quick_cache::sync::Cache::new(20_000);
    for k in 0..KEYS {
        memoized(k);
        with_cached(k);
        moka.insert(k, work(k));
        quick.insert(k, work(k));
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
    group.bench_function("moka_get", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % KEYS;
            black_box(moka.get(black_box(&k)))
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
            black_box(quick.get_or_insert_with(black_box(&k), || Ok::<u64, ()>(work(k))))
        })
    });
    group.finish();
    let stats = memoized_cache().stats();
    assert_eq!(stats.misses, KEYS, "every timed call was a hit: {stats}");
    common::report_ratio("memoize_hit", "smartcache_memoize", "moka_get", "<= 1.5x");
    common::report_ratio(
        "memoize_hit",
        "smartcache_memoize",
        "cached_macro",
        "context",
    );
    common::report_ratio(
        "memoize_hit",
        "smartcache_memoize",
        "quick_cache",
        "context",
    );
}
