//! The process-wide functions: `stats_all` and `clear_all` over every cache and memoized
//! function alive in the process, and `clear_namespace` without the cache's types. One
//! test in its own binary: `clear_all` clears every cache of the process it runs in.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use common::*;
use smartcache::prelude::*;

static RUNS: AtomicUsize = AtomicUsize::new(0);

fn storage() -> std::path::PathBuf {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"))
        .path()
        .to_path_buf()
}

#[memoize(tier = "file", dir = storage(), namespace = "all-caches-double")]
fn double(x: u64) -> u64 {
    RUNS.fetch_add(1, SeqCst);
    x * 2
}

#[test]
fn every_live_cache_is_counted_and_cleared_and_a_namespace_clears_without_its_types() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
        .namespace("all-caches-bytes")
        .build()
        .expect("build");
    cache.insert(1, large(1)).expect("insert");
    assert_eq!(double(21), 42);
    assert_eq!(double(21), 42);

    let all = smartcache::stats_all();
    let of = |name: &str| all.iter().find(|(ns, _)| ns == name).map(|(_, s)| *s);
    assert_eq!(of("all-caches-bytes").expect("the cache").file.inserts, 1);
    assert_eq!(
        of("all-caches-double").expect("the memo").hits,
        1,
        "{all:?}"
    );

    smartcache::clear_all().expect("clear_all");
    assert_eq!(cache.get(&1), None, "clear_all left a value");
    assert_eq!(double(21), 42);
    assert_eq!(RUNS.load(SeqCst), 2, "clear_all left a memoized result");

    // A namespace that no cache of this process has open: cleared through its folder.
    {
        let other: SmartCache<String, Vec<u8>> = config(dir.path())
            .namespace("all-caches-closed")
            .build()
            .expect("build");
        other.insert("a".into(), large(2)).expect("insert");
        other.insert("b".into(), medium(3)).expect("insert");
    }
    smartcache::clear_namespace(dir.path(), "all-caches-closed").expect("clear_namespace");
    let reopened: SmartCache<String, Vec<u8>> = config(dir.path())
        .namespace("all-caches-closed")
        .build()
        .expect("build");
    assert_eq!(reopened.get("a"), None);
    assert_eq!(reopened.get("b"), None);
    // One that is open here: cleared through the cache.
    reopened.insert("c".into(), medium(4)).expect("insert");
    smartcache::clear_namespace(dir.path(), "all-caches-closed").expect("clear_namespace");
    assert_eq!(reopened.get("c"), None);

    smartcache::clear_namespace(dir.path(), "never-made").expect("a missing namespace is Ok");
    assert!(smartcache::clear_namespace(dir.path(), "../escape").is_err());
}
