//! Walking a cache: `keys()` and `iter()` over every tier and across processes' writes,
//! entries of other types passed over, damaged entries never served; and the upkeep that
//! walks it, `purge_expired()` and `shrink_to(bytes)`.

use crate::common;

use std::collections::BTreeMap;
use std::thread::sleep;
use std::time::Duration;

use common::*;
use smartcache::prelude::*;

/// One value per tier: key 1 in memory, 2 in sled, 3 in a file.
fn one_per_tier(cache: &SmartCache<u64, Vec<u8>>) {
    assert_eq!(cache.insert(1, small(1)).expect("insert"), Tier::Memory);
    assert_eq!(cache.insert(2, medium(2)).expect("insert"), Tier::Sled);
    assert_eq!(cache.insert(3, large(3)).expect("insert"), Tier::File);
}

fn sorted(mut keys: Vec<u64>) -> Vec<u64> {
    keys.sort_unstable();
    keys
}

#[test]
fn keys_and_iter_cover_every_tier_and_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path()).build().expect("build");
    one_per_tier(&cache);
    // A copy of the sled value in memory is listed once.
    assert!(cache.get(&2).is_some());
    assert_eq!(sorted(cache.keys().expect("keys")), [1, 2, 3]);
    let all: BTreeMap<u64, Vec<u8>> = cache
        .iter()
        .expect("iter")
        .map(|(k, v)| (k, v.to_vec()))
        .collect();
    assert_eq!(all.len(), 3);
    for (key, value) in &all {
        assert_eq!(
            *value,
            bytes_for(*key, value.len()),
            "wrong value for {key}"
        );
    }
    drop(cache);

    // A new cache on the same folder (as a new process would): the persisted ones.
    let reopened: SmartCache<u64, Vec<u8>> = config(dir.path()).build().expect("reopen");
    assert_eq!(sorted(reopened.keys().expect("keys")), [2, 3]);
    // Iterating reads values without filling memory with them.
    assert_eq!(reopened.iter().expect("iter").count(), 2);
    assert_eq!(reopened.stats().memory.entries, 0);
}

#[test]
fn entries_of_other_types_are_passed_over_and_left_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes: SmartCache<u64, InSled> = config(dir.path()).build().expect("build");
    let text: SmartCache<String, String> =
        config(dir.path()).tier(Tier::Sled).build().expect("build");
    bytes.insert(7, InSled(medium(7))).expect("insert");
    text.insert("seven".into(), "7".into()).expect("insert");
    assert_eq!(bytes.keys().expect("keys"), [7]);
    assert_eq!(text.keys().expect("keys"), ["seven"]);
    // Neither walk removed the other's entry, nor counted it as bad.
    assert_eq!(bytes.get(&7).as_deref(), Some(&InSled(medium(7))));
    assert_eq!(text.get("seven").as_deref().map(String::as_str), Some("7"));
    assert_eq!(bytes.stats().sled.invalid, 0);
}

#[test]
fn damaged_entries_are_never_listed_as_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, InFile> = config(dir.path()).promote_max(0).build().expect("build");
    for key in 0..4 {
        cache.insert(key, InFile(medium(key))).expect("insert");
    }
    // Key 0: a bit of its header flipped. Key 1: a bit of its payload.
    flip_bit(&file_of(&cache, 0), 20);
    let payload_bit = std::fs::metadata(file_of(&cache, 1)).expect("entry").len() as usize - 100;
    flip_bit(&file_of(&cache, 1), payload_bit);

    // The header is read by the walk, the payload only when the value is.
    assert_eq!(
        sorted(cache.keys().expect("keys")),
        [1, 2, 3],
        "a bad header was listed"
    );
    let values: Vec<(u64, InFile)> = cache
        .iter()
        .expect("iter")
        .map(|(k, v)| (k, (*v).clone()))
        .collect();
    let served = sorted(values.iter().map(|(k, _)| *k).collect());
    assert_eq!(served, [2, 3], "only sound entries are served");
    for (key, value) in values {
        assert_eq!(value, InFile(medium(key)), "wrong value for {key}");
    }
    let stats = cache.stats();
    assert!(
        stats.file.invalid >= 1,
        "the bad payload was not counted: {stats}"
    );
}

#[test]
fn purge_expired_removes_what_has_expired_in_every_tier() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path()).build().expect("build");
    let ttl = Duration::from_millis(250);
    assert_eq!(
        cache.insert_with_ttl(1, small(1), ttl).expect("insert"),
        Tier::Memory
    );
    assert_eq!(
        cache.insert_with_ttl(2, medium(2), ttl).expect("insert"),
        Tier::Sled
    );
    assert_eq!(
        cache.insert_with_ttl(3, large(3), ttl).expect("insert"),
        Tier::File
    );
    cache.insert(4, medium(4)).expect("insert"); // no expiry
    assert_eq!(
        cache.purge_expired().expect("purge"),
        0,
        "nothing has expired yet"
    );
    sleep(Duration::from_millis(400));

    let purged = cache.purge_expired().expect("purge");
    // Keys 1, 2 and 3, and the memory copies of 2 (written through on insert).
    assert!(purged >= 3, "{purged} purged");
    let stats = cache.stats();
    assert_eq!(stats.file.entries, 0, "{stats}");
    assert_eq!(stats.sled.entries, 1, "{stats}");
    assert!(entry_files(cache.path().expect("path")).is_empty());
    assert_eq!(cache.keys().expect("keys"), [4]);
    assert_eq!(cache.purge_expired().expect("purge"), 0);
}

#[test]
fn shrink_to_evicts_the_oldest_until_the_bytes_fit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path()).promote_max(0).build().expect("build");
    for key in 0..20 {
        cache.insert(key, medium(key)).expect("insert"); // sled, 20 KB each
        sleep(Duration::from_millis(2));
    }
    for key in 20..24 {
        cache.insert(key, large(key)).expect("insert"); // files, 1 MiB each
        sleep(Duration::from_millis(2));
    }
    let before = cache.stats();
    let held = before.sled.bytes + before.file.bytes;
    assert_eq!(cache.shrink_to(held).expect("shrink"), 0, "already within");

    let target = held / 2;
    let evicted = cache.shrink_to(target).expect("shrink");
    let after = cache.stats();
    assert!(evicted > 0, "{after}");
    assert!(after.sled.bytes + after.file.bytes <= target, "{after}");
    assert!(
        after.sled.entries > 0 && after.file.entries > 0,
        "a tier was emptied: {after}"
    );
    // The newest of each tier stay, the oldest went.
    assert_eq!(cache.get(&19).as_deref(), Some(&medium(19)));
    assert_eq!(cache.get(&23).as_deref(), Some(&large(23)));
    assert_eq!(cache.get(&0), None);
    assert_eq!(cache.get(&20), None);
    let on_disk: u64 = entry_files(cache.path().expect("path"))
        .iter()
        .map(|p| std::fs::metadata(p).expect("metadata").len())
        .sum();
    assert_eq!(on_disk, after.file.bytes);

    assert!(cache.shrink_to(0).expect("shrink") > 0);
    assert_eq!(cache.keys().expect("keys"), Vec::<u64>::new());
}

#[test]
fn memory_slots_are_walked_and_purged_on_both_memory_stores() {
    let dir = tempfile::tempdir().expect("tempdir");
    for eviction in MEMORY_STORES {
        let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
            .namespace(format!("memory-{eviction:?}"))
            .eviction(eviction)
            .build()
            .expect("build");
        cache.insert(1, small(1)).expect("insert");
        cache.insert(2, small(2)).expect("insert");
        cache
            .insert_with_ttl(3, small(3), Duration::from_millis(200))
            .expect("insert");
        assert_eq!(
            sorted(cache.keys().expect("keys")),
            [1, 2, 3],
            "{eviction:?}"
        );
        sleep(Duration::from_millis(350));
        assert_eq!(sorted(cache.keys().expect("keys")), [1, 2], "{eviction:?}");
        assert_eq!(cache.purge_expired().expect("purge"), 1, "{eviction:?}");
        let stats = cache.stats();
        assert_eq!(stats.memory.entries, 2, "{eviction:?}: {stats}");
        assert_eq!(stats.memory.expirations, 1, "{eviction:?}: {stats}");
    }
}
