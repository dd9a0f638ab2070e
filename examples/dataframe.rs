//! polars frames (feature `polars`): where `DataFrame`s of three sizes go, reading them
//! back from disk in a new cache with their dtypes and nulls intact, and a memoized
//! function keyed by the content of the frame it is given.
//!
//! ```sh
//! cargo run --release --features polars --example dataframe
//! ```
//!
//! Storage goes to `$SMARTCACHE_DIR`, else the platform cache folder. Run it twice: the
//! second run finds the memoized result of the first.

mod common;

use common::{answered, ms};
use smartcache::polars::prelude::{ChunkAgg, DataFrame, IntoColumn, NamedFrom, Series};
use smartcache::prelude::*;

// ANCHOR: frame
/// A frame of `rows` sales: a string column, an integer column with nulls, a float column.
fn sales(rows: usize) -> DataFrame {
    let region: Vec<&str> = (0..rows)
        .map(|i| ["north", "south", "east", "west"][i % 4])
        .collect();
    let units: Vec<Option<i64>> = (0..rows as i64)
        .map(|i| (i % 10 != 3).then_some(i * 7919 % 1000))
        .collect();
    let price: Vec<f64> = (0..rows).map(|i| 1.0 + (i % 100) as f64 / 4.0).collect();
    let columns = vec![
        Series::new("region".into(), region).into_column(),
        Series::new("units".into(), units).into_column(),
        Series::new("price".into(), price).into_column(),
    ];
    DataFrame::new(rows, columns).expect("three columns of one length")
}
// ANCHOR_END: frame

// ANCHOR: memoize
/// The mean price of a frame. The frame is keyed by its content (schema and data), so a
/// frame with equal content is a hit, whoever built it.
#[memoize(tier = "sled", namespace = "example-dataframe-mean")]
fn mean_price(frame: &DataFrame) -> f64 {
    frame
        .column("price")
        .and_then(|c| c.f64().map(|p| p.mean().unwrap_or(0.0)))
        .unwrap_or(f64::NAN)
}
// ANCHOR_END: memoize

fn main() -> Result<(), CacheError> {
    // ANCHOR: build
    // The configuration tuned to frames (Arrow IPC, uncompressed), in a folder of its own.
    let config = || configure_for::<DataFrame>().namespace("example-dataframe");
    let cache: SmartCache<String, DataFrame> = config().build()?;
    // ANCHOR_END: build
    println!(
        "dataframe example: storage under {}",
        cache.path().map_or("-".into(), |p| p.display().to_string())
    );

    // ANCHOR: insert
    let frames = [
        ("small", sales(10)),      // a few hundred bytes: memory
        ("medium", sales(5_000)),  // about 100 KB: sled
        ("large", sales(200_000)), // about 4 MB: a file
    ];
    for (key, frame) in &frames {
        let tier = cache.insert(key.to_string(), frame.clone())?;
        println!(
            "{key}: stored a {} x {} DataFrame ({} bytes) in {tier}",
            frame.height(),
            frame.width(),
            frame.size_hint()
        );
    }
    // ANCHOR_END: insert

    // ANCHOR: get
    let got = cache.get("small").expect("just stored");
    println!("small: get returned\n{}", got.head(Some(3)));
    // ANCHOR_END: get
    drop(cache); // flushes the persistent tiers

    // ANCHOR: reopen
    // A new cache on the same folder: its memory tier starts empty, so what it finds
    // comes from disk. `mmap_reads` decodes large entries where the page cache holds them.
    let cache: SmartCache<String, DataFrame> = config().mmap_reads(true).build()?;
    for (key, want) in &frames {
        let (got, took, from) = answered(&cache, || cache.get(*key));
        match got {
            Some(frame) => println!(
                "{key}: read back from {from} in a new cache in {}, equal: {}",
                ms(took),
                frame.schema() == want.schema() && frame.equals_missing(want)
            ),
            None => println!(
                "{key}: not in the new cache (the memory tier lives and dies with its cache)"
            ),
        }
    }
    // ANCHOR_END: reopen

    // ANCHOR: memoize_call
    let (mean, cached) = mean_price_with_cached_flag(&frames[1].1);
    println!(
        "mean_price: {mean:.3}, {}",
        if cached {
            "a hit, keyed by the frame's content"
        } else {
            "computed and stored in sled"
        }
    );
    // ANCHOR_END: memoize_call
    Ok(())
}
