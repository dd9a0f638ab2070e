//! The stable hashes of the crate: XXH3 (64 and 128 bits, seed 0), the same on every
//! build and machine, for everything that is persisted (entry checksums, addresses, type
//! fingerprints). The implementation picks AVX2 or NEON at run time where available.

/// XXH3-64 of `bytes`.
#[inline]
pub(crate) fn hash64(bytes: &[u8]) -> u64 {
    twox_hash::XxHash3_64::oneshot(bytes)
}

/// XXH3-128 of `bytes`.
#[inline]
pub(crate) fn hash128(bytes: &[u8]) -> u128 {
    twox_hash::XxHash3_128::oneshot(bytes)
}

/// XXH3-64 of bytes that arrive in pieces; equal to [`hash64`] of their concatenation.
pub(crate) struct StreamHash(twox_hash::XxHash3_64);

impl StreamHash {
    pub fn new() -> Self {
        StreamHash(twox_hash::XxHash3_64::new())
    }

    #[inline]
    pub fn write(&mut self, bytes: &[u8]) {
        std::hash::Hasher::write(&mut self.0, bytes);
    }

    pub fn finish(&self) -> u64 {
        std::hash::Hasher::finish(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_equals_oneshot_and_values_are_pinned() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        let mut s = StreamHash::new();
        for chunk in data.chunks(333) {
            s.write(chunk);
        }
        assert_eq!(s.finish(), hash64(&data));
        // XXH3 test vectors (seed 0) for the empty input.
        assert_eq!(hash64(b""), 0x2d06_8005_38d3_94c2);
        assert_eq!(hash128(b""), 0x99aa_06d3_0147_98d8_6001_c324_468d_497f);
    }
}
