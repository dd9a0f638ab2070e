//! Codecs: how a value becomes bytes in the persistent tiers.
//!
//! A codec is a type implementing [`Codec<T>`]; a [`Cacheable`](crate::Cacheable) type names
//! its codec as `type Codec`. Each codec has a distinct [`Codec::ID`], written into every
//! entry so that bytes are never decoded by the wrong codec. One file a codec:
//! `bincode.rs` (any serde type), `json.rs` (self-describing, feature `json`), `raw.rs`
//! (vectors of numbers as little-endian bytes), `ndarray.rs` (arrays: a dtype and shape
//! header, then the elements raw; feature `ndarray`), `image.rs` (raw pixels or PNG;
//! feature `image`), `polars.rs` (Arrow IPC; feature `polars`), with `pod.rs` holding the bulk
//! number reads and writes they share.

use std::io::{Read, Write};

mod bincode;
#[cfg(feature = "image")]
mod image;
#[cfg(feature = "json")]
mod json;
#[cfg(feature = "ndarray")]
mod ndarray;
mod pod;
#[cfg(feature = "polars")]
mod polars;
mod raw;

pub use self::bincode::Bincode;
#[cfg(feature = "image")]
#[cfg_attr(docsrs, doc(cfg(feature = "image")))]
pub use self::image::{Buffer as ImageBuffer, Image, ImagePixel};
#[cfg(feature = "json")]
#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
pub use self::json::Json;
#[cfg(feature = "ndarray")]
pub(crate) use self::ndarray::{dimension, dimension_name as ndarray_dimension_name, read_layout};
#[cfg(feature = "ndarray")]
#[cfg_attr(docsrs, doc(cfg(feature = "ndarray")))]
pub use self::ndarray::{Element, MappableElement, NdArray};
#[cfg(feature = "polars")]
#[cfg_attr(docsrs, doc(cfg(feature = "polars")))]
pub use self::polars::ArrowIpc;
pub use self::raw::Raw;

/// The ids of smartcache's codecs, in one place so that their distinctness is checked at
/// compile time. An id is stored in every entry: an entry written by one codec is never
/// decoded by another.
///
/// A codec of your own takes an id from [`FIRST_CUSTOM`](ids::FIRST_CUSTOM) to
/// `u16::MAX - 1`: the ids below it, and [`FALLBACK`](ids::FALLBACK), are smartcache's,
/// now and in later versions.
pub mod ids {
    /// [`Bincode`](super::Bincode).
    pub const BINCODE: u16 = 1;
    /// [`Raw`](super::Raw).
    pub const RAW: u16 = 2;
    /// `Json` (feature `json`).
    pub const JSON: u16 = 3;
    /// `NdArray` (feature `ndarray`).
    pub const NDARRAY: u16 = 4;
    /// `Image` (feature `image`).
    pub const IMAGE: u16 = 5;
    /// `ArrowIpc` (feature `polars`).
    pub const ARROW_IPC: u16 = 6;
    /// `AnyCodec`, which no entry records: each value of an `AnyCache` is stored with
    /// its own type's codec.
    pub const ANY: u16 = 7;
    /// The codec of a failed derive, which stores nothing.
    pub const FALLBACK: u16 = u16::MAX;
    /// The first id free for codecs outside smartcache (the ids below it are reserved).
    pub const FIRST_CUSTOM: u16 = 1024;
    /// smartcache's codecs.
    pub const ALL: [u16; 8] = [BINCODE, RAW, JSON, NDARRAY, IMAGE, ARROW_IPC, ANY, FALLBACK];
}

/// The name of the codec of id `id`, as tools show it.
pub(crate) fn name_of(id: u16) -> &'static str {
    match id {
        ids::BINCODE => "bincode",
        ids::RAW => "raw",
        ids::JSON => "json",
        ids::NDARRAY => "ndarray",
        ids::IMAGE => "image",
        ids::ARROW_IPC => "arrow-ipc",
        ids::ANY => "any",
        ids::FALLBACK => "none",
        ids::FIRST_CUSTOM.. => "custom",
        _ => "unknown",
    }
}

/// Turns values of type `T` into bytes and back.
///
/// Codecs are stateless: every method is an associated function.
pub trait Codec<T>: Send + Sync + 'static {
    /// The codec's id, stored in each entry. Distinct for every codec: a codec outside
    /// smartcache takes one from [`ids::FIRST_CUSTOM`] up.
    const ID: u16;
    /// A short name for messages.
    const NAME: &'static str;

    /// Writes `value` to `out`. Large values should be written in a few large writes.
    fn encode<W: Write>(value: &T, out: &mut W) -> Result<(), CodecError>;

    /// Writes `value` to `out`, following the cache's [`CodecOptions`] (for example
    /// PNG for images). The default ignores them and calls [`Codec::encode`]. Whatever
    /// the options, [`Codec::decode`] reads every form the codec writes.
    fn encode_with<W: Write>(
        value: &T,
        out: &mut W,
        options: &CodecOptions,
    ) -> Result<(), CodecError> {
        let _ = options;
        Self::encode(value, out)
    }

    /// Decodes a value from exactly `bytes` (trailing bytes are an error).
    fn decode(bytes: &[u8]) -> Result<T, CodecError>;

    /// Whether [`Codec::decode_from`] builds the value straight from the stream without
    /// interpreting unverified bytes in a way that could misbehave (for example raw
    /// numbers read into a buffer of a length the entry header vouches for). When false,
    /// the file tier reads and verifies the whole payload before decoding it.
    fn streams() -> bool {
        false
    }

    /// Decodes a value from exactly `len` bytes of `input`.
    ///
    /// The default reads them into one buffer and calls [`Codec::decode`]; codecs that can
    /// build the value straight from the stream (into the value's own allocation)
    /// override it, and [`Codec::streams`].
    fn decode_from<R: Read>(input: &mut R, len: u64) -> Result<T, CodecError> {
        let buf = read_exact_vec(input, len)?;
        Self::decode(&buf)
    }
}

/// Choices a cache hands its codec when writing, from its [`CacheConfig`](crate::CacheConfig).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodecOptions {
    /// How images are stored: raw pixels (the default) or PNG.
    pub image_format: crate::ImageFormat,
}

/// A codec failed: the value cannot be encoded, or the bytes are not a value. Its
/// message says what failed; the error that caused it, if any, is its
/// [`source`](std::error::Error::source).
#[derive(Debug)]
pub struct CodecError {
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl CodecError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        CodecError {
            message: message.into(),
            source: None,
        }
    }

    /// An error with this message, caused by `source`.
    pub fn with_source(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        CodecError {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// What failed.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CodecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<std::io::Error> for CodecError {
    fn from(error: std::io::Error) -> Self {
        CodecError::with_source("reading or writing the payload failed", error)
    }
}

/// Reads exactly `len` bytes into a new vector, without trusting `len` for a huge
/// up-front allocation that cannot be served. Large buffers are read the way
/// [`pod`] reads numbers: into fresh zeroed pages (huge pages where the system allows),
/// a chunk at a time.
pub(crate) fn read_exact_vec<R: Read>(input: &mut R, len: u64) -> Result<Vec<u8>, CodecError> {
    let len =
        usize::try_from(len).map_err(|_| CodecError::new("entry too large for this platform"))?;
    let mut buf: Vec<u8> = pod::zeroed_vec(len)?;
    pod::read_chunked(input, &mut buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            CodecError::new(format!("truncated payload: fewer than {len} bytes"))
        } else {
            CodecError::from(e)
        }
    })?;
    Ok(buf)
}
