//! The Redis tier against the raw `redis` crate: insert and get of 1 KiB values on a
//! `redis-server` started here on a loopback port, and the promoted memory hit.
//! Target: insert and get at most 1.3× a raw `SET`/`GET` of the same bytes on the same
//! kind of connection (one synchronous connection).
//!
//! The cache reads with `promote_max(0)` so that gets really go to the server; the last
//! group measures what a hit costs once a value has been promoted to memory.

mod common;
#[path = "../tests/common/redis_server.rs"]
mod redis_server;

use std::hint::black_box;

use smartcache::prelude::*;

const KEYS: u64 = 1_000;
const VALUE: usize = 1024;

/// A group of two reads over the keys in turn: smartcache's and the raw crate's.
fn reads(
    c: &mut criterion::Criterion,
    name: &str,
    mut ours: impl FnMut(u64) -> bool,
    mut peer: impl FnMut(u64) -> bool,
) {
    let mut group = c.benchmark_group(name);
    group.bench_function("smartcache", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % KEYS;
            black_box(ours(black_box(k)))
        })
    });
    group.bench_function("redis", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % KEYS;
            black_box(peer(black_box(k)))
        })
    });
    group.finish();
}

fn main() {
    let server = redis_server::Server::start(&[]);
    let url = server.url();
    let mut c = common::criterion();
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Vec<u8>> = CacheConfig::default()
        .dir(dir.path())
        .namespace("bench")
        .redis(url.as_str())
        .tier(Tier::Redis)
        .promote_max(0)
        .build()
        .expect("cache");
    let client = redis::Client::open(url.as_str()).expect("client");
    let mut raw = client.get_connection().expect("connection");
    let value = vec![7u8; VALUE];
    for k in 0..KEYS {
        cache.insert(k, value.clone()).expect("insert");
        redis::cmd("SET")
            .arg(format!("raw:{k}"))
            .arg(&value)
            .query::<()>(&mut raw)
            .expect("SET");
    }

    // The peer: a raw GET of the same bytes on one synchronous connection.
    let raw_get = |raw: &mut redis::Connection, k: u64| -> Option<Vec<u8>> {
        redis::cmd("GET")
            .arg(format!("raw:{k}"))
            .query(raw)
            .expect("GET")
    };
    reads(
        &mut c,
        "redis_get",
        |k| black_box(cache.get(&k)).is_some(),
        |k| raw_get(&mut raw, k).is_some(),
    );

    let mut group = c.benchmark_group("redis_insert");
    group.bench_function("smartcache", |b| {
        let mut k = 0;
        b.iter_batched(
            || value.clone(),
            |v| {
                k = (k + 1) % KEYS;
                cache.insert(black_box(k), v).expect("insert")
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.bench_function("redis", |b| {
        let mut k = 0u64;
        b.iter_batched(
            || value.clone(),
            |v| {
                k = (k + 1) % KEYS;
                redis::cmd("SET")
                    .arg(format!("raw:{k}"))
                    .arg(v)
                    .query::<()>(&mut raw)
                    .expect("SET")
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();

    // A promoted value: the memory front answers, the server is not asked.
    let promoted: SmartCache<u64, Vec<u8>> = CacheConfig::default()
        .dir(dir.path())
        .namespace("bench")
        .redis(url.as_str())
        .tier(Tier::Redis)
        .build()
        .expect("cache");
    for k in 0..KEYS {
        promoted.get(&k);
    }
    reads(
        &mut c,
        "redis_promoted_hit",
        |k| black_box(promoted.get(&k)).is_some(),
        |k| raw_get(&mut raw, k).is_some(),
    );
    c.final_summary();

    common::report_ratio("redis_get", "smartcache", "redis", "<= 1.3x");
    common::report_ratio("redis_insert", "smartcache", "redis", "<= 1.3x");
    common::report_ratio("redis_promoted_hit", "smartcache", "redis", "context");
    drop(server);
}
