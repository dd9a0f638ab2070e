//! Persistence across real processes: this test binary re-runs itself as a child (one
//! `child_*` test, selected with `--exact`, told what to do by an environment variable;
//! without the variable a child test returns at once). A child writes sled and file
//! values that the parent reads, and the other way round; a value flushed before the
//! process dies abruptly survives; a sled database held by a live process does not stop
//! another process: both send sled-bound values to the shared file tier and see each
//! other's, and the second takes sled over when the first exits.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::Stdio;

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
/// What the lock holder prints once it has read the parent's value and written its own.
const HOLDER_WROTE: &str = "HOLDER-WROTE";

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
    assert_eq!(
        cache.insert(7, InSled(medium(7))).expect("insert"),
        Tier::Sled
    );
    cache.flush().expect("flush");
    println!("\n{LOCK_HOLDER_READY}");
    std::io::stdout().flush().expect("flush stdout");
    let mut stdin = BufReader::new(std::io::stdin());
    let mut line = String::new();
    stdin.read_line(&mut line).expect("read stdin");
    // The parent, which could not lock sled, wrote key 8 to the file tier. The holder
    // notices the waiting process (checked at most once a second) and reads it.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(
        cache.get(&8).as_deref(),
        Some(&InSled(medium(8))),
        "the parent's value"
    );
    assert_eq!(
        cache.insert(9, InSled(medium(9))).expect("insert"),
        Tier::File,
        "while another process waits, the holder writes to the shared file tier"
    );
    println!("\n{HOLDER_WROTE}");
    std::io::stdout().flush().expect("flush stdout");
    // Hold the database until the parent closes our stdin.
    let mut rest = Vec::new();
    stdin.read_to_end(&mut rest).expect("read stdin");
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
fn a_second_process_shares_a_namespace_whose_sled_is_held() {
    let dir = tempfile::tempdir().expect("tempdir");
    let child = child_command("child_lock_holder", "lock-holder", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the lock holder");
    let mut guard = KillOnDrop(Some(child));
    let child = guard.0.as_mut().expect("child");
    let mut stdin = child.stdin.take().expect("child stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("child stdout")).lines();
    let ready = lines.any(|line| line.is_ok_and(|l| l.contains(LOCK_HOLDER_READY)));
    assert!(ready, "the lock holder exited before it was ready");

    // The database is held: the cache opens all the same, and sled-bound values go to
    // the file tier, which every process shares.
    let cache = SmartCache::<u64, InSled>::with_config(config(dir.path()))
        .expect("a held sled database does not stop a second process");
    assert_eq!(
        cache.insert(8, InSled(medium(8))).expect("insert"),
        Tier::File
    );
    assert_eq!(cache.get(&8).as_deref(), Some(&InSled(medium(8))));
    let stats = cache.stats();
    assert_eq!((stats.sled.rerouted, stats.file.inserts), (1, 1), "{stats}");
    // An Auto cache on the same folder works too.
    let auto = SmartCache::<u64, Vec<u8>>::with_config(config(dir.path()).namespace("auto"))
        .expect("Auto cache on another namespace");
    assert_eq!(auto.insert(1, medium(1)).expect("insert"), Tier::Sled);

    writeln!(stdin, "go").expect("tell the holder to read");
    let wrote = lines.any(|line| line.is_ok_and(|l| l.contains(HOLDER_WROTE)));
    assert!(wrote, "the lock holder failed before writing its value");
    assert_eq!(
        cache.get(&9).as_deref(),
        Some(&InSled(medium(9))),
        "the holder's value, written while this process waited"
    );
    assert_eq!(
        cache.get(&7).as_deref(),
        Some(&InSled(medium(7))),
        "the holder's value from before this process came, moved to the shared file tier"
    );

    let child = guard.0.take().expect("child");
    drop(stdin); // lets the child finish
    let output = child.wait_with_output().expect("wait for the lock holder");
    assert!(
        output.status.success(),
        "lock holder failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );

    // Released: this process takes sled over by itself, and finds the child's value.
    let took_over = eventually(std::time::Duration::from_secs(10), || {
        cache.insert(10, InSled(medium(10))).expect("insert") == Tier::Sled
    });
    assert!(took_over, "sled was not taken over: {}", cache.stats());
    assert_eq!(cache.get(&7).as_deref(), Some(&InSled(medium(7))));
    assert_eq!(cache.get(&8).as_deref(), Some(&InSled(medium(8))));
    assert_eq!(cache.stats().invalid(), 0);
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
