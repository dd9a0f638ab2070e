//! The bincode codec: any serde type, in bincode 2's standard (little-endian, varint)
//! format. The default codec of the built-in and derived types.

use std::io::Write;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Codec, CodecError};

/// Encodes any `Serialize + DeserializeOwned` type with bincode 2.
///
/// bincode cannot decode types that need `deserialize_any` (`serde_json::Value`,
/// `#[serde(untagged)]` and internally tagged enums): such types need a self-describing
/// codec.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bincode;

/// The most bytes one value may claim while decoding. A length prefix read from a
/// payload written by another shape of the type (a `VERSION` that was not bumped) could
/// otherwise ask for an allocation that aborts the process: bincode allocates a string's
/// bytes before reading them (`absurd_length_prefixes_are_errors_not_aborts` below
/// aborts without the limit). bincode checks the limit at every number it reads, which
/// costs a few percent of a sled-tier get of a struct of 200 numbers.
#[cfg(target_pointer_width = "64")]
const LIMIT: usize = 1 << 36;
#[cfg(not(target_pointer_width = "64"))]
const LIMIT: usize = 1 << 30;

const CONFIG: bincode::config::Configuration = bincode::config::standard();
const DECODE_CONFIG: bincode::config::Configuration<
    bincode::config::LittleEndian,
    bincode::config::Varint,
    bincode::config::Limit<LIMIT>,
> = bincode::config::standard().with_limit::<LIMIT>();

impl<T> Codec<T> for Bincode
where
    T: Serialize + DeserializeOwned + 'static,
{
    const ID: u16 = super::ids::BINCODE;
    const NAME: &'static str = "bincode";

    fn encode<W: Write>(value: &T, out: &mut W) -> Result<(), CodecError> {
        bincode::serde::encode_into_std_write(value, out, CONFIG)
            .map(|_| ())
            .map_err(|e| CodecError::with_source("bincode cannot encode the value", e))
    }

    fn decode(bytes: &[u8]) -> Result<T, CodecError> {
        let (value, read) = bincode::serde::decode_from_slice(bytes, DECODE_CONFIG)
            .map_err(|e| CodecError::with_source("bincode cannot decode the payload", e))?;
        if read != bytes.len() {
            return Err(CodecError::new(format!(
                "{} trailing bytes after the value",
                bytes.len() - read
            )));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug + 'static>(v: T) {
        let mut buf = Vec::new();
        <Bincode as Codec<T>>::encode(&v, &mut buf).expect("encode");
        let back: T = <Bincode as Codec<T>>::decode(&buf).expect("decode");
        assert_eq!(back, v);
    }

    #[test]
    fn round_trips_common_types() {
        round_trip(42u64);
        round_trip(String::from("héllo"));
        round_trip(vec![(1u8, "a".to_string()), (2, "b".to_string())]);
        round_trip(HashMap::from([(1u32, vec![1.5f64])]));
        round_trip(Some(()));
    }

    #[test]
    fn absurd_length_prefixes_are_errors_not_aborts() {
        use std::collections::{BTreeMap, HashSet, VecDeque};
        // Length prefixes of 2^62 and 2^40 (varint markers 0xFD and 0xFC), then a few
        // bytes: an abort here (allocation failure) ends the whole test run.
        for claim in [1u64 << 62, 1 << 40, u64::MAX] {
            let mut bytes = vec![0xFD];
            bytes.extend_from_slice(&claim.to_le_bytes());
            bytes.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
            assert!(<Bincode as Codec<String>>::decode(&bytes).is_err());
            assert!(<Bincode as Codec<Vec<u8>>>::decode(&bytes).is_err());
            assert!(<Bincode as Codec<Vec<u64>>>::decode(&bytes).is_err());
            assert!(<Bincode as Codec<Vec<String>>>::decode(&bytes).is_err());
            assert!(<Bincode as Codec<Vec<Vec<u8>>>>::decode(&bytes).is_err());
            assert!(<Bincode as Codec<Box<[u64]>>>::decode(&bytes).is_err());
            assert!(<Bincode as Codec<VecDeque<u64>>>::decode(&bytes).is_err());
            assert!(<Bincode as Codec<HashMap<u64, u64>>>::decode(&bytes).is_err());
            assert!(<Bincode as Codec<HashSet<u64>>>::decode(&bytes).is_err());
            assert!(<Bincode as Codec<BTreeMap<u64, String>>>::decode(&bytes).is_err());
            assert!(<Bincode as Codec<(u32, Vec<f64>)>>::decode(&bytes).is_err());
        }
    }

    #[test]
    fn trailing_and_truncated_bytes_are_errors() {
        let mut buf = Vec::new();
        <Bincode as Codec<String>>::encode(&"abcdef".to_string(), &mut buf).expect("encode");
        let mut longer = buf.clone();
        longer.push(0);
        assert!(<Bincode as Codec<String>>::decode(&longer).is_err());
        assert!(<Bincode as Codec<String>>::decode(&buf[..buf.len() - 1]).is_err());
    }
}
