//! ndarray arrays (feature `ndarray`): every element type and every dimension round-trips
//! through the memory, sled and file tiers, and across a process restart (a child
//! process writes, this one reads); non-standard layouts come back equal; `Auto` routing
//! follows the data's size; foreign and damaged array payloads are misses.
#![cfg(feature = "ndarray")]

use crate::common;

use common::*;
use ndarray::{
    s, Array, Array0, Array1, Array2, Array3, Array4, Array5, Array6, ArrayD, Dimension, IxDyn,
};
use smartcache::codec::Element;
use smartcache::prelude::*;

/// An element value that is a pure function of its index.
trait Sample: Element + PartialEq + std::fmt::Debug {
    fn at(i: usize) -> Self;
}

macro_rules! sample_numbers {
    ($($t:ty),*) => {$(
        impl Sample for $t {
            fn at(i: usize) -> Self {
                (i % 97) as $t
            }
        }
    )*};
}
sample_numbers!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);

impl Sample for bool {
    fn at(i: usize) -> Self {
        i.is_multiple_of(3)
    }
}

fn array<A: Sample, D: Dimension>(shape: D) -> Array<A, D> {
    let n = shape.size();
    Array::from_shape_vec(shape, (0..n).map(A::at).collect()).expect("shape fits")
}

/// Runs `$check!(dir, tier, name, value)` for one array of every element type (2-D) and
/// of every dimension (f64), and for arrays in non-standard layouts.
macro_rules! every_array {
    ($check:ident, $dir:expr, $tier:expr) => {{
        let (dir, tier) = ($dir, $tier);
        $check!(dir, tier, "u8", array::<u8, _>(ndarray::Dim([3, 5])));
        $check!(dir, tier, "u16", array::<u16, _>(ndarray::Dim([3, 5])));
        $check!(dir, tier, "u32", array::<u32, _>(ndarray::Dim([3, 5])));
        $check!(dir, tier, "u64", array::<u64, _>(ndarray::Dim([3, 5])));
        $check!(dir, tier, "u128", array::<u128, _>(ndarray::Dim([3, 5])));
        $check!(dir, tier, "usize", array::<usize, _>(ndarray::Dim([3, 5])));
        $check!(dir, tier, "i8", array::<i8, _>(ndarray::Dim([3, 5])));
        $check!(dir, tier, "i16", array::<i16, _>(ndarray::Dim([3, 5])));
        $check!(dir, tier, "i32", array::<i32, _>(ndarray::Dim([3, 5])));
        $check!(dir, tier, "i64", array::<i64, _>(ndarray::Dim([3, 5])));
        $check!(dir, tier, "i128", array::<i128, _>(ndarray::Dim([3, 5])));
        $check!(dir, tier, "isize", array::<isize, _>(ndarray::Dim([3, 5])));
        $check!(dir, tier, "f32", array::<f32, _>(ndarray::Dim([3, 5])));
        $check!(dir, tier, "f64", array::<f64, _>(ndarray::Dim([3, 5])));
        $check!(dir, tier, "bool", array::<bool, _>(ndarray::Dim([3, 5])));
        $check!(dir, tier, "ix0", Array0::from_elem((), 2.5f64));
        $check!(dir, tier, "ix1", array::<f64, _>(ndarray::Dim([7])));
        $check!(dir, tier, "ix3", array::<f64, _>(ndarray::Dim([2, 3, 4])));
        $check!(dir, tier, "ix4", array::<f64, _>(ndarray::Dim([2, 1, 3, 2])));
        $check!(dir, tier, "ix5", array::<f64, _>(ndarray::Dim([1, 2, 1, 3, 2])));
        $check!(dir, tier, "ix6", array::<f64, _>(ndarray::Dim([2, 1, 2, 1, 2, 3])));
        $check!(dir, tier, "ixdyn", array::<f64, _>(IxDyn(&[2, 3, 1, 4])));
        $check!(dir, tier, "ixdyn-empty", ArrayD::<i16>::zeros(IxDyn(&[3, 0, 2])));
        $check!(dir, tier, "transposed", array::<f32, _>(ndarray::Dim([4, 6])).reversed_axes());
        $check!(dir, tier, "sliced", array::<i64, _>(ndarray::Dim([9, 8])).slice_move(s![1..8;3, 2..]));
        $check!(dir, tier, "negative-strides", array::<u16, _>(ndarray::Dim([5, 4])).slice_move(s![..;-1, ..;-2]));
        $check!(dir, tier, "fortran", {
            let c = array::<f64, _>(ndarray::Dim([3, 4, 2]));
            let mut f = Array3::<f64>::zeros(ndarray::ShapeBuilder::f((3, 4, 2)));
            f.assign(&c);
            f
        });
    }};
}

macro_rules! round_trip {
    ($dir:expr, $tier:expr, $name:expr, $value:expr) => {{
        let value = $value;
        round_trip_in($dir, $tier, $name, &value);
    }};
}

macro_rules! store {
    ($dir:expr, $tier:expr, $name:expr, $value:expr) => {{
        let cache = config_for_tier($dir, $tier).build().expect("build");
        assert_eq!(
            cache.insert($name.to_string(), $value).expect("insert"),
            $tier
        );
    }};
}

macro_rules! expect {
    ($dir:expr, $tier:expr, $name:expr, $value:expr) => {{
        let value = $value;
        expect_stored($dir, $tier, $name, &value);
    }};
}

#[test]
fn every_array_round_trips_through_every_tier() {
    let dir = tempfile::tempdir().expect("tempdir");
    for tier in TIERS {
        every_array!(round_trip, dir.path(), tier);
    }
}

#[test]
fn child_array_writer() {
    let Some(dir) = child_role("array-writer") else {
        return;
    };
    for tier in [Tier::Sled, Tier::File] {
        every_array!(store, dir.as_path(), tier);
    }
}

#[test]
fn arrays_written_by_one_process_are_read_by_the_next() {
    let dir = tempfile::tempdir().expect("tempdir");
    run_child("child_array_writer", "array-writer", dir.path(), &[]);
    for tier in [Tier::Sled, Tier::File] {
        every_array!(expect, dir.path(), tier);
    }
}

#[test]
fn auto_routing_follows_the_data_size() {
    let cache: SmartCache<u64, Array1<f64>> =
        SmartCache::with_config(CacheConfig::temporary()).expect("build");
    assert_eq!(cache.route(&Array1::zeros(10)), Tier::Memory);
    assert_eq!(cache.route(&Array1::zeros(10_000)), Tier::Sled);
    let big: Array2<f64> = Array2::zeros((12_500, 1_000)); // 100 MB, never touched
    let cache2: SmartCache<u64, Array2<f64>> =
        SmartCache::with_config(CacheConfig::temporary()).expect("build");
    assert_eq!(cache2.route(&big), Tier::File);
    assert!(big.size_hint() >= 100_000_000);
}

fn _dimension_types_are_cacheable(
    _: SmartCache<u8, Array0<u8>>,
    _: SmartCache<u8, Array4<u8>>,
    _: SmartCache<u8, Array5<u8>>,
    _: SmartCache<u8, Array6<u8>>,
) {
}

#[test]
fn an_array_is_not_read_as_another_element_type_or_dimension() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = || config_for_tier(dir.path(), Tier::File).namespace("shared");
    let f64s: SmartCache<String, Array2<f64>> = config().build().expect("build");
    f64s.insert("a".into(), array(ndarray::Dim([2, 2])))
        .expect("insert");
    let f32s: SmartCache<String, Array2<f32>> = config().build().expect("build");
    assert_eq!(f32s.get("a"), None);
    assert_eq!(f32s.stats().file.foreign, 1, "{}", f32s.stats());
    let three: SmartCache<String, Array3<f64>> = config().build().expect("build");
    assert_eq!(three.get("a"), None);
    assert_eq!(three.stats().file.foreign, 1, "{}", three.stats());
    // The refused entry stays for its own type (read by a new cache: from the file).
    drop(f64s);
    let again: SmartCache<String, Array2<f64>> = config().build().expect("build");
    assert_eq!(
        again.get("a").as_deref(),
        Some(&array(ndarray::Dim([2, 2])))
    );
    assert_eq!(again.stats().file.hits, 1, "{}", again.stats());
}

#[test]
fn a_damaged_array_is_a_miss() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<String, Array2<f64>> = config_for_tier(dir.path(), Tier::File)
        .build()
        .expect("build");
    cache
        .insert("a".into(), array(ndarray::Dim([64, 64])))
        .expect("insert");
    let path = common::file_of(&cache, "a".to_string());
    drop(cache);
    let len = std::fs::metadata(&path).expect("entry").len() as usize;
    flip_bit(&path, len - 100);
    let cache: SmartCache<String, Array2<f64>> = config_for_tier(dir.path(), Tier::File)
        .build()
        .expect("reopen");
    assert_eq!(cache.get("a"), None);
    assert_eq!(cache.stats().file.invalid, 1, "{}", cache.stats());
}

mod mapped {
    use super::*;

    fn file_cache(dir: &std::path::Path) -> SmartCache<String, Array2<f64>> {
        config_for_tier(dir, Tier::File).build().expect("build")
    }

    #[test]
    fn a_mapped_hit_views_the_stored_array() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = file_cache(dir.path());
        let value: Array2<f64> = array(ndarray::Dim([300, 200]));
        cache.insert("a".into(), value.clone()).expect("insert");
        for _ in 0..3 {
            let mapped = cache.get_mapped("a").expect("read").expect("hit");
            assert_eq!(mapped.view(), value.view());
            assert_eq!(mapped.shape(), &[300, 200]);
        }
        assert!(cache.get_mapped("b").expect("read").is_none());
        let stats = cache.stats();
        assert_eq!((stats.file.hits, stats.file.misses), (3, 1), "{stats}");
        // A fresh instance maps what the first one wrote, in any layout it was given.
        let other: SmartCache<String, Array3<i32>> = config_for_tier(dir.path(), Tier::File)
            .build()
            .expect("build");
        let odd = array::<i32, _>(ndarray::Dim([3, 4, 5])).reversed_axes();
        other.insert("odd".into(), odd.clone()).expect("insert");
        let mapped = other.get_mapped("odd").expect("read").expect("hit");
        assert_eq!(mapped.view(), odd.view());
        assert_eq!(mapped.to_owned(), odd);
    }

    #[test]
    fn a_mapping_outlives_replacement_and_removal_of_its_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = file_cache(dir.path());
        let first: Array2<f64> = Array2::from_elem((50, 50), 1.0);
        cache.insert("a".into(), first.clone()).expect("insert");
        let mapped = cache.get_mapped("a").expect("read").expect("hit");
        cache
            .insert("a".into(), Array2::from_elem((50, 50), 2.0))
            .expect("replace");
        assert_eq!(mapped.view(), first.view());
        let again = cache.get_mapped("a").expect("read").expect("hit");
        assert_eq!(again.view()[[0, 0]], 2.0);
        cache.remove("a").expect("remove");
        assert_eq!(again.view()[[49, 49]], 2.0);
        assert!(cache.get_mapped("a").expect("read").is_none());
    }

    #[test]
    fn a_damaged_entry_is_a_mapped_miss_and_is_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = file_cache(dir.path());
        cache
            .insert("a".into(), array(ndarray::Dim([128, 64])))
            .expect("insert");
        let path = common::file_of(&cache, "a".to_string());
        let len = std::fs::metadata(&path).expect("entry").len() as usize;
        flip_bit(&path, len - 8);
        // A new process-wide identity: the damaged file was rewritten in place by
        // flip_bit, but its checksum was never checked in this process.
        assert!(cache.get_mapped("a").expect("read").is_none());
        assert_eq!(cache.stats().file.invalid, 1, "{}", cache.stats());
        assert!(!path.exists(), "the damaged entry is removed");
        // A truncated entry too.
        cache
            .insert("b".into(), array(ndarray::Dim([16, 16])))
            .expect("insert");
        let path = common::file_of(&cache, "b".to_string());
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open");
        file.set_len(200).expect("truncate");
        assert!(cache.get_mapped("b").expect("read").is_none());
        assert_eq!(cache.stats().file.invalid, 2, "{}", cache.stats());
    }

    #[test]
    fn compressed_entries_are_refused_with_a_fix() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache: SmartCache<String, Array2<f64>> = config_for_tier(dir.path(), Tier::File)
            .compression(Compression::Lz4)
            .build()
            .expect("build");
        cache
            .insert("a".into(), Array2::zeros((8, 8)))
            .expect("insert");
        let err = cache.get_mapped("a").expect_err("refused");
        assert!(matches!(err, CacheError::NotMappable { .. }), "{err:?}");
        assert!(err.to_string().contains("Compression::None"), "{err}");
        // The entry itself is fine and stays readable.
        assert_eq!(cache.get("a").as_deref(), Some(&Array2::zeros((8, 8))));
    }

    #[test]
    fn an_array_outside_the_file_tier_is_not_mappable_and_says_what_to_do() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache: SmartCache<String, Array2<f64>> =
            config(dir.path()).build().expect("build an Auto cache");
        let small = Array2::from_elem((4, 4), 1.0); // memory
        let medium = Array2::from_elem((64, 64), 2.0); // 32 KiB: sled
        assert_eq!(
            cache.insert("small".into(), small.clone()).expect("insert"),
            Tier::Memory
        );
        assert_eq!(
            cache
                .insert("medium".into(), medium.clone())
                .expect("insert"),
            Tier::Sled
        );
        for (name, value) in [("small", &small), ("medium", &medium)] {
            let err = cache.get_mapped(name).expect_err("not in a file");
            assert!(matches!(err, CacheError::NotMappable { .. }), "{err:?}");
            assert!(err.to_string().contains("get"), "{err}");
            assert_eq!(cache.get(name).as_deref(), Some(value));
        }
        assert!(cache.get_mapped("absent").expect("a miss").is_none());
    }
}

/// Peak resident memory of this process, from `/proc/self/status`.
#[cfg(target_os = "linux")]
fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .expect("VmHWM");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .expect("value")
        .parse()
        .expect("number");
    kib * 1024
}

const BIG_SIDE: usize = 2048; // 2048 × 2048 f64 = 32 MiB

#[cfg(target_os = "linux")]
#[test]
fn child_big_array_reader() {
    let Some(dir) = child_role("big-array-reader") else {
        return;
    };
    let cache: SmartCache<String, Array2<f64>> =
        config_for_tier(&dir, Tier::File).build().expect("build");
    // A first, small get runs the same code: what it faults in is not the array's cost.
    assert!(cache.get(&"small".to_string()).is_some());
    let before = peak_rss_bytes();
    let array = cache.get(&"big".to_string()).expect("hit");
    let grown = peak_rss_bytes() - before;
    let size = (BIG_SIDE * BIG_SIDE * 8) as u64;
    assert_eq!(
        array[[BIG_SIDE - 1, BIG_SIDE - 1]],
        (BIG_SIDE * BIG_SIDE - 1) as f64
    );
    // One copy of the array, plus small buffers: never a second copy.
    assert!(
        grown < size + size / 4,
        "peak grew by {grown} bytes for a {size}-byte array"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn decoding_a_large_array_holds_one_copy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<String, Array2<f64>> = config_for_tier(dir.path(), Tier::File)
        .build()
        .expect("build");
    let big = Array2::from_shape_fn((BIG_SIDE, BIG_SIDE), |(i, j)| (i * BIG_SIDE + j) as f64);
    cache.insert("big".into(), big).expect("insert");
    cache
        .insert("small".into(), Array2::zeros((4, 4)))
        .expect("insert");
    drop(cache);
    run_child(
        "child_big_array_reader",
        "big-array-reader",
        dir.path(),
        &[],
    );
}
