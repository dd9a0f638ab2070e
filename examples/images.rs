//! Images (feature `image`): where images of three sizes go, reading them back from disk
//! in a new cache pixel for pixel, and what PNG saves on disk against raw pixels.
//!
//! ```sh
//! cargo run --release --features image --example images
//! ```
//!
//! Storage goes to `$SMARTCACHE_DIR`, else the platform cache folder.

mod common;

use std::time::Instant;

use common::{answered, ms};
use smartcache::image::{DynamicImage, Rgb, RgbImage, Rgba, RgbaImage};
use smartcache::prelude::*;

// ANCHOR: pictures
/// An RGB picture of `width` × `height`: gradients with some texture.
fn picture(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, ((x ^ y) % 256) as u8])
    }))
}

/// An RGBA poster of `width` × `height`, with an alpha channel.
fn poster(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgba8(RgbaImage::from_fn(width, height, |x, y| {
        Rgba([(x / 8 % 256) as u8, (y / 8 % 256) as u8, 128, 255])
    }))
}
// ANCHOR_END: pictures

fn main() -> Result<(), CacheError> {
    // ANCHOR: build
    // The configuration tuned to images (raw pixels, LZ4), in a folder of its own.
    let config = || configure_for::<DynamicImage>().namespace("example-images");
    let cache: SmartCache<String, DynamicImage> = config().build()?;
    // ANCHOR_END: build
    println!(
        "images example: storage under {}",
        cache.path().map_or("-".into(), |p| p.display().to_string())
    );

    // ANCHOR: insert
    let images = [
        ("thumbnail", picture(32, 32)), // 3 KiB of pixels: memory
        ("photo", picture(512, 384)),   // 576 KiB: sled
        ("poster", poster(2048, 1024)), // 8 MiB: a file
    ];
    for (key, image) in &images {
        let tier = cache.insert(key.to_string(), image.clone())?;
        println!(
            "{key}: stored a {}x{} {:?} image ({} bytes) in {tier}",
            image.width(),
            image.height(),
            image.color(),
            image.size_hint()
        );
    }
    // ANCHOR_END: insert

    // ANCHOR: get
    let got = cache.get("thumbnail").expect("just stored");
    assert_eq!(got.as_bytes(), images[0].1.as_bytes());
    // ANCHOR_END: get
    println!("thumbnail: get returned the same pixels");
    drop(cache); // flushes the persistent tiers

    // ANCHOR: reopen
    // A new cache on the same folder: its memory tier starts empty, so what it finds
    // comes from disk.
    let cache: SmartCache<String, DynamicImage> = config().build()?;
    for (key, want) in &images {
        let (got, took, from) = answered(&cache, || cache.get(*key));
        match got {
            Some(image) => println!(
                "{key}: read back from {from} in a new cache in {}, same pixels: {}",
                ms(took),
                image.color() == want.color() && image.as_bytes() == want.as_bytes()
            ),
            None => println!(
                "{key}: not in the new cache (the memory tier lives and dies with its cache)"
            ),
        }
    }
    // ANCHOR_END: reopen

    // ANCHOR: png
    // The same poster in files as raw pixels (LZ4) and as PNG: PNG is smaller, and
    // slower to write and read.
    for (name, format) in [("raw", ImageFormat::Raw), ("png", ImageFormat::Png)] {
        let files: SmartCache<String, DynamicImage> = configure_for::<DynamicImage>()
            .namespace(format!("example-images-{name}"))
            .image_format(format)
            .tier(Tier::File)
            .build()?;
        let start = Instant::now();
        files.insert("poster".into(), images[2].1.clone())?;
        let took = start.elapsed();
        println!(
            "poster as {name}: {} bytes on disk, written in {}",
            files.stats().file.bytes,
            ms(took)
        );
    }
    // ANCHOR_END: png

    // ANCHOR: buffers
    // Image buffers of every pixel type are cacheable too, each its own cache type.
    let gray: SmartCache<u32, smartcache::image::GrayImage> =
        configure_for::<smartcache::image::GrayImage>()
            .namespace("example-images-gray")
            .build()?;
    let mask = smartcache::image::GrayImage::from_fn(256, 256, |x, y| {
        smartcache::image::Luma([if (x / 32 + y / 32) % 2 == 0 { 255 } else { 0 }])
    });
    println!(
        "mask: stored a 256x256 GrayImage in {}",
        gray.insert(1, mask)?
    );
    // ANCHOR_END: buffers
    Ok(())
}
