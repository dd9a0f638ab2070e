//! The sled tier against what a user writes without it: sled's `get` plus decoding the
//! owned value with bincode 2 (and `insert` plus encoding), and redb (a read transaction,
//! `get`, decode; a write transaction, `insert`, commit without fsync). Two values of
//! about 1 KiB: a `Vec<u8>`, and a small struct.
//!
//! Targets: a sled-tier get at most 1.2× sled get + decode; an insert at most 1.3× sled
//! insert + encode. redb's figures are context.
//!
//! The caches are built with `promote_max(0)` so that reads really go to sled instead of
//! being answered by the memory front. Every insert writes a value that differs from the
//! one it replaces (sled turns an insert of identical bytes into a no-op).

mod common;

use std::hint::black_box;

use redb::ReadableDatabase;
use serde::{Deserialize, Serialize};
use smartcache::prelude::*;

const KEYS: u64 = 10_000;
const VALUE: usize = 1024;

/// A small struct of about 1 KiB, as a user would cache a record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Cacheable)]
#[cacheable(tier = "sled", tag = "bench::Record")]
struct Record {
    id: u64,
    name: String,
    scores: Vec<u32>,
}

fn record(n: u64) -> Record {
    Record {
        id: n,
        name: format!("record number {n}"),
        scores: (0..200)
            .map(|i| ((i * 2_654_435_761u64) ^ n) as u32)
            .collect(),
    }
}

const BINCODE: bincode::config::Configuration = bincode::config::standard();

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(value, BINCODE).expect("encode")
}

fn decode_record(bytes: &[u8]) -> Record {
    bincode::serde::decode_from_slice(bytes, BINCODE)
        .expect("decode")
        .0
}

fn decode_bytes(bytes: &[u8]) -> Vec<u8> {
    bincode::decode_from_slice(bytes, BINCODE)
        .expect("decode")
        .0
}

const TABLE: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("values");

/// A redb database holding `value(k)` for every key.
fn redb_with(path: &std::path::Path, value: impl Fn(u64) -> Vec<u8>) -> redb::Database {
    let db = redb::Database::create(path).expect("redb");
    let mut tx = db.begin_write().expect("write");
    tx.set_durability(redb::Durability::None)
        .expect("durability");
    {
        let mut table = tx.open_table(TABLE).expect("table");
        for k in 0..KEYS {
            table.insert(k, value(k).as_slice()).expect("insert");
        }
    }
    tx.commit().expect("commit");
    db
}

/// A fresh 1 KiB value for insert `n` (its first bytes count the inserts).
fn fresh_bytes(n: u64) -> Vec<u8> {
    let mut v = vec![7u8; VALUE];
    v[..8].copy_from_slice(&n.to_le_bytes());
    v
}

fn main() {
    let mut c = common::criterion();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = |name: &str| {
        CacheConfig::default()
            .dir(dir.path().join("smartcache"))
            .namespace(name)
            .tier(Tier::Sled)
            .promote_max(0)
    };
    let bytes: SmartCache<u64, Vec<u8>> = config("bytes").build().expect("cache");
    let records: SmartCache<u64, Record> = config("records").build().expect("cache");
    let db = sled::Config::new()
        .path(dir.path().join("sled"))
        .cache_capacity(64 << 20)
        .open()
        .expect("sled");
    let sled_bytes = db.open_tree("bytes").expect("tree");
    let sled_records = db.open_tree("records").expect("tree");
    let value = vec![7u8; VALUE];
    for k in 0..KEYS {
        assert_eq!(bytes.insert(k, value.clone()).expect("insert"), Tier::Sled);
        records.insert(k, record(k)).expect("insert");
        sled_bytes
            .insert(k.to_be_bytes(), encode(&value))
            .expect("sled insert");
        sled_records
            .insert(k.to_be_bytes(), encode(&record(k)))
            .expect("sled insert");
    }
    let redb_bytes = redb_with(&dir.path().join("bytes.redb"), |_| encode(&value));
    let redb_records = redb_with(&dir.path().join("records.redb"), |k| encode(&record(k)));
    assert_eq!(
        encode(&record(1)).len() / 100,
        VALUE / 100,
        "a record is about 1 KiB"
    );

    for (group, ours, tree, redb, decode) in [
        (
            "sled_get_bytes",
            &|k: u64| black_box(bytes.get(&k)).is_some(),
            &sled_bytes,
            &redb_bytes,
            (|b: &[u8]| black_box(decode_bytes(b)).len()) as fn(&[u8]) -> usize,
        ),
        (
            "sled_get_record",
            &|k: u64| black_box(records.get(&k)).is_some(),
            &sled_records,
            &redb_records,
            (|b: &[u8]| black_box(decode_record(b)).scores.len()) as fn(&[u8]) -> usize,
        ),
    ]
        as [(
            &str,
            &dyn Fn(u64) -> bool,
            &sled::Tree,
            &redb::Database,
            fn(&[u8]) -> usize,
        ); 2]
    {
        let mut g = c.benchmark_group(group);
        g.bench_function("smartcache", |b| {
            let mut k = 0;
            b.iter(|| {
                k = (k + 1) % KEYS;
                ours(black_box(k))
            })
        });
        g.bench_function("sled_decode", |b| {
            let mut k = 0u64;
            b.iter(|| {
                k = (k + 1) % KEYS;
                let got = tree.get(black_box(k.to_be_bytes())).expect("get");
                got.map(|v| decode(&v))
            })
        });
        g.bench_function("redb_decode", |b| {
            let mut k = 0u64;
            b.iter(|| {
                k = (k + 1) % KEYS;
                let tx = redb.begin_read().expect("read");
                let table = tx.open_table(TABLE).expect("table");
                let got = table.get(black_box(k)).expect("get");
                got.map(|v| decode(v.value()))
            })
        });
        g.finish();
    }

    // Writes pile up in sled's background flushing; two databases flushing at once in
    // one process can stall each other, so each side starts from a flushed database.
    let settle = || {
        bytes.flush().expect("flush");
        records.flush().expect("flush");
        db.flush().expect("flush");
    };
    let mut n = KEYS;
    for (group, ours, tree, make) in [
        (
            "sled_insert_bytes",
            &|k: u64, n: u64| {
                bytes.insert(k, fresh_bytes(n)).expect("insert");
            },
            &sled_bytes,
            (|n: u64| encode(&fresh_bytes(n))) as fn(u64) -> Vec<u8>,
        ),
        (
            "sled_insert_record",
            &|k: u64, n: u64| {
                records.insert(k, record(n)).expect("insert");
            },
            &sled_records,
            (|n: u64| encode(&record(n))) as fn(u64) -> Vec<u8>,
        ),
    ]
        as [(&str, &dyn Fn(u64, u64), &sled::Tree, fn(u64) -> Vec<u8>); 2]
    {
        let mut g = c.benchmark_group(group);
        g.warm_up_time(std::time::Duration::from_secs(1));
        g.measurement_time(std::time::Duration::from_secs(4));
        settle();
        g.bench_function("smartcache", |b| {
            b.iter(|| {
                n += 1;
                ours(black_box(n % KEYS), n)
            })
        });
        settle();
        g.bench_function("sled_encode", |b| {
            b.iter(|| {
                n += 1;
                // The value is built as the cache's is; encoding it is the user's work.
                tree.insert(black_box((n % KEYS).to_be_bytes()), make(n))
                    .expect("insert")
            })
        });
        g.finish();
    }
    c.final_summary();
    for cache in [bytes.stats(), records.stats()] {
        assert_eq!(cache.memory.hits, 0, "reads were served by sled");
        assert_eq!(cache.sled.invalid + cache.sled.errors, 0);
    }
    for what in ["bytes", "record"] {
        let get = format!("sled_get_{what}");
        common::report_ratio(&get, "smartcache", "sled_decode", "<= 1.2x");
        common::report_ratio(&get, "smartcache", "redb_decode", "context");
        let insert = format!("sled_insert_{what}");
        common::report_ratio(&insert, "smartcache", "sled_encode", "<= 1.3x");
    }
}
