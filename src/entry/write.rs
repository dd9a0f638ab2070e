//! Writing entries: whole in memory (sled) or streamed into a file, the payload hashed as
//! it is encoded and compressed.

use std::io::{self, Seek, SeekFrom, Write};

use super::*;
use crate::codec::{Codec, CodecError};
use crate::hash::StreamHash;

/// A writer that hashes and counts what passes through.
struct HashWriter<W> {
    inner: W,
    hasher: StreamHash,
    len: u64,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.write(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A writer that counts what passes through.
struct CountWriter<W> {
    inner: W,
    len: u64,
}

impl<W: Write> Write for CountWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.len += n as u64;
        Ok(n)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)?;
        self.len += buf.len() as u64;
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// An error while writing an entry: the codec refused the value, or the output failed.
#[derive(Debug)]
pub(crate) enum WriteError {
    Codec(CodecError),
    Io(io::Error),
}

impl From<io::Error> for WriteError {
    fn from(error: io::Error) -> Self {
        WriteError::Io(error)
    }
}

impl From<CodecError> for WriteError {
    fn from(error: CodecError) -> Self {
        WriteError::Codec(error)
    }
}

/// The length of an encoded key, refused above [`MAX_KEY_LEN`].
fn key_len(key: &[u8]) -> Result<u32, CodecError> {
    u32::try_from(key.len())
        .ok()
        .filter(|&l| l <= MAX_KEY_LEN)
        .ok_or_else(|| CodecError::new("encoded key longer than 64 MiB"))
}

/// Builds a whole entry in memory (for sled): the payload is encoded straight after the
/// header and key, compressed when configured, and hashed in one pass.
pub(crate) fn to_vec<V, C>(
    meta: &EntryMeta,
    key: &[u8],
    value: &V,
    size_hint: usize,
) -> Result<Vec<u8>, WriteError>
where
    C: Codec<V>,
{
    let key_len = key_len(key)?;
    let start = HEADER_LEN + key.len() + CHECKSUM_LEN;
    let mut out = Vec::with_capacity(start + size_hint.min(64 << 20) + 16);
    out.resize(HEADER_LEN, 0);
    out.extend_from_slice(key);
    out.extend_from_slice(&[0u8; CHECKSUM_LEN]);
    C::encode_with(value, &mut out, &meta.options)?;
    let raw_len = (out.len() - start) as u64;
    let compressed = match meta.compression {
        Compression::None => None,
        Compression::Lz4 => {
            let mut encoder = lz4_flex::frame::FrameEncoder::new(Vec::new());
            encoder.write_all(&out[start..])?;
            Some(
                encoder
                    .finish()
                    .map_err(|e| io::Error::other(e.to_string()))?,
            )
        }
        Compression::Zstd(level) => Some(zstd::encode_all(&out[start..], level)?),
    };
    if let Some(compressed) = compressed {
        out.truncate(start);
        out.extend_from_slice(&compressed);
    }
    let header = Header::for_entry(
        meta,
        key_len,
        0,
        raw_len,
        (out.len() - start) as u64,
        hash64(&out[start..]),
    );
    out[..HEADER_LEN].copy_from_slice(&header.to_bytes());
    let checksum = hash64(&out[..HEADER_LEN + key.len()]);
    out[HEADER_LEN + key.len()..start].copy_from_slice(&checksum.to_le_bytes());
    Ok(out)
}

/// Writes a whole entry at the current position of `out`, streaming the payload through
/// the codec (and compressor) straight into `out`. Returns the entry's length.
pub(crate) fn write<V, C, W>(
    out: &mut W,
    meta: &EntryMeta,
    key: &[u8],
    value: &V,
) -> Result<u64, WriteError>
where
    C: Codec<V>,
    W: Write + Seek + ?Sized,
{
    let start = out.stream_position()?;
    let key_len = key_len(key)?;
    out.write_all(&[0u8; HEADER_LEN])?;
    out.write_all(key)?;
    out.write_all(&[0u8; CHECKSUM_LEN])?;
    let unaligned = (start + (HEADER_LEN + key.len() + CHECKSUM_LEN) as u64) % PAYLOAD_ALIGN;
    let pad = ((PAYLOAD_ALIGN - unaligned) % PAYLOAD_ALIGN) as u8;
    out.write_all(&[0u8; PAYLOAD_ALIGN as usize][..usize::from(pad)])?;

    // The codec reports a failed write as its own error; the trap keeps the I/O error
    // (a full disk, say) so that it is reported as I/O, with its path.
    let mut trap = IoTrap {
        inner: &mut *out,
        error: None,
    };
    let mut hashed = HashWriter {
        inner: &mut trap,
        hasher: StreamHash::new(),
        len: 0,
    };
    let encoded = encode_payload::<V, C, _>(&mut hashed, meta, value);
    let (stored_len, payload_hash) = (hashed.len, hashed.hasher.finish());
    let raw_len = match (encoded, trap.error.take()) {
        (Ok(raw_len), _) => raw_len,
        (Err(_), Some(io)) => return Err(WriteError::Io(io)),
        (Err(e), None) => return Err(e),
    };

    let header = Header::for_entry(meta, key_len, pad, raw_len, stored_len, payload_hash);
    let mut head = Vec::with_capacity(HEADER_LEN + key.len() + CHECKSUM_LEN);
    head.extend_from_slice(&header.to_bytes());
    head.extend_from_slice(key);
    let checksum = hash64(&head);
    head.extend_from_slice(&checksum.to_le_bytes());
    let end = out.stream_position()?;
    out.seek(SeekFrom::Start(start))?;
    out.write_all(&head)?;
    out.seek(SeekFrom::Start(end))?;
    Ok(end - start)
}

/// Encodes `value` into `out`, compressed as `meta` says. Returns the encoded length
/// (before compression).
fn encode_payload<V, C, W>(out: &mut W, meta: &EntryMeta, value: &V) -> Result<u64, WriteError>
where
    C: Codec<V>,
    W: Write,
{
    Ok(match meta.compression {
        Compression::None => {
            let mut counted = CountWriter { inner: out, len: 0 };
            C::encode_with(value, &mut counted, &meta.options)?;
            counted.len
        }
        Compression::Lz4 => {
            let mut counted = CountWriter {
                inner: lz4_flex::frame::FrameEncoder::new(out),
                len: 0,
            };
            C::encode_with(value, &mut counted, &meta.options)?;
            counted
                .inner
                .finish()
                .map_err(|e| io::Error::other(e.to_string()))?;
            counted.len
        }
        Compression::Zstd(level) => {
            let mut counted = CountWriter {
                inner: zstd::Encoder::new(out, level)?,
                len: 0,
            };
            C::encode_with(value, &mut counted, &meta.options)?;
            counted.inner.finish()?;
            counted.len
        }
    })
}

/// A writer that keeps the first I/O error of the writer below.
struct IoTrap<W> {
    inner: W,
    error: Option<io::Error>,
}

impl<W: Write> Write for IoTrap<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).inspect_err(|e| self.keep(e))
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf).inspect_err(|e| self.keep(e))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().inspect_err(|e| self.keep(e))
    }
}

impl<W> IoTrap<W> {
    fn keep(&mut self, e: &io::Error) {
        if self.error.is_none() {
            self.error = Some(match e.raw_os_error() {
                Some(code) => io::Error::from_raw_os_error(code),
                None => io::Error::new(e.kind(), e.to_string()),
            });
        }
    }
}
