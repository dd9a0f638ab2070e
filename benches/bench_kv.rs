//! The sled tier against raw sled: get and insert of 1 KiB values on the same keys.
//! Target: at most 1.5× raw `sled` get and insert.
//!
//! The cache is built with `promote_max(0)` so that reads really go to sled instead of
//! being answered by the memory front. Every insert writes a value that differs from the
//! one it replaces (sled turns an insert of identical bytes into a no-op).

mod common;

use std::borrow::Cow;
use std::hint::black_box;
use std::io::{Read, Write};

use smartcache::codec::{Codec, CodecError, Raw};
use smartcache::prelude::*;

const KEYS: u64 = 10_000;
const VALUE: usize = 1024;

/// A byte blob that always lives in sled.
struct Blob(Vec<u8>);

/// Blob's codec: the raw codec of its bytes.
struct BlobCodec;

impl Codec<Blob> for BlobCodec {
    const ID: u16 = smartcache::codec::ids::FIRST_CUSTOM;
    const NAME: &'static str = "blob";
    fn encode<W: Write>(value: &Blob, out: &mut W) -> Result<(), CodecError> {
        <Raw as Codec<Vec<u8>>>::encode(&value.0, out)
    }
    fn decode(bytes: &[u8]) -> Result<Blob, CodecError> {
        <Raw as Codec<Vec<u8>>>::decode(bytes).map(Blob)
    }
    fn decode_from<R: Read>(input: &mut R, len: u64) -> Result<Blob, CodecError> {
        <Raw as Codec<Vec<u8>>>::decode_from(input, len).map(Blob)
    }
}

impl Cacheable for Blob {
    const PLACEMENT: Placement = Placement::Pinned(Tier::Sled);
    type Codec = BlobCodec;
    fn size_hint(&self) -> usize {
        self.0.size_hint()
    }
    fn type_tag() -> Cow<'static, str> {
        Cow::Borrowed("bench::Blob")
    }
}

fn main() {
    let mut c = common::criterion();
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u64, Blob> = CacheConfig::default()
        .dir(dir.path().join("smartcache"))
        .promote_max(0)
        .build()
        .expect("cache");
    let db = sled::Config::new()
        .path(dir.path().join("sled"))
        .cache_capacity(64 << 20)
        .open()
        .expect("sled");
    let value = vec![7u8; VALUE];
    for k in 0..KEYS {
        cache.insert(k, Blob(value.clone())).expect("insert");
        db.insert(k.to_be_bytes(), value.as_slice())
            .expect("sled insert");
    }

    let mut group = c.benchmark_group("sled_get");
    group.bench_function("smartcache", |b| {
        let mut k = 0;
        b.iter(|| {
            k = (k + 1) % KEYS;
            black_box(cache.get(black_box(&k)))
        })
    });
    group.bench_function("sled", |b| {
        let mut k = 0u64;
        b.iter(|| {
            k = (k + 1) % KEYS;
            black_box(db.get(black_box(k.to_be_bytes())).expect("get"))
        })
    });
    // For context: raw sled handing back an owned copy of the bytes, as the cache does
    // (a raw `get` returns a handle into sled's page cache without reading the value).
    group.bench_function("sled_to_vec", |b| {
        let mut k = 0u64;
        b.iter(|| {
            k = (k + 1) % KEYS;
            black_box(
                db.get(black_box(k.to_be_bytes()))
                    .expect("get")
                    .map(|v| v.to_vec()),
            )
        })
    });
    group.finish();

    // A fresh 1 KiB value for every insert: its first bytes count the inserts.
    let fresh = {
        let mut n = 0u64;
        move || {
            n += 1;
            let mut v = vec![7u8; VALUE];
            v[..8].copy_from_slice(&n.to_le_bytes());
            v
        }
    };
    // Writes pile up in sled's background flushing; two databases flushing at once in
    // one process can stall each other, so each side starts from a flushed database.
    cache.flush().expect("flush");
    db.flush().expect("flush");
    let mut group = c.benchmark_group("sled_insert");
    group.warm_up_time(std::time::Duration::from_secs(1));
    group.measurement_time(std::time::Duration::from_secs(4));
    let mut next = fresh;
    group.bench_function("smartcache", |b| {
        let mut k = 0;
        b.iter_batched(
            || Blob(next()),
            |blob| {
                k = (k + 1) % KEYS;
                cache.insert(black_box(k), blob).expect("insert")
            },
            criterion::BatchSize::SmallInput,
        )
    });
    cache.flush().expect("flush");
    db.flush().expect("flush");
    let mut next = fresh;
    group.bench_function("sled", |b| {
        let mut k = 0u64;
        b.iter_batched(
            &mut next,
            |v| {
                k = (k + 1) % KEYS;
                db.insert(black_box(k.to_be_bytes()), v).expect("insert")
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
    c.final_summary();
    let stats = cache.stats();
    assert_eq!(stats.memory.hits, 0, "reads were served by sled");
    assert_eq!(stats.sled.invalid + stats.sled.errors, 0);
    common::report_ratio("sled_get", "smartcache", "sled", "<= 1.5x");
    common::report_ratio("sled_get", "smartcache", "sled_to_vec", "context");
    common::report_ratio("sled_insert", "smartcache", "sled", "<= 1.5x");
}
