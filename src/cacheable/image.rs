//! [`Cacheable`] for images (feature `image`): `DynamicImage` and the `ImageBuffer`s of
//! every [`ImagePixel`] type (`RgbImage`, `RgbaImage`, `GrayImage`, 16-bit and float
//! buffers), stored by the [`Image`] codec as raw pixels or PNG.

use std::borrow::Cow;

use image::DynamicImage;

use crate::codec::{Image, ImageBuffer as Buffer, ImagePixel};
use crate::{CacheConfig, Cacheable, Compression};

/// Raw pixels compressed with LZ4 (cheap, and images often have flat areas), under a
/// namespace prefixed `image`. Choose [`ImageFormat::Png`](crate::ImageFormat::Png) for
/// smaller entries at more CPU.
fn image_config() -> CacheConfig {
    CacheConfig::default()
        .namespace_prefix("image")
        .compression(Compression::Lz4)
}

impl<P: ImagePixel> Cacheable for Buffer<P> {
    type Codec = Image;

    /// The pixel bytes, plus the buffer's own struct.
    fn size_hint(&self) -> usize {
        std::mem::size_of_val(self.as_raw().as_slice()) + std::mem::size_of::<Self>()
    }

    fn type_tag() -> Cow<'static, str> {
        Cow::Owned(format!("image::ImageBuffer<{}>", P::NAME))
    }

    fn default_config() -> CacheConfig {
        image_config()
    }
}

impl Cacheable for DynamicImage {
    type Codec = Image;

    /// The pixel bytes, plus the image's own struct.
    fn size_hint(&self) -> usize {
        self.as_bytes().len() + std::mem::size_of::<Self>()
    }

    fn type_tag() -> Cow<'static, str> {
        Cow::Borrowed("image::DynamicImage")
    }

    fn default_config() -> CacheConfig {
        image_config()
    }
}
