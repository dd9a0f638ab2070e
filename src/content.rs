//! Content keys: a value keyed by what it holds, for arguments that cannot be keys
//! themselves (arrays of floats, DataFrames, images) or are too large to copy into one.
//!
//! [`content_hash`] is the XXH3-128 of the value's type fingerprint (its tag, version and
//! codec) and of its stored form, streamed through its codec into the hasher: for an array
//! that is its element type, its shape and its elements in logical order, as joblib hashes
//! numpy inputs; for a DataFrame its schema and columns (Arrow IPC). Nothing is copied: a
//! contiguous array is hashed in place.

use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::codec::Codec;
use crate::Cacheable;

/// The key of a value by its content: equal for equal values of one type, and stable
/// across processes and builds. `#[memoize]` keys array, DataFrame and image arguments by
/// it; `ContentKey::of(&array)` does it for a `SmartCache`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ContentKey(u128);

impl ContentKey {
    /// The key of `value`'s content.
    pub fn of<T: Cacheable>(value: &T) -> ContentKey {
        ContentKey(content_hash(value))
    }

    /// The hash itself.
    pub fn as_u128(&self) -> u128 {
        self.0
    }
}

/// The XXH3-128 of `value`'s type and content (see the [module](self) docs). A value its
/// codec cannot encode hashes what the codec wrote before it failed, and its error.
pub fn content_hash<T: Cacheable>(value: &T) -> u128 {
    let mut hasher = HashWriter(twox_hash::XxHash3_128::new());
    hasher
        .0
        .write(&crate::cacheable::fingerprint::<T>().to_le_bytes());
    if let Err(e) = <T::Codec as Codec<T>>::encode(value, &mut hasher) {
        // Not a key two different values could share by accident: the error is hashed.
        hasher.0.write(b"\0encode failed\0");
        hasher.0.write(e.to_string().as_bytes());
    }
    hasher.0.finish_128()
}

/// A writer that hashes what it is given.
struct HashWriter(twox_hash::XxHash3_128);

impl Write for HashWriter {
    #[inline]
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.write(bytes);
        Ok(bytes.len())
    }

    #[inline]
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.write(bytes);
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_a_key_and_others_do_not() {
        assert_eq!(
            ContentKey::of(&vec![1.5f64, 2.0]),
            ContentKey::of(&vec![1.5f64, 2.0])
        );
        assert_ne!(
            ContentKey::of(&vec![1.5f64, 2.0]),
            ContentKey::of(&vec![1.5f64, 2.5])
        );
        // The type is part of it: the same bytes as another type are another key.
        assert_ne!(ContentKey::of(&vec![0u8; 8]), ContentKey::of(&0u64));
    }
}
