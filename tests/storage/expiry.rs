//! Expiry: time to live and time to idle in each tier, counted in
//! `stats().<tier>.expirations`, and persisted with the entry so that a reopened cache
//! honours it. Sleeps are generous multiples of the TTL/TTI; no test asserts on speed.

use crate::common;

use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use smartcache::prelude::*;

const TTL: Duration = Duration::from_millis(300);
const PAST_TTL: Duration = Duration::from_millis(650);

fn ttl_cache(dir: &Path) -> SmartCache<u64, Vec<u8>> {
    config(dir)
        .ttl(TTL)
        .build()
        .expect("build a cache with a ttl")
}

#[test]
fn ttl_expires_memory_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    for eviction in MEMORY_STORES {
        let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
            .namespace(format!("ttl-{eviction:?}"))
            .ttl(TTL)
            .eviction(eviction)
            .build()
            .expect("build a cache with a ttl");
        assert_eq!(cache.insert(1, small(1)).expect("insert"), Tier::Memory);
        assert_eq!(cache.get(&1).as_deref(), Some(&small(1)));
        sleep(PAST_TTL);
        assert_eq!(
            cache.get(&1),
            None,
            "{eviction:?}: memory value outlived its ttl"
        );
        assert!(!cache.contains_key(&1));
        // moka drops expired entries on its housekeeping timer (about 1 s granularity): the
        // expiration is counted, and the entry leaves `entries`, once it has run.
        let counted = eventually(Duration::from_secs(3), || {
            let stats = cache.stats();
            stats.memory.expirations == 1 && stats.memory.entries == 0
        });
        assert!(
            counted,
            "{eviction:?}: expiration not counted: {}",
            cache.stats()
        );
    }
}

#[test]
fn ttl_expires_sled_values_and_their_memory_copies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = ttl_cache(dir.path());
    assert_eq!(cache.insert(1, medium(1)).expect("insert"), Tier::Sled);
    assert_eq!(cache.get(&1).as_deref(), Some(&medium(1)));
    sleep(PAST_TTL);
    assert_eq!(cache.tier_of(&1), None, "sled value outlived its ttl");
    assert_eq!(cache.get(&1), None, "sled value outlived its ttl");
    let stats = cache.stats();
    assert_eq!(stats.sled.expirations, 1, "{stats}");
    assert_eq!(stats.sled.entries, 0, "expired entry not removed: {stats}");
    assert_eq!(stats.sled.hits, 0, "{stats}");
}

#[test]
fn ttl_expires_file_values_and_removes_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = ttl_cache(dir.path());
    assert_eq!(cache.insert(1, large(1)).expect("insert"), Tier::File);
    let file = file_of(&cache, 1);
    assert!(file.is_file());
    assert_eq!(cache.get(&1).as_deref(), Some(&large(1)));
    sleep(PAST_TTL);
    assert_eq!(cache.get(&1), None, "file value outlived its ttl");
    let stats = cache.stats();
    assert_eq!(stats.file.expirations, 1, "{stats}");
    assert_eq!(stats.file.entries, 0, "{stats}");
    assert!(!file.exists(), "expired entry file left on disk");
}

#[test]
fn ttl_expires_pinned_values_in_every_tier() {
    let dir = tempfile::tempdir().expect("tempdir");
    let memory: SmartCache<u64, InMemory> = config(dir.path())
        .namespace("m")
        .ttl(TTL)
        .build()
        .expect("m");
    let sled: SmartCache<u64, InSled> = config(dir.path())
        .namespace("s")
        .ttl(TTL)
        .build()
        .expect("s");
    let file: SmartCache<u64, InFile> = config(dir.path())
        .namespace("f")
        .ttl(TTL)
        .build()
        .expect("f");
    memory.insert(1, InMemory(small(1))).expect("insert");
    sled.insert(1, InSled(small(1))).expect("insert");
    file.insert(1, InFile(small(1))).expect("insert");
    assert!(memory.get(&1).is_some() && sled.get(&1).is_some() && file.get(&1).is_some());
    sleep(PAST_TTL);
    assert_eq!(memory.get(&1), None, "memory");
    assert_eq!(sled.get(&1), None, "sled");
    assert_eq!(file.get(&1), None, "file");
    assert!(
        eventually(Duration::from_secs(3), || memory.stats().memory.expirations
            == 1),
        "{}",
        memory.stats()
    );
    // The sled and file values are small: their memory copies expire with them, and the
    // persisted entries are found expired when read.
    assert_eq!(sled.stats().sled.expirations, 1, "{}", sled.stats());
    assert_eq!(file.stats().file.expirations, 1, "{}", file.stats());
}

#[test]
fn ttl_is_persisted_with_the_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ttl = Duration::from_millis(1500);
    let started = Instant::now();
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path()).ttl(ttl).build().expect("build");
    cache.insert(1, medium(1)).expect("insert medium");
    cache.insert(2, large(2)).expect("insert large");
    drop(cache);

    // Reopened without a ttl: the entries keep the expiry they were written with.
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path()).build().expect("reopen");
    assert_eq!(
        cache.get(&1).as_deref(),
        Some(&medium(1)),
        "sled value lost on reopen"
    );
    assert_eq!(
        cache.get(&2).as_deref(),
        Some(&large(2)),
        "file value lost on reopen"
    );
    sleep((ttl + Duration::from_millis(400)).saturating_sub(started.elapsed()));
    assert_eq!(cache.get(&1), None, "sled value outlived its persisted ttl");
    assert_eq!(cache.get(&2), None, "file value outlived its persisted ttl");
    let stats = cache.stats();
    assert_eq!(stats.sled.expirations, 1, "{stats}");
    assert_eq!(stats.file.expirations, 1, "{stats}");
    assert_eq!(stats.sled.entries + stats.file.entries, 0, "{stats}");
}

#[test]
fn expired_entries_are_misses_in_a_cache_reopened_later() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = ttl_cache(dir.path());
    cache.insert(1, medium(1)).expect("insert medium");
    cache.insert(2, large(2)).expect("insert large");
    let file = file_of(&cache, 2);
    drop(cache);
    sleep(PAST_TTL);

    // Reopened with a long ttl: the persisted, shorter expiry still wins.
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
        .ttl(Duration::from_secs(3600))
        .build()
        .expect("reopen");
    assert!(!cache.contains_key(&1));
    assert_eq!(cache.get(&1), None);
    assert_eq!(cache.get(&2), None);
    let stats = cache.stats();
    assert_eq!(stats.sled.expirations, 1, "{stats}");
    assert_eq!(stats.file.expirations, 1, "{stats}");
    assert!(!file.exists(), "expired entry file left on disk");
}

/// TTI of 1 s: read every 150 ms for 1.5 s (the entry must stay), then idle for 1.6 s
/// (it must go).
const TTI: Duration = Duration::from_secs(1);

fn keep_reading<V: Cacheable + PartialEq + std::fmt::Debug>(
    cache: &SmartCache<u64, V>,
    key: u64,
    want: &V,
) {
    let until = Instant::now() + TTI + TTI / 2;
    while Instant::now() < until {
        assert_eq!(
            cache.get(&key).as_deref(),
            Some(want),
            "a value read every 150 ms idled out"
        );
        sleep(Duration::from_millis(150));
    }
}

#[test]
fn tti_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let caches = MEMORY_STORES.map(|eviction| {
        let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
            .namespace(format!("tti-{eviction:?}"))
            .tti(TTI)
            .eviction(eviction)
            .build()
            .expect("build");
        assert_eq!(cache.insert(1, small(1)).expect("insert"), Tier::Memory);
        cache
    });
    std::thread::scope(|s| {
        for cache in &caches {
            s.spawn(|| keep_reading(cache, 1, &small(1)));
        }
    });
    sleep(TTI + Duration::from_millis(600));
    for (cache, eviction) in caches.iter().zip(MEMORY_STORES) {
        assert_eq!(
            cache.get(&1),
            None,
            "{eviction:?}: idle memory value not expired"
        );
        let stats = cache.stats();
        assert_eq!(stats.memory.expirations, 1, "{eviction:?}: {stats}");
        assert_eq!(stats.memory.entries, 0, "{eviction:?}: {stats}");
    }
}

#[test]
fn tti_sled() {
    let dir = tempfile::tempdir().expect("tempdir");
    // promote_max(0): every read goes to sled, so this is sled's own idle clock.
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
        .tti(TTI)
        .promote_max(0)
        .build()
        .expect("build");
    assert_eq!(cache.insert(1, medium(1)).expect("insert"), Tier::Sled);
    keep_reading(&cache, 1, &medium(1));
    assert_eq!(
        cache.stats().sled.hits,
        cache.stats().hits,
        "reads did not go to sled"
    );
    sleep(TTI + Duration::from_millis(600));
    assert_eq!(cache.get(&1), None, "idle sled value not expired");
    let stats = cache.stats();
    assert_eq!(stats.sled.expirations, 1, "{stats}");
    assert_eq!(stats.sled.entries, 0, "{stats}");
}

#[test]
fn tti_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path()).tti(TTI).build().expect("build");
    assert_eq!(cache.insert(1, large(1)).expect("insert"), Tier::File);
    let file = file_of(&cache, 1);
    keep_reading(&cache, 1, &large(1));
    assert_eq!(
        cache.stats().file.hits,
        cache.stats().hits,
        "reads did not go to the file"
    );
    sleep(TTI + Duration::from_millis(600));
    assert_eq!(cache.get(&1), None, "idle file value not expired");
    assert_eq!(cache.stats().file.expirations, 1, "{}", cache.stats());
    assert!(!file.exists(), "idle entry file left on disk");
}

/// Small persisted values are read from their memory copy. Those reads are reads of the
/// entry: a reopened cache must not find it idle.
#[test]
fn tti_reads_through_the_memory_copy_keep_persisted_entries_alive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let build =
        || -> SmartCache<u64, Vec<u8>> { config(dir.path()).tti(TTI).build().expect("build") };
    let cache = build();
    assert_eq!(cache.insert(1, medium(1)).expect("insert"), Tier::Sled);
    keep_reading(&cache, 1, &medium(1));
    drop(cache);

    let cache = build();
    assert_eq!(
        cache.get(&1).as_deref(),
        Some(&medium(1)),
        "an entry read 150 ms ago was dropped as idle after reopening (stats: {})",
        cache.stats()
    );
}

#[test]
fn tti_is_checked_after_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tti = Duration::from_millis(300);
    let build =
        || -> SmartCache<u64, Vec<u8>> { config(dir.path()).tti(tti).build().expect("build") };
    let cache = build();
    cache.insert(1, medium(1)).expect("insert medium");
    cache.insert(2, large(2)).expect("insert large");
    drop(cache);
    sleep(PAST_TTL);
    let cache = build();
    assert_eq!(
        cache.get(&1),
        None,
        "idle sled value served after reopening"
    );
    assert_eq!(
        cache.get(&2),
        None,
        "idle file value served after reopening"
    );
    let stats = cache.stats();
    assert_eq!(stats.sled.expirations, 1, "{stats}");
    assert_eq!(stats.file.expirations, 1, "{stats}");
}

/// `insert_with_ttl`: an entry lives by its own time to live, shorter than the cache's, in
/// every tier, and a later cache on the same folder sees it expired too.
#[test]
fn an_entry_lives_by_its_own_time_to_live_in_every_tier() {
    let dir = tempfile::tempdir().expect("tempdir");
    for tier in TIERS {
        let open = || -> SmartCache<String, Vec<u8>> {
            config_for_tier(dir.path(), tier)
                .ttl(Duration::from_secs(3600))
                .build()
                .expect("build")
        };
        let cache = open();
        let short = cache
            .insert_with_ttl("short".into(), small(1), Duration::from_millis(250))
            .expect("insert");
        assert_eq!(short, tier);
        cache.insert("long".into(), small(2)).expect("insert");
        assert!(cache.get("short").is_some(), "{tier}: expired at once");
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(cache.get("short"), None, "{tier}: outlived its own ttl");
        assert_eq!(cache.get("long").as_deref(), Some(&small(2)), "{tier}");
        if tier.is_persistent() {
            let again = open();
            assert_eq!(again.get("short"), None, "{tier}: on disk");
            assert_eq!(
                again.get("long").as_deref(),
                Some(&small(2)),
                "{tier}: on disk"
            );
        }
        assert!(cache
            .insert_with_ttl("zero".into(), small(3), Duration::ZERO)
            .is_err());
        cache.clear().expect("clear");
    }
}

/// Short-lived for a failure, long-lived for a success.
fn lifetime(answer: &Option<u64>) -> Option<Duration> {
    match answer {
        Some(_) => None, // the cache's ttl
        None => Some(Duration::from_millis(250)),
    }
}

/// `ttl_of`: each value decides its own time to live, on insert and on `get_with`.
#[test]
fn a_value_can_decide_its_own_time_to_live() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Option<u64>> = config(dir.path())
        .persist_all(true)
        .ttl(Duration::from_secs(3600))
        .ttl_of(lifetime)
        .build()
        .expect("build");
    cache.insert(1, None).expect("insert");
    cache.insert(2, Some(2)).expect("insert");
    assert_eq!(*cache.get_with(3, || None), None);
    sleep(Duration::from_millis(400));
    assert_eq!(cache.get(&1), None, "a failure outlived its own ttl");
    assert_eq!(
        cache.get(&3),
        None,
        "a computed failure outlived its own ttl"
    );
    assert_eq!(cache.get(&2).as_deref(), Some(&Some(2)));

    let err = config(dir.path())
        .ttl_of(lifetime)
        .build::<u64, String>()
        .expect_err("a ttl_of for another value type");
    assert!(matches!(err, CacheError::InvalidConfig { .. }), "{err:?}");
    assert!(err.to_string().contains("ttl_of"), "{err}");
}

/// `insert_with_ttl` in a cache with no time to live of its own: memory holds the entry
/// until its deadline, and no longer.
#[test]
fn an_entry_expires_in_a_cache_without_a_ttl() {
    let dir = tempfile::tempdir().expect("tempdir");
    let memory_stores = MEMORY_STORES.iter().map(|&e| (Tier::Memory, e));
    let persistent = TIERS.into_iter().filter(|t| t.is_persistent());
    for (tier, eviction) in memory_stores.chain(persistent.map(|t| (t, Eviction::TinyLfu))) {
        let cache: SmartCache<String, Vec<u8>> = config_for_tier(dir.path(), tier)
            .eviction(eviction)
            .build()
            .expect("build");
        cache
            .insert_with_ttl("short".into(), small(1), Duration::from_millis(250))
            .expect("insert");
        cache.insert("kept".into(), small(2)).expect("insert");
        assert!(cache.contains_key("short"), "{tier}");
        sleep(Duration::from_millis(400));
        assert!(!cache.contains_key("short"), "{tier}: outlived its ttl");
        assert_eq!(cache.get("short"), None, "{tier}: outlived its ttl");
        assert_eq!(cache.get("kept").as_deref(), Some(&small(2)), "{tier}");
        cache.clear().expect("clear");
    }
}
