//! `AnyCache`: values of many types in one cache, each routed by its own type and size,
//! persisted with its own codec, and read back as its type by later caches and other
//! processes; a wrong type is an error naming both, an unregistered type bound for disk is
//! refused, and a damaged entry is a miss.
#![cfg(feature = "ndarray")]

mod common;

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
    assert_eq!(cache.get_as::<Point, _>("point").as_deref(), Some(&point));
    assert_eq!(cache.get_as::<Note, _>("note").as_deref(), Some(&note));
    assert_eq!(
        cache.get_as::<Array2<f64>, _>("array").as_deref(),
        Some(&big_array())
    );
    assert_eq!(cache.tier_of("array"), Some(Tier::File));
    assert_eq!(cache.tier_of("note"), Some(Tier::Sled));

    // The wrong type: None from get_as, an error naming both types from try_get_as.
    assert_eq!(cache.get_as::<String, _>("point"), None);
    let err = cache
        .try_get_as::<String, _>("point")
        .expect_err("a Point is not a String");
    let message = err.to_string();
    assert!(matches!(err, CacheError::WrongType { .. }), "{err:?}");
    assert!(
        message.contains("Point") && message.contains("String"),
        "{message}"
    );
    assert_eq!(cache.try_get_as::<String, _>("absent").unwrap(), None);

    assert!(cache.remove("note").unwrap());
    assert_eq!(cache.get_as::<Note, _>("note"), None);
    cache.flush().unwrap();
    assert!(cache.stats().file.inserts >= 1, "{}", cache.stats());
    cache.clear().unwrap();
    assert_eq!(cache.get_as::<Array2<f64>, _>("array"), None);
    assert_eq!(cache.get_as::<Point, _>("point"), None);
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
        cache.get_as::<Array2<f64>, _>("array").as_deref(),
        Some(&big_array())
    );
    assert_eq!(cache.get_as::<Note, _>("note").as_deref(), Some(&note));
    assert_eq!(
        cache.get_as::<Vec<f64>, _>("numbers").as_deref(),
        Some(&vec![1.5f64; 4096])
    );
    let stats = cache.stats();
    assert_eq!(stats.file.hits + stats.sled.hits, 3, "{stats}");
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
    assert_eq!(fresh.get_as::<Array2<f64>, _>("array"), None);
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
        cache.get_as::<Array2<f64>, _>("array").as_deref(),
        Some(&big_array())
    );
    assert_eq!(
        cache.get_as::<Note, _>("note").map(|n| n.text.clone()),
        Some("from the child".to_string())
    );
    assert_eq!(
        cache.get_as::<Vec<u64>, _>("count").as_deref(),
        Some(&vec![7u64; 2048])
    );
}
