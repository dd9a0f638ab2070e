//! Corruption: a truncated, bit-flipped, garbage or empty entry, in a file or in sled,
//! compressed or not, is a miss — never a wrong value and never a panic — counted in
//! `stats().invalid()`, removed, and replaced by the next insert.

use crate::common;

use std::path::Path;

use common::*;
use smartcache::prelude::*;

/// Bytes of an entry header, before the key (see the envelope layout in `entry.rs`).
const HEADER: usize = 64;

/// The key's length: the little-endian u32 at offset 12.
fn key_len(entry: &[u8]) -> usize {
    u32::from_le_bytes(entry[12..16].try_into().expect("4 bytes")) as usize
}

/// Where the header checksum is: after the header and the key.
fn checksum_at(entry: &[u8]) -> usize {
    HEADER + key_len(entry)
}

/// Where the payload of an entry starts: after the header, the key, the checksum and the
/// zero padding whose length is the header's byte 9.
fn payload_start(entry: &[u8]) -> usize {
    checksum_at(entry) + 8 + usize::from(entry[9])
}

/// A value that compresses well, different for every key.
fn compressible(key: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i % 13) as u8).wrapping_add(key as u8))
        .collect()
}

/// How an entry is damaged.
#[derive(Clone, Copy, Debug)]
enum Damage {
    Empty,
    TruncateTo(usize),
    TruncateBy(usize),
    Half,
    Flip(usize),
    /// Keep the header, the key and this many payload bytes.
    KeepPayload(usize),
    /// Flip the payload byte at this offset from its start.
    FlipPayload(usize),
    FlipFromEnd(usize),
    FlipMiddle,
    /// Flip a bit of the header checksum, which follows the key.
    FlipChecksum,
    Garbage,
    GarbageWithMagic,
}

impl Damage {
    fn apply(self, bytes: &mut Vec<u8>) {
        let len = bytes.len();
        match self {
            Damage::Empty => bytes.clear(),
            Damage::TruncateTo(n) => bytes.truncate(n),
            Damage::TruncateBy(n) => bytes.truncate(len - n),
            Damage::Half => bytes.truncate(len / 2),
            Damage::Flip(at) => bytes[at] ^= 0x04,
            Damage::FlipChecksum => {
                let at = checksum_at(bytes) + 3;
                bytes[at] ^= 0x04;
            }
            Damage::KeepPayload(n) => bytes.truncate(payload_start(bytes) + n),
            Damage::FlipPayload(at) => {
                let at = payload_start(bytes) + at;
                bytes[at] ^= 0x04;
            }
            Damage::FlipFromEnd(back) => bytes[len - back] ^= 0x04,
            Damage::FlipMiddle => bytes[HEADER + (len - HEADER) / 2] ^= 0x04,
            Damage::Garbage => *bytes = bytes_for(0xbad, len),
            Damage::GarbageWithMagic => {
                *bytes = bytes_for(0xbad, len);
                bytes[..4].copy_from_slice(b"SMCE");
                // This build's envelope format (2): garbage that claims to be ours.
                bytes[4..6].copy_from_slice(&2u16.to_le_bytes());
            }
        }
    }
}

/// Every way of damaging an entry that the tests try, on header, key and payload.
fn all_damage() -> Vec<Damage> {
    let mut all = vec![
        Damage::Empty,
        Damage::TruncateTo(1),
        Damage::TruncateTo(40),
        Damage::TruncateTo(HEADER),     // header only
        Damage::TruncateTo(HEADER + 1), // part of the key
        Damage::KeepPayload(0),         // header and key, no payload
        Damage::KeepPayload(1),
        Damage::Half,
        Damage::TruncateBy(1),
        Damage::Garbage,
        Damage::GarbageWithMagic,
    ];
    // Header: magic, format (a number no build uses: another build's format is not
    // damage, see `entries_of_another_format_are_misses_left_in_place`), codec,
    // compression, key length, fingerprint, created, expires, raw length, stored length,
    // payload checksum.
    for at in [0, 5, 6, 8, 13, 20, 28, 36, 44, 52, 60] {
        all.push(Damage::Flip(at));
    }
    all.push(Damage::Flip(HEADER)); // the key
    all.push(Damage::FlipChecksum); // the header checksum
    all.push(Damage::FlipPayload(0));
    all.push(Damage::FlipPayload(1));
    all.push(Damage::FlipMiddle);
    all.push(Damage::FlipFromEnd(1));
    all
}

/// Reads a damaged `key` through the API. `first` picks which call meets it first.
/// Checks it is a counted miss, that the entry is gone, and that a new insert works.
fn assert_refused<V>(cache: &SmartCache<u64, V>, key: u64, fresh: V, what: &str, first: usize)
where
    V: Cacheable + Clone + PartialEq + std::fmt::Debug,
{
    match first % 3 {
        0 => assert_eq!(cache.get(&key), None, "{what}: get served a damaged entry"),
        1 => assert!(
            matches!(cache.try_get(&key), Ok(None)),
            "{what}: try_get is not Ok(None): {:?}",
            cache.try_get(&key)
        ),
        _ => {
            // get_with must recompute rather than serve the damaged entry.
            let got = cache.get_with(key, || fresh.clone());
            assert_eq!(*got, fresh, "{what}: get_with served a damaged entry");
        }
    }
    let stats = cache.stats();
    assert_eq!(
        stats.invalid(),
        1,
        "{what}: not counted as invalid: {stats}"
    );
    assert_eq!(stats.errors(), 0, "{what}: {stats}");
    if first % 3 != 2 {
        assert_eq!(cache.get(&key), None, "{what}: second get");
        assert!(
            matches!(cache.try_get(&key), Ok(None)),
            "{what}: try_get after removal"
        );
        assert!(
            !cache.contains_key(&key),
            "{what}: contains_key after removal"
        );
        assert_eq!(
            cache.stats().invalid(),
            1,
            "{what}: the bad entry was not removed"
        );
        cache
            .insert(key, fresh.clone())
            .expect("insert after corruption");
    }
    assert_eq!(
        cache.get(&key).as_deref(),
        Some(&fresh),
        "{what}: fresh value"
    );
}

fn damage_file(path: &Path, damage: Damage) {
    let mut bytes = std::fs::read(path).expect("read entry file");
    damage.apply(&mut bytes);
    std::fs::write(path, bytes).expect("write entry file");
}

fn file_cache(dir: &Path, compression: Compression) -> SmartCache<u64, InFile> {
    config(dir)
        .compression(compression)
        .build()
        .expect("build a file cache")
}

fn damaged_file_entries_are_refused(compression: Compression, value: impl Fn(u64) -> Vec<u8>) {
    for (i, damage) in all_damage().into_iter().enumerate() {
        let what = format!("{compression:?} {damage:?}");
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = file_cache(dir.path(), compression);
        assert_eq!(
            cache.insert(1, InFile(value(1))).expect("insert"),
            Tier::File
        );
        let path = file_of(&cache, 1);
        drop(cache);
        damage_file(&path, damage);

        let cache = file_cache(dir.path(), compression);
        assert_refused(&cache, 1, InFile(value(2)), &what, i);
        assert!(path.is_file(), "{what}: the fresh entry is not a file");
        let stats = cache.stats();
        assert_eq!(stats.file.invalid, 1, "{what}: {stats}");
    }
}

#[test]
fn damaged_file_entries_are_refused_uncompressed() {
    damaged_file_entries_are_refused(Compression::None, |k| bytes_for(k, 5000));
}

#[test]
fn damaged_file_entries_are_refused_lz4() {
    damaged_file_entries_are_refused(Compression::Lz4, |k| compressible(k, 50_000));
}

#[test]
fn damaged_file_entries_are_refused_zstd() {
    damaged_file_entries_are_refused(Compression::Zstd(3), |k| compressible(k, 50_000));
}

#[test]
fn the_bad_file_is_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = file_cache(dir.path(), Compression::None);
    cache.insert(1, InFile(small(1))).expect("insert");
    let path = file_of(&cache, 1);
    drop(cache);
    damage_file(&path, Damage::FlipMiddle);
    let cache = file_cache(dir.path(), Compression::None);
    assert_eq!(cache.get(&1), None);
    assert!(!path.exists(), "the corrupt entry file is still on disk");
    assert_eq!(cache.stats().file.entries, 0, "{}", cache.stats());
}

#[test]
fn header_damage_is_caught_by_contains_key_and_tier_of() {
    // Magic, compression, fingerprint, expiry, stored length, the key, the checksum (the
    // test entries have 8-byte keys).
    for (i, at) in [0usize, 8, 20, 36, 52, HEADER, HEADER + 8]
        .into_iter()
        .enumerate()
    {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = file_cache(dir.path(), Compression::None);
        cache.insert(1, InFile(small(1))).expect("insert");
        let path = file_of(&cache, 1);
        drop(cache);
        flip_bit(&path, at);
        let cache = file_cache(dir.path(), Compression::None);
        if i % 2 == 0 {
            assert!(
                !cache.contains_key(&1),
                "flip at {at}: contains_key accepted it"
            );
        } else {
            assert_eq!(cache.tier_of(&1), None, "flip at {at}: tier_of accepted it");
        }
        assert_eq!(
            cache.stats().file.invalid,
            1,
            "flip at {at}: {}",
            cache.stats()
        );
        assert!(!path.exists(), "flip at {at}: file left behind");
        assert_eq!(cache.get(&1), None);
    }
}

#[test]
fn compression_is_really_applied() {
    for compression in [Compression::Lz4, Compression::Zstd(3)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = file_cache(dir.path(), compression);
        let value = InFile(compressible(1, 200_000));
        cache.insert(1, value.clone()).expect("insert");
        let len = std::fs::metadata(file_of(&cache, 1))
            .expect("metadata")
            .len();
        assert!(
            len < 50_000,
            "{compression:?}: entry of {len} bytes for 200 KB of compressible data"
        );
        drop(cache);
        let cache = file_cache(dir.path(), compression);
        assert_eq!(
            cache.get(&1).as_deref(),
            Some(&value),
            "{compression:?}: round trip"
        );
        drop(cache);
        // A cache with another compression setting still reads it: the entry says how.
        let cache = file_cache(dir.path(), Compression::None);
        assert_eq!(
            cache.get(&1).as_deref(),
            Some(&value),
            "{compression:?}: read uncompressed"
        );
    }
}

/// An entry with bytes after its end: whatever the cache decides, `get` and
/// `contains_key` must agree, and the answer must not change by asking.
#[test]
fn trailing_bytes_get_and_contains_key_agree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let build =
        || -> SmartCache<u64, InFile> { config(dir.path()).promote_max(0).build().expect("build") };
    let cache = build();
    cache.insert(1, InFile(small(1))).expect("insert");
    let path = file_of(&cache, 1);
    drop(cache);
    let mut bytes = std::fs::read(&path).expect("read");
    bytes.extend_from_slice(b"trailing garbage");
    std::fs::write(&path, bytes).expect("write");

    let cache = build();
    let got = cache.get(&1);
    if let Some(v) = &got {
        assert_eq!(**v, InFile(small(1)), "a wrong value");
    }
    let contains = cache.contains_key(&1);
    let again = cache.get(&1);
    assert_eq!(
        (got.is_some(), contains, again.is_some()),
        (got.is_some(), got.is_some(), got.is_some()),
        "get, then contains_key, then get disagree on an entry with trailing bytes ({})",
        cache.stats()
    );
}

// ---- sled -----------------------------------------------------------------------------

fn sled_cache(dir: &Path, compression: Compression) -> SmartCache<u64, InSled> {
    config(dir)
        .compression(compression)
        .build()
        .expect("build a sled cache")
}

fn sled_damage() -> Vec<Damage> {
    let mut all = all_damage();
    all.retain(
        |d| !matches!(d, Damage::Flip(at) if ![0, 13, 20, 44, 52, 60, 68, HEADER].contains(at)),
    );
    all
}

fn damaged_sled_entries_are_refused(compression: Compression, value: impl Fn(u64) -> Vec<u8>) {
    for (i, damage) in sled_damage().into_iter().enumerate() {
        let what = format!("sled {compression:?} {damage:?}");
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = sled_cache(dir.path(), compression);
        assert_eq!(
            cache.insert(1, InSled(value(1))).expect("insert"),
            Tier::Sled
        );
        drop(cache);
        let cache_path = cache_dir(dir.path());
        let (sled_key, mut bytes) = sled_entry(&cache_path, 1).expect("the entry is in sled");
        damage.apply(&mut bytes);
        set_sled_raw(&cache_path, &sled_key, &bytes);

        let cache = sled_cache(dir.path(), compression);
        assert_refused(&cache, 1, InSled(value(2)), &what, i);
        assert_eq!(cache.stats().sled.invalid, 1, "{what}: {}", cache.stats());
        if i % 3 != 2 {
            drop(cache);
            let (_, stored) = sled_entry(&cache_path, 1).expect("the fresh entry is in sled");
            assert_ne!(stored, bytes, "{what}: the damaged bytes are still stored");
        }
    }
}

#[test]
fn damaged_sled_entries_are_refused_uncompressed() {
    damaged_sled_entries_are_refused(Compression::None, |k| bytes_for(k, 5000));
}

#[test]
fn damaged_sled_entries_are_refused_lz4() {
    damaged_sled_entries_are_refused(Compression::Lz4, |k| compressible(k, 50_000));
}

#[test]
fn damaged_sled_entries_are_refused_zstd() {
    damaged_sled_entries_are_refused(Compression::Zstd(3), |k| compressible(k, 50_000));
}

/// An entry as a build of smartcache with envelope format `version` would have written
/// it: this build's entry with the format field changed (the field comes before anything
/// this build could check of a format it does not know).
fn as_format(entry: &mut [u8], version: u16) {
    entry[4..6].copy_from_slice(&version.to_le_bytes());
}

/// A read of a newer (or older) build's entry: a miss counted as foreign, and the entry
/// left for that build, in the file tier and in sled; an insert of the key replaces it.
#[test]
fn entries_of_another_format_are_misses_left_in_place() {
    // An older format, the next one, and the newest this build leaves in place.
    for version in [1u16, 3, 18] {
        let dir = tempfile::tempdir().expect("tempdir");
        let files = file_cache(dir.path(), Compression::None);
        files.insert(1, InFile(small(1))).expect("insert");
        let path = file_of(&files, 1);
        drop(files);
        let mut theirs = std::fs::read(&path).expect("read the entry file");
        as_format(&mut theirs, version);
        std::fs::write(&path, &theirs).expect("write the entry file");

        let files = file_cache(dir.path(), Compression::None);
        assert_eq!(files.get(&1), None, "format {version}");
        assert!(!files.contains_key(&1), "format {version}");
        assert_eq!(files.tier_of(&1), None, "format {version}");
        assert!(files.keys().expect("keys").is_empty(), "format {version}");
        let stats = files.stats();
        assert!(stats.file.foreign >= 1, "format {version}: {stats}");
        assert_eq!(
            stats.invalid() + stats.errors(),
            0,
            "format {version}: {stats}"
        );
        assert_eq!(
            std::fs::read(&path).expect("the entry file is still there"),
            theirs,
            "format {version}: the other build's entry was changed"
        );
        files.insert(1, InFile(small(2))).expect("insert over it");
        assert_eq!(files.get(&1).as_deref(), Some(&InFile(small(2))));
        drop(files);

        let dir = tempfile::tempdir().expect("tempdir");
        let sled = sled_cache(dir.path(), Compression::None);
        sled.insert(1, InSled(small(1))).expect("insert");
        drop(sled);
        let cache_path = cache_dir(dir.path());
        let (sled_key, mut theirs) = sled_entry(&cache_path, 1).expect("in sled");
        as_format(&mut theirs, version);
        set_sled_raw(&cache_path, &sled_key, &theirs);

        let sled = sled_cache(dir.path(), Compression::None);
        assert_eq!(sled.get(&1), None, "sled, format {version}");
        assert!(!sled.contains_key(&1), "sled, format {version}");
        let stats = sled.stats();
        assert!(stats.sled.foreign >= 1, "sled, format {version}: {stats:?}");
        assert_eq!(
            stats.invalid() + stats.errors(),
            0,
            "sled, format {version}: {stats}"
        );
        drop(sled);
        assert_eq!(
            sled_raw(&cache_path, &sled_key).as_deref(),
            Some(theirs.as_slice()),
            "sled, format {version}: the other build's entry was changed"
        );
        let sled = sled_cache(dir.path(), Compression::None);
        sled.insert(1, InSled(small(2))).expect("insert over it");
        assert_eq!(sled.get(&1).as_deref(), Some(&InSled(small(2))));
    }
}

#[test]
fn the_bad_sled_entry_is_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = sled_cache(dir.path(), Compression::None);
    cache.insert(1, InSled(small(1))).expect("insert");
    cache.insert(2, InSled(small(2))).expect("insert");
    drop(cache);
    let cache_path = cache_dir(dir.path());
    let (sled_key, mut bytes) = sled_entry(&cache_path, 1).expect("in sled");
    Damage::FlipMiddle.apply(&mut bytes);
    set_sled_raw(&cache_path, &sled_key, &bytes);

    let cache = sled_cache(dir.path(), Compression::None);
    assert_eq!(cache.stats().sled.entries, 2);
    assert_eq!(cache.get(&1), None);
    assert_eq!(cache.stats().sled.entries, 1, "{}", cache.stats());
    assert_eq!(
        cache.get(&2).as_deref(),
        Some(&InSled(small(2))),
        "the healthy neighbour"
    );
    drop(cache);
    assert!(
        sled_raw(&cache_path, &sled_key).is_none(),
        "the corrupt entry is still in sled"
    );
    let (_, healthy) = sled_entry(&cache_path, 2).expect("the neighbour is in sled");
    assert_eq!(envelope_key(&healthy), Some(encoded_key(&2u64).as_slice()));
}

#[test]
fn sled_entries_with_trailing_bytes_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = sled_cache(dir.path(), Compression::None);
    cache.insert(1, InSled(small(1))).expect("insert");
    drop(cache);
    let cache_path = cache_dir(dir.path());
    let (sled_key, mut bytes) = sled_entry(&cache_path, 1).expect("in sled");
    bytes.push(0);
    set_sled_raw(&cache_path, &sled_key, &bytes);
    let cache = sled_cache(dir.path(), Compression::None);
    assert_refused(&cache, 1, InSled(small(3)), "sled trailing byte", 0);
}
