//! Four processes on one namespace, as a pool of workers would run (multiprocessing,
//! gunicorn): each runs thousands of mixed operations on the same cache folder, every
//! value read back is the one its key stands for, and once all are running each sees the
//! values every other one stored. One of them holds the sled database; the others send
//! sled-bound values to the shared file tier, and so does the holder while they wait.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::*;
use smartcache::prelude::*;

const WORKERS: u64 = 4;
const OPS: u64 = 3_000;

fn value_of(key: u64) -> Vec<u8> {
    let len = match key % 10 {
        0 => 80_000,
        k if k % 3 == 0 => 12_000,
        _ => 300,
    };
    bytes_for(key, len)
}

fn cache(dir: &Path) -> SmartCache<u64, Vec<u8>> {
    // persist_all: small values go to disk too, so that other processes can see them.
    config(dir)
        .file_threshold(64 << 10)
        .persist_all(true)
        .build()
        .expect("every worker opens the cache")
}

fn wait_for_files(dir: &Path, prefix: &str) {
    let all = eventually(Duration::from_secs(60), || {
        (0..WORKERS).all(|w| dir.join(format!("{prefix}-{w}")).exists())
    });
    assert!(all, "not every worker reached {prefix}");
}

#[test]
fn child_worker() {
    let Some(dir) = child_role("worker") else {
        return;
    };
    let me: u64 = std::env::var("WORKER")
        .expect("WORKER")
        .parse()
        .expect("a number");
    let cache = cache(&dir);
    // Keys written before the others may have started: the one that holds sled has
    // these in sled, and must make them visible to the others once they arrive.
    for i in 0..20 {
        let key = 20_000 * (me + 1) + i;
        cache
            .insert(key, value_of(key))
            .expect("insert an early key");
    }
    std::fs::write(dir.join(format!("started-{me}")), b"").expect("mark");
    wait_for_files(&dir, "started");
    // Every process has opened the cache: the waiters have told the sled holder.
    std::thread::sleep(Duration::from_millis(1_200));
    let mut state = 0x2545_F491_4F6C_DD1Du64 ^ me;
    let mut hits = 0;
    for _ in 0..OPS {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let key = state % 400;
        match (state >> 40) % 10 {
            0..=5 => {
                if let Some(v) = cache.get(&key) {
                    assert!(*v == value_of(key), "worker {me}: a wrong value for {key}");
                    hits += 1;
                }
            }
            6..=8 => {
                cache.insert(key, value_of(key)).expect("insert");
            }
            _ => {
                cache.remove(&key).expect("remove");
            }
        }
    }
    // Keys of our own, that only this worker writes; then every other worker's.
    for i in 0..50 {
        let key = 10_000 * (me + 1) + i;
        cache.insert(key, value_of(key)).expect("insert own key");
    }
    cache.flush().expect("flush");
    std::fs::write(dir.join(format!("wrote-{me}")), b"").expect("mark");
    wait_for_files(&dir, "wrote");
    for other in 0..WORKERS {
        for i in (0..50)
            .map(|i| 10_000 * (other + 1) + i)
            .chain((0..20).map(|i| 20_000 * (other + 1) + i))
        {
            let key = i;
            let v = cache.get(&key);
            assert!(
                v.as_deref() == Some(&value_of(key)),
                "worker {me} does not see worker {other}'s key {key}: {:?} bytes",
                v.map(|v| v.len())
            );
        }
    }
    let stats = cache.stats();
    assert_eq!(stats.invalid(), 0, "worker {me}: {stats}");
    println!("worker {me}: {hits} hits\n{stats}");
    std::fs::write(dir.join(format!("checked-{me}")), b"").expect("mark");
    // Stay until all have checked: the holder's sled stays open meanwhile.
    wait_for_files(&dir, "checked");
}

#[test]
fn four_processes_share_one_namespace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let children: Vec<_> = (0..WORKERS)
        .map(|w| {
            child_command("child_worker", "worker", dir.path())
                .env("WORKER", w.to_string())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn a worker")
        })
        .collect();
    for (w, child) in children.into_iter().enumerate() {
        let output = child.wait_with_output().expect("wait for a worker");
        assert_child_passed(&output, &format!("worker {w}"));
    }
    // And a fifth process, now that all have left, reads everything right.
    let cache = cache(dir.path());
    for key in (0..400)
        .chain((1..=WORKERS).flat_map(|w| 10_000 * w..10_000 * w + 50))
        .chain((1..=WORKERS).flat_map(|w| 20_000 * w..20_000 * w + 20))
    {
        if let Some(v) = cache.get(&key) {
            assert!(
                *v == value_of(key),
                "after the workers: a wrong value for {key}"
            );
        }
    }
    assert_eq!(cache.stats().invalid(), 0, "{}", cache.stats());
}
