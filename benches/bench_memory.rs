//! Memory-tier hits against the store underneath, on the same keys and 1 KiB values: a
//! cache on moka (the default, TinyLFU) against `moka::sync::Cache::get`, and one on
//! quick_cache (`Eviction::ClockPro`) against `quick_cache::sync::Cache::get`.
//! Targets: a hit costs at most 1.3× its store's own get; an insert (each replacing a
//! value) at most 1.5× moka's and 2× quick_cache's. quick_cache's shards are read-write
//! locks sharded per thread, so reads on different threads share nothing and a write takes
//! every thread's part of the lock. The peers run with their defaults, bounded by entries.

mod common;

use std::hint::black_box;
use std::sync::Arc;

use smartcache::prelude::*;

const KEYS: u64 = 10_000;
const VALUE: usize = 1024;

fn main() {
    let mut c = common::criterion();
    let dir = tempfile::tempdir().expect("tempdir");

    let cache: SmartCache<u64, Vec<u8>> = CacheConfig::default()
        .dir(dir.path())
        .build()
        .expect("cache");
    let clock: SmartCache<u64, Vec<u8>> = CacheConfig::default()
        .dir(dir.path())
        .namespace("clock")
        .eviction(Eviction::ClockPro)
        .build()
        .expect("cache");
    let quick: quick_cache::sync::Cache<u64, Arc<Vec<u8>>> = quick_cache::sync::Cache::new(20_000);
    // The peers as a user gets them: bounded by entries, with their defaults.
    let moka: moka::sync::Cache<u64, Arc<Vec<u8>>> = moka::sync::Cache::new(20_000);
    for k in 0..KEYS {
        let value = vec![k as u8; VALUE];
        assert_eq!(
            cache.insert(k, value.clone()).expect("insert"),
            Tier::Memory
        );
        clock.insert(k, value.clone()).expect("insert");
        quick.insert(k, Arc::new(value.clone()));
        moka.insert(k, Arc::new(value));
    }

    let mut group = c.benchmark_group("memory_hit");
    group.bench_function("smartcache", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % KEYS;
            black_box(cache.get(black_box(&k)))
        })
    });
    group.bench_function("moka", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % KEYS;
            black_box(moka.get(black_box(&k)))
        })
    });
    group.bench_function("smartcache_clockpro", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % KEYS;
            black_box(clock.get(black_box(&k)))
        })
    });
    group.bench_function("quick_cache", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % KEYS;
            black_box(quick.get(black_box(&k)))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("memory_insert");
    group.bench_function("smartcache", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % KEYS;
            cache
                .insert(black_box(k), vec![1u8; VALUE])
                .expect("insert")
        })
    });
    group.bench_function("moka", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % KEYS;
            moka.insert(black_box(k), Arc::new(vec![1u8; VALUE]))
        })
    });
    group.bench_function("smartcache_clockpro", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % KEYS;
            clock
                .insert(black_box(k), vec![1u8; VALUE])
                .expect("insert")
        })
    });
    group.bench_function("quick_cache", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % KEYS;
            quick.insert(black_box(k), Arc::new(vec![1u8; VALUE]))
        })
    });
    group.finish();
    c.final_summary();
    assert_eq!(cache.stats().misses, 0, "every read was a hit");
    assert_eq!(clock.stats().misses, 0, "every read was a hit");
    common::report_ratio("memory_hit", "smartcache", "moka", "<= 1.3x");
    common::report_ratio(
        "memory_hit",
        "smartcache_clockpro",
        "quick_cache",
        "<= 1.3x",
    );
    common::report_ratio("memory_hit", "smartcache_clockpro", "moka", "context");
    common::report_ratio("memory_insert", "smartcache", "moka", "<= 1.5x");
    common::report_ratio(
        "memory_insert",
        "smartcache_clockpro",
        "quick_cache",
        "<= 2x",
    );
}
