//! Routing: Auto values go to memory, sled or a file by size; pinned types always go to
//! their tier; `persist_all` keeps small values on disk; a key re-inserted with another
//! size moves, and its old tier no longer serves it, also after the cache is reopened.

use crate::common;

use common::*;
use smartcache::prelude::*;

fn auto_cache(dir: &std::path::Path) -> SmartCache<u64, Vec<u8>> {
    config(dir).build().expect("build an Auto cache")
}

#[test]
fn auto_routes_small_medium_large_to_memory_sled_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = auto_cache(dir.path());

    for (key, value, tier) in [
        (1, small(1), Tier::Memory),
        (2, medium(2), Tier::Sled),
        (3, large(3), Tier::File),
    ] {
        assert_eq!(cache.route(&value), tier, "route() of key {key}");
        assert_eq!(
            cache.insert(key, value.clone()).expect("insert"),
            tier,
            "insert() of key {key}"
        );
        assert_eq!(cache.tier_of(&key), Some(tier), "tier_of() of key {key}");
        assert_eq!(
            cache.get(&key).as_deref(),
            Some(&value),
            "value of key {key}"
        );
    }

    let stats = cache.stats();
    assert_eq!(stats.memory.inserts, 1, "{stats}");
    assert_eq!(stats.sled.inserts, 1, "{stats}");
    assert_eq!(stats.file.inserts, 1, "{stats}");
    assert_eq!(stats.sled.entries, 1, "{stats}");
    assert_eq!(stats.file.entries, 1, "{stats}");

    // The large value is one file at files/<2 hex>/<32 hex>, and nothing else is a file.
    let path = file_of(&cache, 3);
    assert!(path.is_file(), "{} missing", path.display());
    assert_eq!(entry_files(cache.path().expect("path")), vec![path]);
    assert_eq!(cache.path(), Some(cache_dir(dir.path()).as_path()));
    drop(cache);

    // The medium value is in sled under its 16-byte big-endian hash; the small one is not.
    let cache_path = cache_dir(dir.path());
    assert!(
        sled_entry(&cache_path, 2).is_some(),
        "medium value not in sled"
    );
    assert!(
        sled_entry(&cache_path, 1).is_none(),
        "small value persisted"
    );
    assert!(sled_entry(&cache_path, 3).is_none(), "large value in sled");
}

#[test]
fn auto_routing_follows_the_configured_thresholds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
        .memory_threshold(1000)
        .file_threshold(5000)
        .build()
        .expect("build");
    // size_hint of a Vec<u8> is 24 + len.
    assert_eq!(cache.route(&vec![0; 1000 - 25]), Tier::Memory);
    assert_eq!(cache.route(&vec![0; 1000 - 24]), Tier::Sled);
    assert_eq!(cache.route(&vec![0; 5000 - 25]), Tier::Sled);
    assert_eq!(cache.route(&vec![0; 5000 - 24]), Tier::File);
    assert_eq!(
        cache.insert(1, bytes_for(1, 2000)).expect("insert"),
        Tier::Sled
    );
    assert_eq!(
        cache.insert(2, bytes_for(2, 6000)).expect("insert"),
        Tier::File
    );
    assert!(file_of(&cache, 2).is_file());
    assert_eq!(cache.get(&2).as_deref(), Some(&bytes_for(2, 6000)));
}

#[test]
fn pinned_types_go_to_their_tier_whatever_their_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tiny = vec![7u8; 3];
    let huge = bytes_for(9, LARGE);

    let memory: SmartCache<u64, InMemory> = config(dir.path())
        .namespace("memory")
        .build()
        .expect("memory");
    let sled: SmartCache<u64, InSled> = config(dir.path()).namespace("sled").build().expect("sled");
    let file: SmartCache<u64, InFile> = config(dir.path()).namespace("file").build().expect("file");

    for (key, bytes) in [(1u64, &tiny), (2, &huge)] {
        let v = InMemory(bytes.clone());
        assert_eq!(memory.route(&v), Tier::Memory);
        assert_eq!(memory.insert(key, v.clone()).expect("insert"), Tier::Memory);
        assert_eq!(memory.tier_of(&key), Some(Tier::Memory));
        assert_eq!(memory.get(&key).as_deref(), Some(&v));

        let v = InSled(bytes.clone());
        assert_eq!(sled.route(&v), Tier::Sled);
        assert_eq!(sled.insert(key, v.clone()).expect("insert"), Tier::Sled);
        assert_eq!(sled.tier_of(&key), Some(Tier::Sled));
        assert_eq!(sled.get(&key).as_deref(), Some(&v));

        let v = InFile(bytes.clone());
        assert_eq!(file.route(&v), Tier::File);
        assert_eq!(file.insert(key, v.clone()).expect("insert"), Tier::File);
        assert_eq!(file.tier_of(&key), Some(Tier::File));
        assert_eq!(file.get(&key).as_deref(), Some(&v));
        assert!(file_of(&file, key).is_file(), "no entry file for key {key}");
    }
    assert_eq!(memory.stats().memory.inserts, 2);
    assert_eq!(sled.stats().sled.entries, 2);
    assert_eq!(file.stats().file.entries, 2);

    // A memory-pinned type never creates persistent storage.
    assert!(!dir.path().join("memory").join("sled").exists());
    assert!(!dir.path().join("memory").join("files").exists());
    // A sled-pinned type never writes files, a file-pinned type never opens sled.
    assert!(entry_files(&dir.path().join("sled")).is_empty());
    assert!(!dir.path().join("file").join("sled").exists());

    drop((memory, sled, file));
    let sled: SmartCache<u64, InSled> = config(dir.path()).namespace("sled").build().expect("sled");
    let file: SmartCache<u64, InFile> = config(dir.path()).namespace("file").build().expect("file");
    let memory: SmartCache<u64, InMemory> = config(dir.path())
        .namespace("memory")
        .build()
        .expect("memory");
    assert_eq!(sled.get(&2).as_deref(), Some(&InSled(huge.clone())));
    assert_eq!(file.get(&1).as_deref(), Some(&InFile(tiny.clone())));
    assert_eq!(
        memory.get(&1),
        None,
        "memory values do not survive the cache"
    );
}

#[test]
fn persist_all_keeps_small_values_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> =
        config(dir.path()).persist_all(true).build().expect("build");
    assert_eq!(cache.route(&small(1)), Tier::Sled);
    assert_eq!(cache.insert(1, small(1)).expect("insert"), Tier::Sled);
    assert_eq!(cache.insert(2, medium(2)).expect("insert"), Tier::Sled);
    assert_eq!(cache.insert(3, large(3)).expect("insert"), Tier::File);
    assert_eq!(cache.tier_of(&1), Some(Tier::Sled));
    drop(cache);

    let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
        .persist_all(true)
        .build()
        .expect("reopen");
    assert_eq!(cache.get(&1).as_deref(), Some(&small(1)));
    assert_eq!(cache.tier_of(&1), Some(Tier::Sled));
    assert_eq!(cache.get(&3).as_deref(), Some(&large(3)));
    drop(cache);

    // Even a cache without persist_all finds the persisted small value.
    let cache = auto_cache(dir.path());
    assert_eq!(cache.get(&1).as_deref(), Some(&small(1)));
}

/// Inserts `key` with each size in turn and checks that only the newest tier serves it.
#[test]
fn reinserting_with_another_size_moves_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = auto_cache(dir.path());
    let key = 42;
    let file = file_of(&cache, key);

    let steps: [(Vec<u8>, Tier); 5] = [
        (small(1), Tier::Memory),
        (medium(2), Tier::Sled),
        (large(3), Tier::File),
        (medium(4), Tier::Sled),
        (small(5), Tier::Memory),
    ];
    for (value, tier) in &steps {
        assert_eq!(cache.insert(key, value.clone()).expect("insert"), *tier);
        assert_eq!(cache.tier_of(&key), Some(*tier));
        assert_eq!(
            cache.get(&key).as_deref(),
            Some(value),
            "after moving to {tier}"
        );
        let stats = cache.stats();
        assert_eq!(
            stats.sled.entries,
            u64::from(*tier == Tier::Sled),
            "{tier}: {stats}"
        );
        assert_eq!(
            stats.file.entries,
            u64::from(*tier == Tier::File),
            "{tier}: {stats}"
        );
        assert_eq!(
            file.exists(),
            *tier == Tier::File,
            "entry file after moving to {tier}"
        );
    }
    drop(cache);

    // The last value lived in memory only: nothing older may come back from disk.
    let cache_path = cache_dir(dir.path());
    assert!(
        sled_entry(&cache_path, key).is_none(),
        "stale sled entry left behind"
    );
    let cache = auto_cache(dir.path());
    assert_eq!(cache.get(&key), None, "an older persisted value came back");
    assert_eq!(cache.tier_of(&key), None);
}

#[test]
fn moved_keys_stay_moved_after_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");

    // sled -> file
    let cache = auto_cache(dir.path());
    cache.insert(1, medium(10)).expect("insert medium");
    cache.insert(1, large(11)).expect("insert large");
    // file -> sled
    cache.insert(2, large(20)).expect("insert large");
    cache.insert(2, medium(21)).expect("insert medium");
    let file_of_2 = file_of(&cache, 2);
    drop(cache);

    let cache_path = cache_dir(dir.path());
    assert!(sled_entry(&cache_path, 1).is_none(), "key 1 left in sled");
    assert!(sled_entry(&cache_path, 2).is_some(), "key 2 not in sled");
    assert!(!file_of_2.exists(), "key 2 left in a file");

    let cache = auto_cache(dir.path());
    assert_eq!(cache.tier_of(&1), Some(Tier::File));
    assert_eq!(cache.get(&1).as_deref(), Some(&large(11)));
    assert_eq!(cache.tier_of(&2), Some(Tier::Sled));
    assert_eq!(cache.get(&2).as_deref(), Some(&medium(21)));

    // And moving again in the reopened cache (whose memory is empty) still cleans up.
    cache.insert(1, small(12)).expect("insert small");
    cache.insert(2, small(22)).expect("insert small");
    drop(cache);
    let cache = auto_cache(dir.path());
    assert_eq!(cache.get(&1), None, "old file value of key 1 came back");
    assert_eq!(cache.get(&2), None, "old sled value of key 2 came back");
    assert!(entry_files(&cache_path).is_empty());
}

#[test]
fn child_writes_a_large_value() {
    let Some(dir) = child_role("large-writer") else {
        return;
    };
    let cache = auto_cache(&dir);
    assert_eq!(cache.insert(2, large(2)).expect("insert"), Tier::File);
}

/// The file tier's filter of which keys have a file is shared between processes: a file
/// another process wrote after this cache opened is still found and removed when the key
/// is re-inserted small, and never comes back.
#[test]
fn a_file_another_process_wrote_goes_when_the_key_is_reinserted_small() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = auto_cache(dir.path());
    assert_eq!(cache.insert(1, large(1)).expect("insert"), Tier::File);
    run_child(
        "child_writes_a_large_value",
        "large-writer",
        dir.path(),
        &[],
    );
    let file = file_of(&cache, 2);
    assert!(file.exists(), "the other process's entry file");

    assert_eq!(cache.insert(2, small(22)).expect("insert"), Tier::Memory);
    assert!(!file.exists(), "the older file of the key was left behind");
    assert_eq!(cache.get(&2).as_deref(), Some(&small(22)));
    drop(cache);
    let cache = auto_cache(dir.path());
    assert_eq!(
        cache.get(&2),
        None,
        "the other process's older value came back"
    );
    assert_eq!(cache.get(&1).as_deref(), Some(&large(1)));
}
