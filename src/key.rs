//! Keys: the [`CacheKey`] bound, and [`Address`], the stable address of a key in the
//! persistent tiers.
//!
//! A key is encoded with bincode (fixed-width big-endian integers, so that integer keys
//! sort in order) and hashed with xxh3-128 together with the namespace. The hash names
//! the entry (never `std`'s randomly seeded hasher, which changes every run); the encoded
//! key is stored in the entry, so a collision is detected, not served.

use std::hash::Hash;

use serde::Serialize;

use crate::codec::CodecError;
use crate::{CacheError, Result};

/// What a key must be: hashable and comparable in memory, serializable for the
/// persistent tiers (keys are written, never read back), and shareable between threads.
/// Implemented for every such type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a cache key",
    label = "not a key: needs Hash + Eq + Clone + Serialize + Send + Sync + 'static",
    note = "a key is hashed, compared and stored with the entry; for #[memoize], leave this argument out with `ignore = [..]`, or build the key yourself with `key = <expr>: <Type>`"
)]
pub trait CacheKey: Hash + Eq + Clone + Serialize + Send + Sync + 'static {}

// Not recommended, so that a type that is not a key gets the one message above instead
// of an error for each bound it misses.
#[diagnostic::do_not_recommend]
impl<T> CacheKey for T where T: Hash + Eq + Clone + Serialize + Send + Sync + 'static {}

/// The address of an entry in a persistent tier: the stable 128-bit hash of
/// (namespace, encoded key), and the encoded key itself, stored in the entry so that a
/// hash collision is detected instead of served.
///
/// The bytes are kept as one buffer, `namespace, 0, key`, which is also what was hashed;
/// `0, key` is the key's sled key (see `sled.rs`).
pub(crate) struct Address {
    /// Computed on first use: the sled tier needs it only for long keys.
    hash: std::cell::OnceCell<u128>,
    bytes: Vec<u8>,
    key_at: usize,
}

impl Address {
    /// `bytes` holds `namespace, 0, key`, with the key starting at `key_at`.
    pub fn new(bytes: Vec<u8>, key_at: usize) -> Self {
        debug_assert!(key_at >= 1 && key_at <= bytes.len() && bytes[key_at - 1] == 0);
        Address {
            hash: std::cell::OnceCell::new(),
            bytes,
            key_at,
        }
    }

    /// The stable 128-bit hash of `namespace, 0, key`.
    #[inline]
    pub fn hash(&self) -> u128 {
        *self.hash.get_or_init(|| crate::hash::hash128(&self.bytes))
    }

    /// The encoded key.
    #[inline]
    pub fn key(&self) -> &[u8] {
        &self.bytes[self.key_at..]
    }

    /// The encoded key behind a `0` byte.
    #[inline]
    pub fn zero_and_key(&self) -> &[u8] {
        &self.bytes[self.key_at.saturating_sub(1)..]
    }
}

/// How keys are encoded: fixed-width big-endian integers, so that integer keys sort in
/// order.
fn encoding() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_big_endian()
        .with_fixed_int_encoding()
}

/// The address of `key` in `namespace`, its encoding behind `version` if given (see
/// [`CacheConfig`](crate::CacheConfig)'s key version of a memoized function).
pub(crate) fn address<K: Serialize + ?Sized>(
    namespace: &str,
    version: Option<u64>,
    key: &K,
) -> Result<Address> {
    let mut bytes = Vec::with_capacity(namespace.len() + 1 + 16);
    bytes.extend_from_slice(namespace.as_bytes());
    bytes.push(0);
    let key_at = bytes.len();
    if let Some(version) = version {
        bytes.extend_from_slice(&version.to_be_bytes());
    }
    bincode::serde::encode_into_std_write(key, &mut bytes, encoding()).map_err(|e| {
        CacheError::Encode {
            what: "key".into(),
            codec: "bincode",
            source: CodecError::with_source("bincode cannot encode the key", e),
        }
    })?;
    let key_len = bytes.len() - key_at;
    if key_len > crate::entry::MAX_KEY_LEN as usize {
        return Err(CacheError::Encode {
            what: "key".into(),
            codec: "bincode",
            source: CodecError::new(format!(
                "the encoded key is {key_len} bytes, more than the 64 MiB a key may have; key the cache by a digest of it instead"
            )),
        });
    }
    Ok(Address::new(bytes, key_at))
}

/// The hash of `key`'s address in `namespace` ([`Address::hash`]), computed on the stack;
/// `None` for a namespace and key too long for it (build the [`Address`] then).
pub(crate) fn hash_of<K: Serialize + ?Sized>(
    namespace: &str,
    version: Option<u64>,
    key: &K,
) -> Option<u128> {
    let mut bytes = [0u8; 128];
    let mut at = namespace.len();
    bytes.get_mut(..at)?.copy_from_slice(namespace.as_bytes());
    at += 1; // the 0 between namespace and key
    if let Some(version) = version {
        bytes
            .get_mut(at..at + 8)?
            .copy_from_slice(&version.to_be_bytes());
        at += 8;
    }
    let len = bincode::serde::encode_into_slice(key, bytes.get_mut(at..)?, encoding()).ok()?;
    Some(crate::hash::hash128(&bytes[..at + len]))
}

/// A key read back from its encoding in an entry (behind `version`, if given); `None` when
/// it is not a `K`, or of another version.
pub(crate) fn decode<K: serde::de::DeserializeOwned>(
    version: Option<u64>,
    encoded: &[u8],
) -> Option<K> {
    let encoded = match version {
        Some(version) => encoded.strip_prefix(&version.to_be_bytes())?,
        None => encoded,
    };
    match bincode::serde::decode_from_slice(encoded, encoding()) {
        Ok((key, read)) if read == encoded.len() => Some(key),
        _ => None,
    }
}

/// The address of an already encoded key in `namespace` (read back from an entry).
pub(crate) fn address_of_encoded(namespace: &str, key: &[u8]) -> Address {
    let mut bytes = Vec::with_capacity(namespace.len() + 1 + key.len());
    bytes.extend_from_slice(namespace.as_bytes());
    bytes.push(0);
    let key_at = bytes.len();
    bytes.extend_from_slice(key);
    Address::new(bytes, key_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED_HASH: u128 = 0x928e_ce99_baf9_4761_ff05_e8ec_a6a8_8c55;

    #[test]
    fn addresses_are_stable_and_namespaced() {
        let a = address("ns", None, &"key".to_string()).expect("address");
        // Fixed across runs and builds: a persisted entry must be found again.
        assert_eq!(
            a.hash(),
            address("ns", None, &"key".to_string())
                .expect("address")
                .hash()
        );
        assert_ne!(
            a.hash(),
            address("other", None, &"key".to_string())
                .expect("address")
                .hash()
        );
        assert_ne!(
            a.hash(),
            address("ns", None, &"kez".to_string())
                .expect("address")
                .hash()
        );
        // Pinned: a change of this value orphans every persisted entry.
        assert_eq!(a.hash(), PINNED_HASH, "{:#x}", a.hash());
        assert_eq!(a.key(), b"\0\0\0\0\0\0\0\x03key");
        assert_eq!(address_of_encoded("ns", a.key()).hash(), PINNED_HASH);
        assert_eq!(hash_of("ns", None, &"key".to_string()), Some(PINNED_HASH));
        let versioned = address("ns", Some(7), &(1u8, -2i64)).expect("address");
        assert_eq!(
            hash_of("ns", Some(7), &(1u8, -2i64)),
            Some(versioned.hash())
        );
        assert_eq!(hash_of("ns", None, &"k".repeat(200)), None, "too long");
        assert_eq!(decode::<String>(None, a.key()).as_deref(), Some("key"));
        assert_eq!(decode::<u64>(None, a.key()), None, "another type's key");
        // A version before the key: another address, read back only by its version.
        let v1 = address("ns", Some(1), &"key".to_string()).expect("address");
        let v2 = address("ns", Some(2), &"key".to_string()).expect("address");
        assert_ne!(v1.hash(), v2.hash());
        assert_ne!(v1.hash(), PINNED_HASH);
        assert_eq!(decode::<String>(Some(1), v1.key()).as_deref(), Some("key"));
        assert_eq!(decode::<String>(Some(2), v1.key()), None);
        assert_eq!(
            address("ns", None, &258u64).expect("address").key(),
            258u64.to_be_bytes()
        );
    }
}
