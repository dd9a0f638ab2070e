//! The file tier against `std::fs` and cacache: insert then get of a 64 MiB `Vec<u8>`.
//! Targets: at most 1.3× `std::fs::write` + `std::fs::read` of the same bytes, and faster
//! than cacache's `write_sync` + `read_sync`.
//!
//! Every contender gets an owned copy of the bytes (made outside the timing) and frees it
//! inside the timing, as the cache does when it takes ownership of a value.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::BatchSize;
use smartcache::prelude::*;

const SIZE: usize = 64 << 20;

fn main() {
    let mut c = common::criterion()
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u32, Vec<u8>> = CacheConfig::default()
        .dir(dir.path().join("smartcache"))
        .build()
        .expect("cache");
    let raw_path = dir.path().join("raw.bin");
    let cacache_dir = dir.path().join("cacache");
    let bytes: Vec<u8> = (0..SIZE).map(|i| (i * 31 % 251) as u8).collect();
    assert_eq!(cache.route(&bytes), Tier::File);

    let mut group = c.benchmark_group("file_64mib");
    group.bench_function("smartcache", |b| {
        b.iter_batched(
            || bytes.clone(),
            |v| {
                cache.insert(1, v).expect("insert");
                cache.get(&1).expect("hit")
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("std_fs", |b| {
        b.iter_batched(
            || bytes.clone(),
            |v| {
                std::fs::write(&raw_path, &v).expect("write");
                drop(v);
                std::fs::read(&raw_path).expect("read")
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("cacache", |b| {
        b.iter_batched(
            || bytes.clone(),
            |v| {
                cacache::write_sync(&cacache_dir, "key", &v).expect("write");
                drop(v);
                cacache::read_sync(&cacache_dir, "key").expect("read")
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
    c.final_summary();
    assert_eq!(black_box(cache.get(&1)).map(|v| v.len()), Some(SIZE));
    assert_eq!(cache.stats().file.invalid, 0);
    common::report_ratio("file_64mib", "smartcache", "std_fs", "<= 1.3x");
    common::report_ratio("file_64mib", "smartcache", "cacache", "< 1.0x");
}
