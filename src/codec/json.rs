//! The JSON codec: any serde type, as JSON text. Self-describing, so it decodes the types
//! bincode cannot (`serde_json::Value`, untagged and internally tagged enums).

use std::io::Write;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Codec, CodecError};

/// Encodes any `Serialize + DeserializeOwned` type as JSON.
#[derive(Clone, Copy, Debug, Default)]
pub struct Json;

impl<T> Codec<T> for Json
where
    T: Serialize + DeserializeOwned + 'static,
{
    const ID: u16 = super::ids::JSON;
    const NAME: &'static str = "json";

    fn encode<W: Write>(value: &T, out: &mut W) -> Result<(), CodecError> {
        serde_json::to_writer(out, value)
            .map_err(|e| CodecError::with_source("JSON cannot encode the value", e))
    }

    fn decode(bytes: &[u8]) -> Result<T, CodecError> {
        serde_json::from_slice(bytes)
            .map_err(|e| CodecError::with_source("the payload is not JSON of this type", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_json_value() {
        let value: serde_json::Value = serde_json::json!({"a": [1, 2.5, null], "b": {"c": "d"}});
        let mut buf = Vec::new();
        <Json as Codec<serde_json::Value>>::encode(&value, &mut buf).expect("encode");
        let back: serde_json::Value =
            <Json as Codec<serde_json::Value>>::decode(&buf).expect("decode");
        assert_eq!(back, value);
        assert!(<Json as Codec<serde_json::Value>>::decode(b"{\"a\":").is_err());
    }
}
