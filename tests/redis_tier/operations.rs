//! The Redis tier against a real `redis-server` on a free loopback port (started here;
//! `scripts/test.sh` installs it when missing): values round-trip and are shared by every
//! cache and process on the server, Redis's own expiry applies, namespaces are kept apart
//! and `clear()` removes only its own, misconfiguration is a clear error, and damaged or
//! foreign values are misses. Outages are in `redis_outage.rs`, TLS in `redis_tls.rs`.
#![cfg(feature = "redis")]

use crate::common;

use std::time::Duration;

use common::redis_server::Server;
use common::*;
use smartcache::prelude::*;

#[test]
fn values_round_trip_and_are_shared_by_every_cache_on_the_server() {
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let writer: SmartCache<u64, Vec<u8>> =
        redis_config(dir.path(), &server).build().expect("build");
    assert_eq!(writer.insert(1, medium(1)).expect("insert"), Tier::Redis);
    assert_eq!(writer.tier_of(&1), Some(Tier::Redis));
    // Another cache (another folder: nothing local is shared) reads it from the server.
    let other = tempfile::tempdir().expect("tempdir");
    let reader: SmartCache<u64, Vec<u8>> =
        redis_config(other.path(), &server).build().expect("build");
    assert_eq!(reader.get(&1).as_deref(), Some(&medium(1)));
    assert_eq!(reader.stats().redis.hits, 1, "{}", reader.stats());
    // A hit is promoted to memory.
    assert!(reader.get(&1).is_some());
    assert_eq!(reader.stats().memory.hits, 1, "{}", reader.stats());
    assert!(reader.remove(&1).expect("remove"));
    let fresh: SmartCache<u64, Vec<u8>> =
        redis_config(other.path(), &server).build().expect("build");
    assert_eq!(fresh.tier_of(&1), None, "removed on the server");
}

#[test]
fn namespaces_are_kept_apart_and_clear_removes_only_its_own() {
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let open = |ns: &str| -> SmartCache<u64, Vec<u8>> {
        redis_config(dir.path(), &server)
            .namespace(ns)
            .build()
            .expect("build")
    };
    let (a, b) = (open("alpha"), open("beta"));
    a.insert(1, medium(1)).expect("insert");
    b.insert(1, medium(2)).expect("insert");
    let (a2, b2) = (open("alpha"), open("beta"));
    assert_eq!(a2.get(&1).as_deref(), Some(&medium(1)));
    assert_eq!(b2.get(&1).as_deref(), Some(&medium(2)));
    a.clear().expect("clear");
    assert_eq!(open("alpha").get(&1), None);
    assert_eq!(open("beta").get(&1).as_deref(), Some(&medium(2)));
}

#[test]
fn keys_lists_what_the_server_holds_for_this_namespace_and_type() {
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let open = |ns: &str| -> SmartCache<String, Vec<u8>> {
        redis_config(dir.path(), &server)
            .namespace(ns)
            .build()
            .expect("build")
    };
    let (a, b) = (open("alpha"), open("beta"));
    // A key longer than the first bytes a walk asks for.
    let long = "k".repeat(10_000);
    for key in ["one", "two", long.as_str()] {
        a.insert(key.to_string(), medium(1)).expect("insert");
    }
    b.insert("other".into(), medium(2)).expect("insert");
    // Another type in the same namespace is passed over.
    let numbers: SmartCache<u64, u64> = redis_config(dir.path(), &server)
        .namespace("alpha")
        .build()
        .expect("build");
    numbers.insert(5, 5).expect("insert");

    // A fresh cache: nothing in its memory, all from the server.
    let mut keys = open("alpha").keys().expect("keys");
    keys.sort();
    assert_eq!(keys, [long.clone(), "one".into(), "two".into()]);
    let values: Vec<_> = open("alpha").iter().expect("iter").collect();
    assert_eq!(values.len(), 3);
    assert!(values.iter().all(|(_, v)| **v == medium(1)));
    assert_eq!(numbers.keys().expect("keys"), [5]);
}

#[test]
fn the_time_to_live_is_redis_own() {
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = redis_config(dir.path(), &server)
        .ttl(Duration::from_millis(400))
        .promote_max(0)
        .build()
        .expect("build");
    cache.insert(1, medium(1)).expect("insert");
    assert!(cache.get(&1).is_some());
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(cache.get(&1), None, "the entry outlived its ttl");
}

#[test]
fn a_bad_url_is_a_clear_error_and_the_password_never_shows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = config(dir.path())
        .redis("http://not-redis")
        .tier(Tier::Redis)
        .build::<u64, Vec<u8>>()
        .expect_err("a bad URL is refused when the cache is built");
    assert!(err.to_string().contains("redis://"), "{err}");
    let secret = config(dir.path()).redis("redis://user:hunter2@127.0.0.1:1/0");
    assert!(!format!("{secret:?}").contains("hunter2"), "{secret:?}");
}

#[test]
fn a_wrong_password_or_database_is_a_clear_error_naming_the_fix() {
    let server = Server::start(&["--requirepass", "s3cret"]);
    let port = server.port;
    let dir = tempfile::tempdir().expect("tempdir");
    let open = |url: String| -> SmartCache<u64, Vec<u8>> {
        config(dir.path())
            .redis(url)
            .tier(Tier::Redis)
            .build()
            .expect("build")
    };
    let right = open(format!("redis://:s3cret@127.0.0.1:{port}/0"));
    assert_eq!(
        right.insert(1, medium(1)).expect("the right password"),
        Tier::Redis
    );
    for (url, fix) in [
        (format!("redis://:wrong@127.0.0.1:{port}/0"), "password"),
        (format!("redis://:s3cret@127.0.0.1:{port}/99"), "database"),
    ] {
        let cache = open(url);
        let err = cache.try_get(&1).expect_err("misconfigured");
        let message = err.to_string();
        assert!(matches!(err, CacheError::InvalidConfig { .. }), "{err:?}");
        assert!(message.contains(fix), "{message}");
        assert!(
            !message.contains("wrong") && !message.contains("s3cret"),
            "a password in {message}"
        );
    }
}

/// A type pinned to Redis by its derive goes there.
#[test]
fn a_type_derived_with_tier_redis_goes_to_redis() {
    #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, Cacheable)]
    #[cacheable(tier = "redis")]
    struct Session {
        user: String,
    }
    assert_eq!(Session::PLACEMENT, Placement::Pinned(Tier::Redis));
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let sessions: SmartCache<u64, Session> = config(dir.path())
        .redis(server.url())
        .build()
        .expect("build");
    let session = Session { user: "ada".into() };
    assert_eq!(
        sessions.insert(7, session.clone()).expect("insert"),
        Tier::Redis
    );
    let again: SmartCache<u64, Session> = config(dir.path())
        .redis(server.url())
        .build()
        .expect("build");
    assert_eq!(again.get(&7).as_deref(), Some(&session));
    assert_eq!(again.stats().redis.hits, 1, "{}", again.stats());
}

static SQUARES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Where the memoized function keeps its local files (its fallback tier).
fn storage() -> std::path::PathBuf {
    static STORAGE: std::sync::LazyLock<std::path::PathBuf> =
        std::sync::LazyLock::new(|| static_storage("redis"));
    STORAGE.clone()
}

#[memoize(tier = "redis", namespace = "redis-squares", dir = storage())]
fn square(x: u64) -> u64 {
    SQUARES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    x * x
}

/// `#[memoize(tier = "redis")]` stores results on the server named by
/// `$SMARTCACHE_REDIS_URL` (read when the function is first called).
#[test]
fn a_function_memoized_in_redis_stores_its_results_there() {
    let server = Server::start(&[]);
    std::env::set_var("SMARTCACHE_REDIS_URL", server.url());
    assert_eq!(square(12), 144);
    assert_eq!(square(12), 144);
    assert_eq!(SQUARES.load(std::sync::atomic::Ordering::SeqCst), 1);
    let stats = square_cache().stats();
    assert_eq!(stats.redis.inserts, 1, "{stats}");
    // On the server, under the function's namespace.
    assert_eq!(server.keys("smartcache:redis-squares:*").len(), 1);
    // A plain cache of that namespace does not read it: a memoized function's keys carry
    // its code's fingerprint, so that versions of the code keep their own results.
    let dir = tempfile::tempdir().expect("tempdir");
    let reader: SmartCache<u64, u64> = CacheConfig::default()
        .dir(dir.path())
        .namespace("redis-squares")
        .redis(server.url())
        .tier(Tier::Redis)
        .build()
        .expect("build");
    assert_eq!(reader.get(&12), None);
    assert_eq!(square_cache().keys().expect("keys"), [12]);
}

/// The process side of the test below: writes values, then reads what the parent wrote.
#[test]
fn child_redis_peer() {
    let Some(dir) = child_role("redis-peer") else {
        return;
    };
    let url = std::env::var("TEST_REDIS_URL").expect("the parent gives the server");
    let cache: SmartCache<u64, Vec<u8>> = config(&dir)
        .redis(url)
        .tier(Tier::Redis)
        .build()
        .expect("build");
    for k in 0..20 {
        assert_eq!(cache.insert(k, medium(k)).expect("insert"), Tier::Redis);
    }
    assert_eq!(
        cache.get(&100).as_deref(),
        Some(&medium(100)),
        "the parent's value"
    );
}

/// Two processes, each with its own folder, share values through the server.
#[test]
fn two_processes_share_values() {
    let server = Server::start(&[]);
    let parent_dir = tempfile::tempdir().expect("tempdir");
    let parent: SmartCache<u64, Vec<u8>> = redis_config(parent_dir.path(), &server)
        .build()
        .expect("build");
    parent.insert(100, medium(100)).expect("insert");
    let child_dir = tempfile::tempdir().expect("tempdir");
    let url = server.url();
    run_child(
        "child_redis_peer",
        "redis-peer",
        child_dir.path(),
        &[("TEST_REDIS_URL", std::ffi::OsStr::new(&url))],
    );
    for k in 0..20 {
        assert_eq!(
            parent.get(&k).as_deref(),
            Some(&medium(k)),
            "the child's value {k}"
        );
    }
}

/// Bytes under our key that are not an entry of this cache are a counted miss, and are
/// removed; a sound entry of another type is a miss left in place.
#[test]
fn a_corrupt_or_foreign_value_under_our_key_is_a_miss() {
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = redis_config(dir.path(), &server)
        .promote_max(0)
        .build()
        .expect("build");
    cache.insert(1, medium(1)).expect("insert");
    let client = redis::Client::open(server.url()).expect("client");
    let mut raw = client.get_connection().expect("connection");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("smartcache:*")
        .query(&mut raw)
        .expect("KEYS");
    assert_eq!(keys.len(), 1, "{keys:?}");
    let mut bytes: Vec<u8> = redis::cmd("GET")
        .arg(&keys[0])
        .query(&mut raw)
        .expect("GET");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    redis::cmd("SET")
        .arg(&keys[0])
        .arg(&bytes)
        .query::<()>(&mut raw)
        .expect("SET");
    assert_eq!(cache.get(&1), None, "a damaged value was served");
    assert_eq!(cache.stats().redis.invalid, 1, "{}", cache.stats());
    let exists: bool = redis::cmd("EXISTS")
        .arg(&keys[0])
        .query(&mut raw)
        .expect("EXISTS");
    assert!(!exists, "the damaged value stayed");

    let strings: SmartCache<u64, String> = redis_config(dir.path(), &server)
        .promote_max(0)
        .build()
        .expect("build");
    strings.insert(2, "two".into()).expect("insert");
    assert_eq!(cache.get(&2), None, "a String entry served as bytes");
    assert_eq!(cache.stats().redis.foreign, 1, "{}", cache.stats());
    assert_eq!(strings.get(&2).as_deref().map(String::as_str), Some("two"));
}

/// `contains_key` and `tier_of` check an entry's header on the server without fetching
/// its payload, whatever the key's length, and a damaged header is not "contained".
#[test]
fn contains_key_checks_the_header_on_the_server() {
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<String, Vec<u8>> = redis_config(dir.path(), &server)
        .promote_max(0)
        .build()
        .expect("build");
    let long_key = "k".repeat(10_000); // header and key beyond the first range read
    for key in ["short".to_string(), long_key.clone()] {
        cache.insert(key.clone(), large(3)).expect("insert");
        assert!(cache.contains_key(&key), "{} bytes of key", key.len());
        assert_eq!(cache.tier_of(&key), Some(Tier::Redis));
    }
    assert!(!cache.contains_key("absent"));
    let mut raw = server.raw();
    for key in server.keys("smartcache:*") {
        // One byte of the fixed header changed: its checksum no longer holds.
        redis::cmd("SETRANGE")
            .arg(&key)
            .arg(10)
            .arg("?")
            .query::<()>(&mut raw)
            .expect("SETRANGE");
    }
    assert!(!cache.contains_key("short"), "a damaged entry is contained");
    assert!(
        !cache.contains_key(&long_key),
        "a damaged entry is contained"
    );
    assert_eq!(cache.get("short"), None);
}

/// Threads asking for the same missing key share one computation, whose value goes to
/// the server; the configured compression applies to what the server holds.
#[test]
fn get_with_computes_once_and_compression_applies() {
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = redis_config(dir.path(), &server)
        .compression(Compression::Zstd(3))
        .build()
        .expect("build");
    let computed = std::sync::atomic::AtomicUsize::new(0);
    let value = vec![7u8; 256 << 10]; // compresses well
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                let got = cache.get_with(1, || {
                    computed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(100));
                    value.clone()
                });
                assert_eq!(*got, value);
            });
        }
    });
    assert_eq!(computed.load(std::sync::atomic::Ordering::SeqCst), 1);
    let keys = server.keys("smartcache:*");
    assert_eq!(keys.len(), 1, "{keys:?}");
    let stored: usize = redis::cmd("STRLEN")
        .arg(&keys[0])
        .query(&mut server.raw())
        .expect("STRLEN");
    assert!(
        stored < 16 << 10,
        "{stored} bytes on the server for 256 KiB of sevens"
    );
    let other = tempfile::tempdir().expect("tempdir");
    let reader: SmartCache<u64, Vec<u8>> = redis_config(other.path(), &server)
        .compression(Compression::Zstd(3))
        .build()
        .expect("build");
    assert_eq!(reader.get(&1).as_deref(), Some(&value));
}

/// In an `AnyCache` with a server configured, a value of a type pinned to Redis goes
/// there, beside values that stay local, and another cache reads it back by its type.
#[test]
fn an_any_cache_sends_redis_pinned_values_to_the_server() {
    #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, Cacheable)]
    #[cacheable(any, tier = "redis", tag = "tests::Token")]
    struct Token(String);
    let server = Server::start(&[]);
    let open = |dir: &std::path::Path| -> AnyCache<String> {
        AnyCache::with_config(config(dir).redis(server.url())).expect("build")
    };
    let (a, b) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    let writer = open(a.path());
    assert_eq!(
        writer
            .insert("token".into(), Box::new(Token("t0k3n".into())))
            .expect("insert"),
        Tier::Redis
    );
    assert_eq!(
        writer
            .insert("local".into(), Box::new(large(1)))
            .expect("insert"),
        Tier::File
    );
    let reader = open(b.path());
    assert_eq!(
        reader.get_as::<Token>("token").as_deref(),
        Some(&Token("t0k3n".into()))
    );
    assert_eq!(
        reader.get_as::<Vec<u8>>("local"),
        None,
        "a local file was shared"
    );
}
