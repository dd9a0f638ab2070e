//! The raw codec for vectors: a `Vec` of plain numbers (`u8` … `u128`, `i8` … `i128`,
//! `f32`, `f64`) is written as its little-endian bytes in one write, and read back
//! straight into the vector's own allocation. Vectors of anything else fall back to
//! bincode. The first payload byte says which form follows.

use std::any::Any;
use std::io::{Read, Write};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{pod, Bincode, Codec, CodecError};

/// The codec of `Vec<T>`: raw little-endian bytes for numbers, bincode otherwise.
#[derive(Clone, Copy, Debug, Default)]
pub struct Raw;

const FORM_BINCODE: u8 = 0;
const FORM_RAW: u8 = 1;

/// Whether `T` is one of the plain number types stored raw.
fn is_pod<T: 'static>() -> bool {
    use std::any::TypeId;
    let t = TypeId::of::<T>();
    [
        TypeId::of::<u8>(),
        TypeId::of::<u16>(),
        TypeId::of::<u32>(),
        TypeId::of::<u64>(),
        TypeId::of::<u128>(),
        TypeId::of::<i8>(),
        TypeId::of::<i16>(),
        TypeId::of::<i32>(),
        TypeId::of::<i64>(),
        TypeId::of::<i128>(),
        TypeId::of::<f32>(),
        TypeId::of::<f64>(),
    ]
    .contains(&t)
}

/// The bytes of `v` when `T` is a plain number type; `None` otherwise.
// A `Vec` rather than a slice: only a sized, 'static type can be downcast.
#[allow(clippy::ptr_arg)]
fn pod_bytes<T: 'static>(v: &Vec<T>) -> Option<&[u8]> {
    let any = v as &dyn Any;
    macro_rules! try_types {
        ($($t:ty),*) => {$(
            if let Some(v) = any.downcast_ref::<Vec<$t>>() {
                return Some(bytemuck::cast_slice::<$t, u8>(v));
            }
        )*};
    }
    try_types!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, f32, f64);
    None
}

/// Where raw numbers come from: a slice held in memory, or `len` bytes of a stream.
enum Input<'a, R> {
    Slice(&'a [u8]),
    Stream(&'a mut R, u64),
}

impl<R> Input<'_, R> {
    fn len(&self) -> u64 {
        match self {
            Input::Slice(bytes) => bytes.len() as u64,
            Input::Stream(_, len) => *len,
        }
    }
}

/// Reads raw numbers into a new `Vec<T>`; `None` when `T` is not a plain number type.
fn read_pod<T: 'static, R: Read>(input: Input<'_, R>) -> Option<Result<Vec<T>, CodecError>> {
    macro_rules! try_types {
        ($($t:ty),*) => {$(
            if std::any::TypeId::of::<T>() == std::any::TypeId::of::<$t>() {
                // `T` is `$t`: move the vector into a slot of type `Option<Vec<T>>`
                // through `Any`, without an allocation.
                let mut slot: Option<Vec<T>> = None;
                let read = match read_numbers::<$t, R>(input) {
                    Ok(read) => read,
                    Err(e) => return Some(Err(e)),
                };
                if let Some(slot) = (&mut slot as &mut dyn Any).downcast_mut::<Option<Vec<$t>>>() {
                    *slot = Some(read);
                }
                return Some(slot.ok_or_else(|| CodecError::new("raw codec: element type mismatch")));
            }
        )*};
    }
    try_types!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128, f32, f64);
    None
}

fn read_numbers<N: bytemuck::Pod, R: Read>(input: Input<'_, R>) -> Result<Vec<N>, CodecError> {
    let size = std::mem::size_of::<N>() as u64;
    let len = input.len();
    if !len.is_multiple_of(size) {
        return Err(CodecError::new(format!(
            "raw payload of {len} bytes is not a whole number of {size}-byte elements"
        )));
    }
    let count = usize::try_from(len / size)
        .map_err(|_| CodecError::new("raw payload too large for this platform"))?;
    let mut v: Vec<N> = match input {
        // Copied straight into the vector (bytes that are not aligned for N go through
        // a zeroed buffer).
        Input::Slice(bytes) => match bytemuck::try_cast_slice::<u8, N>(bytes) {
            Ok(numbers) => numbers.to_vec(),
            Err(_) => {
                let mut v = vec![N::zeroed(); count];
                bytemuck::cast_slice_mut::<N, u8>(&mut v).copy_from_slice(bytes);
                v
            }
        },
        Input::Stream(reader, _) => return pod::read_vec(reader, count),
    };
    pod::from_little_endian(bytemuck::cast_slice_mut(&mut v), size as usize);
    Ok(v)
}

impl<T> Codec<Vec<T>> for Raw
where
    T: Serialize + DeserializeOwned + 'static,
{
    const ID: u16 = super::ids::RAW;
    const NAME: &'static str = "raw";

    fn streams() -> bool {
        is_pod::<T>()
    }

    fn encode<W: Write>(value: &Vec<T>, out: &mut W) -> Result<(), CodecError> {
        match pod_bytes(value) {
            Some(bytes) => {
                out.write_all(&[FORM_RAW])?;
                pod::write_le_bytes(bytes, std::mem::size_of::<T>(), out)?;
                Ok(())
            }
            None => {
                out.write_all(&[FORM_BINCODE])?;
                <Bincode as Codec<Vec<T>>>::encode(value, out)
            }
        }
    }

    fn decode(bytes: &[u8]) -> Result<Vec<T>, CodecError> {
        let (&form, rest) = bytes
            .split_first()
            .ok_or_else(|| CodecError::new("empty raw payload"))?;
        match form {
            FORM_RAW => read_pod::<T, &[u8]>(Input::Slice(rest)).unwrap_or_else(not_numbers),
            FORM_BINCODE => <Bincode as Codec<Vec<T>>>::decode(rest),
            other => Err(unknown_form(other)),
        }
    }

    fn decode_from<R: Read>(input: &mut R, len: u64) -> Result<Vec<T>, CodecError> {
        if len == 0 {
            return Err(CodecError::new("empty raw payload"));
        }
        let mut form = [0u8; 1];
        input.read_exact(&mut form)?;
        match form[0] {
            FORM_RAW => read_pod::<T, R>(Input::Stream(input, len - 1)).unwrap_or_else(not_numbers),
            FORM_BINCODE => <Bincode as Codec<Vec<T>>>::decode_from(input, len - 1),
            other => Err(unknown_form(other)),
        }
    }
}

fn not_numbers<T>() -> Result<T, CodecError> {
    Err(CodecError::new(
        "raw payload for an element type that is not a plain number",
    ))
}

fn unknown_form(form: u8) -> CodecError {
    CodecError::new(format!("unknown raw payload form {form}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T>(v: Vec<T>) -> Vec<u8>
    where
        T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug + 'static,
    {
        let mut buf = Vec::new();
        <Raw as Codec<Vec<T>>>::encode(&v, &mut buf).expect("encode");
        let back: Vec<T> = <Raw as Codec<Vec<T>>>::decode(&buf).expect("decode");
        assert_eq!(back, v);
        let streamed: Vec<T> =
            <Raw as Codec<Vec<T>>>::decode_from(&mut buf.as_slice(), buf.len() as u64)
                .expect("stream");
        assert_eq!(streamed, v);
        buf
    }

    #[test]
    fn numbers_are_raw_little_endian() {
        let buf = round_trip(vec![1u32, 2, 0xdead_beef]);
        assert_eq!(buf[0], FORM_RAW);
        assert_eq!(&buf[1..5], &1u32.to_le_bytes());
        assert_eq!(buf.len(), 1 + 12);
        round_trip(vec![1.5f64, -0.0, f64::MAX]);
        round_trip(Vec::<u8>::new());
        round_trip(vec![i128::MIN, 7]);
    }

    #[test]
    fn other_elements_use_bincode() {
        let buf = round_trip(vec!["a".to_string(), "bc".to_string()]);
        assert_eq!(buf[0], FORM_BINCODE);
        round_trip(vec![true, false]);
        round_trip(vec![(1u8, 2u16)]);
    }

    #[test]
    fn ragged_raw_payload_is_an_error() {
        let mut buf = Vec::new();
        <Raw as Codec<Vec<u32>>>::encode(&vec![1u32, 2], &mut buf).expect("encode");
        buf.pop();
        assert!(<Raw as Codec<Vec<u32>>>::decode(&buf).is_err());
        // A raw u32 payload read back as strings is refused, not misread.
        let mut buf = Vec::new();
        <Raw as Codec<Vec<u32>>>::encode(&vec![1u32, 2], &mut buf).expect("encode");
        assert!(<Raw as Codec<Vec<String>>>::decode(&buf).is_err());
    }
}
