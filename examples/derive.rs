//! `Cacheable` for your own types: `#[derive(Cacheable)]` and each of its attributes,
//! and the same trait implemented by hand. For each type it prints what the trait says
//! (placement, version, time to live, tag, size), where a value went, and whether a new
//! cache read it back from disk.
//!
//! ```sh
//! cargo run --release --example derive
//! ```
//!
//! Storage goes to `$SMARTCACHE_DIR`, else the platform cache folder.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use smartcache::prelude::*;

// ANCHOR: plain
/// No attributes: routed by size at run time (`Placement::Auto`), encoded with bincode,
/// version 0, no time to live of its own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Cacheable)]
struct Point {
    x: f64,
    y: f64,
}
// ANCHOR_END: plain

// ANCHOR: attributes
/// Always in sled, decided at compile time. Entries written by an older shape of the type
/// (another `version`) are misses. Every value lives an hour, in every cache of the type.
/// `tag` is the type's name in stored entries: it survives moving the type elsewhere.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Cacheable)]
#[cacheable(tier = "sled", version = 2, ttl = "1h", tag = "example::Report")]
struct Report {
    title: String,
    rows: Vec<(String, f64)>,
}
// ANCHOR_END: attributes

// ANCHOR: enum
/// Enums and generic types derive the same way. `tier = "memory"` keeps values in memory
/// only: they never touch the disk.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Cacheable)]
#[cacheable(tier = "memory")]
enum Shape {
    Dot,
    Circle(f64),
    Polygon { points: Vec<(f32, f32)> },
}

/// A generic type: each instance (`Tagged<u32>`, `Tagged<String>`) is its own type, with
/// its own tag (`derive::Tagged<u32>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Cacheable)]
struct Tagged<T> {
    value: T,
    notes: BTreeMap<String, u64>,
}
// ANCHOR_END: enum

// ANCHOR: size
/// The size estimate weighs a value in memory and routes it. `skip_size` leaves a field
/// out of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Cacheable)]
struct Thumbnail {
    pixels: Vec<u8>,
    #[cacheable(skip_size)]
    source: String,
}

/// `size_with` replaces the estimate with a function of your own: here a cheap one,
/// instead of walking every entry of the map.
fn sparse_size(sparse: &Sparse) -> usize {
    sparse.entries.len() * 48 + std::mem::size_of::<Sparse>()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Cacheable)]
#[cacheable(size_with = sparse_size)]
struct Sparse {
    len: u64,
    entries: BTreeMap<u64, f64>,
}
// ANCHOR_END: size

// ANCHOR: by_hand
/// The trait by hand, item by item, for a type the derive does not fit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Histogram {
    buckets: Vec<u64>,
}

impl Cacheable for Histogram {
    /// Always a file (the default is `Placement::Auto`: by size).
    const PLACEMENT: Placement = Placement::Pinned(Tier::File);
    /// Bump it when the stored form changes (default 0).
    const VERSION: u32 = 1;
    /// Values live a day, unless a cache's configuration sets its own `ttl`.
    const TTL: Option<Duration> = Some(Duration::from_secs(24 * 3600));
    /// bincode, through serde (the derive's default).
    type Codec = smartcache::codec::Bincode;

    /// Bytes, heap included: weighs the value in memory and drives `Placement::Auto`.
    fn size_hint(&self) -> usize {
        self.buckets.len() * 8 + std::mem::size_of::<Self>()
    }

    /// A name that stays the same across builds (the default is `type_name`, which
    /// the compiler does not promise to keep).
    fn type_tag() -> Cow<'static, str> {
        Cow::Borrowed("example::Histogram")
    }

    /// What `configure_for::<Histogram>()` and `SmartCache::new()` start from.
    fn default_config() -> CacheConfig {
        CacheConfig::default()
            .namespace_prefix("histograms")
            .compression(Compression::Zstd(3))
    }
}
// ANCHOR_END: by_hand

fn main() -> Result<(), CacheError> {
    let (ty, placement, version, ttl, tag, size) =
        ("type", "placement", "version", "ttl", "tag", "size");
    println!(
        "{ty:<14} {placement:<14} {version:>7} {ttl:>7}  {tag:<26} {size:>8}  stored in, read back"
    );
    round_trip("Point", Point { x: 1.0, y: 2.0 })?;
    round_trip(
        "Report",
        Report {
            title: "q3".into(),
            rows: vec![("north".into(), 1.5), ("south".into(), -2.0)],
        },
    )?;
    round_trip(
        "Shape",
        Shape::Polygon {
            points: vec![(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)],
        },
    )?;
    round_trip(
        "Tagged<u32>",
        Tagged {
            value: 7u32,
            notes: BTreeMap::from([("seen".to_string(), 3)]),
        },
    )?;
    round_trip(
        "Thumbnail",
        Thumbnail {
            pixels: vec![128; 64 * 64 * 3],
            source: "photo.png".into(),
        },
    )?;
    round_trip(
        "Sparse",
        Sparse {
            len: 1 << 40,
            entries: (0..1_000).map(|i| (i << 20, i as f64)).collect(),
        },
    )?;
    round_trip(
        "Histogram",
        Histogram {
            buckets: vec![1, 4, 9, 16],
        },
    )?;
    Ok(())
}

/// Prints what `V`'s `Cacheable` says, stores `value` in a cache of its own, and reads it
/// back in a new cache on the same folder.
fn round_trip<V: Cacheable + PartialEq + std::fmt::Debug>(
    name: &str,
    value: V,
) -> Result<(), CacheError> {
    let namespace = format!(
        "example-derive-{}",
        name.to_lowercase().replace('<', "-").replace('>', "")
    );
    let config = || configure_for::<V>().namespace(namespace.clone());
    let cache: SmartCache<u32, V> = config().build()?;
    let tier = cache.insert(1, value)?;
    let size = cache.get(&1).map_or(0, |v| v.size_hint());
    drop(cache);
    let again: SmartCache<u32, V> = config().build()?;
    let back = match again.get(&1) {
        Some(_) => "read back in a new cache",
        None => "gone with its cache (memory only)",
    };
    let ttl = V::TTL.map_or("-".to_string(), |t| format!("{}s", t.as_secs()));
    println!(
        "{name:<14} {:<14} {:>7} {ttl:>7}  {:<26} {size:>8}  {tier}, {back}",
        format!("{:?}", V::PLACEMENT),
        V::VERSION,
        V::type_tag()
    );
    Ok(())
}
