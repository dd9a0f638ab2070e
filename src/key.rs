//! Keys: the [`CacheKey`] bound, and the stable address of a key in the persistent tiers.
//!
//! A key is encoded with bincode and hashed with xxh3-128 together with the namespace.
//! The hash names the entry (never `std`'s randomly seeded hasher, which changes every
//! run); the encoded key is stored in the entry, so a collision is detected, not served.

use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::tier::Address;
use crate::{CacheError, Result};

/// What a key must be: hashable and comparable in memory, serializable for the
/// persistent tiers, and shareable between threads. Implemented for every such type.
pub trait CacheKey: Hash + Eq + Clone + Serialize + DeserializeOwned + Send + Sync + 'static {}

impl<T> CacheKey for T where T: Hash + Eq + Clone + Serialize + DeserializeOwned + Send + Sync + 'static {}

/// The address of `key` in `namespace`.
pub(crate) fn address<K: Serialize>(namespace: &str, key: &K) -> Result<Address> {
    let key = bincode::serde::encode_to_vec(key, bincode::config::standard()).map_err(|e| {
        CacheError::Encode {
            what: "key".into(),
            codec: "bincode",
            message: e.to_string(),
        }
    })?;
    let mut input = Vec::with_capacity(namespace.len() + 1 + key.len());
    input.extend_from_slice(namespace.as_bytes());
    input.push(0);
    input.extend_from_slice(&key);
    Ok(Address {
        hash: xxhash_rust::xxh3::xxh3_128(&input),
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_stable_and_namespaced() {
        let a = address("ns", &"key".to_string()).expect("address");
        // Fixed across runs and builds: a persisted entry must be found again.
        assert_eq!(a.hash, address("ns", &"key".to_string()).expect("address").hash);
        assert_ne!(a.hash, address("other", &"key".to_string()).expect("address").hash);
        assert_ne!(a.hash, address("ns", &"kez".to_string()).expect("address").hash);
        assert_eq!(a.key, b"\x03key");
    }
}
