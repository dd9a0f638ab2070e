//! `configure_for::<T>()` returns a config tuned to T: what it picks for arrays, frames,
//! images, JSON, strings and a derived struct, and where each type's values go.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use smartcache::prelude::*;

/// What a test expects of a type's tuning.
fn picks<T: Cacheable>() -> (Placement, Compression, Option<String>) {
    let config = configure_for::<T>();
    (
        T::PLACEMENT,
        config.policy().compression(),
        config.policy().namespace_prefix().map(str::to_string),
    )
}

#[test]
fn strings_keep_the_defaults() {
    assert_eq!(
        picks::<String>(),
        (Placement::Auto, Compression::None, None)
    );
    assert_eq!(
        {
            let c = configure_for::<String>();
            (c.policy().memory_threshold(), c.policy().file_threshold())
        },
        (10 << 10, 1 << 20)
    );
}

#[derive(Clone, Serialize, Deserialize, Cacheable)]
#[cacheable(tier = "sled", ttl = "1h", version = 3)]
struct Report {
    title: String,
    rows: Vec<u32>,
}

#[test]
fn a_derived_struct_brings_its_tier_and_ttl() {
    assert_eq!(
        picks::<Report>(),
        (Placement::Pinned(Tier::Sled), Compression::None, None)
    );
    assert_eq!(
        configure_for::<Report>().policy().time_to_live(),
        Some(Duration::from_secs(3600))
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u8, Report> = configure_for::<Report>()
        .dir(dir.path())
        .build()
        .expect("build");
    let report = Report {
        title: "q3".into(),
        rows: vec![1, 2],
    };
    assert_eq!(cache.insert(1, report).expect("insert"), Tier::Sled);
}

#[cfg(feature = "ndarray")]
#[test]
fn arrays_are_raw_and_uncompressed_and_go_by_size() {
    use ndarray::Array2;
    assert_eq!(
        picks::<Array2<f64>>(),
        (Placement::Auto, Compression::None, Some("ndarray".into()))
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u8, Array2<f64>> = configure_for::<Array2<f64>>()
        .dir(dir.path())
        .build()
        .expect("build");
    assert!(
        cache.namespace().starts_with("ndarray-"),
        "{}",
        cache.namespace()
    );
    assert_eq!(
        cache.insert(1, Array2::zeros((2, 5))).expect("insert"),
        Tier::Memory
    );
    assert_eq!(
        cache
            .insert(2, Array2::zeros((1000, 1000)))
            .expect("insert"),
        Tier::File
    );
}

#[cfg(feature = "polars")]
#[test]
fn frames_are_arrow_ipc_and_uncompressed() {
    use polars::prelude::DataFrame;
    assert_eq!(
        picks::<DataFrame>(),
        (Placement::Auto, Compression::None, Some("polars".into()))
    );
}

#[cfg(feature = "image")]
#[test]
fn images_are_raw_pixels_with_lz4() {
    use image::DynamicImage;
    assert_eq!(
        picks::<DynamicImage>(),
        (Placement::Auto, Compression::Lz4, Some("image".into()))
    );
    assert_eq!(
        configure_for::<DynamicImage>().policy().image_format(),
        ImageFormat::Raw
    );
    assert_eq!(picks::<image::RgbImage>(), picks::<DynamicImage>());
}

#[cfg(feature = "json")]
#[test]
fn json_is_text_compressed_with_zstd() {
    assert_eq!(
        picks::<serde_json::Value>(),
        (Placement::Auto, Compression::Zstd(3), Some("json".into()))
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let cache: SmartCache<u8, serde_json::Value> = configure_for::<serde_json::Value>()
        .dir(dir.path())
        .build()
        .expect("build");
    assert!(
        cache.namespace().starts_with("json-"),
        "{}",
        cache.namespace()
    );
}

#[test]
fn a_bad_prefix_is_refused_with_the_fix() {
    let err = CacheConfig::temporary()
        .namespace_prefix("../up")
        .build::<u8, String>()
        .expect_err("refused");
    assert!(matches!(err, CacheError::InvalidNamespace { .. }), "{err}");
}
