//! The entry envelope: the bytes a persistent tier stores for one key.
//!
//! ```text
//! offset size  field
//!      0    4  magic "SMCE"
//!      4    2  format version (2)
//!      6    2  codec id
//!      8    1  compression (0 none, 1 lz4, 2 zstd)
//!      9    1  padding before the payload (0 in sled; files align the payload to 64)
//!     10    2  reserved (0)
//!     12    4  key length
//!     16    8  type fingerprint (xxh3 of type tag, VERSION, codec id)
//!     24    8  created, ms since the Unix epoch
//!     32    8  expires, ms since the Unix epoch (0: never)
//!     40    8  encoded payload length (before compression)
//!     48    8  stored payload length
//!     56    8  xxh3-64 of the stored payload
//!     64    …  key bytes
//!  64+key   8  xxh3-64 of everything before it (header and key)
//!  72+key   …  padding (zeros), then the stored payload
//! ```
//!
//! All integers are little-endian. The header checksum makes every length trustworthy
//! before anything is allocated; the payload checksum is checked before a value is
//! handed out. Anything that does not check out is refused with a reason.
//!
//! This module is the only code that knows the layout: this file holds the header,
//! `write.rs` builds entries, `read.rs` checks and decodes them, and `typed.rs` hands
//! the tiers values whose type is erased ([`Outgoing`], [`Incoming`]).

use std::io;

use crate::clock::Clock;
use crate::codec::{CodecError, CodecOptions};
use crate::config::Compression;
use crate::hash::hash64;

mod read;
mod typed;
mod write;

use self::read::decode_slice;
pub(crate) use self::read::{audit_payload, audit_slice};
#[cfg(feature = "redis")]
pub(crate) use self::read::{check_head, head_needs};
pub(crate) use self::read::{check_slice, head_of, read_header, relaid_for_file};
pub(crate) use self::read::{decode_verified, read_payload};
pub(crate) use self::typed::{Incoming, IncomingValue, Outgoing, OutgoingValue, WriteSeek};
use self::write::{to_vec, write, WriteError};

/// The first four bytes of every entry.
pub(crate) const MAGIC: [u8; 4] = *b"SMCE";
/// The envelope format this build writes and reads.
pub(crate) const FORMAT_VERSION: u16 = 2;
/// The other formats an entry may have been written in by another build of smartcache:
/// the older ones, and this many newer ones. Any other number there is damage.
const NEWER_FORMATS: u16 = 16;
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
    /// For a cache whose values carry their own types: how an entry's type is checked.
    pub own_types: Option<OwnTypes>,
}

/// How a cache whose values carry their own types ([`Cacheable::__OWN_TYPES`]) checks an
/// entry: the header records the value's own type, its fingerprint mixed with the
/// namespace's salt, and the program must know that type.
///
/// [`Cacheable::__OWN_TYPES`]: crate::Cacheable::__OWN_TYPES
#[derive(Clone, Copy, Debug)]
pub(crate) struct OwnTypes {
    /// The namespace's salt: the own type's fingerprint is `header.fingerprint ^ salt`.
    pub salt: u64,
    /// Whether the program decodes a type of this fingerprint written with this codec
    /// ([`Cacheable::__knows`](crate::Cacheable::__knows) of the cache's value type).
    pub known: fn(fingerprint: u64, codec: u16) -> bool,
}

/// A stored payload on its way to a decoder: held whole in memory, or read from a stream.
pub(crate) enum Payload<'a> {
    /// The whole stored payload.
    Slice(&'a [u8]),
    /// The stream positioned at the payload.
    Stream(&'a mut dyn io::Read),
}

/// A parsed, checksum-verified header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Header {
    pub codec: u16,
    pub packing: Packing,
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
    /// Written for another type, another VERSION of this type, or another codec: sound,
    /// and kept for the cache it belongs to.
    Foreign,
    /// Corrupt, truncated, or another key's.
    Invalid(String),
    /// Of another envelope format: written by another build of smartcache (or damaged
    /// where the format is recorded, which cannot be told apart). A miss for this build,
    /// kept like [`Refusal::Foreign`] for the build that reads it, so that two builds
    /// sharing a cache do not delete each other's entries.
    Format(String),
    /// Reading failed: the entry may be fine, and is kept.
    Io(io::Error),
}

impl Refusal {
    fn invalid(reason: impl Into<String>) -> Self {
        Refusal::Invalid(reason.into())
    }

    /// Why, in words.
    pub fn describe(&self) -> String {
        match self {
            Refusal::Expired => "expired".into(),
            Refusal::Foreign => "written for another type, version or codec".into(),
            Refusal::Invalid(reason) | Refusal::Format(reason) => reason.clone(),
            Refusal::Io(e) => format!("cannot read it: {e}"),
        }
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

/// How a stored payload is compressed, as its header records it (byte 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Packing {
    None,
    Lz4,
    Zstd,
}

impl Packing {
    fn of(compression: Compression) -> Self {
        match compression {
            Compression::None => Packing::None,
            Compression::Lz4 => Packing::Lz4,
            Compression::Zstd(_) => Packing::Zstd,
        }
    }

    const fn code(self) -> u8 {
        match self {
            Packing::None => 0,
            Packing::Lz4 => 1,
            Packing::Zstd => 2,
        }
    }

    /// Its name, as tools show it.
    pub fn name(self) -> &'static str {
        match self {
            Packing::None => "none",
            Packing::Lz4 => "lz4",
            Packing::Zstd => "zstd",
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        [Packing::None, Packing::Lz4, Packing::Zstd]
            .into_iter()
            .find(|p| p.code() == code)
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
            packing: Packing::of(meta.compression),
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
        b[8] = self.packing.code();
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
            if !(1..=FORMAT_VERSION + NEWER_FORMATS).contains(&version) {
                return Err(Refusal::invalid(format!(
                    "corrupt header (no envelope format is numbered {version})"
                )));
            }
            return Err(Refusal::Format(format!(
                "entry format {version}, this build reads format {FORMAT_VERSION}"
            )));
        }
        let header = Header {
            codec: u16_at(b, 6),
            packing: Packing::from_code(b[8])
                .ok_or_else(|| Refusal::Invalid(format!("unknown compression {}", b[8])))?,
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
        if let Some(own) = expect.own_types {
            // Another type, or one this program does not know.
            if !(own.known)(self.fingerprint ^ own.salt, self.codec) {
                return Err(Refusal::Foreign);
            }
        } else if self.fingerprint != expect.fingerprint {
            return Err(Refusal::Foreign);
        } else if self.codec != expect.codec {
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

    /// Whether the payload is stored compressed (then it cannot be viewed in place).
    pub fn is_compressed(&self) -> bool {
        self.packing != Packing::None
    }

    /// Where the payload starts, from the start of the entry.
    pub fn payload_offset(&self) -> u64 {
        (HEADER_LEN + CHECKSUM_LEN) as u64 + u64::from(self.key_len) + u64::from(self.pad)
    }
}

#[cfg(test)]
mod tests;
