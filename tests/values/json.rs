//! `serde_json::Value` (feature `json`): round-trips through every tier and across a
//! process restart through the JSON codec; bincode cannot decode a `Value`, which is why
//! the type names the JSON codec; sizes count the tree's heap.
#![cfg(feature = "json")]

use crate::common;

use common::*;
use serde_json::{json, Value};
use smartcache::codec::{Bincode, Codec, Json};
use smartcache::prelude::*;

fn document(n: usize) -> Value {
    json!({
        "name": format!("doc-{n}"),
        "tags": ["a", "b", n],
        "score": n as f64 / 3.0,
        "nested": {"deep": {"deeper": [null, true, false, {"x": -1}]}},
        "big": u64::MAX,
        "text": "é ✓ \u{1F600} \"quoted\"",
    })
}

#[test]
fn bincode_cannot_decode_a_json_value() {
    let value = document(1);
    let mut bytes = Vec::new();
    <Bincode as Codec<Value>>::encode(&value, &mut bytes).expect("bincode encodes a Value");
    let back = <Bincode as Codec<Value>>::decode(&bytes);
    assert!(back.is_err(), "bincode decoded a Value: {back:?}");
    let mut text = Vec::new();
    <Json as Codec<Value>>::encode(&value, &mut text).expect("json encodes");
    assert_eq!(
        <Json as Codec<Value>>::decode(&text).expect("json decodes"),
        value
    );
}

#[test]
fn json_values_round_trip_through_every_tier() {
    let dir = tempfile::tempdir().expect("tempdir");
    for tier in TIERS {
        round_trip_in(dir.path(), tier, "doc", &document(7));
        round_trip_in(dir.path(), tier, "null", &Value::Null);
    }
}

#[test]
fn child_json_writer() {
    let Some(dir) = child_role("json-writer") else {
        return;
    };
    for tier in [Tier::Sled, Tier::File] {
        let cache: SmartCache<String, Value> = config_for_tier(&dir, tier).build().expect("build");
        cache.insert("doc".into(), document(3)).expect("insert");
    }
}

#[test]
fn json_values_written_by_one_process_are_read_by_the_next() {
    let dir = tempfile::tempdir().expect("tempdir");
    run_child("child_json_writer", "json-writer", dir.path(), &[]);
    for tier in [Tier::Sled, Tier::File] {
        expect_stored(dir.path(), tier, "doc", &document(3));
    }
}

#[test]
fn sizes_count_the_tree_and_route_by_it() {
    let small = json!({"a": 1});
    let big = Value::Array(
        (0..50_000)
            .map(|i| json!({"id": i, "name": "x".repeat(20)}))
            .collect(),
    );
    assert!(small.size_hint() < 1024, "{}", small.size_hint());
    assert!(big.size_hint() > 50_000 * 40, "{}", big.size_hint());
    let cache: SmartCache<u64, Value> = CacheConfig::temporary().build().expect("build");
    assert_eq!(cache.route(&small), Tier::Memory);
    assert_eq!(cache.route(&big), Tier::File);
    // A deeply nested value is sized without recursion.
    let mut deep = Value::Null;
    for _ in 0..5_000 {
        deep = Value::Array(vec![deep]);
    }
    assert!(deep.size_hint() > 5_000 * std::mem::size_of::<Value>());
}
