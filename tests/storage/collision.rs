//! Forced hash collisions: the bytes of key A's entry stored where key B's entry belongs
//! (as if A and B hashed alike). The entry carries A's key, so reading B is a counted
//! miss, never A's value.

use crate::common;

use std::path::Path;

use common::*;
use smartcache::prelude::*;

fn file_cache(dir: &Path) -> SmartCache<u64, InFile> {
    config(dir).build().expect("build a file cache")
}

#[test]
fn file_collision_is_a_miss() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = file_cache(dir.path());
    let (a, b) = (1u64, 2u64);
    cache.insert(a, InFile(small(a))).expect("insert A");
    cache.insert(b, InFile(small(b))).expect("insert B");
    let (file_a, file_b) = (file_of(&cache, a), file_of(&cache, b));
    assert_ne!(file_a, file_b);
    assert!(file_a.is_file() && file_b.is_file());
    drop(cache);
    std::fs::copy(&file_a, &file_b).expect("overwrite B's entry with A's");

    let cache = file_cache(dir.path());
    assert_eq!(cache.get(&b), None, "B was served A's value");
    let stats = cache.stats();
    assert_eq!(stats.file.invalid, 1, "{stats}");
    assert!(!file_b.exists(), "the colliding entry was not removed");
    assert_eq!(
        cache.get(&a).as_deref(),
        Some(&InFile(small(a))),
        "A is intact"
    );
    cache.insert(b, InFile(small(b))).expect("insert B again");
    assert_eq!(cache.get(&b).as_deref(), Some(&InFile(small(b))));
}

#[test]
fn file_collision_is_caught_by_contains_key_and_live_caches() {
    let dir = tempfile::tempdir().expect("tempdir");
    // promote_max(0): no memory copies, every read goes to the file.
    let open =
        || -> SmartCache<u64, InFile> { config(dir.path()).promote_max(0).build().expect("build") };
    let cache = open();
    let (a, b) = (10u64, 20u64);
    cache.insert(a, InFile(large(a))).expect("insert A");
    let file_a = file_of(&cache, a);
    let file_b = file_of(&cache, b);
    // B was never inserted: A's bytes appear at B's address. (Planted by other means
    // than the cache, a file is seen by caches opened after it appeared: the file tier
    // knows which keys its processes wrote, and which files it found when it opened.)
    drop(cache);
    std::fs::create_dir_all(file_b.parent().expect("shard")).expect("shard folder");
    std::fs::copy(&file_a, &file_b).expect("plant A's entry at B's address");
    let cache = open();

    assert!(
        !cache.contains_key(&b),
        "contains_key accepted A's entry for B"
    );
    assert_eq!(cache.stats().file.invalid, 1, "{}", cache.stats());
    std::fs::copy(&file_a, &file_b).expect("plant it again");
    assert_eq!(cache.tier_of(&b), None, "tier_of accepted A's entry for B");
    std::fs::copy(&file_a, &file_b).expect("plant it again");
    assert!(
        matches!(cache.try_get(&b), Ok(None)),
        "try_get served A's entry for B"
    );
    std::fs::copy(&file_a, &file_b).expect("plant it again");
    let computed = cache.get_with(b, || InFile(small(b)));
    assert_eq!(
        *computed,
        InFile(small(b)),
        "get_with served A's entry for B"
    );
    assert_eq!(cache.stats().file.invalid, 4, "{}", cache.stats());
    assert_eq!(cache.get(&a).as_deref(), Some(&InFile(large(a))));
}

#[test]
fn auto_file_collision_is_a_miss() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path()).build().expect("build");
    cache.insert(1, large(1)).expect("insert A");
    cache.insert(2, large(2)).expect("insert B");
    let (file_a, file_b) = (file_of(&cache, 1), file_of(&cache, 2));
    drop(cache);
    std::fs::copy(&file_a, &file_b).expect("overwrite");
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path()).build().expect("reopen");
    assert_eq!(cache.get(&2), None, "B was served A's value");
    assert_eq!(cache.stats().file.invalid, 1, "{}", cache.stats());
    assert_eq!(cache.get(&1).as_deref(), Some(&large(1)));
}

fn sled_collision<V: Cacheable + PartialEq + std::fmt::Debug>(
    value: impl Fn(u64) -> V,
    tier: Tier,
) {
    let dir = tempfile::tempdir().expect("tempdir");
    let build = || -> SmartCache<u64, V> { config(dir.path()).build().expect("build") };
    let cache = build();
    let (a, b) = (100u64, 200u64);
    assert_eq!(cache.insert(a, value(a)).expect("insert A"), tier);
    assert_eq!(cache.insert(b, value(b)).expect("insert B"), tier);
    drop(cache);

    let cache_path = cache_dir(dir.path());
    let (_, entry_a) = sled_entry(&cache_path, a).expect("A is in sled");
    let (key_b, _) = sled_entry(&cache_path, b).expect("B is in sled");
    set_sled_raw(&cache_path, &key_b, &entry_a);

    let cache = build();
    assert!(
        !cache.contains_key(&b),
        "contains_key accepted A's entry for B"
    );
    assert_eq!(cache.get(&b), None, "B was served A's value");
    assert_eq!(cache.stats().sled.invalid, 1, "{}", cache.stats());
    assert_eq!(cache.get(&a).as_deref(), Some(&value(a)), "A is intact");
    drop(cache);
    assert!(
        sled_raw(&cache_path, &key_b).is_none(),
        "the colliding entry was not removed"
    );
}

#[test]
fn sled_collision_is_a_miss() {
    sled_collision(|k| InSled(small(k)), Tier::Sled);
}

#[test]
fn auto_sled_collision_is_a_miss() {
    sled_collision(medium, Tier::Sled);
}

/// Long keys are addressed by their hash in sled too: A's entry under B's address.
#[test]
fn sled_collision_with_long_keys_is_a_miss() {
    let dir = tempfile::tempdir().expect("tempdir");
    let build = || -> SmartCache<String, InSled> { config(dir.path()).build().expect("build") };
    let (a, b) = ("a".repeat(200), "b".repeat(200));
    let cache = build();
    cache.insert(a.clone(), InSled(small(1))).expect("insert A");
    cache.insert(b.clone(), InSled(small(2))).expect("insert B");
    drop(cache);

    let cache_path = cache_dir(dir.path());
    let (_, entry_a) = sled_entry_of(&cache_path, a.clone()).expect("A is in sled");
    let (key_b, _) = sled_entry_of(&cache_path, b.clone()).expect("B is in sled");
    assert!(
        key_b.len() < 200,
        "a 200-byte key is stored under a short (hashed) sled key"
    );
    set_sled_raw(&cache_path, &key_b, &entry_a);

    let cache = build();
    assert_eq!(cache.get(&b), None, "B was served A's value");
    assert_eq!(cache.stats().sled.invalid, 1, "{}", cache.stats());
    assert_eq!(
        cache.get(&a).as_deref(),
        Some(&InSled(small(1))),
        "A is intact"
    );
}

#[test]
fn file_collision_with_long_keys_is_a_miss() {
    let dir = tempfile::tempdir().expect("tempdir");
    let build = || -> SmartCache<String, InFile> { config(dir.path()).build().expect("build") };
    let (a, b) = ("a".repeat(200), "b".repeat(200));
    let cache = build();
    cache.insert(a.clone(), InFile(small(1))).expect("insert A");
    cache.insert(b.clone(), InFile(small(2))).expect("insert B");
    let (file_a, file_b) = (file_of(&cache, a.clone()), file_of(&cache, b.clone()));
    drop(cache);
    std::fs::copy(&file_a, &file_b).expect("overwrite B's entry with A's");
    let cache = build();
    assert_eq!(cache.get(&b), None, "B was served A's value");
    assert_eq!(cache.stats().file.invalid, 1, "{}", cache.stats());
    assert_eq!(
        cache.get(&a).as_deref(),
        Some(&InFile(small(1))),
        "A is intact"
    );
}
