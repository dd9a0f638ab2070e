//! Images (feature `image`): `DynamicImage` of every pixel type and the common
//! `ImageBuffer`s round-trip through every tier, raw (LZ4 by default) and as PNG, and
//! across a process restart; sizes count the pixels.
#![cfg(feature = "image")]

use crate::common;

use common::*;
use image::{DynamicImage, ImageBuffer, Luma, LumaA, Pixel, Rgb, Rgba};
use smartcache::codec::ImagePixel;
use smartcache::prelude::*;

/// A pixel value that is a pure function of its position.
trait Sample: ImagePixel {
    fn at(x: u32, y: u32) -> Self;
}

macro_rules! samples {
    ($($pixel:ident<$sub:ty>: $n:literal => $f:expr;)*) => {$(
        impl Sample for $pixel<$sub> {
            fn at(x: u32, y: u32) -> Self {
                let f: fn(u32) -> $sub = $f;
                $pixel(std::array::from_fn::<$sub, $n, _>(|c| f(x * 7 + y * 13 + c as u32)))
            }
        }
    )*};
}

samples! {
    Luma<u8>: 1 => |i| i as u8;
    LumaA<u8>: 2 => |i| (i * 3) as u8;
    Rgb<u8>: 3 => |i| (i * 5) as u8;
    Rgba<u8>: 4 => |i| (i * 11) as u8;
    Luma<u16>: 1 => |i| (i * 257) as u16;
    LumaA<u16>: 2 => |i| (i * 131) as u16;
    Rgb<u16>: 3 => |i| (i * 1009) as u16;
    Rgba<u16>: 4 => |i| (i * 31) as u16;
    Rgb<f32>: 3 => |i| i as f32 / 7.0 - 3.0;
    Rgba<f32>: 4 => |i| (i as f32).sin();
}

fn picture<P: Sample>(width: u32, height: u32) -> ImageBuffer<P, Vec<P::Subpixel>> {
    ImageBuffer::from_fn(width, height, P::at)
}

/// Every pixel type, as a buffer and as a `DynamicImage`.
macro_rules! every_image {
    ($check:ident, $dir:expr, $tier:expr, $format:expr) => {{
        let (dir, tier, format) = ($dir, $tier, $format);
        $check!(dir, tier, format, "luma8", picture::<Luma<u8>>(19, 7));
        $check!(dir, tier, format, "rgb8", picture::<Rgb<u8>>(19, 7));
        $check!(dir, tier, format, "rgba8", picture::<Rgba<u8>>(19, 7));
        $check!(dir, tier, format, "luma16", picture::<Luma<u16>>(19, 7));
        $check!(dir, tier, format, "rgb32f", picture::<Rgb<f32>>(19, 7));
        $check!(
            dir,
            tier,
            format,
            "dyn-luma8",
            DynamicImage::from(picture::<Luma<u8>>(5, 3))
        );
        $check!(
            dir,
            tier,
            format,
            "dyn-lumaa8",
            DynamicImage::from(picture::<LumaA<u8>>(5, 3))
        );
        $check!(
            dir,
            tier,
            format,
            "dyn-rgb8",
            DynamicImage::from(picture::<Rgb<u8>>(5, 3))
        );
        $check!(
            dir,
            tier,
            format,
            "dyn-rgba8",
            DynamicImage::from(picture::<Rgba<u8>>(5, 3))
        );
        $check!(
            dir,
            tier,
            format,
            "dyn-luma16",
            DynamicImage::from(picture::<Luma<u16>>(5, 3))
        );
        $check!(
            dir,
            tier,
            format,
            "dyn-lumaa16",
            DynamicImage::from(picture::<LumaA<u16>>(5, 3))
        );
        $check!(
            dir,
            tier,
            format,
            "dyn-rgb16",
            DynamicImage::from(picture::<Rgb<u16>>(5, 3))
        );
        $check!(
            dir,
            tier,
            format,
            "dyn-rgba16",
            DynamicImage::from(picture::<Rgba<u16>>(5, 3))
        );
        $check!(
            dir,
            tier,
            format,
            "dyn-rgb32f",
            DynamicImage::from(picture::<Rgb<f32>>(5, 3))
        );
        $check!(
            dir,
            tier,
            format,
            "dyn-rgba32f",
            DynamicImage::from(picture::<Rgba<f32>>(5, 3))
        );
        $check!(
            dir,
            tier,
            format,
            "empty",
            DynamicImage::from(picture::<Rgb<u8>>(0, 0))
        );
    }};
}

fn image_config(dir: &std::path::Path, tier: Tier, format: ImageFormat) -> CacheConfig {
    config_for_tier(dir, tier)
        .image_format(format)
        .compression(Compression::Lz4)
        .namespace_prefix(format!("{tier:?}-{format:?}").to_lowercase())
}

macro_rules! round_trip {
    ($dir:expr, $tier:expr, $format:expr, $name:expr, $value:expr) => {{
        let value = $value;
        let cache = image_config($dir, $tier, $format).build().expect("build");
        assert_eq!(
            cache
                .insert($name.to_string(), value.clone())
                .expect("insert"),
            $tier
        );
        if $tier == Tier::Memory {
            assert_eq!(
                cache.get(&$name.to_string()).as_deref(),
                Some(&value),
                "{}",
                $name
            );
        } else {
            drop(cache);
            round_trip_stored!($dir, $tier, $format, $name, value);
        }
    }};
}

macro_rules! store {
    ($dir:expr, $tier:expr, $format:expr, $name:expr, $value:expr) => {{
        let cache = image_config($dir, $tier, $format).build().expect("build");
        cache.insert($name.to_string(), $value).expect("insert");
    }};
}

#[test]
fn every_image_round_trips_through_every_tier_and_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    for tier in TIERS {
        for format in [ImageFormat::Raw, ImageFormat::Png] {
            every_image!(round_trip, dir.path(), tier, format);
        }
    }
}

#[test]
fn child_image_writer() {
    let Some(dir) = child_role("image-writer") else {
        return;
    };
    for tier in [Tier::Sled, Tier::File] {
        for format in [ImageFormat::Raw, ImageFormat::Png] {
            every_image!(store, dir.as_path(), tier, format);
        }
    }
}

#[test]
fn images_written_by_one_process_are_read_by_the_next() {
    let dir = tempfile::tempdir().expect("tempdir");
    run_child("child_image_writer", "image-writer", dir.path(), &[]);
    for tier in [Tier::Sled, Tier::File] {
        for format in [ImageFormat::Raw, ImageFormat::Png] {
            every_image!(round_trip_stored, dir.path(), tier, format);
        }
    }
}

/// Checks that a new cache instance reads `$value` back, with nothing refused.
macro_rules! round_trip_stored {
    ($dir:expr, $tier:expr, $format:expr, $name:expr, $value:expr) => {{
        let value = $value;
        let cache = image_config($dir, $tier, $format).build().expect("reopen");
        let got = cache.try_get(&$name.to_string()).expect("read");
        let what = format!("{} {:?} {:?}", $name, $tier, $format);
        assert_eq!(got.as_deref(), Some(&value), "{what}");
        let stats = cache.stats();
        assert_eq!(
            stats.tier($tier).invalid + stats.tier($tier).errors,
            0,
            "{what}: {stats}"
        );
    }};
}
use round_trip_stored;

#[test]
fn png_entries_are_smaller_than_raw_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let flat = DynamicImage::from(ImageBuffer::from_pixel(256, 256, Rgb([200u8, 10, 10])));
    let mut sizes = Vec::new();
    for format in [ImageFormat::Raw, ImageFormat::Png] {
        let cache: SmartCache<u8, DynamicImage> = config_for_tier(dir.path(), Tier::File)
            .image_format(format)
            .namespace_prefix(format!("{format:?}").to_lowercase())
            .build()
            .expect("build");
        cache.insert(1, flat.clone()).expect("insert");
        sizes.push(cache.stats().file.bytes);
    }
    assert!(sizes[1] * 10 < sizes[0], "{sizes:?}");
}

#[test]
fn sizes_count_the_pixels() {
    let thumb = DynamicImage::from(picture::<Rgba<u8>>(16, 16));
    let photo = DynamicImage::from(picture::<Rgb<u8>>(4000, 3000));
    assert!(thumb.size_hint() >= 16 * 16 * 4);
    assert!(photo.size_hint() >= 4000 * 3000 * 3);
    let buffer = picture::<Luma<u16>>(100, 100);
    assert!(buffer.size_hint() >= 100 * 100 * 2);
    let cache: SmartCache<u8, DynamicImage> = CacheConfig::temporary().build().expect("build");
    assert_eq!(cache.route(&thumb), Tier::Memory);
    assert_eq!(cache.route(&photo), Tier::File);
    let _ = <Rgb<u8> as Pixel>::CHANNEL_COUNT;
}
