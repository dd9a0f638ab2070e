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

#[cfg(feature = "redis")]
pub mod redis_server;

/// Bytes of a "small" `Vec<u8>`: Auto routing keeps it in memory (< 10 KiB).
pub const SMALL: usize = 100;
/// Bytes of a "medium" `Vec<u8>`: Auto routing sends it to sled (10 KiB .. 1 MiB).
pub const MEDIUM: usize = 20_000;
/// Bytes of a "large" `Vec<u8>`: Auto routing sends it to a file (>= 1 MiB).
pub const LARGE: usize = (1 << 20) + 4096;

/// The two stores of the memory tier: moka (TinyLFU, and LRU) and quick_cache
/// (CLOCK-Pro). Memory behaviour is tested on both.
pub const MEMORY_STORES: [Eviction; 2] = [Eviction::TinyLfu, Eviction::ClockPro];

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

/// A config on `dir` that sends every persisted value to `server`, with a short back-off.
#[cfg(feature = "redis")]
pub fn redis_config(dir: &Path, server: &redis_server::Server) -> CacheConfig {
    config(dir)
        .redis(server.url())
        .tier(Tier::Redis)
        .redis_backoff(std::time::Duration::from_millis(300))
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
/// `entries` and `meta` trees, then flushes and closes it. sled's background threads may
/// hold the folder's lock a moment after the cache closed it: the open waits up to 5 s.
pub fn with_sled<R>(cache_path: &Path, f: impl FnOnce(&sled::Tree, &sled::Tree) -> R) -> R {
    let started = std::time::Instant::now();
    let db = loop {
        match sled::open(sled_path(cache_path)) {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && started.elapsed() < std::time::Duration::from_secs(5) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => break other.expect("open the cache's sled database directly"),
        }
    };
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

/// Storage for memoized functions of this test binary, `name`d: they live in statics,
/// which are never dropped, so a temporary folder would be left behind by every run. A
/// folder under the target directory instead, emptied when this process first asks for it;
/// a child process gets its parent's (through [`DIR`]) as it is.
pub fn static_storage(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os(DIR) {
        return PathBuf::from(dir);
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("cannot empty {}: {e}", dir.display()),
    }
    std::fs::create_dir_all(&dir).expect("create the static storage");
    dir
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

/// The full name of test function `test` in this test binary (`crash::child_writer`):
/// the one test whose name ends with it, as the binary lists them.
pub fn test_name(test: &str) -> String {
    static LISTED: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let listed = LISTED.get_or_init(|| {
        let exe = std::env::current_exe().expect("path of the test binary");
        let output = Command::new(exe)
            .args(["--list", "--format", "terse"])
            .env_remove(ROLE)
            .output()
            .expect("list the tests of this binary");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.strip_suffix(": test"))
            .map(str::to_string)
            .collect()
    });
    let suffix = format!("::{test}");
    let found: Vec<&String> = listed
        .iter()
        .filter(|name| *name == test || name.ends_with(&suffix))
        .collect();
    match found.as_slice() {
        [name] => name.to_string(),
        _ => panic!(
            "{} tests named {test} in this binary: {found:?}",
            found.len()
        ),
    }
}

/// A command that re-runs this test binary for the single test `test` as child `role`,
/// on storage folder `dir`.
pub fn child_command(test: &str, role: &str, dir: &Path) -> Command {
    let exe = std::env::current_exe().expect("path of the test binary");
    let mut command = Command::new(exe);
    command
        .args([
            "--exact",
            &test_name(test),
            "--nocapture",
            "--test-threads=1",
        ])
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
    CacheConfig::default()
        .dir(dir)
        .namespace_prefix(format!("{tier:?}").to_lowercase())
        .tier(tier)
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

// ---- damage, measurement and containment (damaged_sled, crash, bit_rot) ----------------

/// A tiny seeded PRNG (xorshift64*): damage and timings are random but replayable from
/// the seed a test prints, without a dependency.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator for `seed` (any value, zero included).
    pub fn new(seed: u64) -> Self {
        XorShift((seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "XorShift::below(0)");
        self.next_u64() % n
    }

    /// An index in `0..n` (`n > 0`).
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// A number in `lo..hi` (`lo < hi`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo)
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(n);
        out
    }

    /// A random byte that is not zero (an XOR mask that always changes a byte).
    pub fn nonzero_byte(&mut self) -> u8 {
        (self.below(255) + 1) as u8
    }
}

/// The seed of a randomised test: `$SMARTCACHE_TEST_SEED` when set (to replay a failure),
/// else `default`. Printed, so that a failing run names the seed that reproduces it.
pub fn test_seed(what: &str, default: u64) -> u64 {
    let seed = std::env::var("SMARTCACHE_TEST_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default);
    println!("{what}: seed {seed} (replay with SMARTCACHE_TEST_SEED={seed})");
    seed
}

/// A panic payload as text.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(a panic with a non-text payload)".to_string()
    }
}

/// Runs `f` and fails the test if it panicked: a cache must contain its own panics (and
/// sled's) and turn them into errors or misses, never unwind into the caller.
pub fn no_panic<R>(what: impl std::fmt::Display, f: impl FnOnce() -> R) -> R {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(out) => out,
        Err(payload) => panic!(
            "{what}: a panic escaped the cache: {}",
            panic_message(&*payload)
        ),
    }
}

/// Every file below `root`, recursively, sorted. Files and folders that vanish during
/// the walk (another process removing them) are skipped.
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => folders.push(entry.path()),
                Ok(t) if t.is_file() => found.push(entry.path()),
                _ => {}
            }
        }
    }
    found.sort();
    found
}

/// The bytes of every file below `root` (files that vanish meanwhile count zero).
pub fn disk_usage(root: &Path) -> u64 {
    files_under(root)
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum()
}

/// Copies the folder tree `from` to `to` (created), files and folders only.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy's folder");
    for entry in std::fs::read_dir(from)
        .expect("read the folder to copy")
        .flatten()
    {
        let target = to.join(entry.file_name());
        match entry.file_type() {
            Ok(t) if t.is_dir() => copy_tree(&entry.path(), &target),
            Ok(t) if t.is_file() => match std::fs::copy(entry.path(), &target) {
                Ok(_) => {}
                Err(e) if vanished(&e) => {}
                Err(e) => panic!("copy {}: {e}", entry.path().display()),
            },
            _ => {}
        }
    }
}

/// A one-line listing of the files below `root` with their sizes, for failure messages.
pub fn listing(root: &Path) -> String {
    files_under(root)
        .iter()
        .map(|f| {
            let len = std::fs::metadata(f).map_or(0, |m| m.len());
            let name = f.strip_prefix(root).unwrap_or(f).display().to_string();
            format!("{name}={len}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether an I/O error says the file is gone: sled deletes blob files from a background
/// thread, which may outlive the database, so a file listed a moment ago may be gone.
fn vanished(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound
}

/// Cuts a file to `len` bytes (nothing if it has vanished).
pub fn truncate_file(path: &Path, len: u64) {
    match std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(len))
    {
        Ok(()) => {}
        Err(e) if vanished(&e) => {}
        Err(e) => panic!("truncate {}: {e}", path.display()),
    }
}

/// Writes `bytes` over a file from `offset` (in place; the file grows if they run past
/// its end; nothing if it has vanished).
pub fn overwrite_at(path: &Path, offset: u64, bytes: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    let mut file = match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(file) => file,
        Err(e) if vanished(&e) => return,
        Err(e) => panic!("open {}: {e}", path.display()),
    };
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.write_all(bytes))
        .and_then(|()| file.sync_all())
        .unwrap_or_else(|e| panic!("write into {}: {e}", path.display()));
}

/// XORs `count` random bytes of a file with random non-zero masks; returns how many bytes
/// changed (0 for an empty file).
pub fn flip_random_bytes(path: &Path, rng: &mut XorShift, count: usize) -> usize {
    let mut bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if vanished(&e) => return 0,
        Err(e) => panic!("read {}: {e}", path.display()),
    };
    if bytes.is_empty() {
        return 0;
    }
    for _ in 0..count {
        let at = rng.index(bytes.len());
        bytes[at] ^= rng.nonzero_byte();
    }
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    count
}

/// Aborts the whole test process, with a message, if it is not dropped within `limit`:
/// a cache that hangs on damaged storage fails the run instead of stalling it.
pub struct Watchdog {
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Watchdog {
    /// Starts watching `what`.
    pub fn new(what: impl Into<String>, limit: std::time::Duration) -> Self {
        use std::sync::atomic::Ordering;
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&done);
        let what = what.into();
        std::thread::spawn(move || {
            let until = std::time::Instant::now() + limit;
            while std::time::Instant::now() < until {
                if flag.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            if !flag.load(Ordering::Relaxed) {
                eprintln!("WATCHDOG: {what} still running after {limit:?}: a hang; aborting");
                std::process::abort();
            }
        });
        Watchdog { done }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Kills the child process it holds if the parent test fails before reaping it.
pub struct KillOnDrop(pub Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
