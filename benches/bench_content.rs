//! Keying a 128 MiB `Array2<f64>` by its content (`smartcache::content_hash`: type, shape
//! and data through XXH3-128) against one plain XXH3-128 pass over the same bytes: the
//! key should cost about what reading the array once costs. Prints both in GB/s.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::Throughput;
use ndarray::Array2;

const ROWS: usize = 4096;
const COLS: usize = 4096; // 128 MiB of f64

fn main() {
    let mut c = common::criterion()
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    let array = Array2::from_shape_fn((ROWS, COLS), |(i, j)| (i * COLS + j) as f64);
    let bytes: &[u8] = bytemuck::cast_slice(array.as_slice().expect("standard layout"));

    let mut group = c.benchmark_group("content_key_128mib");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("content_hash", |b| {
        b.iter(|| smartcache::content_hash(black_box(&array)))
    });
    group.bench_function("xxh3_128", |b| {
        b.iter(|| twox_hash::XxHash3_128::oneshot(black_box(bytes)))
    });
    group.finish();
    c.final_summary();
    for id in ["content_hash", "xxh3_128"] {
        if let Some(ns) = common::mean_ns("content_key_128mib", id) {
            println!("THROUGHPUT {id}: {:.2} GB/s", bytes.len() as f64 / ns);
        }
    }
    common::report_ratio("content_key_128mib", "content_hash", "xxh3_128", "near 1x");
}
