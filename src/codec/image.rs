//! The codec of images (feature `image`): `DynamicImage` and `ImageBuffer`s of the
//! standard pixel types, stored as raw pixels or as PNG
//! ([`ImageFormat`](crate::ImageFormat), from the cache's config).
//!
//! ```text
//! byte 0      form: 0 raw pixels, 1 PNG
//! byte 1      pixel type code (see ImagePixel::CODE)
//! bytes 2..8  zero
//! u32 LE      width
//! u32 LE      height
//! data        raw: every subpixel, little-endian, row by row; PNG: a PNG file
//! ```

use std::io::{Cursor, Read, Write};

use ::image::codecs::png::{PngDecoder, PngEncoder};
use ::image::{
    DynamicImage, ImageBuffer, ImageEncoder, Luma, LumaA, Pixel, PixelWithColorType, Rgb, Rgba,
};

use super::{pod, Codec, CodecError, CodecOptions};
use crate::ImageFormat;

/// The codec of images: raw pixels behind a small header, or PNG.
#[derive(Clone, Copy, Debug, Default)]
pub struct Image;

const FORM_RAW: u8 = 0;
const FORM_PNG: u8 = 1;
const HEADER_LEN: usize = 16;

/// An image buffer of pixel type `P`.
pub type Buffer<P> = ImageBuffer<P, Vec<<P as Pixel>::Subpixel>>;

mod sealed {
    pub trait Sealed {}
}

/// A pixel type that images can be cached with: `Luma`, `LumaA`, `Rgb` and `Rgba` of
/// `u8` and `u16`, and `Rgb` and `Rgba` of `f32` — the pixel types of `DynamicImage`.
pub trait ImagePixel:
    Pixel<Subpixel: bytemuck::Pod + Send + Sync>
    + PixelWithColorType
    + Send
    + Sync
    + 'static
    + sealed::Sealed
{
    /// The pixel type's code in the image header.
    #[doc(hidden)]
    const CODE: u8;
    /// The pixel type's name, in type tags and messages.
    #[doc(hidden)]
    const NAME: &'static str;
    /// Whether PNG can hold this pixel type.
    #[doc(hidden)]
    const PNG: bool;

    /// The buffer inside `image`, when it holds this pixel type.
    #[doc(hidden)]
    fn from_dynamic(image: DynamicImage) -> Option<Buffer<Self>>;

    /// The buffer as a `DynamicImage`.
    #[doc(hidden)]
    fn into_dynamic(buffer: Buffer<Self>) -> DynamicImage;
}

macro_rules! pixels {
    ($($pixel:ty => $code:expr, $name:literal, $variant:ident, $png:expr;)*) => {
        $(
            impl sealed::Sealed for $pixel {}
            impl ImagePixel for $pixel {
                const CODE: u8 = $code;
                const NAME: &'static str = $name;
                const PNG: bool = $png;
                fn from_dynamic(image: DynamicImage) -> Option<Buffer<Self>> {
                    match image {
                        DynamicImage::$variant(buffer) => Some(buffer),
                        _ => None,
                    }
                }
                fn into_dynamic(buffer: Buffer<Self>) -> DynamicImage {
                    DynamicImage::$variant(buffer)
                }
            }
        )*

        /// Encodes a `DynamicImage` by its pixel type.
        fn encode_dynamic<W: Write>(
            image: &DynamicImage,
            out: &mut W,
            format: ImageFormat,
        ) -> Result<(), CodecError> {
            match image {
                $(DynamicImage::$variant(buffer) => encode_buffer::<$pixel, W>(buffer, out, format),)*
                other => Err(CodecError::new(format!(
                    "pixel type {:?} is not supported",
                    other.color()
                ))),
            }
        }

        /// Decodes a `DynamicImage` of the pixel type the header names.
        fn decode_dynamic(bytes: &[u8]) -> Result<DynamicImage, CodecError> {
            let header = Header::parse(bytes)?;
            match header.code {
                $($code => decode_buffer::<$pixel>(bytes).map(<$pixel>::into_dynamic),)*
                other => Err(CodecError::new(format!("unknown pixel type code {other}"))),
            }
        }
    };
}

pixels! {
    Luma<u8> => 1, "Luma8", ImageLuma8, true;
    LumaA<u8> => 2, "LumaA8", ImageLumaA8, true;
    Rgb<u8> => 3, "Rgb8", ImageRgb8, true;
    Rgba<u8> => 4, "Rgba8", ImageRgba8, true;
    Luma<u16> => 5, "Luma16", ImageLuma16, true;
    LumaA<u16> => 6, "LumaA16", ImageLumaA16, true;
    Rgb<u16> => 7, "Rgb16", ImageRgb16, true;
    Rgba<u16> => 8, "Rgba16", ImageRgba16, true;
    Rgb<f32> => 9, "Rgb32F", ImageRgb32F, false;
    Rgba<f32> => 10, "Rgba32F", ImageRgba32F, false;
}

struct Header {
    form: u8,
    code: u8,
    width: u32,
    height: u32,
}

impl Header {
    fn parse(bytes: &[u8]) -> Result<Header, CodecError> {
        let head: &[u8; HEADER_LEN] = bytes
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| CodecError::new("truncated image header"))?;
        let u32_at =
            |at: usize| u32::from_le_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
        Ok(Header {
            form: head[0],
            code: head[1],
            width: u32_at(8),
            height: u32_at(12),
        })
    }

    fn write<W: Write>(&self, out: &mut W) -> std::io::Result<()> {
        let mut head = [0u8; HEADER_LEN];
        head[0] = self.form;
        head[1] = self.code;
        head[8..12].copy_from_slice(&self.width.to_le_bytes());
        head[12..16].copy_from_slice(&self.height.to_le_bytes());
        out.write_all(&head)
    }
}

fn encode_buffer<P: ImagePixel, W: Write>(
    buffer: &Buffer<P>,
    out: &mut W,
    format: ImageFormat,
) -> Result<(), CodecError> {
    // PNG holds neither float samples nor empty images: those stay raw.
    let png = format == ImageFormat::Png && P::PNG && buffer.width() > 0 && buffer.height() > 0;
    Header {
        form: if png { FORM_PNG } else { FORM_RAW },
        code: P::CODE,
        width: buffer.width(),
        height: buffer.height(),
    }
    .write(out)?;
    if png {
        // The encoder takes samples in native byte order.
        PngEncoder::new(out)
            .write_image(
                bytemuck::cast_slice(buffer.as_raw()),
                buffer.width(),
                buffer.height(),
                P::COLOR_TYPE,
            )
            .map_err(|e| CodecError::with_source("PNG encoding failed", e))
    } else {
        let samples = (buffer.width() as usize)
            .checked_mul(buffer.height() as usize)
            .and_then(|n| n.checked_mul(usize::from(P::CHANNEL_COUNT)))
            .and_then(|n| buffer.as_raw().get(..n))
            .ok_or_else(|| CodecError::new("image buffer is smaller than its dimensions"))?;
        Ok(pod::write_slice(samples, out)?)
    }
}

fn decode_buffer<P: ImagePixel>(bytes: &[u8]) -> Result<Buffer<P>, CodecError> {
    let header = Header::parse(bytes)?;
    if header.code != P::CODE {
        return Err(CodecError::new(format!(
            "image of pixel type code {}, expected {}",
            header.code,
            P::NAME
        )));
    }
    let data = &bytes[HEADER_LEN..];
    let buffer = match header.form {
        FORM_RAW => {
            let count = (header.width as usize)
                .checked_mul(header.height as usize)
                .and_then(|n| n.checked_mul(usize::from(P::CHANNEL_COUNT)))
                .ok_or_else(|| CodecError::new("image dimensions overflow"))?;
            let size = std::mem::size_of::<P::Subpixel>();
            if count.checked_mul(size) != Some(data.len()) {
                return Err(CodecError::new(format!(
                    "{}x{} {} image does not match its {}-byte payload",
                    header.width,
                    header.height,
                    P::NAME,
                    data.len()
                )));
            }
            let samples: Vec<P::Subpixel> = pod::read_vec(&mut &data[..], count)?;
            ImageBuffer::from_raw(header.width, header.height, samples)
        }
        FORM_PNG => {
            let decoder = PngDecoder::new(Cursor::new(data))
                .map_err(|e| CodecError::with_source("PNG does not decode", e))?;
            let image = DynamicImage::from_decoder(decoder)
                .map_err(|e| CodecError::with_source("PNG does not decode", e))?;
            if (image.width(), image.height()) != (header.width, header.height) {
                return Err(CodecError::new("PNG dimensions differ from the header"));
            }
            P::from_dynamic(image)
        }
        other => return Err(CodecError::new(format!("unknown image form {other}"))),
    };
    buffer.ok_or_else(|| CodecError::new(format!("payload is not a {} image", P::NAME)))
}

impl<P: ImagePixel> Codec<Buffer<P>> for Image {
    const ID: u16 = super::ids::IMAGE;
    const NAME: &'static str = "image";

    fn encode<W: Write>(value: &Buffer<P>, out: &mut W) -> Result<(), CodecError> {
        encode_buffer(value, out, ImageFormat::Raw)
    }

    fn encode_with<W: Write>(
        value: &Buffer<P>,
        out: &mut W,
        options: &CodecOptions,
    ) -> Result<(), CodecError> {
        encode_buffer(value, out, options.image_format)
    }

    fn decode(bytes: &[u8]) -> Result<Buffer<P>, CodecError> {
        decode_buffer(bytes)
    }
}

impl Codec<DynamicImage> for Image {
    const ID: u16 = super::ids::IMAGE;
    const NAME: &'static str = "image";

    fn encode<W: Write>(value: &DynamicImage, out: &mut W) -> Result<(), CodecError> {
        encode_dynamic(value, out, ImageFormat::Raw)
    }

    fn encode_with<W: Write>(
        value: &DynamicImage,
        out: &mut W,
        options: &CodecOptions,
    ) -> Result<(), CodecError> {
        encode_dynamic(value, out, options.image_format)
    }

    fn decode(bytes: &[u8]) -> Result<DynamicImage, CodecError> {
        decode_dynamic(bytes)
    }

    fn decode_from<R: Read>(input: &mut R, len: u64) -> Result<DynamicImage, CodecError> {
        let bytes = super::read_exact_vec(input, len)?;
        decode_dynamic(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient() -> Buffer<Rgb<u8>> {
        ImageBuffer::from_fn(17, 9, |x, y| Rgb([x as u8, y as u8, (x * y) as u8]))
    }

    #[test]
    fn both_forms_round_trip() {
        for format in [ImageFormat::Raw, ImageFormat::Png] {
            let options = CodecOptions {
                image_format: format,
            };
            let mut bytes = Vec::new();
            Image::encode_with(&gradient(), &mut bytes, &options).expect("encode");
            assert_eq!(
                bytes[0],
                if format == ImageFormat::Png {
                    FORM_PNG
                } else {
                    FORM_RAW
                }
            );
            let back: Buffer<Rgb<u8>> = Image::decode(&bytes).expect("decode");
            assert_eq!(back, gradient());
            let dynamic: DynamicImage = Image::decode(&bytes).expect("decode as dynamic");
            assert_eq!(dynamic, DynamicImage::ImageRgb8(gradient()));
        }
    }

    #[test]
    fn float_images_stay_raw_under_png() {
        let image: Buffer<Rgb<f32>> =
            ImageBuffer::from_fn(3, 2, |x, y| Rgb([x as f32 / 3.0, y as f32, -1.5]));
        let options = CodecOptions {
            image_format: ImageFormat::Png,
        };
        let mut bytes = Vec::new();
        Image::encode_with(&image, &mut bytes, &options).expect("encode");
        assert_eq!(bytes[0], FORM_RAW);
        assert_eq!(Image::decode(&bytes).ok(), Some(image));
    }

    #[test]
    fn wrong_pixel_type_or_size_is_refused() {
        let mut bytes = Vec::new();
        Image::encode(&gradient(), &mut bytes).expect("encode");
        assert!(<Image as Codec<Buffer<Rgba<u8>>>>::decode(&bytes).is_err());
        assert!(<Image as Codec<Buffer<Luma<u16>>>>::decode(&bytes).is_err());
        bytes.pop();
        assert!(<Image as Codec<Buffer<Rgb<u8>>>>::decode(&bytes).is_err());
        bytes[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(<Image as Codec<Buffer<Rgb<u8>>>>::decode(&bytes).is_err());
    }
}
