//! Reading entries: the header and key checked before anything is allocated, the payload
//! checked before any codec sees it, from a stream (files) or a slice (sled, maps).

use std::io::{self, Read};

use super::*;
use crate::codec::Codec;
use crate::hash::StreamHash;

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

/// The header and key of an entry held in memory, if they check out (the payload is not
/// looked at).
pub(crate) fn head_of(entry: &[u8]) -> Option<(Header, &[u8])> {
    let fixed: &[u8; HEADER_LEN] = entry.get(..HEADER_LEN)?.try_into().ok()?;
    let header = Header::parse(fixed).ok()?;
    let key_end = HEADER_LEN + header.key_len as usize;
    let checksum = entry.get(key_end..key_end + CHECKSUM_LEN)?;
    if hash64(entry.get(..key_end)?).to_le_bytes() != checksum {
        return None;
    }
    Some((header, &entry[HEADER_LEN..key_end]))
}

/// How many bytes from its start an entry's header, key and header checksum take, read
/// from its first bytes (`None` when they hold no valid fixed header).
#[cfg(feature = "redis")]
pub(crate) fn head_needs(head: &[u8]) -> Option<usize> {
    let fixed: &[u8; HEADER_LEN] = head.get(..HEADER_LEN)?.try_into().ok()?;
    let header = Header::parse(fixed).ok()?;
    Some(HEADER_LEN + header.key_len as usize + CHECKSUM_LEN)
}

/// An entry as sled holds it (payload right after the header checksum), checked and laid
/// out again as the file tier writes entries (payload aligned to [`PAYLOAD_ALIGN`]): for
/// moving an entry between tiers as it is, times and all. `None` when the entry does not
/// check out.
pub(crate) fn relaid_for_file(entry: &[u8]) -> Option<Vec<u8>> {
    let (mut header, key) = head_of(entry)?;
    let key_end = HEADER_LEN + key.len();
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
    Some(out)
}

/// Padding is zeros: anything else is damage.
fn check_padding(pad: &[u8]) -> Result<(), Refusal> {
    if pad.iter().all(|&b| b == 0) {
        Ok(())
    } else {
        Err(Refusal::invalid("corrupt entry (padding is not zero)"))
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
    let value = match header.packing {
        Packing::None => C::decode_from(&mut hashed, header.raw_len)?,
        Packing::Lz4 => {
            let mut decoder = lz4_flex::frame::FrameDecoder::new(&mut hashed);
            let value = C::decode_from(&mut decoder, header.raw_len)?;
            io::copy(&mut decoder, &mut io::sink())?;
            value
        }
        Packing::Zstd => {
            let mut decoder = zstd::Decoder::new(&mut hashed)?.single_frame();
            let value = C::decode_from(&mut decoder, header.raw_len)?;
            io::copy(&mut decoder, &mut io::sink())?;
            value
        }
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
pub(crate) fn split_slice<'e>(
    entry: &'e [u8],
    expect: &Expect<'_>,
) -> Result<(Header, &'e [u8]), Refusal> {
    let (header, key, payload) = split_unchecked_key(entry)?;
    header.check(key, expect)?;
    Ok((header, payload))
}

/// Splits an entry held whole in memory into its header, key and payload, checking the
/// header's checksum but not what the key or type should be.
fn split_unchecked_key(entry: &[u8]) -> Result<(Header, &[u8], &[u8]), Refusal> {
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
    Ok((header, &head[HEADER_LEN..], payload))
}

/// An entry held in memory as an audit sees it: its checked header and key, and with
/// `payload`, whether its payload's length and checksum check out (`Some(why)` if not).
pub(crate) fn audit_slice(
    entry: &[u8],
    payload: bool,
) -> Result<(Header, &[u8], Option<Refusal>), Refusal> {
    let (header, key, stored) = split_unchecked_key(entry)?;
    let fault = if stored.len() as u64 != header.stored_len {
        Some(Refusal::invalid("truncated entry"))
    } else if payload && hash64(stored) != header.payload_hash {
        Some(Refusal::invalid("corrupt payload (checksum mismatch)"))
    } else {
        None
    };
    Ok((header, key, fault))
}

/// Reads the payload that follows a header in `input` to its end, without decoding it:
/// `Some(why)` if its length or checksum does not check out, or it cannot be read.
pub(crate) fn audit_payload<R: Read>(input: R, header: &Header) -> Option<Refusal> {
    let mut hashed = HashReader {
        inner: input,
        hasher: StreamHash::new(),
        len: 0,
    };
    if let Err(e) = io::copy(&mut hashed, &mut io::sink()) {
        return Some(Refusal::Io(e));
    }
    if hashed.len != header.stored_len {
        Some(Refusal::Invalid(format!(
            "truncated entry ({} payload bytes of {})",
            hashed.len, header.stored_len
        )))
    } else if hashed.hasher.finish() != header.payload_hash {
        Some(Refusal::invalid("corrupt payload (checksum mismatch)"))
    } else {
        None
    }
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

/// Checks the header of an entry of `total` bytes from its first bytes, `head`, without
/// its payload (a Redis tier asks for a range). `Ok(Err(n))`: `head` is shorter than the
/// header, key and padding, which take `n` bytes.
#[cfg(feature = "redis")]
pub(crate) fn check_head(
    head: &[u8],
    total: u64,
    expect: &Expect<'_>,
) -> Result<std::result::Result<Header, usize>, Refusal> {
    let fixed: &[u8; HEADER_LEN] = head
        .get(..HEADER_LEN)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Refusal::invalid("truncated entry"))?;
    let needed = Header::parse(fixed)?.payload_offset();
    let Some(head) = usize::try_from(needed).ok().and_then(|n| head.get(..n)) else {
        return Ok(Err(usize::try_from(needed).unwrap_or(usize::MAX)));
    };
    let (header, _) = split_slice(head, expect)?;
    if total.checked_sub(needed) != Some(header.stored_len) {
        return Err(Refusal::invalid("truncated entry"));
    }
    Ok(Ok(header))
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
    if !header.is_compressed() && C::streams() {
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
    let encoded = match header.packing {
        Packing::None => payload,
        Packing::Lz4 => {
            raw = crate::codec::read_exact_vec(
                &mut lz4_flex::frame::FrameDecoder::new(payload),
                header.raw_len,
            )?;
            &raw[..]
        }
        Packing::Zstd => {
            raw = crate::codec::read_exact_vec(
                &mut zstd::Decoder::new(payload)?.single_frame(),
                header.raw_len,
            )?;
            &raw[..]
        }
    };
    Ok(C::decode(encoded)?)
}
