//! Capacity eviction: the memory tier stays within `memory_capacity`, sled and the file
//! tier within `disk_capacity`, and each within `max_entries`; evictions are counted, and
//! the least recently used entry goes first where the order can be fixed deterministically.

use crate::common;

use std::thread::sleep;
use std::time::{Duration, SystemTime};

use common::*;
use smartcache::prelude::*;

/// A memory-routed value of about 1 KB.
fn kilo(key: u64) -> Vec<u8> {
    bytes_for(key, 1000)
}

#[test]
fn memory_stays_within_capacity_and_counts_evictions() {
    let dir = tempfile::tempdir().expect("tempdir");
    for eviction in MEMORY_STORES {
        let capacity = 10_000;
        let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
            .namespace(format!("{eviction:?}"))
            .eviction(eviction)
            .memory_capacity(capacity)
            .build()
            .expect("build");
        let n = 100;
        for key in 0..n {
            assert_eq!(cache.insert(key, kilo(key)).expect("insert"), Tier::Memory);
            let stats = cache.stats();
            assert!(
                stats.memory.bytes <= capacity,
                "{eviction:?}: over capacity after {key}: {stats}"
            );
        }
        let stats = cache.stats();
        assert!(stats.memory.entries <= 10, "{stats}");
        assert!(stats.memory.entries >= 1, "{stats}");
        assert_eq!(
            stats.memory.evictions + stats.memory.entries,
            n,
            "{eviction:?}: every insert is either held or counted as evicted: {stats}"
        );
        // Whatever is still served is the right value.
        let served = (0..n)
            .filter(|&k| cache.get(&k).is_some_and(|v| *v == kilo(k)))
            .count() as u64;
        assert_eq!(served, cache.stats().memory.entries);
    }
}

/// One `stats()` call, with no housekeeping before it: the snapshot must be consistent
/// (every insert is either held or counted as evicted).
#[test]
fn memory_stats_snapshot_counts_evictions_with_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    for eviction in MEMORY_STORES {
        let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
            .namespace(format!("{eviction:?}"))
            .eviction(eviction)
            .memory_capacity(10_000)
            .build()
            .expect("build");
        let n = 100;
        for key in 0..n {
            cache.insert(key, kilo(key)).expect("insert");
        }
        let stats = cache.stats();
        assert!(stats.memory.bytes <= 10_000, "{stats}");
        assert_eq!(stats.memory.inserts, n, "{stats}");
        assert_eq!(
            stats.memory.evictions + stats.memory.entries,
            n,
            "{eviction:?}: the snapshot's evictions do not match its entries: {stats}"
        );
    }
}

#[test]
fn memory_lru_evicts_the_least_recently_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Room for five 1 KB values (each weighs 24 + 1000 + 8 for the key).
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
        .memory_capacity(5 * 1032 + 100)
        .eviction(Eviction::Lru)
        .build()
        .expect("build");
    for key in 0..5 {
        cache.insert(key, kilo(key)).expect("insert");
        let _ = cache.stats(); // lets moka apply the write in order
    }
    assert_eq!(cache.stats().memory.entries, 5);
    assert!(
        cache.get(&0).is_some(),
        "key 0 is now the most recently used"
    );
    let _ = cache.stats();
    cache.insert(5, kilo(5)).expect("insert");
    let _ = cache.stats(); // applies the eviction
    let stats = cache.stats();
    assert_eq!(stats.memory.evictions, 1, "{stats}");
    assert!(cache.contains_key(&0), "the recently read key was evicted");
    assert!(
        !cache.contains_key(&1),
        "the least recently used key survived"
    );
    assert_eq!(cache.get(&5).as_deref(), Some(&kilo(5)));
}

#[test]
fn sled_stays_within_disk_capacity() {
    let dir = tempfile::tempdir().expect("tempdir");
    let capacity = 200_000;
    let build = || -> SmartCache<u64, Vec<u8>> {
        config(dir.path())
            .disk_capacity(capacity)
            .promote_max(0)
            .build()
            .expect("build")
    };
    let cache = build();
    let n = 40;
    for key in 0..n {
        assert_eq!(cache.insert(key, medium(key)).expect("insert"), Tier::Sled);
        let stats = cache.stats();
        assert!(
            stats.sled.bytes <= capacity,
            "over capacity after {key}: {stats}"
        );
    }
    let stats = cache.stats();
    assert!(stats.sled.evictions > 0, "{stats}");
    assert_eq!(stats.sled.evictions + stats.sled.entries, n, "{stats}");
    let held: Vec<u64> = (0..n).filter(|k| cache.get(k).is_some()).collect();
    assert_eq!(held.len() as u64, stats.sled.entries, "held: {held:?}");
    assert!(
        held.contains(&(n - 1)),
        "the newest value was evicted: {held:?}"
    );
    for &k in &held {
        assert_eq!(cache.get(&k).as_deref(), Some(&medium(k)));
    }
    drop(cache);

    // The reopened cache counts the same entries and bytes from disk.
    let cache = build();
    let reopened = cache.stats();
    assert_eq!(reopened.sled.entries, stats.sled.entries, "{reopened}");
    assert_eq!(reopened.sled.bytes, stats.sled.bytes, "{reopened}");
    let stored: u64 = with_sled_after(cache, dir.path());
    assert_eq!(
        stored, stats.sled.bytes,
        "stats bytes differ from what sled holds"
    );
}

/// Closes `cache` and sums the lengths of the entries its sled database holds.
fn with_sled_after<V: Cacheable>(cache: SmartCache<u64, V>, dir: &std::path::Path) -> u64 {
    drop(cache);
    with_sled(&cache_dir(dir), |entries, _| {
        entries
            .iter()
            .map(|kv| kv.expect("read sled").1.len() as u64)
            .sum()
    })
}

#[test]
fn sled_evicts_the_least_recently_used_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Room for nine medium values (about 20.1 KB each): sled keeps a quarter of its
    // disk_capacity for live entries (see the book's persistence chapter). Reads go to
    // sled (promote_max 0).
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
        .disk_capacity(800_000)
        .promote_max(0)
        .build()
        .expect("build");
    for key in 0..9 {
        cache.insert(key, medium(key)).expect("insert");
        sleep(Duration::from_millis(5)); // distinct access times
    }
    assert_eq!(cache.stats().sled.evictions, 0);
    assert_eq!(
        cache.get(&0).as_deref(),
        Some(&medium(0)),
        "read key 0: now the most recent"
    );
    sleep(Duration::from_millis(5));
    cache.insert(9, medium(9)).expect("insert");

    let stats = cache.stats();
    assert!(stats.sled.evictions >= 1, "{stats}");
    assert!(
        cache.contains_key(&0),
        "the recently read key was evicted: {stats}"
    );
    assert!(
        !cache.contains_key(&1),
        "the least recently used key survived: {stats}"
    );
    assert_eq!(cache.get(&9).as_deref(), Some(&medium(9)));
    assert_eq!(cache.get(&8).as_deref(), Some(&medium(8)));
}

fn file_cache(dir: &std::path::Path, capacity: u64) -> SmartCache<u64, InFile> {
    config(dir)
        .disk_capacity(capacity)
        .promote_max(0)
        .build()
        .expect("build a file cache")
}

fn ten_k(key: u64) -> InFile {
    InFile(bytes_for(key, 10_000))
}

#[test]
fn file_tier_stays_within_disk_capacity() {
    let dir = tempfile::tempdir().expect("tempdir");
    let capacity = 35_000; // three 10 KB entries
    let cache = file_cache(dir.path(), capacity);
    let n = 20;
    for key in 0..n {
        assert_eq!(cache.insert(key, ten_k(key)).expect("insert"), Tier::File);
        let stats = cache.stats();
        assert!(
            stats.file.bytes <= capacity,
            "over capacity after {key}: {stats}"
        );
        let on_disk: u64 = entry_files(cache.path().expect("path"))
            .iter()
            .map(|p| std::fs::metadata(p).expect("metadata").len())
            .sum();
        assert_eq!(
            on_disk, stats.file.bytes,
            "stats bytes differ from the files on disk"
        );
        assert!(on_disk <= capacity);
    }
    let stats = cache.stats();
    assert!(stats.file.evictions > 0, "{stats}");
    assert_eq!(stats.file.evictions + stats.file.entries, n, "{stats}");
    assert_eq!(
        entry_files(cache.path().expect("path")).len() as u64,
        stats.file.entries
    );
    assert_eq!(
        cache.get(&(n - 1)).as_deref(),
        Some(&ten_k(n - 1)),
        "newest value evicted"
    );
}

fn set_age(path: &std::path::Path, age: Duration) {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open entry file");
    file.set_modified(SystemTime::now() - age)
        .expect("set mtime");
}

#[test]
fn file_tier_evicts_the_least_recently_used_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = file_cache(dir.path(), 35_000);
    for key in 0..3 {
        cache.insert(key, ten_k(key)).expect("insert");
    }
    // Pretend the entries were last used 3, 2 and 1 minutes ago, then read key 0: a read
    // of an entry unused for over a minute refreshes its access time.
    for (key, minutes) in [(0, 3), (1, 2), (2, 1)] {
        set_age(&file_of(&cache, key), Duration::from_secs(60 * minutes));
    }
    assert_eq!(cache.get(&0).as_deref(), Some(&ten_k(0)));
    cache.insert(3, ten_k(3)).expect("insert"); // over capacity: one must go

    let stats = cache.stats();
    assert_eq!(stats.file.evictions, 1, "{stats}");
    assert!(
        file_of(&cache, 0).exists(),
        "the recently read entry was evicted"
    );
    assert!(
        !file_of(&cache, 1).exists(),
        "the least recently used entry survived"
    );
    assert!(file_of(&cache, 2).exists());
    assert_eq!(cache.get(&1), None);
    assert_eq!(cache.get(&0).as_deref(), Some(&ten_k(0)));
    assert_eq!(cache.get(&3).as_deref(), Some(&ten_k(3)));
}

/// An entry that alone exceeds disk_capacity is refused with an error naming the fix,
/// and does not flush out the entries that fit.
#[test]
fn an_entry_larger_than_disk_capacity_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sled: SmartCache<u64, InSled> = config(dir.path())
        .namespace("s")
        .disk_capacity(10_000)
        .build()
        .expect("sled");
    let file: SmartCache<u64, InFile> = config(dir.path())
        .namespace("f")
        .disk_capacity(10_000)
        .build()
        .expect("file");
    sled.insert(1, InSled(bytes_for(1, 3000))).expect("fits");
    file.insert(1, InFile(bytes_for(1, 3000))).expect("fits");

    let err = sled
        .insert(2, InSled(bytes_for(2, 20_000)))
        .expect_err("a sled entry over capacity was accepted");
    assert!(
        err.to_string().contains("CacheConfig::disk_capacity"),
        "{err}"
    );
    let err = file
        .insert(2, InFile(bytes_for(2, 20_000)))
        .expect_err("a file entry over capacity was accepted");
    assert!(
        err.to_string().contains("CacheConfig::disk_capacity"),
        "{err}"
    );

    assert_eq!(sled.get(&2), None);
    assert_eq!(file.get(&2), None);
    assert_eq!(sled.get(&1).as_deref(), Some(&InSled(bytes_for(1, 3000))));
    assert_eq!(file.get(&1).as_deref(), Some(&InFile(bytes_for(1, 3000))));
    let (s, f) = (sled.stats(), file.stats());
    assert_eq!(
        (s.sled.entries, s.sled.evictions, s.sled.errors),
        (1, 0, 1),
        "{s}"
    );
    assert_eq!(
        (f.file.entries, f.file.evictions, f.file.errors),
        (1, 0, 1),
        "{f}"
    );
    assert!(s.sled.bytes <= 10_000 && f.file.bytes <= 10_000);
}

#[test]
fn sleds_folder_stays_near_its_disk_capacity() {
    // 200 KB values: sled stores their pages as blob files and needs well over their
    // size on disk; the tier accounts for that, measured at its compactions.
    let dir = tempfile::tempdir().expect("tempdir");
    let capacity = 24u64 << 20;
    let open = || -> SmartCache<u64, InSled> {
        config(dir.path())
            .disk_capacity(capacity)
            .build()
            .expect("build")
    };
    for round in 0..3u64 {
        let cache = open();
        for key in 0..120u64 {
            cache
                .insert(key, InSled(bytes_for(key + round, 200_000)))
                .expect("insert");
        }
    }
    let cache = open(); // opening measures the folder and compacts it when bloated
    let stats = cache.stats();
    let on_disk = disk_usage(&sled_path(&cache_dir(dir.path())));
    println!("capacity {capacity}, folder {on_disk}\n{stats}");
    assert!(
        stats.sled.evictions > 0 || stats.sled.bytes < capacity,
        "{stats}"
    );
    assert!(
        on_disk <= capacity * 3 / 2,
        "the sled folder takes {on_disk} bytes for a disk_capacity of {capacity}: {stats}"
    );
    assert_eq!(stats.sled.disk_bytes, on_disk, "{stats}");
    for key in 0..120u64 {
        if let Some(v) = cache.get(&key) {
            assert!(
                *v == InSled(bytes_for(key + 2, 200_000)),
                "key {key}: a wrong value"
            );
        }
    }
}

/// `max_entries` bounds the memory tier by count while `memory_capacity` still bounds its
/// bytes, and `stats().memory.bytes` stays the bytes held (not the padded weights).
#[test]
fn memory_stays_within_max_entries_and_capacity() {
    let dir = tempfile::tempdir().expect("tempdir");
    for eviction in MEMORY_STORES {
        let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
            .namespace(format!("count-{eviction:?}"))
            .eviction(eviction)
            .max_entries(10)
            .build()
            .expect("build");
        for key in 0..100 {
            assert_eq!(cache.insert(key, kilo(key)).expect("insert"), Tier::Memory);
            let stats = cache.stats();
            assert!(
                stats.memory.entries <= 10,
                "{eviction:?}, after {key}: {stats}"
            );
        }
        let stats = cache.stats();
        assert!(
            stats.memory.entries >= 5,
            "{eviction:?}: far fewer than 10 kept: {stats}"
        );
        assert!(stats.memory.evictions >= 90, "{eviction:?}: {stats}");
        let per_entry = stats.memory.bytes / stats.memory.entries;
        assert!(
            (1000..1200).contains(&per_entry),
            "{eviction:?}: memory bytes are not the bytes held: {stats}"
        );

        // Both bounds at once: ten entries allowed, but only about four of 2 KB fit in 10 KB.
        let both: SmartCache<u64, Vec<u8>> = config(dir.path())
            .namespace(format!("both-{eviction:?}"))
            .eviction(eviction)
            .max_entries(10)
            .memory_capacity(10_000)
            .build()
            .expect("build");
        for key in 0..50 {
            both.insert(key, bytes_for(key, 2000)).expect("insert");
            let stats = both.stats();
            assert!(
                stats.memory.bytes <= 10_000,
                "{eviction:?}, after {key}: {stats}"
            );
            assert!(
                stats.memory.entries <= 10,
                "{eviction:?}, after {key}: {stats}"
            );
        }
    }
}

/// `max_entries` bounds sled by count, oldest first, whatever the bytes allow.
#[test]
fn sled_stays_within_max_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
        .max_entries(5)
        .promote_max(0)
        .build()
        .expect("build");
    for key in 0..30 {
        assert_eq!(cache.insert(key, medium(key)).expect("insert"), Tier::Sled);
        let stats = cache.stats();
        assert!(stats.sled.entries <= 5, "after {key}: {stats}");
        sleep(Duration::from_millis(2)); // distinct creation times
    }
    let stats = cache.stats();
    assert_eq!(stats.sled.evictions + stats.sled.entries, 30, "{stats}");
    assert_eq!(
        cache.get(&29).as_deref(),
        Some(&medium(29)),
        "newest evicted"
    );
    assert_eq!(cache.get(&0), None, "oldest kept");
    // What the database holds, read without the cache.
    let held = {
        drop(cache);
        with_sled(&cache_dir(dir.path()), |entries, _| entries.len())
    };
    assert!(held <= 5, "{held} entries in the sled database");
}

/// `max_entries` bounds the file tier by count: the files on disk, not just the counter.
#[test]
fn file_tier_stays_within_max_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, InFile> = config(dir.path())
        .max_entries(3)
        .promote_max(0)
        .build()
        .expect("build");
    for key in 0..12 {
        assert_eq!(cache.insert(key, ten_k(key)).expect("insert"), Tier::File);
        let files = entry_files(cache.path().expect("path")).len();
        assert!(files <= 3, "{files} entry files after {key}");
        sleep(Duration::from_millis(2)); // distinct modification times
    }
    let stats = cache.stats();
    assert_eq!(stats.file.evictions + stats.file.entries, 12, "{stats}");
    assert_eq!(
        cache.get(&11).as_deref(),
        Some(&ten_k(11)),
        "newest evicted"
    );
    assert_eq!(cache.get(&0), None, "oldest kept");
}

/// On quick_cache (`Eviction::ClockPro`) the memory capacity is split among shards: a
/// value larger than one is not kept (counted as evicted), where moka keeps it.
#[test]
fn a_value_larger_than_a_clockpro_shard_is_not_kept_in_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let big = InMemory(vec![1u8; 20 << 20]);
    for eviction in MEMORY_STORES {
        let cache: SmartCache<u64, InMemory> = config(dir.path())
            .namespace(format!("big-{eviction:?}"))
            .eviction(eviction)
            .memory_capacity(64 << 20)
            .promote_max(1024)
            .build()
            .expect("build");
        assert_eq!(cache.insert(1, big.clone()).expect("insert"), Tier::Memory);
        let kept = cache.get(&1).is_some();
        let stats = cache.stats();
        match eviction {
            Eviction::ClockPro => {
                assert!(!kept, "a value over a shard was kept: {stats}");
                assert_eq!(stats.memory.evictions, 1, "{stats}");
            }
            _ => assert!(kept, "{eviction:?}: {stats}"),
        }
    }
}

/// Writing over a key replaces its slot: not an eviction, on either memory store.
#[test]
fn replacing_a_value_is_not_an_eviction() {
    let dir = tempfile::tempdir().expect("tempdir");
    for eviction in MEMORY_STORES {
        let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
            .namespace(format!("replace-{eviction:?}"))
            .eviction(eviction)
            .build()
            .expect("build");
        for round in 0..50 {
            cache.insert(1, kilo(round)).expect("insert");
        }
        let stats = cache.stats();
        assert_eq!(stats.memory.evictions, 0, "{eviction:?}: {stats}");
        assert_eq!(stats.memory.entries, 1, "{eviction:?}: {stats}");
        assert_eq!(cache.get(&1).as_deref(), Some(&kilo(49)));
    }
}

/// Small count bounds keep what they say, on either memory store: n entries fit, and no
/// more.
#[test]
fn n_entries_fit_in_max_entries_n() {
    let dir = tempfile::tempdir().expect("tempdir");
    for eviction in MEMORY_STORES {
        for n in [1, 2, 3, 31, 32, 33] {
            let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
                .namespace(format!("few-{eviction:?}-{n}"))
                .eviction(eviction)
                .max_entries(n)
                .build()
                .expect("build");
            for key in 0..n {
                cache.insert(key, kilo(key)).expect("insert");
            }
            let stats = cache.stats();
            assert_eq!(
                stats.memory.entries, n,
                "{eviction:?}, {n} entries: {stats}"
            );
            cache.insert(n, kilo(n)).expect("insert");
            let stats = cache.stats();
            // Which one goes is the policy's to say (TinyLFU may turn the newest away).
            assert!(
                stats.memory.entries <= n,
                "{eviction:?}, {n} entries: {stats}"
            );
            assert_eq!(
                stats.memory.entries + stats.memory.evictions,
                n + 1,
                "{eviction:?}, {n} entries: {stats}"
            );
        }
    }
}
