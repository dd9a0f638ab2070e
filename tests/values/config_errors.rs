//! Configuration errors: every bad configuration fails when the cache is built, with a
//! `CacheError` whose message names the fix; `SmartCache::new()` never panics, even when
//! `$SMARTCACHE_DIR` points at a file (persistent inserts then fail, reads miss).

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::*;
use smartcache::prelude::*;

fn build_err(config: CacheConfig) -> CacheError {
    match config.build::<u64, Vec<u8>>() {
        Ok(cache) => panic!("a bad configuration was accepted: {cache:?}"),
        Err(e) => e,
    }
}

fn assert_names_fix(err: &CacheError, fix: &str) {
    let message = err.to_string();
    assert!(
        message.contains(fix),
        "the message does not name {fix:?}: {message}"
    );
}

#[test]
fn zero_capacities_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = build_err(config(dir.path()).memory_capacity(0));
    assert!(matches!(err, CacheError::InvalidConfig { .. }), "{err:?}");
    assert_names_fix(&err, "CacheConfig::memory_capacity");
    let err = build_err(config(dir.path()).disk_capacity(0));
    assert!(matches!(err, CacheError::InvalidConfig { .. }), "{err:?}");
    assert_names_fix(&err, "CacheConfig::disk_capacity");
}

#[test]
fn zero_ttl_and_tti_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = build_err(config(dir.path()).ttl(Duration::ZERO));
    assert!(matches!(err, CacheError::InvalidConfig { .. }), "{err:?}");
    assert_names_fix(&err, "CacheConfig::ttl");
    let err = build_err(config(dir.path()).tti(Duration::ZERO));
    assert!(matches!(err, CacheError::InvalidConfig { .. }), "{err:?}");
    assert_names_fix(&err, "CacheConfig::tti");
}

#[test]
fn thresholds_out_of_order_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = build_err(
        config(dir.path())
            .memory_threshold(2 << 20)
            .file_threshold(1 << 20),
    );
    assert!(matches!(err, CacheError::InvalidConfig { .. }), "{err:?}");
    assert_names_fix(&err, "CacheConfig::memory_threshold");
    assert_names_fix(&err, "CacheConfig::file_threshold");
    // Equal thresholds are fine: nothing goes to sled.
    let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
        .memory_threshold(1000)
        .file_threshold(1000)
        .build()
        .expect("equal thresholds");
    assert_eq!(cache.route(&vec![0; 2000]), Tier::File);
}

#[test]
fn zstd_levels_out_of_range_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    for level in [0, -1, 23, 100] {
        let err = build_err(config(dir.path()).compression(Compression::Zstd(level)));
        assert!(
            matches!(err, CacheError::InvalidConfig { .. }),
            "level {level}: {err:?}"
        );
        assert_names_fix(&err, "CacheConfig::compression");
        assert_names_fix(&err, "Compression::Zstd");
    }
    for level in [1, 22] {
        let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
            .compression(Compression::Zstd(level))
            .build()
            .expect("a valid zstd level");
        cache.insert(1, large(1)).expect("insert");
        assert_eq!(cache.get(&1).as_deref(), Some(&large(1)), "level {level}");
    }
}

#[test]
fn namespaces_that_escape_the_root_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    for bad in [
        "a/b", "../x", "..", "a..b", ".hidden", ".", "", "a\\b", "/abs",
    ] {
        let err = build_err(CacheConfig::default().dir(dir.path()).namespace(bad));
        assert!(
            matches!(err, CacheError::InvalidNamespace { .. }),
            "{bad:?}: {err:?}"
        );
        assert_names_fix(&err, "CacheConfig::namespace");
    }
    // Nothing was created outside (or inside) the root for a refused namespace.
    assert_eq!(std::fs::read_dir(dir.path()).expect("read_dir").count(), 0);
    assert!(!dir.path().parent().expect("parent").join("x").exists());
}

#[test]
fn a_dir_that_is_a_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"x").expect("write");
    let err = build_err(CacheConfig::default().dir(&file).namespace("ns"));
    assert!(matches!(err, CacheError::BadDirectory { .. }), "{err:?}");
    assert_names_fix(&err, "CacheConfig::dir");
    assert_eq!(
        std::fs::read(&file).expect("read"),
        b"x",
        "the file was touched"
    );

    // The namespace folder is a file.
    std::fs::write(dir.path().join("ns"), b"y").expect("write");
    let err = build_err(CacheConfig::default().dir(dir.path()).namespace("ns"));
    assert!(matches!(err, CacheError::BadDirectory { .. }), "{err:?}");
    assert_names_fix(&err, "CacheConfig::dir");
}

#[test]
fn a_tier_folder_that_is_a_file_is_refused() {
    for tier_folder in ["sled", "files"] {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(cache_dir(dir.path())).expect("namespace folder");
        std::fs::write(cache_dir(dir.path()).join(tier_folder), b"x").expect("write");
        let err = build_err(config(dir.path()));
        assert!(
            err.to_string().contains(tier_folder),
            "{tier_folder}: the message does not name the folder: {err}"
        );
    }
}

#[test]
fn a_dir_below_a_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").expect("write");
    let err = build_err(
        CacheConfig::default()
            .dir(file.join("below"))
            .namespace("ns"),
    );
    assert!(matches!(err, CacheError::BadDirectory { .. }), "{err:?}");
    assert_names_fix(&err, "CacheConfig::dir");
}

#[cfg(target_os = "linux")]
#[test]
fn a_dir_that_cannot_be_written_is_refused() {
    // /proc refuses new folders even to root, whom chmod does not stop.
    let err = build_err(
        CacheConfig::default()
            .dir("/proc/self/smartcache-test")
            .namespace("ns"),
    );
    assert!(matches!(err, CacheError::BadDirectory { .. }), "{err:?}");
    assert_names_fix(&err, "CacheConfig::dir");
    assert!(!Path::new("/proc/self/smartcache-test").exists());
}

#[test]
fn every_config_error_message_says_what_to_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = [
        config(dir.path()).memory_capacity(0),
        config(dir.path()).disk_capacity(0),
        config(dir.path()).ttl(Duration::ZERO),
        config(dir.path()).tti(Duration::ZERO),
        config(dir.path()).memory_threshold(10).file_threshold(5),
        config(dir.path()).compression(Compression::Zstd(23)),
        config(dir.path()).namespace("a/b"),
    ];
    for config in bad {
        let err = SmartCache::<u64, Vec<u8>>::with_config(config).expect_err("accepted");
        assert!(err.to_string().contains("CacheConfig::"), "{err}");
    }
}

// ---- SmartCache::new() with $SMARTCACHE_DIR, in child processes (env is process-wide) --

/// A type whose own default configuration is invalid.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct BadDefaults(Vec<u8>);

impl Cacheable for BadDefaults {
    type Codec = smartcache::codec::Bincode;
    fn size_hint(&self) -> usize {
        24 + self.0.len()
    }
    fn type_tag() -> std::borrow::Cow<'static, str> {
        "tests::BadDefaults".into()
    }
    fn default_config() -> CacheConfig {
        CacheConfig::default().memory_capacity(0)
    }
}

#[test]
fn child_new_with_dir_env_on_a_file() {
    let Some(_) = child_role("new-on-file") else {
        return;
    };
    let cache: SmartCache<u64, Vec<u8>> = SmartCache::new();
    // Memory values work.
    assert_eq!(
        cache.insert(1, small(1)).expect("memory insert"),
        Tier::Memory
    );
    assert_eq!(cache.get(&1).as_deref(), Some(&small(1)));
    // Persistent values fail to insert, and reads are misses.
    assert!(
        cache.insert(2, medium(2)).is_err(),
        "sled insert under a file succeeded"
    );
    assert!(
        cache.insert(3, large(3)).is_err(),
        "file insert under a file succeeded"
    );
    assert_eq!(cache.get(&2), None);
    assert_eq!(cache.get(&3), None);
    assert!(!cache.contains_key(&2));
    // get_with still returns the computed value.
    assert_eq!(*cache.get_with(4, || medium(4)), medium(4));
    assert!(cache.stats().errors() > 0, "{}", cache.stats());
    let _ = cache.try_get(&2); // an error or a miss, never a panic
    cache.clear().ok();
    // A type with an invalid default config still gets a cache.
    let bad: SmartCache<u64, BadDefaults> = SmartCache::default();
    bad.insert(1, BadDefaults(small(1))).expect("memory insert");
    assert_eq!(bad.get(&1).as_deref(), Some(&BadDefaults(small(1))));
}

#[test]
fn child_new_with_dir_env_on_a_folder() {
    let Some(root) = child_role("new-on-folder") else {
        return;
    };
    let cache: SmartCache<u64, Vec<u8>> = SmartCache::new();
    let path = cache.path().expect("a folder").to_path_buf();
    assert!(
        path.starts_with(&root),
        "{} is not under $SMARTCACHE_DIR",
        path.display()
    );
    assert_eq!(cache.insert(2, medium(2)).expect("insert"), Tier::Sled);
    assert_eq!(cache.insert(3, large(3)).expect("insert"), Tier::File);
    drop(cache);
    let cache: SmartCache<u64, Vec<u8>> = SmartCache::new();
    assert_eq!(cache.get(&2).as_deref(), Some(&medium(2)));
    assert_eq!(cache.get(&3).as_deref(), Some(&large(3)));
}

#[test]
fn new_never_panics_when_smartcache_dir_is_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").expect("write");
    run_child(
        "child_new_with_dir_env_on_a_file",
        "new-on-file",
        dir.path(),
        &[("SMARTCACHE_DIR", file.as_os_str())],
    );
    assert_eq!(
        std::fs::read(&file).expect("read"),
        b"x",
        "the file was touched"
    );
}

#[test]
fn new_uses_smartcache_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    run_child(
        "child_new_with_dir_env_on_a_folder",
        "new-on-folder",
        dir.path(),
        &[("SMARTCACHE_DIR", dir.path().as_os_str())],
    );
    assert!(
        std::fs::read_dir(dir.path()).expect("read_dir").count() > 0,
        "nothing was stored under it"
    );
}

#[test]
fn an_empty_dir_is_refused() {
    let err = build_err(CacheConfig::default().dir(""));
    assert_names_fix(&err, "CacheConfig::dir");
    assert!(err.to_string().contains("empty"), "{err}");
}

#[test]
fn a_long_namespace_is_not_echoed_whole() {
    let err = build_err(CacheConfig::default().namespace("n".repeat(10_000)));
    let message = err.to_string();
    assert!(message.len() < 500, "{} bytes of message", message.len());
    assert!(message.contains("10000 bytes in all"), "{message}");
}

#[test]
fn a_key_too_long_to_store_is_named_as_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<String, Vec<u8>> = CacheConfig::default()
        .dir(dir.path())
        .namespace("long-keys")
        .build()
        .expect("build");
    let key = "k".repeat((64 << 20) + 1);
    let err = cache
        .insert(key, medium(1))
        .expect_err("a 64 MiB key was stored");
    // The message and its sources, as `anyhow` prints them.
    let message = [err.to_string()]
        .into_iter()
        .chain(sources(&err))
        .collect::<Vec<_>>()
        .join(": ");
    assert!(
        matches!(&err, CacheError::Encode { what, .. } if what == "key"),
        "{message}"
    );
    assert!(
        !message.contains("Vec<u8>") && !message.contains("vec"),
        "{message}"
    );
    assert!(message.contains("64 MiB"), "{message}");
}

/// An error's message does not repeat its source: `anyhow` and friends print the chain,
/// and would show the OS error twice.
#[test]
fn error_messages_do_not_repeat_their_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u32, Vec<u8>> = CacheConfig::default()
        .dir(dir.path())
        .namespace("blocked")
        .tier(Tier::File)
        .build()
        .expect("build");
    cache
        .insert(0, vec![0; 10])
        .expect("a first insert opens the file tier");
    // Every shard folder an entry could go to is a file: the next insert is an I/O error.
    let files = cache.path().expect("folder").join("files");
    for shard in 0..=255u8 {
        let shard = files.join(format!("{shard:02x}"));
        let _ = std::fs::remove_dir_all(&shard);
        std::fs::write(&shard, b"in the way").expect("block a shard");
    }
    let io = cache.insert(1, vec![1; 10]).expect_err("a blocked insert");
    assert!(matches!(io, CacheError::Io { .. }), "{io:?}");
    let keys: SmartCache<String, u32> = CacheConfig::default()
        .dir(dir.path())
        .namespace("keys")
        .build()
        .expect("build");
    let encode = keys
        .insert("k".repeat((64 << 20) + 1), 1)
        .expect_err("a key too long");
    for err in [io, encode] {
        let message = err.to_string();
        let causes = sources(&err);
        assert!(!causes.is_empty(), "{message}: no source");
        for cause in causes {
            assert!(
                !message.contains(&cause),
                "{message:?} repeats its source {cause:?}"
            );
        }
    }
}

/// The messages of an error's sources, outermost first.
fn sources(err: &dyn std::error::Error) -> Vec<String> {
    std::iter::successors(err.source(), |cause| cause.source())
        .map(|cause| cause.to_string())
        .collect()
}
