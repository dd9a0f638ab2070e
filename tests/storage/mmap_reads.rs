//! `CacheConfig::mmap_reads`: large file-tier entries are checked and decoded from a
//! memory map. Values come back equal for codecs that verify first (bincode) and codecs
//! that stream (raw numbers); damaged entries are still misses, counted and removed.

use crate::common;

use std::path::Path;

use common::*;
use smartcache::prelude::*;

const BIG: usize = 6 << 20;

fn mapped_cache<V: Cacheable>(dir: &Path) -> SmartCache<u64, V> {
    config_for_tier(dir, Tier::File)
        .mmap_reads(true)
        .build()
        .expect("build")
}

fn strings() -> Vec<String> {
    (0..BIG / 16).map(|i| format!("value number {i}")).collect()
}

/// Strings that compress poorly: hex digits of a pseudo-random sequence.
fn noise() -> Vec<String> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..BIG / 8)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("{x:016x}")
        })
        .collect()
}

#[test]
fn large_entries_read_through_a_map_come_back_equal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let texts: SmartCache<u64, Vec<String>> = mapped_cache(dir.path());
    texts.insert(1, strings()).expect("insert");
    let numbers: SmartCache<u64, Vec<u64>> = mapped_cache(dir.path());
    let values: Vec<u64> = (0..BIG as u64 / 8).collect();
    numbers.insert(1, values.clone()).expect("insert");
    drop((texts, numbers));
    let texts: SmartCache<u64, Vec<String>> = mapped_cache(dir.path());
    assert_eq!(texts.get(&1).as_deref(), Some(&strings()));
    let numbers: SmartCache<u64, Vec<u64>> = mapped_cache(dir.path());
    assert_eq!(numbers.get(&1).as_deref(), Some(&values));
    for compression in [Compression::Lz4, Compression::Zstd(1)] {
        let cache: SmartCache<u64, Vec<String>> = config_for_tier(dir.path(), Tier::File)
            .namespace_prefix("compressed")
            .compression(compression)
            .mmap_reads(true)
            .build()
            .expect("build");
        cache.insert(2, noise()).expect("insert");
        let path = common::file_of(&cache, 2);
        // Large enough, compressed, to be read through the map.
        assert!(std::fs::metadata(path).expect("entry").len() >= 4 << 20);
        drop(cache);
        let cache: SmartCache<u64, Vec<String>> = config_for_tier(dir.path(), Tier::File)
            .namespace_prefix("compressed")
            .compression(compression)
            .mmap_reads(true)
            .build()
            .expect("reopen");
        assert_eq!(cache.get(&2).as_deref(), Some(&noise()), "{compression:?}");
    }
}

#[test]
fn a_damaged_large_entry_read_through_a_map_is_a_miss() {
    let dir = tempfile::tempdir().expect("tempdir");
    for at_end in [false, true] {
        let cache: SmartCache<u64, Vec<String>> = mapped_cache(dir.path());
        cache.insert(1, strings()).expect("insert");
        let path = common::file_of(&cache, 1);
        let len = std::fs::metadata(&path).expect("entry").len() as usize;
        flip_bit(&path, if at_end { len - 1 } else { len / 2 });
        drop(cache);
        let cache: SmartCache<u64, Vec<String>> = mapped_cache(dir.path());
        assert_eq!(cache.get(&1), None);
        assert_eq!(cache.stats().file.invalid, 1, "{}", cache.stats());
        assert!(!path.exists());
    }
    let cache: SmartCache<u64, Vec<u64>> = mapped_cache(dir.path());
    cache.insert(3, vec![7; BIG / 8]).expect("insert");
    let path = common::file_of(&cache, 3);
    let len = std::fs::metadata(&path).expect("entry").len() as usize;
    flip_bit(&path, len - 3);
    drop(cache);
    let cache: SmartCache<u64, Vec<u64>> = mapped_cache(dir.path());
    assert_eq!(cache.get(&3), None);
    assert_eq!(cache.stats().file.invalid, 1, "{}", cache.stats());
}
