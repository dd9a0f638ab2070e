//! Fixtures shared by the behaviour tests: value types pinned to each tier, values that
//! are a pure function of their key, the on-disk layout of a cache (entry files, the sled
//! database), and the plumbing to re-run this test binary as a child process.
#![allow(dead_code)]

use std::borrow::Cow;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::{Deserialize, Serialize};
use smartcache::prelude::*;

/// Bytes of a "small" `Vec<u8>`: Auto routing keeps it in memory (< 10 KiB).
pub const SMALL: usize = 100;
/// Bytes of a "medium" `Vec<u8>`: Auto routing sends it to sled (10 KiB .. 1 MiB).
pub const MEDIUM: usize = 20_000;
/// Bytes of a "large" `Vec<u8>`: Auto routing sends it to a file (>= 1 MiB).
pub const LARGE: usize = (1 << 20) + 4096;

/// The namespace most tests use.
pub const NS: &str = "behaviour";

/// `len` bytes that depend only on `key` (and `len`): a value read back for another key,
/// or half of one, is detectable.
pub fn bytes_for(key: u64, len: usize) -> Vec<u8> {
    let seed = key.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (len as u64).rotate_left(17);
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        // xorshift64*: cheap, deterministic, different for every key.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let word = state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        let take = (len - out.len()).min(8);
        out.extend_from_slice(&word[..take]);
    }
    out
}

/// A small (memory-routed) value for `key`.
pub fn small(key: u64) -> Vec<u8> {
    bytes_for(key, SMALL)
}

/// A medium (sled-routed) value for `key`.
pub fn medium(key: u64) -> Vec<u8> {
    bytes_for(key, MEDIUM)
}

/// A large (file-routed) value for `key`.
pub fn large(key: u64) -> Vec<u8> {
    bytes_for(key, LARGE)
}

macro_rules! pinned {
    ($(#[$doc:meta] $name:ident => $tier:expr, $tag:literal;)+) => {$(
        #[$doc]
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        pub struct $name(pub Vec<u8>);

        impl Cacheable for $name {
            const PLACEMENT: Placement = Placement::Pinned($tier);
            type Codec = smartcache::codec::Bincode;
            fn size_hint(&self) -> usize {
                std::mem::size_of::<Self>() + self.0.len()
            }
            fn type_tag() -> Cow<'static, str> {
                Cow::Borrowed($tag)
            }
        }
    )+};
}

pinned! {
    /// Bytes that always live in memory, whatever their size.
    InMemory => Tier::Memory, "tests::InMemory";
    /// Bytes that always live in sled, whatever their size.
    InSled => Tier::Sled, "tests::InSled";
    /// Bytes that always live in a file, whatever their size.
    InFile => Tier::File, "tests::InFile";
}

/// A config on `dir` with the shared test namespace.
pub fn config(dir: &Path) -> CacheConfig {
    CacheConfig::default().dir(dir).namespace(NS)
}

/// The cache folder `<dir>/<NS>` that [`config`] uses.
pub fn cache_dir(dir: &Path) -> PathBuf {
    dir.join(NS)
}

/// The bytes a cache stores as the encoded form of `key` (the key encoding is the
/// library's business, so it is learned from the library): a scratch file-tier cache
/// stores one entry for `key`, and the entry header says where its key bytes are
/// (length at offset 12, little-endian u32; bytes from offset 64). Also checks the
/// documented layout: the entry file is `files/<2 hex>/<32 hex>` named by the hash.
pub fn encoded_key<K: CacheKey>(key: &K) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<K, InFile> = CacheConfig::default()
        .dir(dir.path())
        .namespace("calibrate")
        .build()
        .expect("build the calibration cache");
    cache
        .insert(key.clone(), InFile(Vec::new()))
        .expect("insert the calibration entry");
    let files = entry_files(cache.path().expect("path"));
    assert_eq!(files.len(), 1, "one insert, one entry file: {files:?}");
    let entry = std::fs::read(&files[0]).expect("read the calibration entry");
    let bytes = envelope_key(&entry)
        .expect("the entry carries its key")
        .to_vec();
    let name = format!("{:032x}", hash_of("calibrate", &bytes));
    assert_eq!(
        files[0],
        cache
            .path()
            .expect("path")
            .join("files")
            .join(&name[..2])
            .join(&name),
        "the entry file is not named by xxh3-128(namespace, 0, encoded key)"
    );
    bytes
}

fn hash_of(namespace: &str, encoded_key: &[u8]) -> u128 {
    let mut input = Vec::with_capacity(namespace.len() + 1 + encoded_key.len());
    input.extend_from_slice(namespace.as_bytes());
    input.push(0);
    input.extend_from_slice(encoded_key);
    twox_hash::XxHash3_128::oneshot(&input)
}

/// The stable 128-bit hash that addresses `key` in `namespace`: xxh3-128 of the namespace,
/// a zero byte, and the encoded key.
pub fn key_hash<K: CacheKey>(namespace: &str, key: &K) -> u128 {
    hash_of(namespace, &encoded_key(key))
}

/// `<cache path>/files/<first 2 hex>/<32 hex>`: where the file tier keeps `key`.
pub fn entry_path<K: CacheKey>(cache_path: &Path, namespace: &str, key: &K) -> PathBuf {
    let name = format!("{:032x}", key_hash(namespace, key));
    cache_path.join("files").join(&name[..2]).join(name)
}

/// The entry file of `key` in the file tier of `cache`.
pub fn file_of<K: CacheKey, V: Cacheable>(cache: &SmartCache<K, V>, key: K) -> PathBuf {
    entry_path(
        cache.path().expect("the cache has a folder"),
        cache.namespace(),
        &key,
    )
}

/// Every entry file (`files/<2 hex>/<file>`) under a cache folder.
pub fn entry_files(cache_path: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(shards) = std::fs::read_dir(cache_path.join("files")) else {
        return found;
    };
    for shard in shards.flatten() {
        let name = shard.file_name();
        if name.len() != 2 || !shard.path().is_dir() {
            continue;
        }
        for file in std::fs::read_dir(shard.path())
            .expect("read a shard folder")
            .flatten()
        {
            if file.path().is_file() {
                found.push(file.path());
            }
        }
    }
    found.sort();
    found
}

/// The sled folder of a cache folder.
pub fn sled_path(cache_path: &Path) -> PathBuf {
    cache_path.join("sled")
}

/// Opens the sled database of a (closed) cache folder directly and runs `f` on its
/// `entries` and `meta` trees, then flushes and closes it.
pub fn with_sled<R>(cache_path: &Path, f: impl FnOnce(&sled::Tree, &sled::Tree) -> R) -> R {
    let db = sled::open(sled_path(cache_path)).expect("open the cache's sled database directly");
    let entries = db.open_tree("entries").expect("tree entries");
    let meta = db.open_tree("meta").expect("tree meta");
    let out = f(&entries, &meta);
    db.flush().expect("flush sled");
    out
}

/// The key bytes an entry envelope carries (length at offset 12, bytes from offset 64).
pub fn envelope_key(entry: &[u8]) -> Option<&[u8]> {
    let len = u32::from_le_bytes(entry.get(12..16)?.try_into().ok()?) as usize;
    entry.get(64..64 + len)
}

/// The sled key and stored bytes of the entry for `key` (cache must be closed). The
/// entry is found by the key it carries, whatever sled key the tier files it under.
pub fn sled_entry(cache_path: &Path, key: u64) -> Option<(Vec<u8>, Vec<u8>)> {
    sled_entry_of(cache_path, key)
}

/// [`sled_entry`] for any key type.
pub fn sled_entry_of<K: CacheKey>(cache_path: &Path, key: K) -> Option<(Vec<u8>, Vec<u8>)> {
    let want = encoded_key(&key);
    with_sled(cache_path, |entries, _| {
        entries.iter().find_map(|kv| {
            let (k, v) = kv.expect("read sled");
            (envelope_key(&v) == Some(want.as_slice())).then(|| (k.to_vec(), v.to_vec()))
        })
    })
}

/// The bytes stored under sled key `sled_key` (cache must be closed).
pub fn sled_raw(cache_path: &Path, sled_key: &[u8]) -> Option<Vec<u8>> {
    with_sled(cache_path, |entries, _| {
        entries
            .get(sled_key)
            .expect("read sled")
            .map(|v| v.to_vec())
    })
}

/// Stores `bytes` under sled key `sled_key` (cache must be closed).
pub fn set_sled_raw(cache_path: &Path, sled_key: &[u8], bytes: &[u8]) {
    with_sled(cache_path, |entries, _| {
        entries.insert(sled_key, bytes).expect("write sled");
    });
}

/// Flips one bit of a file in place.
pub fn flip_bit(path: &Path, offset: usize) {
    let mut bytes = std::fs::read(path).expect("read the entry file");
    assert!(
        offset < bytes.len(),
        "offset {offset} beyond {} bytes",
        bytes.len()
    );
    bytes[offset] ^= 0x04;
    std::fs::write(path, bytes).expect("write the entry file");
}

/// Name of the environment variable that tells a child test which role to play.
pub const ROLE: &str = "SMARTCACHE_TEST_ROLE";
/// Name of the environment variable that hands a child test its storage folder.
pub const DIR: &str = "SMARTCACHE_TEST_DIR";

/// The storage folder handed to this process when it runs as child `role`; `None` in a
/// normal test run (the child test then returns at once).
pub fn child_role(role: &str) -> Option<PathBuf> {
    if std::env::var(ROLE).ok().as_deref() != Some(role) {
        return None;
    }
    Some(PathBuf::from(
        std::env::var_os(DIR).expect("the parent sets SMARTCACHE_TEST_DIR"),
    ))
}

/// A command that re-runs this test binary for the single test `test` as child `role`,
/// on storage folder `dir`.
pub fn child_command(test: &str, role: &str, dir: &Path) -> Command {
    let exe = std::env::current_exe().expect("path of the test binary");
    let mut command = Command::new(exe);
    command
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(DIR, dir);
    command
}

/// Runs a child (see [`child_command`]) with extra environment variables and asserts it
/// passed.
pub fn run_child(test: &str, role: &str, dir: &Path, envs: &[(&str, &OsStr)]) -> Output {
    let mut command = child_command(test, role, dir);
    for (k, v) in envs {
        command.env(k, v);
    }
    let output = command.output().expect("run the child test process");
    assert_child_passed(&output, role);
    output
}

/// Asserts that a child test process exited successfully and really ran its test.
pub fn assert_child_passed(output: &Output, role: &str) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "child {role} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("1 passed"),
        "child {role} did not run exactly one test:\n{stdout}\n{stderr}"
    );
}

/// Polls `check` every 50 ms until it holds or `timeout` has passed; returns whether it
/// held. For counters that are updated by background housekeeping (moka applies expiry
/// on a timer wheel with about one second of granularity).
pub fn eventually(timeout: std::time::Duration, mut check: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if std::time::Instant::now() >= until {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The tiers a value family is round-tripped through.
pub const TIERS: [Tier; 3] = [Tier::Memory, Tier::Sled, Tier::File];

/// A config on `dir` whose thresholds send every `Auto` value to `tier`, with a namespace
/// prefix naming the tier (the rest of the namespace is derived from the types).
pub fn config_for_tier(dir: &Path, tier: Tier) -> CacheConfig {
    let base = CacheConfig::default()
        .dir(dir)
        .namespace_prefix(format!("{tier:?}").to_lowercase());
    match tier {
        Tier::Memory => base.memory_threshold(usize::MAX).file_threshold(usize::MAX),
        Tier::Sled => base.memory_threshold(0).file_threshold(usize::MAX),
        _ => base.memory_threshold(0).file_threshold(0),
    }
}

/// Stores `value` under `key` in a cache that routes it to `tier`, checks the tier, and
/// checks that a fresh cache instance (persistent tiers) or the same one (memory) hands
/// back an equal value.
pub fn round_trip_in<V>(dir: &Path, tier: Tier, key: &str, value: &V)
where
    V: Cacheable + PartialEq + std::fmt::Debug + Clone,
{
    let cache: SmartCache<String, V> = config_for_tier(dir, tier).build().expect("build");
    assert_eq!(
        cache
            .insert(key.to_string(), value.clone())
            .expect("insert"),
        tier
    );
    if tier == Tier::Memory {
        assert_eq!(
            cache.get(&key.to_string()).as_deref(),
            Some(value),
            "{key} in memory"
        );
        return;
    }
    drop(cache);
    expect_stored(dir, tier, key, value);
}

/// Checks that a new cache instance routing to `tier` reads `value` back for `key`, from
/// disk, with no error counted.
pub fn expect_stored<V>(dir: &Path, tier: Tier, key: &str, value: &V)
where
    V: Cacheable + PartialEq + std::fmt::Debug,
{
    let cache: SmartCache<String, V> = config_for_tier(dir, tier).build().expect("reopen");
    let got = cache.try_get(&key.to_string()).expect("read");
    assert_eq!(got.as_deref(), Some(value), "{key} from {tier:?}");
    let stats = cache.stats();
    let tier_stats = stats.tier(tier);
    assert_eq!(tier_stats.errors + tier_stats.invalid, 0, "{key}: {stats}");
    assert_eq!(tier_stats.hits, 1, "{key}: {stats}");
}
