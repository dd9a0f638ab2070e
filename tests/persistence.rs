//! Persistence across real processes: this test binary re-runs itself as a child (one
//! `child_*` test, selected with `--exact`, told what to do by an environment variable;
//! without the variable a child test returns at once). A child writes sled and file
//! values that the parent reads, and the other way round; a value flushed before the
//! process dies abruptly survives; a sled database held by a live process makes another
//! process's `with_config` fail with `CacheError::Locked`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Stdio};

use common::*;
use smartcache::prelude::*;

fn auto_cache(dir: &Path) -> SmartCache<u64, Vec<u8>> {
    config(dir).build().expect("build an Auto cache")
}

fn file_cache(dir: &Path) -> SmartCache<u64, InFile> {
    config(dir)
        .namespace("shared-files")
        .build()
        .expect("build a file cache")
}

/// What the lock holder prints once it holds the database (libtest may print the test's
/// name on the same line first, so the parent looks for it anywhere in a line).
const LOCK_HOLDER_READY: &str = "LOCK-HOLDER-READY";

/// Kills the child process it holds if the parent test fails before reaping it.
struct KillOnDrop(Option<Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---- children -------------------------------------------------------------------------

#[test]
fn child_writer() {
    let Some(dir) = child_role("writer") else {
        return;
    };
    let cache = auto_cache(&dir);
    assert_eq!(cache.insert(1, medium(1)).expect("insert"), Tier::Sled);
    assert_eq!(cache.insert(2, large(2)).expect("insert"), Tier::File);
    assert_eq!(cache.insert(3, medium(3)).expect("insert"), Tier::Sled);
    // Dropped at the end of the test: flushed and closed like any cache.
}

#[test]
fn child_reader() {
    let Some(dir) = child_role("reader") else {
        return;
    };
    let cache = auto_cache(&dir);
    assert_eq!(
        cache.get(&1).as_deref(),
        Some(&large(100)),
        "key 1 as the parent rewrote it"
    );
    assert_eq!(cache.tier_of(&1), Some(Tier::File));
    assert_eq!(
        cache.get(&2).as_deref(),
        Some(&large(2)),
        "key 2 as the first child wrote it"
    );
    assert_eq!(cache.get(&3), None, "key 3 was removed by the parent");
    assert_eq!(
        cache.get(&4).as_deref(),
        Some(&medium(4)),
        "key 4 written by the parent"
    );
    assert_eq!(cache.tier_of(&4), Some(Tier::Sled));
    let stats = cache.stats();
    assert_eq!(stats.sled.hits, 1, "{stats}");
    assert_eq!(stats.file.hits, 2, "{stats}");
    assert_eq!(stats.invalid(), 0, "{stats}");
}

#[test]
fn child_flush_then_exit() {
    let Some(dir) = child_role("flush-exit") else {
        return;
    };
    let cache = auto_cache(&dir);
    cache.insert(1, medium(1)).expect("insert");
    cache.insert(2, large(2)).expect("insert");
    cache.flush().expect("flush");
    println!("FLUSHED");
    std::io::stdout().flush().expect("flush stdout");
    // Die without dropping the cache: only what flush() made durable survives.
    std::process::exit(0);
}

#[test]
fn child_fsync_then_exit() {
    let Some(dir) = child_role("fsync-exit") else {
        return;
    };
    let cache: SmartCache<u64, Vec<u8>> = config(&dir)
        .durability(Durability::Fsync)
        .build()
        .expect("build");
    cache.insert(1, medium(1)).expect("insert");
    cache.insert(2, large(2)).expect("insert");
    println!("INSERTED");
    std::io::stdout().flush().expect("flush stdout");
    std::process::exit(0);
}

#[test]
fn child_lock_holder() {
    let Some(dir) = child_role("lock-holder") else {
        return;
    };
    let cache: SmartCache<u64, InSled> = config(&dir).build().expect("child opens the sled cache");
    cache.insert(7, InSled(medium(7))).expect("insert");
    cache.flush().expect("flush");
    println!("\n{LOCK_HOLDER_READY}");
    std::io::stdout().flush().expect("flush stdout");
    // Hold the database until the parent closes our stdin.
    let mut rest = Vec::new();
    std::io::stdin().read_to_end(&mut rest).expect("read stdin");
}

#[test]
fn child_file_writer() {
    let Some(dir) = child_role("file-writer") else {
        return;
    };
    let cache = file_cache(&dir);
    assert_eq!(
        cache.get(&6).as_deref(),
        Some(&InFile(medium(6))),
        "the parent's live value"
    );
    cache.insert(5, InFile(medium(5))).expect("insert");
}

// ---- parents --------------------------------------------------------------------------

#[test]
fn values_cross_processes_both_ways() {
    let dir = tempfile::tempdir().expect("tempdir");
    run_child("child_writer", "writer", dir.path(), &[]);

    let cache = auto_cache(dir.path());
    assert_eq!(cache.tier_of(&1), Some(Tier::Sled));
    assert_eq!(
        cache.get(&1).as_deref(),
        Some(&medium(1)),
        "sled value from the child"
    );
    assert_eq!(cache.tier_of(&2), Some(Tier::File));
    assert_eq!(
        cache.get(&2).as_deref(),
        Some(&large(2)),
        "file value from the child"
    );
    let stats = cache.stats();
    assert_eq!((stats.sled.hits, stats.file.hits), (1, 1), "{stats}");
    assert_eq!(stats.sled.entries, 2, "{stats}");
    assert_eq!(stats.file.entries, 1, "{stats}");

    cache
        .insert(1, large(100))
        .expect("rewrite key 1 as a file");
    cache.insert(4, medium(4)).expect("insert key 4");
    assert!(cache.remove(&3).expect("remove key 3"));
    drop(cache);

    run_child("child_reader", "reader", dir.path(), &[]);
}

#[test]
fn flushed_values_survive_an_abrupt_exit() {
    for (test, role, marker) in [
        ("child_flush_then_exit", "flush-exit", "FLUSHED"),
        ("child_fsync_then_exit", "fsync-exit", "INSERTED"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let output = child_command(test, role, dir.path())
            .output()
            .expect("run child");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains(marker),
            "child {role} failed ({}):\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let cache = auto_cache(dir.path());
        assert_eq!(
            cache.get(&1).as_deref(),
            Some(&medium(1)),
            "{role}: sled value lost"
        );
        assert_eq!(
            cache.get(&2).as_deref(),
            Some(&large(2)),
            "{role}: file value lost"
        );
        let stats = cache.stats();
        assert_eq!(stats.invalid(), 0, "{role}: {stats}");
        // The process died without closing: the counts are rebuilt from what is stored.
        assert_eq!(
            (stats.sled.entries, stats.file.entries),
            (1, 1),
            "{role}: {stats}"
        );
        assert!(stats.sled.bytes >= MEDIUM as u64, "{role}: {stats}");
    }
}

#[test]
fn a_sled_database_held_by_another_process_is_locked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let child = child_command("child_lock_holder", "lock-holder", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the lock holder");
    let mut guard = KillOnDrop(Some(child));
    let child = guard.0.as_mut().expect("child");
    let mut lines = BufReader::new(child.stdout.take().expect("child stdout")).lines();
    let ready = lines.any(|line| line.is_ok_and(|l| l.contains(LOCK_HOLDER_READY)));
    assert!(ready, "the lock holder exited before it was ready");

    let err = SmartCache::<u64, InSled>::with_config(config(dir.path()))
        .expect_err("opened a locked sled database");
    assert!(
        matches!(err, CacheError::Locked { .. }),
        "not CacheError::Locked: {err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("Tier::File"),
        "the message does not offer Tier::File: {message}"
    );
    assert!(message.contains("sled"), "{message}");
    // An Auto cache on the same folder needs sled too.
    let err =
        SmartCache::<u64, Vec<u8>>::with_config(config(dir.path())).expect_err("Auto cache opened");
    assert!(
        matches!(err, CacheError::Locked { .. }),
        "not CacheError::Locked: {err:?}"
    );

    let mut child = guard.0.take().expect("child");
    drop(child.stdin.take()); // lets the child finish
    let output = child.wait_with_output().expect("wait for the lock holder");
    assert!(
        output.status.success(),
        "lock holder failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Released: this process can open it now, and finds the child's value.
    let cache: SmartCache<u64, InSled> = config(dir.path()).build().expect("open after release");
    assert_eq!(cache.get(&7).as_deref(), Some(&InSled(medium(7))));
}

#[test]
fn the_file_tier_is_shared_by_live_processes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = file_cache(dir.path());
    cache.insert(6, InFile(medium(6))).expect("insert");
    assert_eq!(cache.get(&5), None);
    // The child opens the same file tier while this process holds it open.
    run_child("child_file_writer", "file-writer", dir.path(), &[]);
    assert_eq!(
        cache.get(&5).as_deref(),
        Some(&InFile(medium(5))),
        "the child's value"
    );
    assert_eq!(cache.tier_of(&5), Some(Tier::File));
    assert_eq!(cache.stats().invalid(), 0);
}
