//! Arrays (feature `ndarray`): where arrays of three sizes go, reading them back from
//! disk in a new cache, viewing a large one in place with `get_mapped`, and a memoized
//! function keyed by the content of the array it is given.
//!
//! ```sh
//! cargo run --release --features ndarray --example ndarray
//! ```
//!
//! Storage goes to `$SMARTCACHE_DIR`, else the platform cache folder. Run it twice: the
//! second run finds the memoized result of the first.

mod common;

use std::time::Instant;

use common::{answered, ms};
use smartcache::ndarray::{Array2, Array3};
use smartcache::prelude::*;

// ANCHOR: memoize
/// Scales each column to a mean of 0 and a standard deviation of 1. The argument is
/// keyed by its content (type, shape and data), as joblib keys numpy arrays.
#[memoize(tier = "file", namespace = "example-ndarray-standardized")]
fn standardized(x: &Array2<f64>) -> Array2<f64> {
    let mean = x.mean_axis(smartcache::ndarray::Axis(0)).expect("rows");
    let std = x.std_axis(smartcache::ndarray::Axis(0), 0.0);
    (x - &mean) / &std.mapv(|s| if s == 0.0 { 1.0 } else { s })
}
// ANCHOR_END: memoize

fn main() -> Result<(), CacheError> {
    // ANCHOR: build
    // The configuration tuned to arrays (no compression: raw reads are the fast path),
    // in a folder of its own.
    let config = || configure_for::<Array2<f64>>().namespace("example-ndarray");
    let cache: SmartCache<String, Array2<f64>> = config().build()?;
    // ANCHOR_END: build
    println!(
        "ndarray example: storage under {}",
        cache.path().map_or("-".into(), |p| p.display().to_string())
    );

    // ANCHOR: insert
    let small = Array2::from_elem((4, 4), 1.0); // 128 bytes of data: memory
    let medium = Array2::from_shape_fn((128, 128), |(i, j)| (i * j) as f64); // 128 KiB: sled
    let large = Array2::from_shape_fn((1024, 1024), |(i, j)| (i + j) as f64); // 8 MiB: a file
    for (key, array) in [("small", &small), ("medium", &medium), ("large", &large)] {
        let tier = cache.insert(key.to_string(), array.clone())?;
        println!(
            "{key}: stored a {:?} Array2<f64> ({} bytes) in {tier}",
            array.shape(),
            array.size_hint()
        );
    }
    // ANCHOR_END: insert

    // ANCHOR: get
    let got = cache.get("large").expect("just stored");
    assert_eq!(*got, large);
    // ANCHOR_END: get
    println!("large: get returned the same array (sum {})", got.sum());
    drop(cache); // flushes the persistent tiers

    // ANCHOR: reopen
    // A new cache on the same folder: its memory tier starts empty, so what it finds
    // comes from disk.
    let cache: SmartCache<String, Array2<f64>> = config().build()?;
    for (key, want) in [("small", &small), ("medium", &medium), ("large", &large)] {
        let (got, took, from) = answered(&cache, || cache.get(key));
        match got {
            Some(array) => println!(
                "{key}: read back from {from} in a new cache in {}, equal: {}",
                ms(took),
                *array == *want
            ),
            None => println!(
                "{key}: not in the new cache (the memory tier lives and dies with its cache)"
            ),
        }
    }
    // ANCHOR_END: reopen

    // ANCHOR: mapped
    // A file-tier array viewed in place: an open, a header check and a memory map,
    // whatever the array's size. No copy of the data is made.
    // The first map of an entry in a process also checks its payload checksum.
    for time in ["first", "second"] {
        let start = Instant::now();
        let mapped = cache.get_mapped("large")?.expect("large is in a file");
        let took = start.elapsed();
        println!(
            "large: get_mapped viewed {:?} in place, {time} time in {} (sum {})",
            mapped.shape(),
            ms(took),
            mapped.view().sum()
        );
    }
    // Arrays in memory or sled have no file to map: the error says to use get.
    if let Err(e) = cache.get_mapped("medium") {
        println!("medium: get_mapped refused: {e}");
    }
    // ANCHOR_END: mapped

    // ANCHOR: dimensions
    // Every element type and dimension has its own cache type.
    let frames: SmartCache<u32, Array3<u8>> = configure_for::<Array3<u8>>()
        .namespace("example-ndarray-frames")
        .build()?;
    let stack = Array3::from_shape_fn((16, 64, 64), |(f, y, x)| (f + y + x) as u8);
    let tier = frames.insert(1, stack)?;
    println!("frames: stored a [16, 64, 64] Array3<u8> in {tier}");
    // ANCHOR_END: dimensions

    // ANCHOR: memoize_call
    let (result, cached) = standardized_with_cached_flag(&medium);
    println!(
        "standardized: {} ({} columns)",
        if cached {
            "a hit, keyed by the array's content"
        } else {
            "computed and stored in a file"
        },
        result.ncols()
    );
    // ANCHOR_END: memoize_call
    Ok(())
}
