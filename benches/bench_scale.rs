//! How cost grows with the number of entries: get and insert of 1 KiB values in the sled
//! tier at 10³, 10⁵ and 10⁶ entries and in the file tier at 10³ and 10⁵ (a million files
//! take more disk than CI has), each beside its peer on the same workload (raw sled, and
//! `std::fs` files in the same two-level layout); and memory-tier hits at one and two
//! threads, on moka and quick_cache, beside the bare stores.
//!
//! The curve must stay flat where the peers' does. Keys are read and rewritten in a
//! scattered order over all the entries, so that a larger store is really larger to the
//! caches of the machine.

mod common;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smartcache::prelude::*;

const VALUE: usize = 1024;

/// The `i`-th key of a scattered walk over `n` keys (an odd multiplier modulo a power of
/// two covers every key once per cycle of the next power of two).
fn scattered(i: u64, n: u64) -> u64 {
    let span = n.next_power_of_two();
    let mut k = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) & (span - 1);
    while k >= n {
        k = k.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1) & (span - 1);
    }
    k
}

/// A fresh value for insert `n`: its first bytes count the inserts.
fn value(n: u64) -> Vec<u8> {
    let mut v = vec![7u8; VALUE];
    v[..8].copy_from_slice(&n.to_le_bytes());
    v
}

/// The file of `key` in a plain two-level layout, as a user would write one file per entry.
fn plain_file(root: &Path, key: u64) -> PathBuf {
    let name = format!("{:016x}", key.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    root.join(&name[..2]).join(name)
}

fn config(dir: &Path, namespace: &str, tier: Tier) -> CacheConfig {
    CacheConfig::default()
        .dir(dir)
        .namespace(namespace)
        .tier(tier)
        .promote_max(0)
        .disk_capacity(64 << 30)
}

/// Benches get and insert of `ours` against `peer_get` / `peer_insert` at `n` entries.
fn compare(
    c: &mut criterion::Criterion,
    what: &str,
    n: u64,
    ours: &SmartCache<u64, Vec<u8>>,
    peer_get: &dyn Fn(u64) -> usize,
    peer_insert: &dyn Fn(u64, Vec<u8>),
) {
    let mut g = c.benchmark_group(format!("scale_{what}_get/{n}"));
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    g.sample_size(30);
    g.bench_function("smartcache", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            black_box(ours.get(&scattered(i, n))).is_some()
        })
    });
    g.bench_function("peer", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            black_box(peer_get(scattered(i, n)))
        })
    });
    g.finish();
    let mut g = c.benchmark_group(format!("scale_{what}_insert/{n}"));
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    g.sample_size(30);
    let mut count = n;
    g.bench_function("smartcache", |b| {
        b.iter(|| {
            count += 1;
            ours.insert(scattered(count, n), value(count))
                .expect("insert")
        })
    });
    ours.flush().expect("flush");
    g.bench_function("peer", |b| {
        b.iter(|| {
            count += 1;
            peer_insert(scattered(count, n), value(count))
        })
    });
    g.finish();
}

fn sled_at(c: &mut criterion::Criterion, dir: &Path, n: u64) {
    let ours: SmartCache<u64, Vec<u8>> = config(dir, &format!("sled-{n}"), Tier::Sled)
        .build()
        .expect("cache");
    // The sled tier's own page cache (64 MiB): the same database configuration on both
    // sides, so that both page to disk alike once the entries outgrow it.
    let db = sled::Config::new()
        .path(dir.join(format!("raw-sled-{n}")))
        .cache_capacity(64 << 20)
        .open()
        .expect("sled");
    let started = Instant::now();
    for k in 0..n {
        ours.insert(k, value(k)).expect("insert");
        db.insert(k.to_be_bytes(), value(k)).expect("insert");
    }
    ours.flush().expect("flush");
    db.flush().expect("flush");
    eprintln!(
        "filled {n} sled entries each side in {:?}",
        started.elapsed()
    );
    compare(
        c,
        "sled",
        n,
        &ours,
        &|k| {
            db.get(k.to_be_bytes())
                .expect("get")
                .map_or(0, |v| v.to_vec().len())
        },
        &|k, v| {
            db.insert(k.to_be_bytes(), v).expect("insert");
        },
    );
    assert_eq!(ours.stats().sled.invalid + ours.stats().sled.errors, 0);
}

fn file_at(c: &mut criterion::Criterion, dir: &Path, n: u64) {
    let ours: SmartCache<u64, Vec<u8>> = config(dir, &format!("files-{n}"), Tier::File)
        .build()
        .expect("cache");
    let root = dir.join(format!("plain-files-{n}"));
    for shard in 0..=255u8 {
        std::fs::create_dir_all(root.join(format!("{shard:02x}"))).expect("shard");
    }
    let started = Instant::now();
    for k in 0..n {
        ours.insert(k, value(k)).expect("insert");
        std::fs::write(plain_file(&root, k), value(k)).expect("write");
    }
    eprintln!("filled {n} files each side in {:?}", started.elapsed());
    compare(
        c,
        "file",
        n,
        &ours,
        &|k| std::fs::read(plain_file(&root, k)).map_or(0, |v| v.len()),
        &|k, v| {
            // As a careful user writes a file others may read: a temporary, then a rename.
            let path = plain_file(&root, k);
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, v).expect("write");
            std::fs::rename(&tmp, &path).expect("rename");
        },
    );
}

/// The time `threads` threads take together for `iters` calls of `call`, a share each.
fn on_threads(iters: u64, threads: u64, call: &(dyn Fn(u64) + Sync)) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                for i in 0..iters / threads {
                    call(t * 7919 + i);
                }
            });
        }
    });
    start.elapsed()
}

fn memory(c: &mut criterion::Criterion, dir: &Path) {
    const KEYS: u64 = 100_000;
    let moka_backed: SmartCache<u64, Vec<u8>> = config(dir, "memory-moka", Tier::Memory)
        .build()
        .expect("cache");
    let quick_backed: SmartCache<u64, Vec<u8>> = config(dir, "memory-quick", Tier::Memory)
        .eviction(Eviction::ClockPro)
        .build()
        .expect("cache");
    let moka: moka::sync::Cache<u64, Arc<Vec<u8>>> = moka::sync::Cache::builder()
        .max_capacity(smartcache::DEFAULT_MEMORY_CAPACITY)
        .weigher(|_k, v: &Arc<Vec<u8>>| v.len() as u32)
        .build();
    let quick: quick_cache::sync::Cache<u64, Arc<Vec<u8>>> =
        quick_cache::sync::Cache::new(KEYS as usize * 2);
    for k in 0..KEYS {
        moka_backed.insert(k, value(k)).expect("insert");
        quick_backed.insert(k, value(k)).expect("insert");
        moka.insert(k, Arc::new(value(k)));
        quick.insert(k, Arc::new(value(k)));
    }
    moka.run_pending_tasks();
    for threads in [1, 2] {
        let mut g = c.benchmark_group(format!("scale_memory_hit/{threads}_threads"));
        g.warm_up_time(Duration::from_millis(500));
        g.measurement_time(Duration::from_secs(2));
        g.sample_size(30);
        let calls: [(&str, &(dyn Fn(u64) + Sync)); 4] = [
            ("smartcache_moka", &|i| {
                black_box(moka_backed.get(&scattered(i, KEYS)));
            }),
            ("moka", &|i| {
                black_box(moka.get(&scattered(i, KEYS)));
            }),
            ("smartcache_clockpro", &|i| {
                black_box(quick_backed.get(&scattered(i, KEYS)));
            }),
            ("quick_cache", &|i| {
                black_box(quick.get(&scattered(i, KEYS)));
            }),
        ];
        for (name, call) in calls {
            g.bench_function(name, |b| {
                b.iter_custom(|iters| on_threads(iters, threads, call))
            });
        }
        g.finish();
    }
}

fn main() {
    let mut c = common::criterion();
    // $SMARTCACHE_BENCH_DIR puts the stores on another disk (they take about 4 GB).
    let dir = match std::env::var_os("SMARTCACHE_BENCH_DIR") {
        Some(parent) => tempfile::tempdir_in(parent),
        None => tempfile::tempdir(),
    }
    .expect("tempdir");
    memory(&mut c, dir.path());
    let sled_sizes = [1_000, 100_000, 1_000_000];
    let file_sizes = [1_000, 100_000];
    for n in sled_sizes {
        sled_at(&mut c, dir.path(), n);
    }
    for n in file_sizes {
        file_at(&mut c, dir.path(), n);
    }
    c.final_summary();
    println!("SCALE what entries smartcache peer ratio");
    let row = |group: String| match (
        common::mean_ns(&group, "smartcache"),
        common::mean_ns(&group, "peer"),
    ) {
        (Some(a), Some(b)) => println!("SCALE {group} {a:.0} ns {b:.0} ns {:.2}x", a / b),
        _ => println!("SCALE {group}: no estimates in this run"),
    };
    for n in sled_sizes {
        row(format!("scale_sled_get/{n}"));
        row(format!("scale_sled_insert/{n}"));
    }
    for n in file_sizes {
        row(format!("scale_file_get/{n}"));
        row(format!("scale_file_insert/{n}"));
    }
    for threads in [1, 2] {
        let group = format!("scale_memory_hit/{threads}_threads");
        common::report_ratio(&group, "smartcache_moka", "moka", "flat");
        common::report_ratio(&group, "smartcache_clockpro", "quick_cache", "flat");
    }
}
