//! Many threads on one cache: 16 threads × 50,000 mixed operations (get, insert,
//! remove, get_with) over every tier, with values that are a pure function of their key,
//! so that a wrong value is seen; and 15 writers filling sled with values large enough
//! for sled's blob files, each flushing while the others write (sled deletes blobs from a
//! background thread at any time: a flush must not trip over them).

use crate::common;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use common::*;
use smartcache::prelude::*;

const THREADS: u64 = 16;
const OPS: u64 = 50_000;
const KEYS: u64 = 500;

/// The value of `key`: small (memory), medium (sled) or large (file) by key.
fn value_of(key: u64) -> Vec<u8> {
    let len = match key % 20 {
        0 => 70_000,
        k if k % 4 == 0 => 12_000,
        _ => 200,
    };
    bytes_for(key, len)
}

#[test]
fn sixteen_threads_of_mixed_operations_never_see_a_wrong_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
        .file_threshold(64 << 10)
        .memory_capacity(2 << 20)
        .build()
        .expect("build");
    let hits = Arc::new(AtomicU64::new(0));
    let started = std::time::Instant::now();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let cache = cache.clone();
            let hits = Arc::clone(&hits);
            std::thread::spawn(move || {
                let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ t;
                for _ in 0..OPS {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let key = state % KEYS;
                    match (state >> 32) % 100 {
                        0..=59 => {
                            if let Some(v) = cache.get(&key) {
                                assert!(*v == value_of(key), "get {key}: a wrong value");
                                hits.fetch_add(1, Relaxed);
                            }
                        }
                        60..=89 => {
                            cache.insert(key, value_of(key)).expect("insert");
                        }
                        90..=94 => {
                            cache.remove(&key).expect("remove");
                        }
                        _ => {
                            let v = cache.get_with(key, || value_of(key));
                            assert!(*v == value_of(key), "get_with {key}: a wrong value");
                        }
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a worker panicked");
    }
    let stats = cache.stats();
    println!(
        "{} ops in {:?}, {} hits\n{stats}",
        THREADS * OPS,
        started.elapsed(),
        hits.load(Relaxed)
    );
    assert!(hits.load(Relaxed) > 0, "no hit at all");
    assert_eq!((stats.invalid(), stats.errors()), (0, 0), "{stats}");
    cache.flush().expect("flush");
    drop(cache);
    // Everything that is on disk reads back right in a fresh cache.
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
        .file_threshold(64 << 10)
        .build()
        .expect("reopen");
    for key in 0..KEYS {
        if let Some(v) = cache.get(&key) {
            assert!(*v == value_of(key), "reopened {key}: a wrong value");
        }
    }
    assert_eq!(cache.stats().invalid(), 0);
}

#[test]
fn flushes_while_others_write_blobs_never_fail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, InSled> = config(dir.path()).build().expect("build");
    let workers: Vec<_> = (0..15u64)
        .map(|t| {
            let cache = cache.clone();
            std::thread::spawn(move || {
                for i in 0..12 {
                    let key = t * 100 + i;
                    cache
                        .insert(key, InSled(bytes_for(key, 200_000)))
                        .expect("insert");
                    // Overwrites make sled drop the old blobs in the background.
                    cache
                        .insert(key, InSled(bytes_for(key, 200_001)))
                        .expect("overwrite");
                }
                cache.flush().map_err(|e| e.to_string())
            })
        })
        .collect();
    let failures: Vec<String> = workers
        .into_iter()
        .filter_map(|w| w.join().expect("a writer panicked").err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of 15 flushes failed: {failures:?}",
        failures.len()
    );
    let blobs = sled_path(&cache_dir(dir.path())).join("blobs");
    assert!(
        std::fs::read_dir(&blobs).is_ok_and(|mut d| d.next().is_some()),
        "the test wrote no sled blobs, so it proves nothing"
    );
    for t in 0..15u64 {
        let key = t * 100 + 11;
        assert!(cache.get(&key).as_deref() == Some(&InSled(bytes_for(key, 200_001))));
    }
    drop(cache); // closing flushes too, and must not fail (it would log)
}
