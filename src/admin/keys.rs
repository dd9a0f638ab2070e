//! Keys in printable form. A key is stored encoded (bincode, fixed-width big-endian
//! integers, strings as a 64-bit length and their bytes); with the key type the catalog
//! names, keys of the common types are shown as their value, others as hex.

/// `encoded` shown as its value when `key_type` is a common type (or, when no type is
/// recorded, as `"text"` if it reads as a string), else as `0x` and hex.
pub(super) fn shown(encoded: &[u8], key_type: Option<&str>) -> String {
    let value = match key_type {
        Some(t) => as_value(encoded, t),
        // Without a recorded type, what reads as a string is taken for one.
        None => as_string(encoded).map(|s| format!("{s:?}")),
    };
    value.unwrap_or_else(|| hex(encoded))
}

/// The key of `key_type` encoded as `encoded`, shown as Rust would print it.
fn as_value(encoded: &[u8], key_type: &str) -> Option<String> {
    fn be<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
        (b.len() == N).then(|| b.try_into().ok()).flatten()
    }
    Some(match key_type {
        "u8" => be::<1>(encoded).map(u8::from_be_bytes)?.to_string(),
        "u16" => be::<2>(encoded).map(u16::from_be_bytes)?.to_string(),
        "u32" => be::<4>(encoded).map(u32::from_be_bytes)?.to_string(),
        "u64" | "usize" => be::<8>(encoded).map(u64::from_be_bytes)?.to_string(),
        "u128" => be::<16>(encoded).map(u128::from_be_bytes)?.to_string(),
        "i8" => be::<1>(encoded).map(i8::from_be_bytes)?.to_string(),
        "i16" => be::<2>(encoded).map(i16::from_be_bytes)?.to_string(),
        "i32" => be::<4>(encoded).map(i32::from_be_bytes)?.to_string(),
        "i64" | "isize" => be::<8>(encoded).map(i64::from_be_bytes)?.to_string(),
        "i128" => be::<16>(encoded).map(i128::from_be_bytes)?.to_string(),
        "bool" => match encoded {
            [0] => "false".into(),
            [1] => "true".into(),
            _ => return None,
        },
        "alloc::string::String" | "&str" | "std::path::PathBuf" => {
            format!("{:?}", as_string(encoded)?)
        }
        _ => return None,
    })
}

/// A string key: a 64-bit big-endian length, then that many bytes of UTF-8.
fn as_string(encoded: &[u8]) -> Option<&str> {
    let (len, text) = encoded.split_first_chunk::<8>()?;
    if u64::from_be_bytes(*len) != text.len() as u64 {
        return None;
    }
    std::str::from_utf8(text).ok()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(2 + bytes.len() * 2);
    out.push_str("0x");
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode<K: serde::Serialize>(key: &K) -> Vec<u8> {
        let config = bincode::config::standard()
            .with_big_endian()
            .with_fixed_int_encoding();
        bincode::serde::encode_to_vec(key, config).expect("encode")
    }

    #[test]
    fn common_key_types_are_shown_as_values() {
        assert_eq!(shown(&encode(&42u64), Some("u64")), "42");
        assert_eq!(shown(&encode(&-7i32), Some("i32")), "-7");
        assert_eq!(shown(&encode(&true), Some("bool")), "true");
        let text = String::from("report \"q3\"");
        assert_eq!(
            shown(&encode(&text), Some("alloc::string::String")),
            "\"report \\\"q3\\\"\""
        );
        // Without a catalog, a string still reads as one; anything else is hex.
        assert_eq!(shown(&encode(&text), None), "\"report \\\"q3\\\"\"");
        assert_eq!(shown(&encode(&(1u8, 2u8)), Some("(u8, u8)")), "0x0102");
        // Bytes of a recorded non-string type are not read as text.
        let bytes = encode(&b"abc".to_vec());
        assert_eq!(shown(&bytes, Some("alloc::vec::Vec<u8>")), hex(&bytes));
        // A key that does not fit its recorded type is shown as hex, not misread.
        assert_eq!(shown(&[1, 2, 3], Some("u64")), "0x010203");
    }
}
