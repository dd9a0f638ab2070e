//! Walks over real caches: what is stale and what is not, and looks that change nothing.

use std::time::Duration;

use super::*;
use crate::SmartCache;

/// A cache on `dir` whose keys carry key version `version`, as a memoized function's do.
fn versioned(dir: &Path, version: u64) -> SmartCache<u64, Vec<u8>> {
    let mut config = CacheConfig::default()
        .dir(dir)
        .namespace("f")
        .tier(Tier::Sled);
    config.key_version = Some(version);
    config.build().expect("cache")
}

/// The state of every entry of namespace "f", by key version and key.
fn states(dir: &Path) -> Vec<(Option<u64>, String, EntryState)> {
    let namespace = Storage::new(dir)
        .open("f")
        .expect("open")
        .stale_after(Duration::ZERO);
    let mut seen = Vec::new();
    namespace
        .walk(Check::Payloads, |e| {
            seen.push((e.key_version, e.key_shown.clone(), e.state.clone()));
            false
        })
        .expect("walk");
    seen.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    seen
}

#[test]
fn an_older_version_is_stale_only_for_what_it_wrote_before_the_newer_one_came() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = versioned(dir.path(), 1);
    old.insert(1, vec![1; 100]).expect("insert");
    drop(old);
    std::thread::sleep(Duration::from_millis(20));
    let new = versioned(dir.path(), 2);
    new.insert(1, vec![2; 100]).expect("insert");
    drop(new);
    std::thread::sleep(Duration::from_millis(20));
    // The old build still runs beside the new one, and writes.
    let old = versioned(dir.path(), 1);
    old.insert(2, vec![1; 100]).expect("insert");
    drop(old);
    assert_eq!(
        states(dir.path()),
        [
            (Some(1), "1".to_string(), EntryState::Stale),
            (Some(1), "2".to_string(), EntryState::Sound),
            (Some(2), "1".to_string(), EntryState::Sound),
        ]
    );
    // With the default wait of a day, nothing is stale yet.
    let namespace = Storage::new(dir.path()).open("f").expect("open");
    namespace
        .walk(Check::Headers, |e| {
            assert_eq!(e.state, EntryState::Sound, "{e:?}");
            false
        })
        .expect("walk");
}

#[test]
fn a_look_at_a_damaged_sled_store_leaves_it_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Two sessions, so that sled writes a snapshot and a zeroed log cannot be read.
    for keys in [0..20u64, 20..40] {
        let cache = versioned(dir.path(), 1);
        for key in keys {
            cache.insert(key, vec![key as u8; 20_000]).expect("insert");
        }
    }
    let db = dir.path().join("f").join("sled").join("db");
    let len = std::fs::metadata(&db).expect("db").len();
    std::fs::write(&db, vec![0u8; len as usize]).expect("zero the db");
    let namespace = Storage::new(dir.path()).open("f").expect("open");
    let walk = namespace.walk(Check::Headers, |_| false).expect("walk");
    assert_eq!(walk.unavailable.len(), 1, "{walk:?}");
    assert_eq!(walk.unavailable[0].0, Tier::Sled);
    drop(namespace);
    // (sled itself writes to a log it opens; the store stays where it is.)
    assert!(
        !dir.path().join("f").join("quarantine").exists(),
        "a look set it aside"
    );
    assert!(db.is_file());
    // A cache that opens it does set it aside.
    let cache = versioned(dir.path(), 1);
    assert!(cache.stats().sled.quarantined >= 1, "{}", cache.stats());
}
