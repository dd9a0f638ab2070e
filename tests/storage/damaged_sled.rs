//! A damaged sled store never panics the caller, never serves a wrong value, and is set
//! aside so the cache keeps serving. Each case fills a sled-tier cache (about 200 entries,
//! some of 200 KB so that sled writes files under `sled/blobs/`), closes it, damages
//! sled's own files (`db`, `conf`, `blobs/*`, `snap.*`: truncated, zeroed, overwritten,
//! bit-flipped) and opens it again, eagerly (`CacheConfig::build`, for a pinned `InSled`
//! cache and an Auto `Vec<u8>` cache) and lazily (`SmartCache::new()` with
//! `$SMARTCACHE_DIR`, in a child process because the variable is process-wide). Every
//! call is wrapped in `catch_unwind`: a panic, from the cache or from sled, must not reach
//! the caller. Every hit must be the value inserted for its key; a new key must then be
//! stored and read back (also after a reopen); and when sled itself cannot open the
//! damaged store, the cache must count it in `stats().sled.quarantined` and move it to
//! `<namespace>/quarantine/`.

use crate::common;

use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

use common::*;
use smartcache::prelude::*;
use smartcache::CacheStats;

/// Entries written before the damage.
pub(super) const KEYS: u64 = 200;
/// Values of keys divisible by 8: above sled's blob threshold (a quarter of its 512 KiB
/// segment), so sled writes them under `blobs/`.
const BLOB: usize = 200_000;
/// First key written after the damage.
const FRESH: u64 = 1_000_000;

/// The one value length of `key`: 200 KB for every eighth key, else [`MEDIUM`].
fn len_for(key: u64) -> usize {
    if key.is_multiple_of(8) {
        BLOB
    } else {
        MEDIUM
    }
}

/// The sled stores set aside so far. One place to adapt if the counter moves.
fn quarantined(stats: &CacheStats) -> u64 {
    stats.sled.quarantined
}

/// A value type that goes to sled, built from its key alone.
pub(super) trait SledValue: Cacheable + PartialEq + std::fmt::Debug {
    const NAME: &'static str;
    fn of(key: u64) -> Self;
    fn len(&self) -> usize;
}

impl SledValue for InSled {
    const NAME: &'static str = "InSled";
    fn of(key: u64) -> Self {
        InSled(bytes_for(key, len_for(key)))
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl SledValue for Vec<u8> {
    const NAME: &'static str = "Vec<u8>";
    fn of(key: u64) -> Self {
        bytes_for(key, len_for(key))
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
}

/// Fills a sled cache on `config` with keys `0..KEYS`, in two sessions (the second open
/// recovers the first and lets sled write a snapshot), and returns its folder.
pub(super) fn fill<V: SledValue>(config: CacheConfig) -> std::path::PathBuf {
    let mut folder = None;
    for keys in [0..KEYS / 2, KEYS / 2..KEYS] {
        let cache: SmartCache<u64, V> = config.clone().build().expect("build the cache to fill");
        for key in keys {
            assert_eq!(
                cache.insert(key, V::of(key)).expect("fill"),
                Tier::Sled,
                "key {key} of {} did not go to sled",
                V::NAME
            );
        }
        folder = Some(cache.path().expect("the cache has a folder").to_path_buf());
        // Dropped: flushed and closed.
    }
    folder.expect("filled")
}

/// Whether sled itself can open the store in `sled_dir` (tried on a copy, with the
/// cache's settings): `Err` says how it failed. When it cannot, the cache has to set the
/// store aside to keep serving.
pub(super) fn sled_opens(sled_dir: &Path) -> Result<(), String> {
    let scratch = tempfile::tempdir().expect("tempdir");
    let copy = scratch.path().join("sled");
    copy_tree(sled_dir, &copy);
    let opened = std::panic::catch_unwind(|| -> sled::Result<()> {
        let db = sled::Config::new()
            .path(&copy)
            .cache_capacity(64 << 20)
            .open()?;
        db.open_tree("entries")?;
        db.open_tree("meta")?;
        Ok(())
    });
    match opened {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("sled error: {e}")),
        Err(payload) => Err(format!("sled panicked: {}", panic_message(&*payload))),
    }
}

/// What a damaged cache must still do, whichever way it was opened: every hit is the
/// value of its key, a new key is stored and read back, and a store sled cannot open is
/// counted and moved to `<namespace>/quarantine/`. Returns the hits among the old keys.
pub(super) fn check_serving<V: SledValue>(
    cache: &SmartCache<u64, V>,
    label: &str,
    unopenable: Option<&str>,
) -> u64 {
    let mut hits = 0;
    for key in 0..KEYS {
        let got = no_panic(format!("{label}: get({key})"), || cache.get(&key));
        if let Some(got) = got {
            let want = V::of(key);
            assert!(
                *got == want,
                "{label}: get({key}) returned a wrong value of {} bytes (the value of {key} has {})",
                got.len(),
                want.len()
            );
            hits += 1;
        }
    }
    for key in [FRESH, FRESH + 1] {
        let tier = no_panic(format!("{label}: insert({key})"), || {
            cache.insert(key, V::of(key))
        })
        .unwrap_or_else(|e| panic!("{label}: insert({key}) after the damage failed: {e}"));
        assert_eq!(tier, Tier::Sled, "{label}: insert({key})");
        let got = no_panic(format!("{label}: get({key})"), || cache.get(&key));
        assert!(
            got.as_deref() == Some(&V::of(key)),
            "{label}: get({key}) right after its insert: {:?} bytes",
            got.map(|v| v.len())
        );
    }
    let stats = no_panic(format!("{label}: stats()"), || cache.stats());
    println!("{label}: {hits} of {KEYS} old keys still served\n{stats}");
    if let Some(why) = unopenable {
        assert!(
            quarantined(&stats) >= 1,
            "{label}: sled cannot open the damaged store ({why}), yet stats().sled.quarantined \
             is {}:\n{stats}",
            quarantined(&stats)
        );
        if why.starts_with("sled panicked") {
            assert!(
                stats.sled.contained_panics >= 1,
                "{label}: sled panics on the damaged store ({why}), yet \
                 stats().sled.contained_panics is 0:\n{stats:?}"
            );
        }
        let folder = cache.path().expect("path").join("quarantine");
        let set_aside = std::fs::read_dir(&folder).map_or(0, |d| d.count());
        assert!(
            set_aside >= 1,
            "{label}: sled cannot open the damaged store ({why}), yet {} holds nothing",
            folder.display()
        );
    }
    hits
}

/// After [`check_serving`] and a close: a new instance reads the fresh keys back from
/// sled (not from a memory copy), so the rebuilt store really works.
pub(super) fn check_fresh_persisted<V: SledValue>(cache: &SmartCache<u64, V>, label: &str) {
    for key in [FRESH, FRESH + 1] {
        let got = no_panic(format!("{label}: get({key}) after reopening"), || {
            cache.get(&key)
        });
        assert!(
            got.as_deref() == Some(&V::of(key)),
            "{label}: the key written after the damage is not read back after a reopen: {:?} \
             bytes\n{}",
            got.map(|v| v.len()),
            cache.stats()
        );
    }
    let stats = no_panic(format!("{label}: stats()"), || cache.stats());
    assert!(
        stats.sled.hits >= 2,
        "{label}: not read from sled:\n{stats}"
    );
}

/// Opens the damaged store in `dir` with `CacheConfig::build` and checks it serves.
fn check_eager<V: SledValue>(dir: &Path, label: &str, unopenable: Option<&str>) {
    let build = || {
        no_panic(format!("{label}: build"), || config(dir).build::<u64, V>()).unwrap_or_else(|e| {
            panic!("{label}: build failed instead of setting the damaged store aside: {e}")
        })
    };
    let cache = build();
    check_serving(&cache, label, unopenable);
    no_panic(format!("{label}: drop"), move || drop(cache));
    let cache = build();
    check_fresh_persisted(&cache, label);
    no_panic(format!("{label}: drop"), move || drop(cache));
}

/// Environment of the lazy child: the namespace folder the parent filled.
const CHILD_NS: &str = "SMARTCACHE_TEST_NS";
/// Environment of the lazy child: why sled cannot open the store ("" when it can).
const CHILD_UNOPENABLE: &str = "SMARTCACHE_TEST_UNOPENABLE";
/// Environment of the lazy child: the case, for messages.
const CHILD_CASE: &str = "SMARTCACHE_TEST_CASE";

#[test]
fn child_lazy_open() {
    let Some(dir) = child_role("lazy-damaged") else {
        return;
    };
    let _watchdog = Watchdog::new("child_lazy_open", Duration::from_secs(300));
    let namespace = std::env::var(CHILD_NS).expect("the parent names the namespace");
    let unopenable = std::env::var(CHILD_UNOPENABLE).expect("the parent says");
    let unopenable = (!unopenable.is_empty()).then_some(unopenable.as_str());
    let case = std::env::var(CHILD_CASE).expect("the parent names the case");
    assert_eq!(
        std::env::var_os("SMARTCACHE_DIR").as_deref(),
        Some(dir.as_os_str()),
        "the parent points $SMARTCACHE_DIR at the damaged store"
    );
    let label = format!("{case} (InSled, lazy SmartCache::new)");
    let cache = no_panic(format!("{label}: new"), SmartCache::<u64, InSled>::new);
    assert_eq!(
        cache.path(),
        Some(dir.join(&namespace).as_path()),
        "{label}: new() is not on the filled store"
    );
    check_serving(&cache, &label, unopenable);
    no_panic(format!("{label}: drop"), move || drop(cache));
    let cache = no_panic(format!("{label}: new"), SmartCache::<u64, InSled>::new);
    check_fresh_persisted(&cache, &label);
    no_panic(format!("{label}: drop"), move || drop(cache));
}

/// One damage case: fills three stores (eager `InSled`, eager `Vec<u8>`, lazy `InSled`),
/// damages each with `damage` (given the sled folder; it returns what it did, and must
/// have done something), and checks each. Collects the failures of all three paths.
fn damage_case(case: &str, damage: impl Fn(&Path, &mut XorShift) -> String) {
    let _watchdog = Watchdog::new(case.to_string(), Duration::from_secs(300));
    let seed = test_seed(case, 0x5EED_0000 + case.len() as u64);
    let mut failures = Vec::new();
    let mut run = |path: &str, f: &mut dyn FnMut()| {
        if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            failures.push(format!("[{path}] {}", panic_message(&*payload)));
        }
    };
    let damaged = |folder: &Path| -> Option<String> {
        let sled = sled_path(folder);
        println!("{case}: before: {}", listing(&sled));
        let did = damage(&sled, &mut XorShift::new(seed));
        println!("{case}: damage: {did}\n{case}: after: {}", listing(&sled));
        let opens = sled_opens(&sled);
        println!("{case}: sled itself on the damaged store: {opens:?}");
        opens.err()
    };

    run("eager InSled", &mut || {
        let dir = tempfile::tempdir().expect("tempdir");
        let folder = fill::<InSled>(config(dir.path()));
        let unopenable = damaged(&folder);
        check_eager::<InSled>(
            dir.path(),
            &format!("{case} (InSled, eager build)"),
            unopenable.as_deref(),
        );
    });
    run("eager Vec<u8>", &mut || {
        let dir = tempfile::tempdir().expect("tempdir");
        let folder = fill::<Vec<u8>>(config(dir.path()));
        let unopenable = damaged(&folder);
        check_eager::<Vec<u8>>(
            dir.path(),
            &format!("{case} (Vec<u8>, eager build)"),
            unopenable.as_deref(),
        );
    });
    run("lazy InSled", &mut || {
        let dir = tempfile::tempdir().expect("tempdir");
        // What `SmartCache::new()` uses with `$SMARTCACHE_DIR` set: the default
        // configuration, whose namespace is derived from the types.
        let folder = fill::<InSled>(CacheConfig::default().dir(dir.path()));
        let namespace = folder
            .file_name()
            .expect("a namespace folder")
            .to_string_lossy()
            .into_owned();
        let unopenable = damaged(&folder).unwrap_or_default();
        let output = run_child(
            "child_lazy_open",
            "lazy-damaged",
            dir.path(),
            &[
                ("SMARTCACHE_DIR", dir.path().as_os_str()),
                (CHILD_NS, OsStr::new(&namespace)),
                (CHILD_UNOPENABLE, OsStr::new(&unopenable)),
                (CHILD_CASE, OsStr::new(case)),
            ],
        );
        print!("{}", String::from_utf8_lossy(&output.stdout));
    });
    assert!(
        failures.is_empty(),
        "{case}: {} of 3 paths failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---- damage ---------------------------------------------------------------------------

fn db(sled: &Path) -> std::path::PathBuf {
    let db = sled.join("db");
    assert!(db.is_file(), "no sled db file: {}", listing(sled));
    db
}

fn len_of(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn blobs(sled: &Path) -> Vec<std::path::PathBuf> {
    let blobs = files_under(&sled.join("blobs"));
    assert!(
        !blobs.is_empty(),
        "200 KB values left no sled blob files: {}",
        listing(sled)
    );
    blobs
}

fn snapshots(sled: &Path) -> Vec<std::path::PathBuf> {
    let snaps: Vec<_> = files_under(sled)
        .into_iter()
        .filter(|f| {
            f.parent() == Some(sled)
                && f.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("snap."))
        })
        .collect();
    assert!(
        !snaps.is_empty(),
        "sled wrote no snapshot file after two sessions: {}",
        listing(sled)
    );
    snaps
}

#[test]
fn db_truncated_to_half() {
    damage_case("db truncated to half", |sled, _| {
        let db = db(sled);
        let len = len_of(&db);
        truncate_file(&db, len / 2);
        format!("db {len} -> {} bytes", len / 2)
    });
}

#[test]
fn db_zeroed() {
    damage_case("db zeroed", |sled, _| {
        let db = db(sled);
        let len = len_of(&db);
        overwrite_at(&db, 0, &vec![0; len as usize]);
        format!("db: {len} bytes zeroed")
    });
}

#[test]
fn db_head_overwritten_with_random_bytes() {
    damage_case("db head random", |sled, rng| {
        let db = db(sled);
        overwrite_at(&db, 0, &rng.bytes(4096));
        "db: first 4 KiB random".to_string()
    });
}

#[test]
fn db_middle_overwritten_with_random_bytes() {
    damage_case("db middle random", |sled, rng| {
        let db = db(sled);
        let len = len_of(&db);
        let span = (len / 8).clamp(4096, 256 << 10);
        let at = len / 2 - span / 2;
        overwrite_at(&db, at, &rng.bytes(span as usize));
        format!("db: {span} random bytes at {at} of {len}")
    });
}

#[test]
fn conf_truncated_to_nothing() {
    damage_case("conf empty", |sled, _| {
        let conf = sled.join("conf");
        assert!(conf.is_file(), "no sled conf: {}", listing(sled));
        truncate_file(&conf, 0);
        "conf: truncated to 0 bytes".to_string()
    });
}

#[test]
fn conf_replaced_by_garbage() {
    damage_case("conf garbage", |sled, rng| {
        let conf = sled.join("conf");
        assert!(conf.is_file(), "no sled conf: {}", listing(sled));
        let len = len_of(&conf).max(64);
        std::fs::write(&conf, rng.bytes(len as usize)).expect("write conf");
        format!("conf: {len} random bytes")
    });
}

#[test]
fn blobs_deleted() {
    damage_case("blobs deleted", |sled, _| {
        let blobs = blobs(sled);
        for blob in &blobs {
            std::fs::remove_file(blob).expect("delete a blob");
        }
        format!("{} blob files deleted", blobs.len())
    });
}

#[test]
fn blobs_truncated() {
    damage_case("blobs truncated", |sled, rng| {
        let blobs = blobs(sled);
        for blob in &blobs {
            let len = len_of(blob);
            truncate_file(blob, rng.below(len.max(1)));
        }
        format!("{} blob files truncated at random", blobs.len())
    });
}

#[test]
fn blobs_zeroed() {
    damage_case("blobs zeroed", |sled, _| {
        let blobs = blobs(sled);
        for blob in &blobs {
            overwrite_at(blob, 0, &vec![0; len_of(blob) as usize]);
        }
        format!("{} blob files zeroed", blobs.len())
    });
}

#[test]
fn snapshots_truncated() {
    damage_case("snapshots truncated", |sled, _| {
        let snaps = snapshots(sled);
        for snap in &snaps {
            truncate_file(snap, len_of(snap) / 2);
        }
        format!("{} snapshot files truncated to half", snaps.len())
    });
}

#[test]
fn snapshots_zeroed() {
    damage_case("snapshots zeroed", |sled, _| {
        let snaps = snapshots(sled);
        for snap in &snaps {
            overwrite_at(snap, 0, &vec![0; len_of(snap) as usize]);
        }
        format!("{} snapshot files zeroed", snaps.len())
    });
}

#[test]
fn random_bytes_flipped_in_every_file() {
    damage_case("bytes flipped everywhere", |sled, rng| {
        let files = files_under(sled);
        let mut flipped = 0;
        for file in &files {
            // About one byte in 4 KiB, at least 4 a file.
            let count = (len_of(file) / 4096).max(4) as usize;
            flipped += flip_random_bytes(file, rng, count);
        }
        assert!(flipped > 0, "nothing to flip: {}", listing(sled));
        format!("{flipped} bytes flipped over {} files", files.len())
    });
}

/// Damage inside the payloads themselves, where sled keeps them: one byte in the middle
/// of every stored copy of the payload of every third key, in `db` and under `blobs/`.
/// sled's own CRC-32 and the entry's payload checksum both stand in the way; every hit
/// must still be the value of its key. (sled 0.34 reads and
/// checks every message and blob when it recovers a store, so this store does not open
/// and is set aside; a page pulled back from disk later is checked the same way.)
#[test]
fn payload_bytes_flipped_where_sled_keeps_them() {
    damage_case("payload bytes flipped", |sled, _| {
        /// Bytes of a value's middle that identify it in sled's files.
        const PROBE: usize = 32;
        let mut probes = std::collections::HashMap::new();
        for key in (0..KEYS).step_by(3) {
            let value = bytes_for(key, len_for(key));
            let middle = value.len() / 2;
            let probe = value[middle..middle + PROBE].to_vec();
            let word = u64::from_le_bytes(probe[..8].try_into().expect("8 bytes"));
            probes.insert(word, probe);
        }
        let (mut copies, mut files) = (0, 0);
        for file in files_under(sled) {
            let Ok(mut bytes) = std::fs::read(&file) else {
                continue;
            };
            let mut changed = false;
            let mut at = 0;
            while at + PROBE <= bytes.len() {
                let word = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
                match probes.get(&word) {
                    Some(probe) if bytes[at..at + PROBE] == probe[..] => {
                        bytes[at + PROBE / 2] ^= 0x20;
                        copies += 1;
                        changed = true;
                        at += PROBE;
                    }
                    _ => at += 1,
                }
            }
            if changed {
                std::fs::write(&file, &bytes)
                    .unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
                files += 1;
            }
        }
        assert!(
            copies >= probes.len(),
            "found {copies} stored copies of {} payloads: {}",
            probes.len(),
            listing(sled)
        );
        format!("one byte flipped in each of {copies} stored payload copies, over {files} files")
    });
}
