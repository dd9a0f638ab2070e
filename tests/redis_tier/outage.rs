//! The Redis tier when its server fails, against a real `redis-server`: killed (refused)
//! and restarted, or stopped with SIGSTOP (a hang). No call waits past the timeout, reads
//! are misses, writes go to the fallback tier (files, sled or memory), one warning is
//! logged per outage, removals made meanwhile reach the server when it is back, and the
//! tier is used again without a restart.
#![cfg(feature = "redis")]

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::redis_server::Server;
use common::*;
use smartcache::prelude::*;

/// Inserts into `cache` until the value goes to Redis again (the back-off is over and the
/// server answers).
fn until_redis_is_back(cache: &SmartCache<u64, Vec<u8>>, key: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while cache.insert(key, medium(key)).expect("insert") != Tier::Redis {
        assert!(
            Instant::now() < deadline,
            "the Redis tier did not come back"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_outage_is_misses_and_file_writes_until_the_server_is_back() {
    let server = Server::start(&[]);
    let port = server.port;
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = redis_config(dir.path(), &server)
        .promote_max(0)
        .build()
        .expect("build");
    cache.insert(1, medium(1)).expect("insert");
    drop(server); // killed: connections are refused
    let started = Instant::now();
    assert_eq!(cache.get(&1), None, "a value served from a dead server");
    let value = cache.get_with(2, || medium(2));
    assert_eq!(*value, medium(2));
    assert_eq!(
        cache.insert(3, medium(3)).expect("insert while down"),
        Tier::File
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "calls waited {:?} on a dead server",
        started.elapsed()
    );
    let stats = cache.stats();
    assert!(stats.redis.errors >= 1, "{stats}");
    assert!(stats.redis.rerouted >= 1, "{stats}");
    // What went to files while Redis was down is read from there.
    assert_eq!(cache.get(&3).as_deref(), Some(&medium(3)));
    assert_eq!(cache.tier_of(&3), Some(Tier::File));

    // Back on the same port: after the back-off the tier is used again, and a new value
    // of a key replaces the one kept in files.
    let _server = Server::start_on(port, &[]);
    until_redis_is_back(&cache, 3);
    assert_eq!(cache.tier_of(&3), Some(Tier::Redis));
    assert_eq!(cache.get(&3).as_deref(), Some(&medium(3)));
}

#[test]
fn a_stopped_server_costs_at_most_the_timeout_even_to_many_threads() {
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = redis_config(dir.path(), &server)
        .redis_timeout(Duration::from_millis(200))
        .promote_max(0)
        .build()
        .expect("build");
    cache.insert(1, medium(1)).expect("insert");
    server.stop(); // hangs: connected, never answers
    let started = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let cache = cache.clone();
            std::thread::spawn(move || {
                assert_eq!(cache.get(&1), None);
                let tier = cache.insert(100 + t, medium(t)).expect("insert");
                assert_eq!(tier, Tier::File);
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a thread panicked");
    }
    let waited = started.elapsed();
    server.resume();
    assert!(
        waited < Duration::from_secs(2),
        "a stopped server held calls {waited:?}"
    );
}

/// What smartcache logs at warning and info levels in this test process, each event as its
/// level and its fields written out (to be told apart by the server they name).
fn logged() -> &'static Mutex<Vec<(tracing::Level, String)>> {
    use tracing_subscriber::layer::SubscriberExt;
    static LOGGED: OnceLock<&'static Mutex<Vec<(tracing::Level, String)>>> = OnceLock::new();
    LOGGED.get_or_init(|| {
        let logged: &'static Mutex<_> = Box::leak(Box::default());
        // Global, as every thread's events must reach it; tests that log nothing about
        // this test's server leave nothing it counts.
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(Recorder(logged)),
        )
        .expect("no other subscriber in this test process");
        logged
    })
}

struct Recorder(&'static Mutex<Vec<(tracing::Level, String)>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Recorder {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let meta = event.metadata();
        if !meta.target().starts_with("smartcache") || *meta.level() > tracing::Level::INFO {
            return;
        }
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0 += &format!("{}={:?} ", field.name(), value);
            }
        }
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        let mut logged = self.0.lock().unwrap_or_else(|p| p.into_inner());
        logged.push((*meta.level(), fields.0));
    }
}

/// How many events at `level` name the server on `port`.
fn count(level: tracing::Level, port: u16) -> usize {
    let port = format!("127.0.0.1:{port}");
    let logged = logged().lock().unwrap_or_else(|p| p.into_inner());
    logged
        .iter()
        .filter(|(l, fields)| *l == level && fields.contains(&port))
        .count()
}

#[test]
fn an_outage_is_one_warning_however_many_calls_and_back_offs_it_spans() {
    use tracing::Level;
    logged();
    let server = Server::start(&[]);
    let port = server.port;
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = redis_config(dir.path(), &server)
        .redis_backoff(Duration::from_millis(100))
        .build()
        .expect("build");
    cache.insert(1, medium(1)).expect("insert");
    assert_eq!(count(Level::WARN, port), 0);
    drop(server);
    // Several back-offs long, hundreds of calls, from two threads.
    let started = Instant::now();
    let calls = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..2 {
            let (cache, calls) = (&cache, &calls);
            s.spawn(move || {
                while started.elapsed() < Duration::from_millis(600) {
                    assert_eq!(cache.get(&(500 + t)), None);
                    cache.insert(2 + t, medium(2)).expect("insert");
                    calls.fetch_add(2, SeqCst);
                }
            });
        }
    });
    assert!(calls.load(SeqCst) > 100, "{calls:?} calls");
    assert_eq!(count(Level::WARN, port), 1, "warnings of one outage");
    let server = Server::start_on(port, &[]);
    until_redis_is_back(&cache, 3);
    assert!(
        count(Level::INFO, port) >= 1,
        "no notice that Redis is back"
    );
    // A second outage is a second warning (keys that memory does not hold).
    drop(server);
    assert_eq!(cache.get(&998), None);
    assert_eq!(cache.get(&999), None);
    assert_eq!(count(Level::WARN, port), 2, "warnings of two outages");
}

#[test]
fn a_removal_or_clear_during_an_outage_reaches_the_server_when_it_is_back() {
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = redis_config(dir.path(), &server)
        .redis_timeout(Duration::from_millis(200))
        .build()
        .expect("build");
    for k in 1..=3 {
        assert_eq!(cache.insert(k, medium(k)).expect("insert"), Tier::Redis);
    }
    let on_server = |k: u64| {
        let other_dir = tempfile::tempdir().expect("tempdir");
        let other: SmartCache<u64, Vec<u8>> = redis_config(other_dir.path(), &server)
            .build()
            .expect("build");
        other.get(&k).is_some()
    };

    server.stop();
    cache.remove(&1).expect("a removal while Redis is stopped");
    assert_eq!(cache.get(&1), None);
    server.resume();
    until_redis_is_back(&cache, 10);
    assert!(!on_server(1), "a value removed during the outage came back");
    assert!(on_server(2), "a value not removed is gone");

    server.stop();
    cache.clear().expect("clear while Redis is stopped");
    server.resume();
    until_redis_is_back(&cache, 11);
    for k in [2, 3, 10] {
        assert!(!on_server(k), "value {k} outlived clear()");
    }
    assert!(on_server(11), "a value stored after clear() is gone");
}

#[test]
fn the_fallback_tier_is_configurable() {
    let server = Server::start(&[]);
    let url = server.url();
    drop(server); // nothing answers on its port now
    let dir = tempfile::tempdir().expect("tempdir");
    for fallback in [Tier::File, Tier::Sled, Tier::Memory] {
        let cache: SmartCache<u64, Vec<u8>> = config(dir.path())
            .redis(url.clone())
            .tier(Tier::Redis)
            .redis_fallback(fallback)
            .build()
            .expect("build");
        assert_eq!(cache.config().policy().redis_fallback(), fallback);
        let _ = cache.get(&1); // finds the server down
        assert_eq!(cache.insert(1, medium(1)).expect("insert"), fallback);
        assert_eq!(cache.get(&1).as_deref(), Some(&medium(1)));
        assert_eq!(cache.tier_of(&1), Some(fallback));
        cache.clear().expect("clear");
    }
    let err = config(dir.path())
        .redis(url)
        .redis_fallback(Tier::Redis)
        .build::<u64, Vec<u8>>()
        .expect_err("Redis cannot be its own fallback");
    assert!(matches!(err, CacheError::InvalidConfig { .. }), "{err:?}");
}

#[test]
fn threads_share_the_connections() {
    let server = Server::start(&[]);
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = redis_config(dir.path(), &server)
        .promote_max(0)
        .build()
        .expect("build");
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let cache = cache.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    let k = t * 1000 + i;
                    assert_eq!(cache.insert(k, small(k)).expect("insert"), Tier::Redis);
                    assert_eq!(cache.get(&k).as_deref(), Some(&small(k)), "key {k}");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a thread panicked");
    }
    let stats = cache.stats();
    assert_eq!(stats.redis.hits, 800, "{stats}");
    assert_eq!(stats.redis.errors, 0, "{stats}");
    assert_eq!(server.keys("smartcache:*").len(), 800);
}
