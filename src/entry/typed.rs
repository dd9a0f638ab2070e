//! Values on their way into and out of the persistent tiers, with their type erased:
//! [`Outgoing`] is an entry to write, [`Incoming`] the place a read decodes into. The
//! tiers see only these traits, so a tier is a plain `dyn Store`; the value's type and
//! codec stay here, where the generic code is built once per cached type.

use std::io::{Read, Seek, Write};
use std::path::Path;

use super::{EntryMeta, Expect, Header, Payload, Refusal, WriteError};
use crate::codec::Codec;
use crate::{CacheError, Cacheable, Result, Tier};

/// A writer that can also seek (files; entries are written with the header last).
pub(crate) trait WriteSeek: Write + Seek {}

impl<W: Write + Seek> WriteSeek for W {}

/// An entry to store: a value, its metadata and its encoded key.
pub(crate) trait Outgoing {
    /// Writes the entry at the current position of `out`, streaming the payload through
    /// the codec. Returns its length. Errors name `tier` and `path`.
    fn write_to(&self, out: &mut dyn WriteSeek, tier: Tier, path: &Path) -> Result<u64>;

    /// The whole entry, built in memory. Errors name `tier` and `path`.
    fn to_vec(&self, tier: Tier, path: &Path) -> Result<Vec<u8>>;

    /// When the entry expires, in ms since the Unix epoch; 0 for never (for a tier that
    /// keeps expiry itself).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    fn expires_ms(&self) -> u64;

    /// Whether the entry replaces one already there. An entry handed from one tier to
    /// another does not: one already there is newer, and stays.
    fn replaces(&self) -> bool {
        true
    }
}

/// The [`Outgoing`] entry of a value of type `V`.
pub(crate) struct OutgoingValue<'a, V> {
    pub meta: &'a EntryMeta,
    pub key: &'a [u8],
    pub value: &'a V,
}

impl<V: Cacheable> Outgoing for OutgoingValue<'_, V> {
    fn write_to(&self, out: &mut dyn WriteSeek, tier: Tier, path: &Path) -> Result<u64> {
        super::write::<V, V::Codec, _>(out, self.meta, self.key, self.value)
            .map_err(|e| write_error::<V>(e, tier, path))
    }

    fn to_vec(&self, tier: Tier, path: &Path) -> Result<Vec<u8>> {
        super::to_vec::<V, V::Codec>(self.meta, self.key, self.value, self.value.size_hint())
            .map_err(|e| write_error::<V>(e, tier, path))
    }

    fn expires_ms(&self) -> u64 {
        self.meta.expires_ms
    }
}

/// The cache error for a failed write of a `V` to `tier` at `path`.
fn write_error<V: Cacheable>(error: WriteError, tier: Tier, path: &Path) -> CacheError {
    match error {
        WriteError::Codec(e) => CacheError::Encode {
            what: V::type_tag().into_owned(),
            codec: <V::Codec as Codec<V>>::NAME,
            source: e,
        },
        WriteError::Io(e) => CacheError::io(tier, path, e),
    }
}

/// Where a read puts the value it decodes.
pub(crate) trait Incoming {
    /// Checks and decodes an entry held whole in memory. Returns its header.
    fn decode_entry(&mut self, entry: &[u8], expect: &Expect<'_>) -> Result<Header, Refusal>;

    /// Decodes the payload that follows `header` in `input` (see `read_payload`).
    fn read_payload(&mut self, input: &mut dyn Read, header: &Header) -> Result<(), Refusal>;

    /// Decodes a whole stored payload held in memory, checksum first.
    fn decode_payload(&mut self, payload: &[u8], header: &Header) -> Result<(), Refusal>;
}

/// The [`Incoming`] place of a value of type `V`: `None` until a read fills it. When
/// values carry their own types, the value is decoded by [`Cacheable::__decode_own`], with
/// the own type's fingerprint: the header's, unmixed from the namespace's salt.
pub(crate) struct IncomingValue<V> {
    pub value: Option<V>,
    /// The namespace's salt, for values of own types.
    pub own_salt: Option<u64>,
}

impl<V: Cacheable> IncomingValue<V> {
    pub fn new(own_salt: Option<u64>) -> Self {
        IncomingValue {
            value: None,
            own_salt,
        }
    }

    /// The own type's fingerprint of the value `header` introduces, for values of own
    /// types.
    #[inline]
    fn own_type(&self, header: &Header) -> Option<u64> {
        self.own_salt
            .filter(|_| V::__OWN_TYPES)
            .map(|salt| header.fingerprint ^ salt)
    }
}

impl<V: Cacheable> Incoming for IncomingValue<V> {
    fn decode_entry(&mut self, entry: &[u8], expect: &Expect<'_>) -> Result<Header, Refusal> {
        if V::__OWN_TYPES && self.own_salt.is_some() {
            let (header, payload) = super::read::split_slice(entry, expect)?;
            self.decode_payload(payload, &header)?;
            return Ok(header);
        }
        let (value, header) = super::decode_slice::<V, V::Codec>(entry, expect)?;
        self.value = Some(value);
        Ok(header)
    }

    fn read_payload(&mut self, input: &mut dyn Read, header: &Header) -> Result<(), Refusal> {
        self.value = Some(match self.own_type(header) {
            Some(own) => V::__decode_own(own, Payload::Stream(input), header)?,
            None => super::read_payload::<V, V::Codec, _>(input, header)?,
        });
        Ok(())
    }

    fn decode_payload(&mut self, payload: &[u8], header: &Header) -> Result<(), Refusal> {
        self.value = Some(match self.own_type(header) {
            Some(own) => V::__decode_own(own, Payload::Slice(payload), header)?,
            None => super::decode_verified::<V, V::Codec>(payload, header)?,
        });
        Ok(())
    }
}
