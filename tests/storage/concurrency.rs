//! Concurrency: threads inserting, reading and removing keys spread over all three tiers
//! never see a wrong value (values are a pure function of their key), `get_with` runs
//! the computation once per key however many threads ask, and a failed `try_get_with`
//! is not cached.

use crate::common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use common::*;
use smartcache::prelude::*;

const THREADS: usize = 8;

/// Thresholds lowered so that every tier gets traffic without megabyte writes:
/// < 1 KiB memory, < 64 KiB sled, else a file.
fn mixed_config(dir: &Path) -> CacheConfig {
    config(dir)
        .memory_threshold(1 << 10)
        .file_threshold(64 << 10)
}

/// The one value `key` ever has: its tier is chosen by `key % 3`.
fn value_of(key: u64) -> Vec<u8> {
    let len = match key % 3 {
        0 => 200,       // memory
        1 => 8_000,     // sled
        _ => 100 << 10, // file
    };
    bytes_for(key, len)
}

fn tier_of_key(key: u64) -> Tier {
    [Tier::Memory, Tier::Sled, Tier::File][(key % 3) as usize]
}

#[test]
fn mixed_operations_never_return_a_wrong_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = mixed_config(dir.path()).build().expect("build");
    let keys = 36u64;
    let barrier = Barrier::new(THREADS);
    let hits = AtomicUsize::new(0);
    thread::scope(|s| {
        for t in 0..THREADS as u64 {
            let (cache, barrier, hits) = (cache.clone(), &barrier, &hits);
            s.spawn(move || {
                let mut state = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                barrier.wait();
                for _ in 0..150 {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let key = state % keys;
                    match (state >> 32) % 10 {
                        0..=2 => {
                            let tier = cache.insert(key, value_of(key)).expect("insert");
                            assert_eq!(tier, tier_of_key(key), "key {key}");
                        }
                        3 => {
                            cache.remove(&key).expect("remove");
                        }
                        4 => {
                            if let Some(tier) = cache.tier_of(&key) {
                                assert_eq!(tier, tier_of_key(key), "tier_of key {key}");
                            }
                        }
                        _ => {
                            if let Some(v) = cache.get(&key) {
                                assert!(
                                    *v == value_of(key),
                                    "key {key}: wrong value of {} bytes",
                                    v.len()
                                );
                                hits.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                }
            });
        }
    });
    assert!(
        hits.load(Ordering::Relaxed) > 0,
        "no read ever hit: the test did not exercise reads"
    );
    let stats = cache.stats();
    assert_eq!(stats.invalid(), 0, "{stats}");
    assert_eq!(stats.errors(), 0, "{stats}");
    assert!(
        stats.memory.inserts > 0 && stats.sled.inserts > 0 && stats.file.inserts > 0,
        "{stats}"
    );

    // What is left is consistent, also after reopening.
    let left: Vec<u64> = (0..keys).filter(|k| cache.get(k).is_some()).collect();
    for &k in &left {
        assert_eq!(cache.get(&k).as_deref(), Some(&value_of(k)));
    }
    drop(cache);
    let cache: SmartCache<u64, Vec<u8>> = mixed_config(dir.path()).build().expect("reopen");
    for k in 0..keys {
        if let Some(v) = cache.get(&k) {
            assert!(*v == value_of(k), "key {k}: wrong value after reopening");
            assert!(left.contains(&k), "key {k} came back after it was gone");
        }
    }
    assert_eq!(cache.stats().invalid(), 0, "{}", cache.stats());
}

#[test]
fn concurrent_writers_of_one_file_entry_never_tear_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, InFile> = config(dir.path()).promote_max(0).build().expect("build");
    // Two values for one key, each internally consistent: a reader must see one or the
    // other, whole.
    let a = InFile(vec![0xAA; 300_000]);
    let b = InFile(vec![0xBB; 200_000]);
    let barrier = Barrier::new(4);
    thread::scope(|s| {
        for t in 0..4 {
            let (cache, barrier, a, b) = (cache.clone(), &barrier, &a, &b);
            s.spawn(move || {
                barrier.wait();
                for i in 0..30 {
                    if t < 2 {
                        let v = if (i + t) % 2 == 0 {
                            a.clone()
                        } else {
                            b.clone()
                        };
                        cache.insert(7, v).expect("insert");
                    } else if let Some(v) = cache.get(&7) {
                        assert!(
                            *v == *a || *v == *b,
                            "a torn or foreign value of {} bytes",
                            v.0.len()
                        );
                    }
                }
            });
        }
    });
    assert_eq!(cache.stats().invalid(), 0, "{}", cache.stats());
}

fn single_flight(value: Vec<u8>, expected_tier: Tier) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path()).build().expect("build");
    assert_eq!(cache.route(&value), expected_tier);
    let calls = AtomicUsize::new(0);
    let barrier = Barrier::new(THREADS);
    let results: Vec<Arc<Vec<u8>>> = thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let (cache, barrier, calls, value) = (&cache, &barrier, &calls, &value);
                s.spawn(move || {
                    barrier.wait();
                    cache.get_with(1, || {
                        calls.fetch_add(1, Ordering::SeqCst);
                        thread::sleep(Duration::from_millis(50));
                        value.clone()
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "{expected_tier}: the computation ran more than once"
    );
    for r in &results {
        assert!(**r == value, "{expected_tier}: a thread got another value");
    }
    assert_eq!(cache.tier_of(&1), Some(expected_tier));
    // Later callers are served from the cache too.
    let again = cache.get_with(1, || {
        calls.fetch_add(1, Ordering::SeqCst);
        Vec::new()
    });
    assert!(*again == value);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "{expected_tier}: recomputed a cached value"
    );
}

#[test]
fn single_flight_memory() {
    single_flight(small(1), Tier::Memory);
}

#[test]
fn single_flight_sled() {
    single_flight(medium(1), Tier::Sled);
}

#[test]
fn single_flight_file() {
    single_flight(large(1), Tier::File);
}

#[test]
fn get_with_reads_persisted_values_without_computing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path()).build().expect("build");
    cache.insert(1, medium(1)).expect("insert");
    cache.insert(2, large(2)).expect("insert");
    drop(cache);
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path()).build().expect("reopen");
    let calls = AtomicUsize::new(0);
    for (key, want) in [(1, medium(1)), (2, large(2))] {
        let got = cache.get_with(key, || {
            calls.fetch_add(1, Ordering::SeqCst);
            Vec::new()
        });
        assert!(*got == want, "key {key}");
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "computed values that were on disk"
    );
}

#[test]
fn try_get_with_errors_are_not_cached() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path()).build().expect("build");
    for (key, value) in [(1, small(1)), (2, medium(2)), (3, large(3))] {
        let failed = cache.try_get_with(key, || Err::<Vec<u8>, _>("boom"));
        assert_eq!(failed.err(), Some("boom"));
        assert_eq!(cache.get(&key), None, "key {key}: an error was cached");
        assert!(!cache.contains_key(&key));
        let mut ran = false;
        let ok = cache.try_get_with(key, || {
            ran = true;
            Ok::<_, &str>(value.clone())
        });
        assert!(ran, "key {key}: the second call did not recompute");
        assert!(ok.expect("second call succeeds").as_slice() == value.as_slice());
        assert_eq!(
            cache.get(&key).as_deref(),
            Some(&value),
            "key {key}: the success was not cached"
        );
    }
}

#[test]
fn waiters_on_a_failed_computation_compute_themselves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path()).build().expect("build");
    let calls = AtomicUsize::new(0);
    let barrier = Barrier::new(THREADS);
    let results: Vec<Result<Arc<Vec<u8>>, String>> = thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let (cache, barrier, calls) = (&cache, &barrier, &calls);
                s.spawn(move || {
                    barrier.wait();
                    cache.try_get_with(5, || {
                        let n = calls.fetch_add(1, Ordering::SeqCst);
                        thread::sleep(Duration::from_millis(50));
                        if n == 0 {
                            Err(format!("call {n} fails"))
                        } else {
                            Ok(medium(5))
                        }
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let errors = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(
        errors, 1,
        "only the caller whose computation failed sees the error"
    );
    for r in results.iter().flatten() {
        assert!(**r == medium(5));
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "one failure, then one computation for all the others"
    );
    assert_eq!(cache.get(&5).as_deref(), Some(&medium(5)));
}

#[test]
fn a_panicking_computation_releases_the_waiters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path()).build().expect("build");
    let calls = AtomicUsize::new(0);
    let barrier = Barrier::new(4);
    let results: Vec<Option<Arc<Vec<u8>>>> = thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (cache, barrier, calls) = (&cache, &barrier, &calls);
                s.spawn(move || {
                    barrier.wait();
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        cache.get_with(9, || {
                            let n = calls.fetch_add(1, Ordering::SeqCst);
                            thread::sleep(Duration::from_millis(50));
                            assert!(n != 0, "the first computation panics (on purpose)");
                            small(9)
                        })
                    }))
                    .ok()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(
        results.iter().filter(|r| r.is_none()).count(),
        1,
        "one caller panicked"
    );
    for r in results.iter().flatten() {
        assert!(**r == small(9));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// Version `n` of key 1's value: its first 8 bytes say `n`, the rest follow from `n`;
/// even versions go to sled, odd ones to a file (with `mixed_config`).
fn version(n: u64) -> Vec<u8> {
    let len = if n.is_multiple_of(2) {
        8_000
    } else {
        100 << 10
    };
    let mut v = n.to_le_bytes().to_vec();
    v.extend_from_slice(&bytes_for(n, len));
    v
}

fn version_of(v: &[u8]) -> u64 {
    let n = u64::from_le_bytes(v[..8].try_into().expect("8 bytes"));
    assert!(
        v == version(n).as_slice(),
        "a torn value claiming version {n}"
    );
    n
}

/// Readers promoting values from disk while a writer replaces them: once the writer is
/// done, the last write wins everywhere — a slow read never puts back an older value,
/// and a final remove is not undone.
#[test]
fn the_last_write_wins_over_concurrent_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = mixed_config(dir.path()).build().expect("build");
    let writes = 120;
    for round in 0..2 {
        let done = std::sync::atomic::AtomicBool::new(false);
        thread::scope(|s| {
            for _ in 0..3 {
                let (cache, done) = (&cache, &done);
                s.spawn(move || {
                    while !done.load(Ordering::Acquire) {
                        if let Some(v) = cache.get(&1) {
                            version_of(&v);
                        }
                    }
                });
            }
            for n in 0..writes {
                cache.insert(1, version(n)).expect("insert");
            }
            if round == 1 {
                cache.remove(&1).expect("remove");
            }
            done.store(true, Ordering::Release);
        });
        if round == 0 {
            let last = cache.get(&1).expect("the last value");
            assert_eq!(version_of(&last), writes - 1, "an older value came back");
            assert_eq!(cache.tier_of(&1), Some(Tier::File));
        } else {
            assert_eq!(cache.get(&1), None, "a removed value came back");
        }
    }
    drop(cache);
    let cache: SmartCache<u64, Vec<u8>> = mixed_config(dir.path()).build().expect("reopen");
    assert_eq!(
        cache.get(&1),
        None,
        "a removed value came back after reopening"
    );
}

/// One single-flight serves `fn` and `async fn` alike: threads calling `get_with` and
/// tasks awaiting the memoized `async fn` on the same key share one computation, and a
/// cancelled leader hands the lead to a waiting task.
#[cfg(feature = "async")]
mod across_threads_and_tasks {
    use super::*;

    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[memoize(tier = "memory")]
    async fn slow_square(x: u64) -> u64 {
        RUNS.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
        x * x
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn threads_and_tasks_share_one_computation() {
        let tasks: Vec<_> = (0..4).map(|_| tokio::spawn(slow_square(12))).collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Threads that block in get_with wait for the task that leads.
        let threads: Vec<_> = (0..4)
            .map(|_| {
                thread::spawn(|| {
                    *slow_square_cache().get_with(12, || {
                        RUNS.fetch_add(1, Ordering::SeqCst);
                        144
                    })
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.expect("task"), 144);
        }
        for t in threads {
            assert_eq!(t.join().expect("thread"), 144);
        }
        assert_eq!(
            RUNS.load(Ordering::SeqCst),
            1,
            "the body ran more than once"
        );
        assert!(
            slow_square_cache().stats().hits >= 4,
            "followers count as hits"
        );
    }

    static CANCELLED_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[memoize(tier = "memory")]
    async fn slow_cube(x: u64) -> u64 {
        CANCELLED_RUNS.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
        x * x * x
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_leader_hands_the_computation_to_a_waiting_task() {
        let leader = tokio::spawn(slow_cube(3));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let follower = tokio::spawn(slow_cube(3));
        tokio::time::sleep(Duration::from_millis(50)).await;
        leader.abort();
        let value = tokio::time::timeout(Duration::from_secs(10), follower)
            .await
            .expect("the follower was left waiting")
            .expect("follower");
        assert_eq!(value, 27);
        assert_eq!(
            CANCELLED_RUNS.load(Ordering::SeqCst),
            2,
            "the follower computes after the leader is gone"
        );
    }
}
