//! `AnyCache`: values of many types in one cache, each routed by its own type and size,
//! persisted with its own codec, and read back as its type by later caches and other
//! processes; a wrong type is an error naming both, an unregistered type bound for disk is
//! refused, and a damaged entry is a miss.
#![cfg(feature = "ndarray")]

use crate::common;

use std::path::Path;

use common::*;
use ndarray::Array2;
use smartcache::prelude::*;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, Cacheable)]
#[cacheable(any, tag = "tests::Point")]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, Cacheable)]
#[cacheable(any, tier = "sled", tag = "tests::Note")]
struct Note {
    text: String,
}

/// A type no one registered.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, Cacheable)]
struct Unregistered(Vec<u8>);

fn open(dir: &Path) -> AnyCache<String> {
    AnyCache::with_config(config(dir)).expect("build")
}

fn big_array() -> Array2<f64> {
    Array2::from_shape_fn((1024, 1024), |(i, j)| (i * 1024 + j) as f64)
}

#[test]
fn each_value_goes_where_its_own_type_sends_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = open(dir.path());
    let point = Point { x: 1, y: -2 };
    assert_eq!(
        cache
            .insert("point".into(), Box::new(point.clone()))
            .unwrap(),
        Tier::Memory
    );
    assert_eq!(
        cache.insert("array".into(), Box::new(big_array())).unwrap(),
        Tier::File
    );
    let note = Note {
        text: "pinned to sled".into(),
    };
    assert_eq!(
        cache.insert("note".into(), Box::new(note.clone())).unwrap(),
        Tier::Sled
    );
    assert_eq!(
        cache
            .insert("name".into(), Box::new(String::from("ada")))
            .unwrap(),
        Tier::Memory
    );
    assert_eq!(cache.get_as::<Point>("point").as_deref(), Some(&point));
    assert_eq!(cache.get_as::<Note>("note").as_deref(), Some(&note));
    assert_eq!(
        cache.get_as::<Array2<f64>>("array").as_deref(),
        Some(&big_array())
    );
    assert_eq!(cache.tier_of("array"), Some(Tier::File));
    assert_eq!(cache.tier_of("note"), Some(Tier::Sled));

    // The wrong type: None from get_as, an error naming both types from try_get_as.
    assert_eq!(cache.get_as::<String>("point"), None);
    let err = cache
        .try_get_as::<String>("point")
        .expect_err("a Point is not a String");
    let message = err.to_string();
    assert!(matches!(err, CacheError::WrongType { .. }), "{err:?}");
    assert!(
        message.contains("Point") && message.contains("String"),
        "{message}"
    );
    assert_eq!(cache.try_get_as::<String>("absent").unwrap(), None);

    assert!(cache.remove("note").unwrap());
    assert_eq!(cache.get_as::<Note>("note"), None);
    cache.flush().unwrap();
    assert!(cache.stats().file.inserts >= 1, "{}", cache.stats());
    cache.clear().unwrap();
    assert_eq!(cache.get_as::<Array2<f64>>("array"), None);
    assert_eq!(cache.get_as::<Point>("point"), None);
}

#[test]
fn persisted_values_come_back_with_their_types_in_a_new_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let note = Note {
        text: "kept".into(),
    };
    {
        let cache = open(dir.path());
        cache.insert("array".into(), Box::new(big_array())).unwrap();
        cache.insert("note".into(), Box::new(note.clone())).unwrap();
        cache
            .insert("numbers".into(), Box::new(vec![1.5f64; 4096]))
            .unwrap();
    }
    let cache = open(dir.path());
    assert_eq!(
        cache.get_as::<Array2<f64>>("array").as_deref(),
        Some(&big_array())
    );
    assert_eq!(cache.get_as::<Note>("note").as_deref(), Some(&note));
    assert_eq!(
        cache.get_as::<Vec<f64>>("numbers").as_deref(),
        Some(&vec![1.5f64; 4096])
    );
    let stats = cache.stats();
    assert_eq!(stats.file.hits + stats.sled.hits, 3, "{stats}");

    // A walk lists values of every registered type, each read back as its own.
    let fresh = open(dir.path());
    let mut keys = fresh.as_smart_cache().keys().expect("keys");
    keys.sort();
    assert_eq!(keys, ["array", "note", "numbers"]);
    let values: std::collections::BTreeMap<String, _> =
        fresh.as_smart_cache().iter().expect("iter").collect();
    assert_eq!(values.len(), 3);
    assert_eq!(values["note"].downcast::<Note>().as_deref(), Some(&note));
    assert!(values["array"].downcast::<Array2<f64>>().is_some());
}

#[test]
fn an_unregistered_type_stays_in_memory_or_is_refused_for_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = open(dir.path());
    assert_eq!(
        cache
            .insert("small".into(), Box::new(Unregistered(vec![1; 8])))
            .unwrap(),
        Tier::Memory
    );
    let err = cache
        .insert("large".into(), Box::new(Unregistered(vec![1; 4 << 20])))
        .expect_err("no process could read it back");
    assert!(matches!(err, CacheError::NotRegistered { .. }), "{err:?}");
    assert!(err.to_string().contains("#[cacheable(any)]"), "{err}");
    assert!(smartcache::any::registered_types()
        .iter()
        .any(|name| name.ends_with("Point")));
}

#[test]
fn a_damaged_entry_is_a_miss() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = open(dir.path());
    cache.insert("array".into(), Box::new(big_array())).unwrap();
    let files = entry_files(&cache_dir(dir.path()));
    assert_eq!(files.len(), 1, "{files:?}");
    flip_bit(&files[0], 4096 + 17);
    let fresh = open(dir.path());
    assert_eq!(fresh.get_as::<Array2<f64>>("array"), None);
    assert_eq!(fresh.stats().file.invalid, 1, "{}", fresh.stats());
}

/// The process side of the test below: writes values of several types.
#[test]
fn child_any_writer() {
    let Some(dir) = child_role("any-writer") else {
        return;
    };
    let cache = open(&dir);
    cache.insert("array".into(), Box::new(big_array())).unwrap();
    cache
        .insert(
            "note".into(),
            Box::new(Note {
                text: "from the child".into(),
            }),
        )
        .unwrap();
    cache
        .insert("count".into(), Box::new(vec![7u64; 2048]))
        .unwrap();
    cache.flush().unwrap();
}

#[test]
fn another_process_reads_the_values_with_their_types() {
    let dir = tempfile::tempdir().expect("tempdir");
    run_child("child_any_writer", "any-writer", dir.path(), &[]);
    let cache = open(dir.path());
    assert_eq!(
        cache.get_as::<Array2<f64>>("array").as_deref(),
        Some(&big_array())
    );
    assert_eq!(
        cache.get_as::<Note>("note").map(|n| n.text.clone()),
        Some("from the child".to_string())
    );
    assert_eq!(
        cache.get_as::<Vec<u64>>("count").as_deref(),
        Some(&vec![7u64; 2048])
    );
}

/// A sound entry of a type this program does not register (another program wrote it, or
/// the type's `VERSION` changed: either way its header names a fingerprint this registry
/// lacks) is a foreign miss, counted and left in place.
#[test]
fn an_entry_of_a_type_this_program_does_not_register_is_a_foreign_miss() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = open(dir.path());
    cache
        .insert("numbers".into(), Box::new(vec![3u64; 1 << 20]))
        .unwrap();
    let files = entry_files(&cache_dir(dir.path()));
    assert_eq!(files.len(), 1, "{files:?}");
    // What another program's type writes: the same envelope under another fingerprint,
    // its header checksum sealed over it.
    let mut bytes = std::fs::read(&files[0]).unwrap();
    bytes[16..24].copy_from_slice(&0x5eed_0f07_e1a5_u64.to_le_bytes());
    let key_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    let head = 64 + key_len;
    let checksum = twox_hash::XxHash3_64::oneshot(&bytes[..head]);
    bytes[head..head + 8].copy_from_slice(&checksum.to_le_bytes());
    std::fs::write(&files[0], &bytes).unwrap();

    let fresh = open(dir.path());
    assert_eq!(fresh.get_as::<Vec<u64>>("numbers"), None);
    assert_eq!(fresh.stats().file.foreign, 1, "{}", fresh.stats());
    assert_eq!(fresh.stats().file.invalid, 0, "{}", fresh.stats());
    assert!(files[0].exists(), "another program's entry was removed");
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, Cacheable)]
enum Loaded {
    Table(Vec<(String, f64)>),
    Matrix(Array2<f64>),
}

static LOADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn memo_dir() -> std::path::PathBuf {
    static STORAGE: std::sync::LazyLock<std::path::PathBuf> =
        std::sync::LazyLock::new(|| static_storage("any"));
    STORAGE.clone()
}

/// A function that returns values of many types.
#[memoize(dir = memo_dir(), namespace = "any-load")]
fn load(what: u32) -> Box<dyn AnyCacheable> {
    LOADS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    match what {
        0 => Box::new(String::from("a label")),
        1 => Box::new(big_array()),
        _ => Box::new(Note {
            text: format!("note {what}"),
        }),
    }
}

/// The same with an enum of cacheable types.
#[memoize(dir = memo_dir(), namespace = "any-load-enum")]
fn load_enum(what: u32) -> Loaded {
    match what {
        0 => Loaded::Table(vec![("a".into(), 1.0)]),
        _ => Loaded::Matrix(big_array()),
    }
}

#[test]
fn memoize_caches_results_of_many_types() {
    use std::sync::atomic::Ordering::SeqCst;
    for round in 0..2 {
        let label = load(0);
        assert_eq!(
            label.downcast_ref::<String>().map(String::as_str),
            Some("a label")
        );
        assert_eq!(
            load(1).downcast_ref::<Array2<f64>>(),
            Some(&big_array()),
            "round {round}"
        );
        assert_eq!(
            load(7).downcast_ref::<Note>().map(|n| n.text.clone()),
            Some("note 7".to_string())
        );
    }
    assert_eq!(LOADS.load(SeqCst), 3, "a hit recomputed");
    // Each result went where its own type sends it.
    let cache = load_cache();
    assert_eq!(cache.tier_of(&1), Some(Tier::File));
    assert_eq!(cache.tier_of(&7), Some(Tier::Sled));
    assert_eq!(cache.tier_of(&0), Some(Tier::Memory));

    assert_eq!(load_enum(0), Loaded::Table(vec![("a".into(), 1.0)]));
    assert_eq!(load_enum(1), Loaded::Matrix(big_array()));
    assert_eq!(load_enum_cache().tier_of(&1), Some(Tier::File));
}

/// Inserts `value` into a cache that persists everything, and reads it back from disk in
/// a new cache.
fn from_disk<T: AnyCacheable + Clone>(dir: &Path, key: &str, value: T) -> Option<T> {
    let persist = || AnyCache::<String>::with_config(config(dir).persist_all(true)).expect("build");
    let tier = persist()
        .insert(key.into(), Box::new(value))
        .expect("insert");
    assert!(tier.is_persistent(), "{key} went to {tier}");
    persist().get_as::<T>(key).map(|v| (*v).clone())
}

#[test]
fn every_built_in_family_comes_back_from_disk() {
    use std::collections::{BTreeMap, HashMap};
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    assert_eq!(from_disk(d, "u8", 7u8), Some(7));
    assert_eq!(from_disk(d, "f64", 2.5f64), Some(2.5));
    assert_eq!(from_disk(d, "string", "s".to_string()), Some("s".into()));
    let map: HashMap<String, f64> = [("a".to_string(), 1.0)].into();
    assert_eq!(from_disk(d, "map", map.clone()), Some(map));
    let tree: BTreeMap<String, u64> = [("b".to_string(), 2)].into();
    assert_eq!(from_disk(d, "tree", tree.clone()), Some(tree));
    assert_eq!(
        from_disk(d, "pair", ("k".to_string(), 3u64)),
        Some(("k".to_string(), 3))
    );
    let cube = ndarray::Array3::<f32>::from_elem((4, 5, 6), 0.5);
    assert_eq!(from_disk(d, "cube", cube.clone()), Some(cube));
    #[cfg(feature = "polars")]
    {
        use polars::prelude::*;
        let frame =
            DataFrame::new(3, vec![Series::new("x".into(), [1i64, 2, 3]).into_column()]).unwrap();
        assert_eq!(from_disk(d, "frame", frame.clone()), Some(frame));
    }
    #[cfg(feature = "image")]
    {
        let picture = image::DynamicImage::new_rgb8(16, 9);
        assert_eq!(from_disk(d, "picture", picture.clone()), Some(picture));
    }
    #[cfg(feature = "json")]
    {
        let json = serde_json::json!({"a": [1, 2, {"b": null}]});
        assert_eq!(from_disk(d, "json", json.clone()), Some(json));
    }
}
