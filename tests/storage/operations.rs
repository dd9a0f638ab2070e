//! The everyday operations on every tier: `remove`, `clear`, `contains_key`, `flush`,
//! `stats()` (hits, misses, entries and bytes per tier), and `CacheConfig::temporary()`
//! deleting its storage when the last clone of the cache is dropped.

use crate::common;

use std::path::Path;

use common::*;
use smartcache::prelude::*;

fn auto_cache(dir: &Path) -> SmartCache<u64, Vec<u8>> {
    config(dir).build().expect("build an Auto cache")
}

fn value_for_tier(key: u64, tier: Tier) -> Vec<u8> {
    match tier {
        Tier::Memory => small(key),
        Tier::Sled => medium(key),
        _ => large(key),
    }
}

#[test]
fn remove_deletes_from_every_tier_and_stays_deleted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = auto_cache(dir.path());
    for (key, tier) in [(1, Tier::Memory), (2, Tier::Sled), (3, Tier::File)] {
        assert_eq!(
            cache
                .insert(key, value_for_tier(key, tier))
                .expect("insert"),
            tier
        );
        assert!(cache.contains_key(&key), "{tier}");
    }
    // A neighbour in each persistent tier that must survive.
    cache.insert(20, medium(20)).expect("insert");
    cache.insert(30, large(30)).expect("insert");
    let file3 = file_of(&cache, 3);
    for (key, tier) in [(1, Tier::Memory), (2, Tier::Sled), (3, Tier::File)] {
        assert!(
            cache.remove(&key).expect("remove"),
            "{tier}: remove said nothing was there"
        );
        assert_eq!(cache.get(&key), None, "{tier}: served after remove");
        assert!(!cache.contains_key(&key), "{tier}");
        assert_eq!(cache.tier_of(&key), None, "{tier}");
        assert!(
            !cache.remove(&key).expect("remove again"),
            "{tier}: removed twice"
        );
    }
    assert!(!file3.exists(), "the entry file is still on disk");
    let stats = cache.stats();
    assert_eq!((stats.sled.entries, stats.file.entries), (1, 1), "{stats}");
    drop(cache);

    let cache = auto_cache(dir.path());
    assert_eq!(cache.get(&2), None, "a removed sled value came back");
    assert_eq!(cache.get(&3), None, "a removed file value came back");
    assert_eq!(cache.get(&20).as_deref(), Some(&medium(20)));
    assert_eq!(cache.get(&30).as_deref(), Some(&large(30)));
    assert!(!cache.remove(&99).expect("remove a missing key"));
}

#[test]
fn remove_works_for_pinned_types() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sled: SmartCache<u64, InSled> = config(dir.path()).namespace("s").build().expect("s");
    let file: SmartCache<u64, InFile> = config(dir.path()).namespace("f").build().expect("f");
    let memory: SmartCache<u64, InMemory> = config(dir.path()).namespace("m").build().expect("m");
    sled.insert(1, InSled(small(1))).expect("insert");
    file.insert(1, InFile(small(1))).expect("insert");
    memory.insert(1, InMemory(small(1))).expect("insert");
    assert!(
        sled.remove(&1).expect("remove")
            && file.remove(&1).expect("remove")
            && memory.remove(&1).expect("remove")
    );
    assert!(sled.get(&1).is_none() && file.get(&1).is_none() && memory.get(&1).is_none());
    drop((sled, file));
    let sled: SmartCache<u64, InSled> = config(dir.path()).namespace("s").build().expect("s");
    let file: SmartCache<u64, InFile> = config(dir.path()).namespace("f").build().expect("f");
    assert!(
        sled.get(&1).is_none() && file.get(&1).is_none(),
        "removed values came back"
    );
}

#[test]
fn clear_empties_every_tier() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = auto_cache(dir.path());
    for key in 0..3 {
        cache.insert(key, small(key)).expect("insert");
        cache.insert(10 + key, medium(key)).expect("insert");
        cache.insert(20 + key, large(key)).expect("insert");
    }
    let stats = cache.stats();
    assert_eq!((stats.sled.entries, stats.file.entries), (3, 3), "{stats}");
    cache.clear().expect("clear");
    for key in [0, 1, 2, 10, 11, 12, 20, 21, 22] {
        assert_eq!(cache.get(&key), None, "key {key} survived clear");
    }
    let stats = cache.stats();
    for tier in [Tier::Memory, Tier::Sled, Tier::File] {
        assert_eq!(stats.tier(tier).entries, 0, "{tier}: {stats}");
        assert_eq!(stats.tier(tier).bytes, 0, "{tier}: {stats}");
    }
    assert!(
        entry_files(cache.path().expect("path")).is_empty(),
        "entry files left"
    );
    // The cache works after clear.
    cache.insert(20, large(99)).expect("insert after clear");
    assert_eq!(cache.get(&20).as_deref(), Some(&large(99)));
    drop(cache);

    let cache = auto_cache(dir.path());
    assert_eq!(cache.get(&10), None, "a cleared sled value came back");
    assert_eq!(cache.get(&21), None, "a cleared file value came back");
    assert_eq!(cache.get(&20).as_deref(), Some(&large(99)));
    let stats = cache.stats();
    assert_eq!((stats.sled.entries, stats.file.entries), (0, 1), "{stats}");
}

#[test]
fn clear_only_touches_its_own_namespace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a: SmartCache<u64, Vec<u8>> = config(dir.path()).namespace("a").build().expect("a");
    let b: SmartCache<u64, Vec<u8>> = config(dir.path()).namespace("b").build().expect("b");
    a.insert(1, large(1)).expect("insert");
    b.insert(1, large(2)).expect("insert");
    b.insert(2, medium(2)).expect("insert");
    a.clear().expect("clear");
    assert_eq!(a.get(&1), None);
    assert_eq!(b.get(&1).as_deref(), Some(&large(2)));
    assert_eq!(b.get(&2).as_deref(), Some(&medium(2)));
}

#[test]
fn contains_key_and_tier_of_follow_the_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = auto_cache(dir.path());
    assert!(!cache.contains_key(&1));
    assert_eq!(cache.tier_of(&1), None);
    cache.insert(1, medium(1)).expect("insert");
    assert!(cache.contains_key(&1));
    drop(cache);
    // A fresh process (empty memory) finds it on disk, without reading it.
    let cache = auto_cache(dir.path());
    assert!(cache.contains_key(&1));
    assert_eq!(cache.tier_of(&1), Some(Tier::Sled));
    let stats = cache.stats();
    assert_eq!(stats.hits, 0, "contains_key counted as a read: {stats}");
}

#[test]
fn flush_succeeds_on_every_tier() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path()).build().expect("build");
    cache.flush().expect("flush an empty cache");
    for (key, tier) in [(1, Tier::Memory), (2, Tier::Sled), (3, Tier::File)] {
        cache
            .insert(key, value_for_tier(key, tier))
            .expect("insert");
    }
    cache.flush().expect("flush");
    let fsync: SmartCache<u64, Vec<u8>> = config(dir.path())
        .namespace("fsync")
        .durability(Durability::Fsync)
        .build()
        .expect("build");
    fsync.insert(2, medium(2)).expect("insert");
    fsync.insert(3, large(3)).expect("insert");
    fsync.flush().expect("flush");
    assert_eq!(fsync.get(&3).as_deref(), Some(&large(3)));
}

#[test]
fn stats_count_hits_misses_entries_and_bytes_per_tier() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = auto_cache(dir.path());
    let mut fresh = cache.stats();
    assert!(
        fresh.sled.disk_bytes < 4096,
        "a new sled database is small: {fresh}"
    );
    fresh.sled.disk_bytes = 0;
    // The file tier's filter of which keys have a file (1 MiB and a header), if it has one.
    assert!(
        fresh.file.disk_bytes <= (1 << 20) + 64,
        "a new file tier holds its filter only: {fresh}"
    );
    fresh.file.disk_bytes = 0;
    assert_eq!(fresh, CacheStats::default(), "a new cache has empty stats");
    for key in 0..2 {
        cache.insert(key, small(key)).expect("insert");
    }
    for key in 10..13 {
        cache.insert(key, medium(key)).expect("insert");
    }
    cache.insert(20, large(20)).expect("insert");

    let stats = cache.stats();
    assert_eq!(
        (stats.memory.inserts, stats.sled.inserts, stats.file.inserts),
        (2, 3, 1),
        "{stats}"
    );
    assert_eq!(stats.sled.entries, 3, "{stats}");
    assert_eq!(stats.file.entries, 1, "{stats}");
    // Memory holds the two small values and copies of the three medium ones (the large
    // one is over promote_max), weighed at least by their size_hint.
    assert_eq!(stats.memory.entries, 5, "{stats}");
    let weights = 2 * (24 + SMALL as u64) + 3 * (24 + MEDIUM as u64);
    assert!(stats.memory.bytes >= weights, "{stats}");
    assert!(stats.memory.bytes <= weights + 5 * 64, "{stats}");
    // Disk bytes are the entry sizes.
    let file_bytes = std::fs::metadata(file_of(&cache, 20))
        .expect("metadata")
        .len();
    assert_eq!(stats.file.bytes, file_bytes, "{stats}");
    assert!(stats.sled.bytes >= 3 * MEDIUM as u64, "{stats}");

    // Reads: memory hits, a file hit, a miss everywhere.
    assert!(cache.get(&0).is_some());
    assert!(cache.get(&10).is_some()); // memory copy
    assert!(cache.get(&20).is_some()); // from the file
    assert!(cache.get(&99).is_none());
    let stats = cache.stats();
    assert_eq!(stats.hits, 3, "{stats}");
    assert_eq!(stats.misses, 1, "{stats}");
    assert_eq!(stats.memory.hits, 2, "{stats}");
    assert_eq!(stats.file.hits, 1, "{stats}");
    assert_eq!(stats.sled.hits, 0, "{stats}");
    assert!((stats.hit_ratio() - 0.75).abs() < 1e-9, "{stats}");
    let sled_bytes = stats.sled.bytes;
    drop(cache);

    // What sled holds matches the stats, and a reopened cache counts the same.
    let stored: u64 = with_sled(&cache_dir(dir.path()), |entries, _| {
        entries
            .iter()
            .map(|kv| kv.expect("read").1.len() as u64)
            .sum()
    });
    assert_eq!(stored, sled_bytes);
    let cache = auto_cache(dir.path());
    let stats = cache.stats();
    assert_eq!(
        (stats.sled.entries, stats.sled.bytes),
        (3, sled_bytes),
        "{stats}"
    );
    assert_eq!(
        (stats.file.entries, stats.file.bytes),
        (1, file_bytes),
        "{stats}"
    );
    assert_eq!(stats.memory.entries, 0, "{stats}");
    // A sled read after reopening is a sled hit.
    assert!(cache.get(&11).is_some());
    assert_eq!(cache.stats().sled.hits, 1, "{}", cache.stats());
    // Removing updates entries and bytes.
    cache.remove(&11).expect("remove");
    cache.remove(&20).expect("remove");
    let stats = cache.stats();
    assert_eq!(
        (stats.sled.entries, stats.file.entries, stats.file.bytes),
        (2, 0, 0),
        "{stats}"
    );
    assert!(stats.sled.bytes < sled_bytes, "{stats}");
}

#[test]
fn overwriting_a_persistent_value_keeps_the_counts_right() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = auto_cache(dir.path());
    cache.insert(1, medium(1)).expect("insert");
    cache.insert(1, medium(2)).expect("overwrite");
    cache.insert(2, large(1)).expect("insert");
    cache.insert(2, large(2)).expect("overwrite");
    let stats = cache.stats();
    assert_eq!((stats.sled.entries, stats.file.entries), (1, 1), "{stats}");
    assert_eq!(
        stats.file.bytes,
        std::fs::metadata(file_of(&cache, 2)).expect("meta").len()
    );
    assert_eq!(cache.get(&1).as_deref(), Some(&medium(2)));
    assert_eq!(cache.get(&2).as_deref(), Some(&large(2)));
}

#[test]
fn temporary_caches_delete_their_folder_on_drop() {
    let cache: SmartCache<u64, Vec<u8>> = CacheConfig::temporary().build().expect("temporary");
    let path = cache.path().expect("a folder").to_path_buf();
    cache.insert(1, medium(1)).expect("insert");
    cache.insert(2, large(2)).expect("insert");
    assert!(path.join("sled").is_dir() && path.join("files").is_dir());
    let clone = cache.clone();
    drop(cache);
    assert!(path.exists(), "deleted while a clone is alive");
    assert_eq!(clone.get(&2).as_deref(), Some(&large(2)));
    drop(clone);
    assert!(
        !path.exists(),
        "{} survived the temporary cache",
        path.display()
    );
    let parent = path.parent().expect("parent");
    assert!(
        !parent.exists() || parent == std::env::temp_dir(),
        "the temporary root {} survived",
        parent.display()
    );
}

#[test]
fn temporary_with_a_dir_deletes_only_its_namespace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keep: SmartCache<u64, Vec<u8>> =
        config(dir.path()).namespace("keep").build().expect("keep");
    keep.insert(1, large(1)).expect("insert");
    let temp: SmartCache<u64, Vec<u8>> = CacheConfig::temporary()
        .dir(dir.path())
        .namespace("scratch")
        .build()
        .expect("temporary");
    let path = temp.path().expect("path").to_path_buf();
    assert_eq!(path, dir.path().join("scratch"));
    temp.insert(1, medium(1)).expect("insert");
    temp.insert(2, large(2)).expect("insert");
    drop(temp);
    assert!(!path.exists(), "the temporary namespace survived");
    assert!(dir.path().is_dir(), "the root was deleted");
    assert_eq!(
        keep.get(&1).as_deref(),
        Some(&large(1)),
        "a neighbour namespace was touched"
    );
}

/// Lookups take a borrowed form of the key, as `HashMap` and moka do: a `&str` finds a
/// `String` key in every tier, including after a restart (the hit is promoted under the
/// owned key), and `remove` and `tier_of` take it too.
#[test]
fn borrowed_keys_find_owned_ones_in_every_tier() {
    let dir = tempfile::tempdir().expect("tempdir");
    let open = || -> SmartCache<String, Vec<u8>> { config(dir.path()).build().expect("build") };
    let names = [
        ("small", Tier::Memory),
        ("medium", Tier::Sled),
        ("large", Tier::File),
    ];
    {
        let cache = open();
        for (i, (name, tier)) in names.iter().enumerate() {
            let value = value_for_tier(i as u64, *tier);
            assert_eq!(
                cache.insert(name.to_string(), value).expect("insert"),
                *tier
            );
            assert_eq!(cache.tier_of(*name), Some(*tier), "{name}");
            assert!(cache.get(*name).is_some(), "{name}");
        }
    }
    let cache = open();
    for (i, (name, tier)) in names.iter().enumerate().skip(1) {
        let value = cache.get(*name).expect("a persisted value, found by &str");
        assert!(
            *value == value_for_tier(i as u64, *tier),
            "{name}: a wrong value"
        );
        // A medium value is promoted to memory under the owned key: the next read is a
        // memory hit (large ones stay on disk, above `promote_max`).
        let before = cache.stats().memory.hits;
        assert!(cache.get(&name.to_string()).is_some());
        let promoted = cache.stats().memory.hits == before + 1;
        assert_eq!(promoted, *tier == Tier::Sled, "{name}: promoted {promoted}");
        assert!(cache.remove(*name).expect("remove"), "{name}");
        assert_eq!(cache.tier_of(*name), None, "{name}");
    }
}

/// A key is written, never read back: it needs `Serialize`, not `Deserialize`.
#[test]
fn keys_need_not_be_deserializable() {
    #[derive(Clone, PartialEq, Eq, Hash, serde::Serialize)]
    struct Query<'a> {
        table: &'static str,
        #[serde(skip)]
        _marker: std::marker::PhantomData<&'a ()>,
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<Query<'static>, Vec<u8>> = config(dir.path()).build().expect("build");
    let key = Query {
        table: "orders",
        _marker: std::marker::PhantomData,
    };
    assert_eq!(
        cache.insert(key.clone(), medium(1)).expect("insert"),
        Tier::Sled
    );
    assert!(cache.get(&key).is_some());
}
