//! Arrays in the file tier: a 128 MiB `Array2<f64>` (4096 × 4096).
//!
//! - `array_128mib`: insert + get, against a bincode-serde round trip of the same array
//!   through a file in the same folder. Target: at least 2× faster (ratio ≤ 0.5×).
//! - `array_128mib_cold_get`: a get by a new `SmartCache` instance (the entry in the OS
//!   page cache), beside a plain `std::fs::read` of the entry file. The joblib side of
//!   this comparison is `benches/joblib_compare.py`, which runs this bench.
//! - `array_128mib_mapped`: `get_mapped`, the zero-copy form. Target: under 1 ms.
//! - Peak memory of a cold get, in a child process: at most 2× the array's size.

mod common;

use std::fs::File;
use std::hint::black_box;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::BatchSize;
use ndarray::Array2;
use smartcache::prelude::*;

const SIDE: usize = 4096;
const ARRAY_BYTES: u64 = (SIDE * SIDE * 8) as u64;
/// Set in the child process that measures the peak memory of a cold get.
const RSS_CHILD: &str = "SMARTCACHE_BENCH_RSS_DIR";

fn config(dir: &Path) -> CacheConfig {
    configure_for::<Array2<f64>>().dir(dir).namespace("arrays")
}

fn main() {
    if let Some(dir) = std::env::var_os(RSS_CHILD) {
        rss_child(Path::new(&dir));
        return;
    }
    let mut c = common::criterion()
        .sample_size(10)
        .measurement_time(Duration::from_secs(15));
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u32, Array2<f64>> = config(dir.path()).build().expect("cache");
    let array = Array2::from_shape_fn((SIDE, SIDE), |(i, j)| (i * SIDE + j) as f64 * 0.5);
    assert_eq!(cache.route(&array), Tier::File);
    let peer_path = dir.path().join("bincode.bin");
    let bincode_config = bincode::config::standard();

    let mut group = c.benchmark_group("array_128mib");
    group.bench_function("smartcache", |b| {
        b.iter_batched(
            || array.clone(),
            |a| {
                cache.insert(1, a).expect("insert");
                cache.get(&1).expect("hit")
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("bincode_serde", |b| {
        b.iter_batched(
            || array.clone(),
            |a| {
                let mut out = BufWriter::new(File::create(&peer_path).expect("create"));
                bincode::serde::encode_into_std_write(&a, &mut out, bincode_config)
                    .expect("encode");
                out.flush().expect("flush");
                drop(out);
                drop(a);
                let mut input = BufReader::new(File::open(&peer_path).expect("open"));
                let back: Array2<f64> =
                    bincode::serde::decode_from_std_read(&mut input, bincode_config)
                        .expect("decode");
                back
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();

    cache.insert(1, array.clone()).expect("insert");
    cache.flush().expect("flush");
    let entry = entry_file(dir.path());
    let mut group = c.benchmark_group("array_128mib_cold_get");
    group.bench_function("smartcache", |b| {
        b.iter(|| {
            let fresh: SmartCache<u32, Array2<f64>> = config(dir.path()).build().expect("cache");
            black_box(fresh.get(&1).expect("hit"))
        })
    });
    group.bench_function("std_fs_read", |b| {
        b.iter(|| black_box(std::fs::read(&entry).expect("read")))
    });
    group.finish();

    let first = Instant::now();
    let mapped = cache.get_mapped(&1).expect("read").expect("hit");
    let first = first.elapsed();
    assert_eq!(mapped.view(), array.view());
    drop(mapped);
    let mut group = c.benchmark_group("array_128mib_mapped");
    group.bench_function("smartcache", |b| {
        b.iter(|| black_box(cache.get_mapped(&1).expect("read").expect("hit")))
    });
    group.finish();

    common::report_ratio(
        "array_128mib",
        "smartcache",
        "bincode_serde",
        "≤ 0.5×, i.e. at least 2× faster",
    );
    common::report_ratio(
        "array_128mib_cold_get",
        "smartcache",
        "std_fs_read",
        "as fast as a joblib hit: see benches/joblib_compare.py",
    );
    if let Some(ns) = common::mean_ns("array_128mib_mapped", "smartcache") {
        println!(
            "MAPPED array_128mib: hit {:.3} ms (target < 1 ms); first hit in this process (checksum) {:.1} ms",
            ns / 1e6,
            first.as_secs_f64() * 1e3
        );
    }
    // The child opens the same folder: close this process's cache (and its sled lock).
    drop(cache);
    report_rss(dir.path());
}

/// The entry file of the one array in the cache.
fn entry_file(dir: &Path) -> std::path::PathBuf {
    let mut stack = vec![dir.join("arrays")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.metadata().is_ok_and(|m| m.len() > ARRAY_BYTES) {
                return path;
            }
        }
    }
    panic!("no entry file under {}", dir.display());
}

/// Runs a cold get in a child process and prints its peak memory.
fn report_rss(dir: &Path) {
    let exe = std::env::current_exe().expect("bench binary");
    let output = std::process::Command::new(exe)
        .env(RSS_CHILD, dir)
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout.lines().find(|l| l.starts_with("RSS ")) {
        Some(line) => println!("{line}"),
        None => println!(
            "RSS: the child failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

/// In the child: one cold get, then the process's peak resident memory.
fn rss_child(dir: &Path) {
    let before = status_kib("VmHWM");
    let cache: SmartCache<u32, Array2<f64>> = config(dir).build().expect("cache");
    let array = cache.get(&1).expect("hit");
    let peak = status_kib("VmHWM");
    black_box(&array);
    match (before, peak) {
        (Some(before), Some(peak)) => println!(
            "RSS cold get array_128mib: peak {:.1} MiB (before the get {:.1} MiB) = {:.2}× the array (target ≤ 2×)",
            peak as f64 / 1024.0,
            before as f64 / 1024.0,
            (peak * 1024) as f64 / ARRAY_BYTES as f64
        ),
        _ => println!("RSS cold get array_128mib: /proc/self/status is not available here"),
    }
}

/// A `kB` line of `/proc/self/status`.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
