//! A 10-million-row, 4-column `DataFrame` in the file tier: insert + get, against polars'
//! own `IpcWriter` + `IpcReader` to a file in the same folder. Target: at most 1.2×.
//! Measured with the default read path and with `CacheConfig::mmap_reads(true)`.

mod common;

use std::fs::File;
use std::time::Duration;

use criterion::BatchSize;
use polars::prelude::*;
use smartcache::prelude::*;

const ROWS: usize = 10_000_000;

fn frame() -> DataFrame {
    let ids: Vec<i64> = (0..ROWS as i64).collect();
    let values: Vec<f64> = (0..ROWS).map(|i| i as f64 * 0.25).collect();
    let labels: Vec<String> = (0..ROWS).map(|i| format!("label-{}", i % 1000)).collect();
    let flags: Vec<bool> = (0..ROWS).map(|i| i % 3 == 0).collect();
    DataFrame::new(
        ROWS,
        vec![
            Series::new("id".into(), ids).into_column(),
            Series::new("value".into(), values).into_column(),
            Series::new("label".into(), labels).into_column(),
            Series::new("flag".into(), flags).into_column(),
        ],
    )
    .expect("frame")
}

fn main() {
    let mut c = common::criterion()
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u32, DataFrame> = configure_for::<DataFrame>()
        .dir(dir.path())
        .namespace("frames")
        .build()
        .expect("cache");
    let mapped: SmartCache<u32, DataFrame> = configure_for::<DataFrame>()
        .dir(dir.path())
        .namespace("frames-mapped")
        .mmap_reads(true)
        .build()
        .expect("cache");
    let df = frame();
    assert_eq!(cache.route(&df), Tier::File);
    let peer_path = dir.path().join("peer.ipc");

    let mut group = c.benchmark_group("dataframe_1e7x4");
    group.bench_function("smartcache", |b| {
        b.iter_batched(
            || df.clone(),
            |frame| {
                cache.insert(1, frame).expect("insert");
                cache.get(&1).expect("hit")
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("smartcache_mmap_reads", |b| {
        b.iter_batched(
            || df.clone(),
            |frame| {
                mapped.insert(1, frame).expect("insert");
                mapped.get(&1).expect("hit")
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("polars_ipc", |b| {
        b.iter_batched(
            || df.clone(),
            |mut frame| {
                let file = File::create(&peer_path).expect("create");
                IpcWriter::new(file).finish(&mut frame).expect("write");
                drop(frame);
                IpcReader::new(File::open(&peer_path).expect("open"))
                    .finish()
                    .expect("read")
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
    common::report_ratio("dataframe_1e7x4", "smartcache", "polars_ipc", "≤ 1.2×");
    common::report_ratio(
        "dataframe_1e7x4",
        "smartcache_mmap_reads",
        "polars_ipc",
        "≤ 1.2×",
    );
}
