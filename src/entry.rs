//! The entry envelope: the bytes a persistent tier stores for one key.
//!
//! ```text
//! offset size  field
//!      0    4  magic "SMCE"
//!      4    2  format version (1)
//!      6    2  codec id
//!      8    1  compression (0 none, 1 lz4, 2 zstd)
//!      9    3  reserved (0)
//!     12    4  key length
//!     16    8  type fingerprint (xxh3 of type tag, VERSION, codec id)
//!     24    8  created, ms since the Unix epoch
//!     32    8  expires, ms since the Unix epoch (0: never)
//!     40    8  encoded payload length (before compression)
//!     48    8  stored payload length
//!     56    8  xxh3-64 of the stored payload
//!     64    …  key bytes
//!  64+key   8  xxh3-64 of everything before it (header and key)
//!  72+key   …  the stored payload
//! ```
//!
//! All integers are little-endian. The header checksum makes every length trustworthy
//! before anything is allocated; the payload checksum is checked before a value is
//! handed out. Anything that does not check out is refused with a reason.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::codec::{Codec, CodecError, CodecOptions};
use crate::config::Compression;
use crate::hash::{hash64, StreamHash};

/// The first four bytes of every entry.
pub(crate) const MAGIC: [u8; 4] = *b"SMCE";
/// The envelope format this build writes and reads.
pub(crate) const FORMAT_VERSION: u16 = 2;
/// Bytes before the key.
pub(crate) const HEADER_LEN: usize = 64;
/// Bytes of the header checksum, after the key.
const CHECKSUM_LEN: usize = 8;
/// Alignment of the payload in entries written to files, so that a memory-mapped
/// payload can be viewed in place as numbers of any width.
pub(crate) const PAYLOAD_ALIGN: u64 = 64;
/// Longest encoded key (a larger claim when reading is corruption).
pub(crate) const MAX_KEY_LEN: u32 = 64 << 20;
/// Where the creation time sits in the header.
const CREATED_AT: usize = 24;

/// The creation time (ms since the Unix epoch) recorded in an entry's header, without
/// checking the entry: for eviction order, where a damaged entry only sorts wrong.
pub(crate) fn created_ms_of(entry: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(
        entry.get(CREATED_AT..CREATED_AT + 8)?.try_into().ok()?,
    ))
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Milliseconds since the Unix epoch from the coarse clock: a few milliseconds of
/// resolution, for a fraction of the cost. For access records, which are read back
/// only for eviction order and time to idle.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub(crate) fn coarse_now_ms() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    let result = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    if result != 0 {
        return now_ms();
    }
    (ts.tv_sec as u64).saturating_mul(1000) + ts.tv_nsec as u64 / 1_000_000
}

/// Milliseconds since the Unix epoch (the precise clock where no coarse one is known).
#[cfg(not(target_os = "linux"))]
pub(crate) fn coarse_now_ms() -> u64 {
    now_ms()
}

/// What the writer knows about an entry before writing it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EntryMeta {
    pub codec: u16,
    pub fingerprint: u64,
    pub created_ms: u64,
    pub expires_ms: u64,
    pub compression: Compression,
    pub options: CodecOptions,
}

/// What the reader requires of an entry.
#[derive(Clone, Debug)]
pub(crate) struct Expect<'a> {
    pub codec: u16,
    pub fingerprint: u64,
    pub key: &'a [u8],
    /// The time of the read.
    pub now: Clock,
    /// The cache's time to idle, checked by the tiers against the last access.
    pub tti: Option<std::time::Duration>,
}

/// The time of one read, taken from the system clock on first use and then fixed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Clock(std::cell::OnceCell<u64>);

impl Clock {
    /// A clock fixed at `ms`.
    #[cfg(test)]
    pub fn at(ms: u64) -> Self {
        Clock(std::cell::OnceCell::from(ms))
    }

    /// Milliseconds since the Unix epoch.
    pub fn ms(&self) -> u64 {
        *self.0.get_or_init(now_ms)
    }

    /// The time of the read if it was taken, else the coarse clock's.
    pub fn coarse_ms(&self) -> u64 {
        self.0.get().copied().unwrap_or_else(coarse_now_ms)
    }
}

/// A parsed, checksum-verified header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Header {
    pub codec: u16,
    pub compression: u8,
    pub key_len: u32,
    /// Zero bytes between the header checksum and the payload (file entries align the
    /// payload to [`PAYLOAD_ALIGN`]).
    pub pad: u8,
    pub fingerprint: u64,
    pub created_ms: u64,
    pub expires_ms: u64,
    pub raw_len: u64,
    pub stored_len: u64,
    pub payload_hash: u64,
}

/// Why an entry was refused.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Past its expiry time.
    Expired,
    /// Corrupt, truncated, foreign, stale or another key's.
    Invalid(String),
    /// Reading failed: the entry may be fine, and is kept.
    Io(io::Error),
}

impl Refusal {
    fn invalid(reason: impl Into<String>) -> Self {
        Refusal::Invalid(reason.into())
    }
}

impl From<io::Error> for Refusal {
    fn from(error: io::Error) -> Self {
        if error.kind() == io::ErrorKind::UnexpectedEof {
            Refusal::invalid("truncated entry")
        } else {
            Refusal::Io(error)
        }
    }
}

impl From<CodecError> for Refusal {
    fn from(error: CodecError) -> Self {
        Refusal::Invalid(format!("payload does not decode: {error}"))
    }
}

fn compression_code(c: Compression) -> u8 {
    match c {
        Compression::None => 0,
        Compression::Lz4 => 1,
        Compression::Zstd(_) => 2,
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

impl Header {
    /// The header of an entry being written.
    fn for_entry(
        meta: &EntryMeta,
        key_len: u32,
        pad: u8,
        raw_len: u64,
        stored_len: u64,
        payload_hash: u64,
    ) -> Header {
        Header {
            codec: meta.codec,
            compression: compression_code(meta.compression),
            key_len,
            pad,
            fingerprint: meta.fingerprint,
            created_ms: meta.created_ms,
            expires_ms: meta.expires_ms,
            raw_len,
            stored_len,
            payload_hash,
        }
    }

    fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&MAGIC);
        b[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[6..8].copy_from_slice(&self.codec.to_le_bytes());
        b[8] = self.compression;
        b[9] = self.pad;
        b[12..16].copy_from_slice(&self.key_len.to_le_bytes());
        b[16..24].copy_from_slice(&self.fingerprint.to_le_bytes());
        b[24..32].copy_from_slice(&self.created_ms.to_le_bytes());
        b[32..40].copy_from_slice(&self.expires_ms.to_le_bytes());
        b[40..48].copy_from_slice(&self.raw_len.to_le_bytes());
        b[48..56].copy_from_slice(&self.stored_len.to_le_bytes());
        b[56..64].copy_from_slice(&self.payload_hash.to_le_bytes());
        b
    }

    /// Parses the fixed part. The header checksum is verified by [`read_header`], once
    /// the key has been read.
    fn parse(b: &[u8; HEADER_LEN]) -> Result<Header, Refusal> {
        if b[0..4] != MAGIC {
            return Err(Refusal::invalid("not a smartcache entry (bad magic)"));
        }
        let version = u16_at(b, 4);
        if version != FORMAT_VERSION {
            return Err(Refusal::Invalid(format!(
                "entry format {version}, this build reads format {FORMAT_VERSION}"
            )));
        }
        let header = Header {
            codec: u16_at(b, 6),
            compression: b[8],
            key_len: u32_at(b, 12),
            pad: b[9],
            fingerprint: u64_at(b, 16),
            created_ms: u64_at(b, 24),
            expires_ms: u64_at(b, 32),
            raw_len: u64_at(b, 40),
            stored_len: u64_at(b, 48),
            payload_hash: u64_at(b, 56),
        };
        if header.key_len > MAX_KEY_LEN {
            return Err(Refusal::invalid("corrupt header (key length)"));
        }
        if u64::from(header.pad) >= PAYLOAD_ALIGN {
            return Err(Refusal::invalid("corrupt header (payload padding)"));
        }
        Ok(header)
    }

    /// Checks type, codec, key and expiry against what the reader wants.
    pub fn check(&self, key: &[u8], expect: &Expect<'_>) -> Result<(), Refusal> {
        if self.fingerprint != expect.fingerprint {
            return Err(Refusal::invalid(
                "written for another type or another VERSION of this type",
            ));
        }
        if self.codec != expect.codec {
            return Err(Refusal::Invalid(format!(
                "written with codec {}, expected codec {}",
                self.codec, expect.codec
            )));
        }
        if key != expect.key {
            return Err(Refusal::invalid(
                "hash collision: the entry belongs to another key",
            ));
        }
        if self.expires_ms != 0 && self.expires_ms <= expect.now.ms() {
            return Err(Refusal::Expired);
        }
        Ok(())
    }

    /// Total length of the entry in bytes.
    pub fn entry_len(&self) -> u64 {
        self.payload_offset().saturating_add(self.stored_len)
    }

    /// The payload within a whole entry held in memory (a map of its file); `None`
    /// when the entry is too short.
    pub fn payload_of<'e>(&self, entry: &'e [u8]) -> Option<&'e [u8]> {
        entry.get(usize::try_from(self.payload_offset()).ok()?..)
    }

    /// Where the payload starts, from the start of the entry.
    pub fn payload_offset(&self) -> u64 {
        (HEADER_LEN + CHECKSUM_LEN) as u64 + u64::from(self.key_len) + u64::from(self.pad)
    }
}

/// Reads and verifies the header and key of an entry, leaving `input` at the payload.
pub(crate) fn read_header<R: Read>(input: &mut R) -> Result<(Header, Vec<u8>), Refusal> {
    let mut fixed = [0u8; HEADER_LEN];
    input.read_exact(&mut fixed)?;
    let header = Header::parse(&fixed)?;
    let mut head = Vec::with_capacity(HEADER_LEN + (header.key_len as usize).min(1 << 16));
    head.extend_from_slice(&fixed);
    input
        .take(u64::from(header.key_len))
        .read_to_end(&mut head)?;
    if head.len() != HEADER_LEN + header.key_len as usize {
        return Err(Refusal::invalid("truncated entry"));
    }
    let mut checksum = [0u8; CHECKSUM_LEN];
    input.read_exact(&mut checksum)?;
    if hash64(&head) != u64::from_le_bytes(checksum) {
        return Err(Refusal::invalid("corrupt header (checksum mismatch)"));
    }
    let mut pad = [0u8; PAYLOAD_ALIGN as usize];
    let pad = &mut pad[..usize::from(header.pad)];
    input.read_exact(pad)?;
    check_padding(pad)?;
    head.drain(..HEADER_LEN);
    Ok((header, head))
}

/// An entry as sled holds it (payload right after the header checksum), checked and laid
/// out again as the file tier writes entries (payload aligned to [`PAYLOAD_ALIGN`]),
/// with its key: for moving an entry between tiers as it is, times and all. `None` when
/// the entry does not check out.
pub(crate) fn relaid_for_file(entry: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let fixed: &[u8; HEADER_LEN] = entry.get(..HEADER_LEN)?.try_into().ok()?;
    let mut header = Header::parse(fixed).ok()?;
    let key_end = HEADER_LEN + header.key_len as usize;
    let key = entry.get(HEADER_LEN..key_end)?;
    let checksum = entry.get(key_end..key_end + CHECKSUM_LEN)?;
    if hash64(&entry[..key_end]).to_le_bytes() != checksum {
        return None;
    }
    let pad = entry.get(key_end + CHECKSUM_LEN..usize::try_from(header.payload_offset()).ok()?)?;
    check_padding(pad).ok()?;
    let payload = header.payload_of(entry)?;
    if payload.len() as u64 != header.stored_len || hash64(payload) != header.payload_hash {
        return None;
    }
    let unaligned = (key_end + CHECKSUM_LEN) as u64 % PAYLOAD_ALIGN;
    header.pad = ((PAYLOAD_ALIGN - unaligned) % PAYLOAD_ALIGN) as u8;
    let mut out = Vec::with_capacity(usize::try_from(header.entry_len()).ok()?);
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(key);
    let checksum = hash64(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    out.resize(out.len() + usize::from(header.pad), 0);
    out.extend_from_slice(payload);
    Some((key.to_vec(), out))
}

/// Padding is zeros: anything else is damage.
fn check_padding(pad: &[u8]) -> Result<(), Refusal> {
    if pad.iter().all(|&b| b == 0) {
        Ok(())
    } else {
        Err(Refusal::invalid("corrupt entry (padding is not zero)"))
    }
}

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

impl WriteError {
    /// The cache error for a failed write of a `V` to `tier` at `path`.
    pub fn into_cache_error<V: crate::Cacheable>(
        self,
        tier: crate::Tier,
        path: &std::path::Path,
    ) -> crate::CacheError {
        match self {
            WriteError::Codec(e) => crate::CacheError::Encode {
                what: V::type_tag().into_owned(),
                codec: <V::Codec as Codec<V>>::NAME,
                message: e.0,
            },
            WriteError::Io(e) => crate::CacheError::io(tier, path, e),
        }
    }
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
    W: Write + Seek,
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

/// A reader that hashes and counts what passes through.
struct HashReader<R> {
    inner: R,
    hasher: StreamHash,
    len: u64,
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.write(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

/// Decodes the payload that follows a header in `input`, building the value straight
/// from the stream, then checks the payload's length and checksum: a value whose bytes
/// do not check out is dropped, never returned.
pub(crate) fn read_payload<V, C, R>(mut input: R, header: &Header) -> Result<V, Refusal>
where
    C: Codec<V>,
    R: Read,
{
    if !C::streams() {
        // Verify every byte before the codec interprets any of them (hashed chunk by
        // chunk as it is read, while in cache).
        let mut hashed = HashReader {
            inner: &mut input,
            hasher: StreamHash::new(),
            len: 0,
        };
        let stored = crate::codec::read_exact_vec(&mut hashed, header.stored_len)
            .map_err(|e| Refusal::Invalid(format!("cannot read the payload: {e}")))?;
        if hashed.hasher.finish() != header.payload_hash {
            return Err(Refusal::invalid("corrupt payload (checksum mismatch)"));
        }
        return decode_checked::<V, C>(&stored, header);
    }
    let mut hashed = HashReader {
        inner: input.take(header.stored_len),
        hasher: StreamHash::new(),
        len: 0,
    };
    let value = match header.compression {
        0 => C::decode_from(&mut hashed, header.raw_len)?,
        1 => {
            let mut decoder = lz4_flex::frame::FrameDecoder::new(&mut hashed);
            let value = C::decode_from(&mut decoder, header.raw_len)?;
            io::copy(&mut decoder, &mut io::sink())?;
            value
        }
        2 => {
            let mut decoder = zstd::Decoder::new(&mut hashed)?.single_frame();
            let value = C::decode_from(&mut decoder, header.raw_len)?;
            io::copy(&mut decoder, &mut io::sink())?;
            value
        }
        other => return Err(Refusal::Invalid(format!("unknown compression {other}"))),
    };
    io::copy(&mut hashed, &mut io::sink())?;
    if hashed.len != header.stored_len {
        return Err(Refusal::invalid("truncated entry"));
    }
    if hashed.hasher.finish() != header.payload_hash {
        return Err(Refusal::invalid("corrupt payload (checksum mismatch)"));
    }
    Ok(value)
}

/// Splits an entry held whole in memory into its checked header, key and payload,
/// without copying.
fn split_slice<'e>(entry: &'e [u8], expect: &Expect<'_>) -> Result<(Header, &'e [u8]), Refusal> {
    let fixed: &[u8; HEADER_LEN] = entry
        .get(..HEADER_LEN)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Refusal::invalid("truncated entry"))?;
    let header = Header::parse(fixed)?;
    let key_end = HEADER_LEN + header.key_len as usize;
    let (head, rest) = entry
        .split_at_checked(key_end)
        .ok_or_else(|| Refusal::invalid("truncated entry"))?;
    let (checksum, payload) = rest
        .split_first_chunk::<CHECKSUM_LEN>()
        .ok_or_else(|| Refusal::invalid("truncated entry"))?;
    let (pad, payload) = payload
        .split_at_checked(usize::from(header.pad))
        .ok_or_else(|| Refusal::invalid("truncated entry"))?;
    check_padding(pad)?;
    if hash64(head) != u64::from_le_bytes(*checksum) {
        return Err(Refusal::invalid("corrupt header (checksum mismatch)"));
    }
    header.check(&head[HEADER_LEN..], expect)?;
    Ok((header, payload))
}

/// Decodes an entry held whole in memory (sled): checks the payload checksum first, then
/// decodes from the slice without copying it.
pub(crate) fn decode_slice<V, C>(entry: &[u8], expect: &Expect<'_>) -> Result<(V, Header), Refusal>
where
    C: Codec<V>,
{
    let (header, payload) = split_slice(entry, expect)?;
    let value = decode_verified::<V, C>(payload, &header)?;
    Ok((value, header))
}

/// Reads just the header of an entry held in memory and checks it.
pub(crate) fn check_slice(entry: &[u8], expect: &Expect<'_>) -> Result<Header, Refusal> {
    let (header, payload) = split_slice(entry, expect)?;
    if payload.len() as u64 != header.stored_len {
        return Err(Refusal::invalid("truncated entry"));
    }
    Ok(header)
}

/// Checks a whole stored payload against the header, then decompresses and decodes it.
pub(crate) fn decode_verified<V, C>(payload: &[u8], header: &Header) -> Result<V, Refusal>
where
    C: Codec<V>,
{
    if payload.len() as u64 != header.stored_len {
        return Err(Refusal::invalid("truncated entry"));
    }
    let verify = |payload: &[u8]| {
        if hash64(payload) == header.payload_hash {
            Ok(())
        } else {
            Err(Refusal::invalid("corrupt payload (checksum mismatch)"))
        }
    };
    if header.compression == 0 && C::streams() {
        // A streaming codec only copies the bytes (into a buffer whose length the checked
        // header vouches for): copy first, then hash the payload while it is in cache. A
        // value whose bytes do not check out is dropped, never returned.
        let value = C::decode(payload)?;
        verify(payload)?;
        return Ok(value);
    }
    verify(payload)?;
    decode_checked::<V, C>(payload, header)
}

/// Decompresses and decodes a payload whose checksum has been checked.
fn decode_checked<V, C>(payload: &[u8], header: &Header) -> Result<V, Refusal>
where
    C: Codec<V>,
{
    let raw;
    let encoded = match header.compression {
        0 => payload,
        1 => {
            raw = crate::codec::read_exact_vec(
                &mut lz4_flex::frame::FrameDecoder::new(payload),
                header.raw_len,
            )?;
            &raw[..]
        }
        2 => {
            raw = crate::codec::read_exact_vec(
                &mut zstd::Decoder::new(payload)?.single_frame(),
                header.raw_len,
            )?;
            &raw[..]
        }
        other => return Err(Refusal::Invalid(format!("unknown compression {other}"))),
    };
    Ok(C::decode(encoded)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Bincode, Raw};
    use std::io::Cursor;

    fn meta(compression: Compression) -> EntryMeta {
        EntryMeta {
            codec: 1,
            fingerprint: 99,
            created_ms: 1,
            expires_ms: 0,
            compression,
            options: CodecOptions::default(),
        }
    }

    fn expect(key: &[u8]) -> Expect<'_> {
        Expect {
            codec: 1,
            fingerprint: 99,
            key,
            now: Clock::at(10),
            tti: None,
        }
    }

    fn entry(compression: Compression, value: &String) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        write::<String, Bincode, _>(&mut out, &meta(compression), b"key", value).expect("write");
        out.into_inner()
    }

    #[test]
    fn round_trips_with_every_compression() {
        let value = "smartcache ".repeat(1000);
        for c in [Compression::None, Compression::Lz4, Compression::Zstd(3)] {
            let bytes = entry(c, &value);
            let (back, _) =
                decode_slice::<String, Bincode>(&bytes, &expect(b"key")).expect("slice");
            assert_eq!(back, value);
            let mut r = bytes.as_slice();
            let (h, key) = read_header(&mut r).expect("header");
            assert_eq!(key, b"key");
            assert_eq!(h.entry_len(), bytes.len() as u64);
            let back: String = read_payload::<String, Bincode, _>(r, &h).expect("stream");
            assert_eq!(back, value);
        }
        let compressed = entry(Compression::Zstd(3), &value);
        assert!(compressed.len() < value.len() / 10);
    }

    #[test]
    fn in_memory_and_streamed_entries_differ_only_in_padding() {
        let value = "smartcache ".repeat(100);
        for c in [Compression::None, Compression::Lz4, Compression::Zstd(3)] {
            let streamed = entry(c, &value);
            let built = to_vec::<String, Bincode>(&meta(c), b"key", &value, 0).expect("to_vec");
            // The streamed (file) form aligns its payload; the in-memory (sled) form does not.
            let at = HEADER_LEN + 3 + CHECKSUM_LEN;
            let pad = usize::from(streamed[9]);
            assert_eq!(built[9], 0);
            assert_eq!((at + pad) as u64 % PAYLOAD_ALIGN, 0, "{c:?}");
            assert_eq!(built[at..], streamed[at + pad..], "{c:?}");
            assert_eq!(built[..9], streamed[..9], "{c:?}");
            assert_eq!(
                built[10..HEADER_LEN + 3],
                streamed[10..HEADER_LEN + 3],
                "{c:?}"
            );
            let (back, _) =
                decode_slice::<String, Bincode>(&streamed, &expect(b"key")).expect("decodes");
            assert_eq!(back, value);
        }
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let value = "x".repeat(40);
        let bytes = entry(Compression::None, &value);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            let got = decode_slice::<String, Bincode>(&bad, &expect(b"key"));
            assert!(got.is_err(), "flip at byte {i} was accepted");
            let mut r = bad.as_slice();
            let streamed = read_header(&mut r)
                .and_then(|(h, k)| h.check(&k, &expect(b"key")).map(|_| h))
                .and_then(|h| read_payload::<String, Bincode, _>(r, &h));
            assert!(streamed.is_err(), "streamed flip at byte {i} was accepted");
        }
    }

    #[test]
    fn every_truncation_is_refused() {
        let v = vec![7u8; 300];
        let mut out = Cursor::new(Vec::new());
        write::<Vec<u8>, Raw, _>(
            &mut out,
            &EntryMeta {
                codec: 2,
                ..meta(Compression::Lz4)
            },
            b"k",
            &v,
        )
        .expect("write");
        let bytes = out.into_inner();
        let exp = Expect {
            codec: 2,
            ..expect(b"k")
        };
        for len in 0..bytes.len() {
            assert!(
                decode_slice::<Vec<u8>, Raw>(&bytes[..len], &exp).is_err(),
                "len {len}"
            );
            let mut r = &bytes[..len];
            let streamed =
                read_header(&mut r).and_then(|(h, _)| read_payload::<Vec<u8>, Raw, _>(r, &h));
            assert!(streamed.is_err(), "streamed len {len}");
        }
    }

    #[test]
    fn foreign_key_type_and_expiry_are_refused() {
        let bytes = entry(Compression::None, &"v".to_string());
        assert!(matches!(
            decode_slice::<String, Bincode>(&bytes, &expect(b"other")),
            Err(Refusal::Invalid(r)) if r.contains("collision")
        ));
        let wrong_type = Expect {
            fingerprint: 98,
            ..expect(b"key")
        };
        assert!(decode_slice::<String, Bincode>(&bytes, &wrong_type).is_err());
        let mut out = Cursor::new(Vec::new());
        let m = EntryMeta {
            expires_ms: 5,
            ..meta(Compression::None)
        };
        write::<String, Bincode, _>(&mut out, &m, b"key", &"v".to_string()).expect("write");
        assert!(matches!(
            decode_slice::<String, Bincode>(out.get_ref(), &expect(b"key")),
            Err(Refusal::Expired)
        ));
    }

    #[test]
    fn sled_entries_are_relaid_for_files_unchanged_but_for_padding() {
        let value = "moved".to_string();
        let sled =
            to_vec::<String, Bincode>(&meta(Compression::None), b"key", &value, 8).expect("encode");
        let (key, file) = relaid_for_file(&sled).expect("a good entry is relaid");
        assert_eq!(key, b"key");
        let mut reader = Cursor::new(&file);
        let (header, read_key) = read_header(&mut reader).expect("header");
        assert_eq!(
            (read_key.as_slice(), header.payload_offset() % PAYLOAD_ALIGN),
            (&b"key"[..], 0)
        );
        let read = read_payload::<String, Bincode, _>(&mut reader, &header).expect("payload");
        assert_eq!(read, value);
        let mut bad = sled.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(
            relaid_for_file(&bad).is_none(),
            "a damaged entry was relaid"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// No input panics the decoders, and none decodes to a value unless it is exactly
        /// an entry this module wrote.
        #[test]
        fn arbitrary_bytes_never_panic_and_never_decode(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let key = b"k";
            let decoded = decode_slice::<String, Bincode>(&bytes, &expect(key));
            proptest::prop_assert!(decoded.is_err());
            let _ = check_slice(&bytes, &expect(key));
            let mut reader = Cursor::new(&bytes);
            if let Ok((header, _)) = read_header(&mut reader) {
                let _ = read_payload::<String, Bincode, _>(&mut reader, &header);
            }
        }

        /// A real entry with any bytes changed, cut or appended is refused, never
        /// decoded to another value, and never panics.
        #[test]
        fn damaged_entries_are_refused(
            value in ".{0,200}",
            zstd in proptest::prelude::any::<bool>(),
            flips in proptest::collection::vec((proptest::prelude::any::<usize>(), 1u8..=255), 1..8),
            cut in proptest::option::of(proptest::prelude::any::<usize>()),
        ) {
            let compression = if zstd { Compression::Zstd(3) } else { Compression::None };
            let good = entry(compression, &value);
            let mut bad = good.clone();
            for (at, mask) in flips {
                let at = at % bad.len();
                bad[at] ^= mask;
            }
            if let Some(cut) = cut {
                bad.truncate(cut % bad.len());
            }
            let decoded = decode_slice::<String, Bincode>(&bad, &expect(b"key"));
            if bad != good {
                proptest::prop_assert!(decoded.is_err(), "a damaged entry decoded");
            }
            let mut reader = Cursor::new(&bad);
            if let Ok((header, _)) = read_header(&mut reader) {
                if let Ok(v) = read_payload::<String, Bincode, _>(&mut reader, &header) {
                    proptest::prop_assert_eq!(v, value);
                }
            }
        }
    }
}
