//! JSON (feature `json`): where `serde_json::Value`s of three sizes go, reading them back
//! from disk in a new cache, and a derived type stored as JSON with
//! `#[cacheable(codec = "json")]`, for shapes bincode cannot decode.
//!
//! ```sh
//! cargo run --release --features json --example json
//! ```
//!
//! Storage goes to `$SMARTCACHE_DIR`, else the platform cache folder.

mod common;

use std::collections::BTreeMap;

use common::{answered, ms};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use smartcache::prelude::*;

// ANCHOR: derive_json
/// A setting of any of three shapes. `#[serde(untagged)]` needs a self-describing
/// format to decode: bincode cannot, JSON can. (Fields of a derived type are
/// `Cacheable` too: their sizes add up to the type's.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Cacheable)]
#[serde(untagged)]
enum Setting {
    Flag(bool),
    Number(f64),
    Text(String),
}

/// Stored as JSON text (compressed with zstd, as `configure_for` says for JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Cacheable)]
#[cacheable(codec = "json", tier = "sled", tag = "example::Settings")]
struct Settings {
    values: BTreeMap<String, Setting>,
}
// ANCHOR_END: derive_json

/// An API response of `n` records.
fn response(n: usize) -> Value {
    let records: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "id": i,
                "name": format!("user-{i}"),
                "active": i % 3 != 0,
                "tags": ["alpha", "beta"],
            })
        })
        .collect();
    json!({ "count": n, "records": records })
}

fn main() -> Result<(), CacheError> {
    // ANCHOR: build
    // The configuration tuned to JSON (zstd level 3), in a folder of its own.
    let config = || configure_for::<Value>().namespace("example-json");
    let cache: SmartCache<String, Value> = config().build()?;
    // ANCHOR_END: build
    println!(
        "json example: storage under {}",
        cache.path().map_or("-".into(), |p| p.display().to_string())
    );

    // ANCHOR: insert
    let values = [
        (
            "config",
            json!({ "name": "smartcache", "tiers": ["memory", "sled", "file"] }),
        ), // memory
        ("page", response(100)),      // tens of KB: sled
        ("export", response(20_000)), // megabytes: a file
    ];
    for (key, value) in &values {
        let tier = cache.insert(key.to_string(), value.clone())?;
        println!(
            "{key}: stored a JSON value ({} bytes) in {tier}",
            value.size_hint()
        );
    }
    // ANCHOR_END: insert

    // ANCHOR: get
    let got = cache.get("config").expect("just stored");
    println!("config: get returned {got}");
    // ANCHOR_END: get
    drop(cache); // flushes the persistent tiers

    // ANCHOR: reopen
    // A new cache on the same folder: its memory tier starts empty, so what it finds
    // comes from disk.
    let cache: SmartCache<String, Value> = config().build()?;
    for (key, want) in &values {
        let (got, took, from) = answered(&cache, || cache.get(*key));
        match got {
            Some(value) => println!(
                "{key}: read back from {from} in a new cache in {}, equal: {}",
                ms(took),
                *value == *want
            ),
            None => println!(
                "{key}: not in the new cache (the memory tier lives and dies with its cache)"
            ),
        }
    }
    // ANCHOR_END: reopen

    // ANCHOR: settings
    let settings: SmartCache<String, Settings> = CacheConfig::default()
        .namespace("example-json-settings")
        .build()?;
    let want = Settings {
        values: BTreeMap::from([
            ("dark_mode".to_string(), Setting::Flag(true)),
            ("zoom".to_string(), Setting::Number(1.25)),
            ("theme".to_string(), Setting::Text("solarized".into())),
        ]),
    };
    let tier = settings.insert("alice".into(), want.clone())?;
    drop(settings);
    let settings: SmartCache<String, Settings> = CacheConfig::default()
        .namespace("example-json-settings")
        .build()?;
    let got = settings.get("alice").expect("stored in sled");
    println!(
        "settings: stored in {tier} as JSON, read back in a new cache, equal: {}",
        *got == want
    );
    // ANCHOR_END: settings
    Ok(())
}
