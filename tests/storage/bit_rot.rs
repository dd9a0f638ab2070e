//! Bit rot: round after round of random damage to a closed cache's storage — bytes
//! flipped in and truncations of entry files under `files/`, bytes flipped in sled's own
//! files — never makes the cache panic or hand back a wrong value. Each round damages
//! (with a seeded xorshift, so a failure replays from the printed seed), reopens the cache
//! inside `catch_unwind`, reads every key (a hit must be exactly the value of its key, and
//! every entry that was not touched must still be served: all of them after damage to
//! entry files, those of the file tier after damage to sled's files), then stores
//! the missing values again and reads them back. After the last round a clean reopen must
//! serve every key. Caches: Auto `Vec<u8>` (medium values in sled, large ones in files),
//! `InFile` and `InSled`.

use crate::common;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use smartcache::prelude::*;

/// Values of sled-bound keys divisible by 8: above sled's blob threshold, so that sled
/// keeps them in files under `blobs/`.
const BLOB: usize = 200_000;
/// First of the new keys written after each round (one per round).
const FRESH: u64 = 1_000_000;

/// A value type of one of the caches under test, built from its key alone.
trait RotValue: Cacheable + PartialEq + std::fmt::Debug {
    fn of(key: u64) -> Self;
    fn len(&self) -> usize;
}

/// Auto: every third key is LARGE (a file), the others MEDIUM or, every eighth, a sled
/// blob.
impl RotValue for Vec<u8> {
    fn of(key: u64) -> Self {
        let len = if key.is_multiple_of(3) {
            LARGE
        } else if key % 8 == 1 {
            BLOB
        } else {
            MEDIUM
        };
        bytes_for(key, len)
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
}

/// Every fifth key a file of several read buffers (the tier reads 64 KiB at a time; a
/// derived type's bytes decode one by one, which unoptimized test builds make slow).
impl RotValue for InFile {
    fn of(key: u64) -> Self {
        InFile(bytes_for(
            key,
            if key.is_multiple_of(5) { BLOB } else { MEDIUM },
        ))
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl RotValue for InSled {
    fn of(key: u64) -> Self {
        InSled(bytes_for(
            key,
            if key.is_multiple_of(8) { BLOB } else { MEDIUM },
        ))
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// What a round damaged: the entry files (so that every other entry must still be
/// served), and whether sled's files were touched (then any entry may be lost).
#[derive(Default)]
struct Damaged {
    entry_files: BTreeSet<PathBuf>,
    sled: bool,
    what: Vec<String>,
}

/// Flips bytes of, or truncates, or both, 1 to 3 random entry files under `files/`.
fn rot_entry_files(folder: &Path, rng: &mut XorShift, damaged: &mut Damaged) {
    let files = entry_files(folder);
    assert!(
        !files.is_empty(),
        "no entry files to damage: {}",
        listing(folder)
    );
    for _ in 0..rng.range(1, 4) {
        let file = &files[rng.index(files.len())];
        let len = std::fs::metadata(file).expect("entry file").len();
        let name = file.file_name().expect("name").to_string_lossy();
        let short = &name[..8.min(name.len())];
        match rng.below(3) {
            0 => {
                let n = rng.range(1, 9) as usize;
                flip_random_bytes(file, rng, n);
                damaged.what.push(format!("{short}: {n} bytes flipped"));
            }
            1 => {
                let at = rng.below(len.max(1));
                truncate_file(file, at);
                damaged.what.push(format!("{short}: cut at {at} of {len}"));
            }
            _ => {
                let n = rng.range(1, 4) as usize;
                flip_random_bytes(file, rng, n);
                let at = rng.below(len.max(1));
                truncate_file(file, at);
                damaged
                    .what
                    .push(format!("{short}: {n} flipped, cut at {at} of {len}"));
            }
        }
        damaged.entry_files.insert(file.clone());
    }
}

/// Flips 1 to 8 random bytes in each of 1 or 2 random files of sled's folder (`db`,
/// `conf`, `blobs/*`, `snap.*`).
fn rot_sled_files(folder: &Path, rng: &mut XorShift, damaged: &mut Damaged) {
    let sled = sled_path(folder);
    let files: Vec<_> = files_under(&sled)
        .into_iter()
        .filter(|f| std::fs::metadata(f).is_ok_and(|m| m.len() > 0))
        .collect();
    assert!(
        !files.is_empty(),
        "no sled files to damage: {}",
        listing(&sled)
    );
    for _ in 0..rng.range(1, 3) {
        let file = &files[rng.index(files.len())];
        let n = rng.range(1, 9) as usize;
        flip_random_bytes(file, rng, n);
        let name = file
            .strip_prefix(&sled)
            .unwrap_or(file)
            .display()
            .to_string();
        damaged.what.push(format!("sled/{name}: {n} bytes flipped"));
    }
    damaged.sled = true;
}

/// The path the file tier would keep each key of `0..keys` at in `folder` (whatever tier
/// the key is in now): the key of a damaged entry file.
fn key_of_entry_path(folder: &Path, keys: u64) -> HashMap<PathBuf, u64> {
    (0..keys)
        .map(|key| (entry_path(folder, NS, &key), key))
        .collect()
}

/// Fills a cache of `V` with keys `0..keys`, then runs `rounds` rounds of `damage` with
/// a reopen, a full read and a refill each, then a clean reopen that must serve all.
fn rot<V: RotValue>(
    label: &str,
    keys: u64,
    rounds: u64,
    damage: impl Fn(&Path, u64, &mut XorShift, &mut Damaged),
) {
    let _watchdog = Watchdog::new(label.to_string(), Duration::from_secs(600));
    let started = Instant::now();
    let seed = test_seed(label, 0xB17_0000 + label.len() as u64);
    let mut rng = XorShift::new(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let build = |what: &str| -> SmartCache<u64, V> {
        no_panic(format!("{label}: {what}: build"), || {
            config(dir.path()).build::<u64, V>()
        })
        .unwrap_or_else(|e| panic!("{label}: {what}: the cache does not open: {e}"))
    };
    let expected: Vec<V> = (0..keys).map(V::of).collect();
    let cache = build("fill");
    for key in 0..keys {
        cache.insert(key, V::of(key)).expect("fill");
    }
    let folder = cache.path().expect("path").to_path_buf();
    drop(cache);
    let key_of_file = key_of_entry_path(&folder, keys);
    // The keys the file tier holds after the fill: damage confined to sled's files must
    // not cost any of them.
    let file_keys: BTreeSet<u64> = key_of_file
        .iter()
        .filter(|(path, _)| path.is_file())
        .map(|(_, &key)| key)
        .collect();
    let (mut total_hits, mut total_lost) = (0u64, 0u64);

    for round in 0..rounds {
        let mut damaged = Damaged::default();
        damage(&folder, round, &mut rng, &mut damaged);
        let at = format!("round {round} ({})", damaged.what.join(", "));
        let cache = build(&at);
        let mut hits = 0;
        let mut missing = Vec::new();
        for key in 0..keys {
            let got = no_panic(format!("{label}: {at}: get({key})"), || cache.get(&key));
            match got {
                Some(got) => {
                    assert!(
                        *got == expected[key as usize],
                        "{label}: {at}: get({key}) returned a wrong value of {} bytes (the \
                         value of {key} has {})",
                        got.len(),
                        expected[key as usize].len()
                    );
                    hits += 1;
                }
                None => missing.push(key),
            }
        }
        // Every key whose entry was not damaged must still be served: after damage to
        // entry files only, every such key; after damage to sled's files too, every such
        // key of the file tier.
        let hit_by_damage: BTreeSet<u64> = damaged
            .entry_files
            .iter()
            .filter_map(|f| key_of_file.get(f).copied())
            .collect();
        let lost: Vec<u64> = missing
            .iter()
            .copied()
            .filter(|k| !hit_by_damage.contains(k) && (!damaged.sled || file_keys.contains(k)))
            .collect();
        assert!(
            lost.is_empty(),
            "{label}: {at}: keys whose entries were not damaged are no longer served: \
             {lost:?}\n{}",
            cache.stats()
        );
        total_hits += hits;
        total_lost += missing.len() as u64;
        // Fresh writes: every missing value again, and one new key.
        let fresh = FRESH + round;
        for key in missing.iter().copied().chain([fresh]) {
            no_panic(format!("{label}: {at}: insert({key})"), || {
                cache.insert(key, V::of(key))
            })
            .unwrap_or_else(|e| panic!("{label}: {at}: insert({key}) failed: {e}"));
            let got = no_panic(format!("{label}: {at}: get({key})"), || cache.get(&key));
            assert!(
                got.as_deref() == Some(&V::of(key)),
                "{label}: {at}: get({key}) right after its insert: {:?} bytes",
                got.map(|v| v.len())
            );
        }
        if round % 10 == 0 || round + 1 == rounds {
            println!(
                "{label}: {at}: {hits}/{keys} served, {} rewritten",
                missing.len()
            );
        }
        // The new key has been written and read back; keep it out of later rounds.
        no_panic(format!("{label}: {at}: remove({fresh})"), || {
            cache.remove(&fresh)
        })
        .unwrap_or_else(|e| panic!("{label}: {at}: remove({fresh}) failed: {e}"));
        no_panic(format!("{label}: {at}: drop"), move || drop(cache));
    }

    // No more damage: a clean reopen serves everything that was written last.
    let cache = build("final reopen");
    for key in 0..keys {
        let got = no_panic(format!("{label}: final: get({key})"), || cache.get(&key));
        assert!(
            got.as_deref() == Some(&expected[key as usize]),
            "{label}: after the last round's rewrite and a clean close, get({key}) gives {:?} \
             bytes instead of its value\n{}",
            got.map(|v| v.len()),
            cache.stats()
        );
    }
    println!(
        "{label}: {rounds} rounds, {total_hits} hits, {total_lost} entries lost to damage, \
         {:.2?}\n{}",
        started.elapsed(),
        cache.stats()
    );
    assert!(
        total_lost > 0,
        "{label}: no round's damage ever cost an entry"
    );
}

#[test]
fn auto_cache_entry_files_rot() {
    rot::<Vec<u8>>("Auto Vec<u8>, entry files", 24, 50, |folder, _, rng, d| {
        rot_entry_files(folder, rng, d)
    });
}

#[test]
fn file_tier_entry_files_rot() {
    rot::<InFile>("InFile, entry files", 40, 60, |folder, _, rng, d| {
        rot_entry_files(folder, rng, d)
    });
}

#[test]
fn sled_tier_files_rot() {
    rot::<InSled>("InSled, sled files", 60, 25, |folder, _, rng, d| {
        rot_sled_files(folder, rng, d)
    });
}

#[test]
fn auto_cache_sled_and_entry_files_rot() {
    rot::<Vec<u8>>(
        "Auto Vec<u8>, sled files and entry files",
        24,
        20,
        |folder, round, rng, d| {
            rot_sled_files(folder, rng, d);
            if round % 2 == 0 {
                rot_entry_files(folder, rng, d);
            }
        },
    );
}
