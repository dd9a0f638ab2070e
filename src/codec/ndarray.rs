//! The codec of `ndarray` arrays: a small header (element type, element size, number of
//! axes, shape), then every element as little-endian bytes in logical (row-major) order.
//!
//! ```text
//! byte 0      element type code (see Element::DTYPE)
//! byte 1      element size in bytes
//! byte 2      number of axes n
//! bytes 3..8  zero
//! n × u64     the shape, little-endian
//! padding     zeros, to a multiple of 16 bytes
//! data        the elements
//! ```
//!
//! The header is a multiple of 16 bytes so that, in a file entry (whose payload starts at
//! a 64-byte boundary), the data can be viewed in place when memory-mapped.

use std::io::{Read, Write};

use ndarray::{Array, Dimension, IxDyn};

use super::{pod, Codec, CodecError};

/// Most axes accepted when reading (more is corruption).
const MAX_AXES: usize = 32;

/// The codec of [`ndarray::Array`]: raw little-endian elements behind a shape header.
#[derive(Clone, Copy, Debug, Default)]
pub struct NdArray;

mod sealed {
    pub trait Sealed {}
}

/// An element type that arrays can be cached with: every primitive number type and
/// `bool`.
pub trait Element: Clone + Send + Sync + 'static + sealed::Sealed {
    /// The type's code in the array header.
    #[doc(hidden)]
    const DTYPE: u8;
    /// The type's name, in type tags and messages.
    #[doc(hidden)]
    const NAME: &'static str;

    /// Writes elements as little-endian bytes.
    #[doc(hidden)]
    fn write_le<W: Write>(items: &[Self], out: &mut W) -> std::io::Result<()>;

    /// Reads `count` elements stored little-endian.
    #[doc(hidden)]
    fn read_le<R: Read>(input: &mut R, count: usize) -> Result<Vec<Self>, CodecError>;
}

/// An element type whose stored bytes can be viewed in place, without a copy: every
/// primitive number type (not `bool`, whose bytes would each need checking). See
/// [`SmartCache::get_mapped`](crate::SmartCache::get_mapped).
pub trait MappableElement: Element {
    /// Views little-endian bytes in place as elements, when their alignment and the
    /// target's byte order allow it.
    #[doc(hidden)]
    fn view(bytes: &[u8]) -> Option<&[Self]>;
}

macro_rules! numbers {
    ($($t:ty => $code:expr),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: u8 = $code;
            const NAME: &'static str = stringify!($t);
            fn write_le<W: Write>(items: &[Self], out: &mut W) -> std::io::Result<()> {
                pod::write_slice(items, out)
            }
            fn read_le<R: Read>(input: &mut R, count: usize) -> Result<Vec<Self>, CodecError> {
                pod::read_vec(input, count)
            }
        }
        impl MappableElement for $t {
            fn view(bytes: &[u8]) -> Option<&[Self]> {
                if cfg!(target_endian = "big") && std::mem::size_of::<$t>() > 1 {
                    return None;
                }
                bytemuck::try_cast_slice(bytes).ok()
            }
        }
    )*};
}

numbers! {
    u8 => 1, u16 => 2, u32 => 3, u64 => 4, u128 => 5, usize => 6,
    i8 => 7, i16 => 8, i32 => 9, i64 => 10, i128 => 11, isize => 12,
    f32 => 13, f64 => 14,
}

impl sealed::Sealed for bool {}
impl Element for bool {
    const DTYPE: u8 = 15;
    const NAME: &'static str = "bool";

    fn write_le<W: Write>(items: &[Self], out: &mut W) -> std::io::Result<()> {
        out.write_all(bytemuck::cast_slice::<bool, u8>(items))
    }

    fn read_le<R: Read>(input: &mut R, count: usize) -> Result<Vec<Self>, CodecError> {
        let bytes: Vec<u8> = pod::read_vec(input, count)?;
        bytes
            .into_iter()
            .map(|b| match b {
                0 => Ok(false),
                1 => Ok(true),
                other => Err(CodecError::new(format!("{other} is not a bool"))),
            })
            .collect()
    }
}

/// The header's length for `axes` axes: a multiple of 16 bytes.
pub(crate) fn header_len(axes: usize) -> usize {
    (8 + 8 * axes).div_ceil(16) * 16
}

/// The name of a dimension type in type tags: `Ix2`, or `IxDyn`.
pub(crate) fn dimension_name<D: Dimension>() -> String {
    match D::NDIM {
        Some(n) => format!("Ix{n}"),
        None => "IxDyn".to_string(),
    }
}

/// A checked array header: the shape, and where the data starts and how long it is.
#[derive(Debug)]
pub(crate) struct Layout {
    pub shape: Vec<usize>,
    pub count: usize,
    /// Bytes from the start of the payload to the first element.
    pub data_offset: usize,
}

/// Reads and checks the header of an array of `A` with dimension `D`, in a payload of
/// `len` bytes: the element type, the number of axes, and that the shape accounts for
/// exactly the bytes that follow.
pub(crate) fn read_layout<A: Element, D: Dimension, R: Read>(
    input: &mut R,
    len: u64,
) -> Result<Layout, CodecError> {
    let mut fixed = [0u8; 8];
    input.read_exact(&mut fixed)?;
    let [dtype, size, axes, ..] = fixed;
    if dtype != A::DTYPE || usize::from(size) != std::mem::size_of::<A>() {
        return Err(CodecError::new(format!(
            "array of element type {dtype} ({size} bytes), expected {} ({} bytes)",
            A::NAME,
            std::mem::size_of::<A>()
        )));
    }
    let axes = usize::from(axes);
    if axes > MAX_AXES || D::NDIM.is_some_and(|n| n != axes) {
        return Err(CodecError::new(format!(
            "array of {axes} axes, expected {}",
            dimension_name::<D>()
        )));
    }
    let data_offset = header_len(axes);
    let mut rest = vec![0u8; data_offset - 8];
    input.read_exact(&mut rest)?;
    let mut shape = Vec::with_capacity(axes);
    let mut count: u64 = 1;
    for field in rest.chunks_exact(8).take(axes) {
        let mut b = [0u8; 8];
        b.copy_from_slice(field);
        let extent = u64::from_le_bytes(b);
        count = count
            .checked_mul(extent)
            .ok_or_else(|| CodecError::new("array shape overflows"))?;
        shape.push(
            usize::try_from(extent)
                .map_err(|_| CodecError::new("array too large for this platform"))?,
        );
    }
    let data_len = count
        .checked_mul(std::mem::size_of::<A>() as u64)
        .ok_or_else(|| CodecError::new("array shape overflows"))?;
    if (data_offset as u64).checked_add(data_len) != Some(len) {
        return Err(CodecError::new(format!(
            "array shape {shape:?} does not match the {len}-byte payload"
        )));
    }
    let count =
        usize::try_from(count).map_err(|_| CodecError::new("array too large for this platform"))?;
    Ok(Layout {
        shape,
        count,
        data_offset,
    })
}

/// The dimension value of type `D` for `shape`.
pub(crate) fn dimension<D: Dimension>(shape: &[usize]) -> Result<D, CodecError> {
    D::from_dimension(&IxDyn(shape)).ok_or_else(|| {
        CodecError::new(format!(
            "shape {shape:?} is not a {}",
            dimension_name::<D>()
        ))
    })
}

impl<A: Element, D: Dimension + 'static> Codec<Array<A, D>> for NdArray {
    const ID: u16 = super::ids::NDARRAY;
    const NAME: &'static str = "ndarray";

    fn streams() -> bool {
        // Only the header is interpreted before the checksum is known, and it is checked
        // against the payload length the verified entry header gives.
        true
    }

    fn encode<W: Write>(value: &Array<A, D>, out: &mut W) -> Result<(), CodecError> {
        let axes = value.ndim();
        let mut head = vec![0u8; header_len(axes)];
        head[0] = A::DTYPE;
        head[1] = std::mem::size_of::<A>() as u8;
        head[2] = u8::try_from(axes)
            .ok()
            .filter(|&a| usize::from(a) <= MAX_AXES)
            .ok_or_else(|| CodecError::new(format!("arrays of {axes} axes are not supported")))?;
        for (field, &extent) in head[8..].chunks_exact_mut(8).zip(value.shape()) {
            field.copy_from_slice(&(extent as u64).to_le_bytes());
        }
        out.write_all(&head)?;
        match value.as_slice() {
            // Row-major and contiguous: one write.
            Some(items) => A::write_le(items, out)?,
            // Transposed, sliced or reversed: copied out in logical order, a chunk at a time.
            None => {
                let per_chunk = (pod::CHUNK / std::mem::size_of::<A>().max(1)).max(1);
                let mut chunk = Vec::with_capacity(per_chunk.min(value.len()));
                for item in value.iter() {
                    chunk.push(item.clone());
                    if chunk.len() == per_chunk {
                        A::write_le(&chunk, out)?;
                        chunk.clear();
                    }
                }
                A::write_le(&chunk, out)?;
            }
        }
        Ok(())
    }

    fn decode(bytes: &[u8]) -> Result<Array<A, D>, CodecError> {
        let mut input = bytes;
        let array = Self::decode_from(&mut input, bytes.len() as u64)?;
        Ok(array)
    }

    fn decode_from<R: Read>(input: &mut R, len: u64) -> Result<Array<A, D>, CodecError> {
        let layout = read_layout::<A, D, R>(input, len)?;
        let items = A::read_le(input, layout.count)?;
        Array::from_shape_vec(dimension::<D>(&layout.shape)?, items)
            .map_err(|e| CodecError::new(format!("array does not fit its shape: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr2, s, Array1, Array2, Array3, ArrayD, Axis, ShapeBuilder};

    fn round_trip<A, D>(a: &Array<A, D>) -> Array<A, D>
    where
        A: Element + PartialEq + std::fmt::Debug,
        D: Dimension + 'static,
    {
        let mut buf = Vec::new();
        NdArray::encode(a, &mut buf).expect("encode");
        assert_eq!(buf.len() % 16, (a.len() * std::mem::size_of::<A>()) % 16);
        let back: Array<A, D> = NdArray::decode(&buf).expect("decode");
        assert_eq!(&back, a);
        back
    }

    #[test]
    fn layouts_come_back_equal_and_standard() {
        let a = Array2::from_shape_fn((7, 5), |(i, j)| (i * 10 + j) as f64);
        round_trip(&a);
        round_trip(&a.clone().reversed_axes());
        round_trip(&a.slice(s![1..6;2, ..;-1]).to_owned());
        let mut f = Array2::<i32>::zeros((3, 4).f());
        f.indexed_iter_mut()
            .for_each(|((i, j), x)| *x = (i * 4 + j) as i32);
        assert!(f.as_slice().is_none());
        round_trip(&f);
        let mut v = Array1::from_vec((0..10u16).collect());
        v.invert_axis(Axis(0));
        round_trip(&v);
        round_trip(&Array3::<bool>::from_shape_fn((2, 3, 4), |(a, b, c)| {
            (a + b + c) % 2 == 0
        }));
        round_trip(&ArrayD::<i128>::zeros(IxDyn(&[2, 0, 3])));
        round_trip(&arr2(&[[1u8, 2], [3, 4]]));
    }

    #[test]
    fn wrong_type_or_shape_is_refused() {
        let mut buf = Vec::new();
        NdArray::encode(&Array2::<f64>::zeros((2, 3)), &mut buf).expect("encode");
        assert!(<NdArray as Codec<Array2<f32>>>::decode(&buf).is_err());
        assert!(<NdArray as Codec<Array2<u64>>>::decode(&buf).is_err());
        assert!(<NdArray as Codec<Array3<f64>>>::decode(&buf).is_err());
        assert!(<NdArray as Codec<ArrayD<f64>>>::decode(&buf).is_ok());
        let mut short = buf.clone();
        short.pop();
        assert!(<NdArray as Codec<Array2<f64>>>::decode(&short).is_err());
        let mut huge = buf.clone();
        huge[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(<NdArray as Codec<Array2<f64>>>::decode(&huge).is_err());
        let mut bad_bool = Vec::new();
        NdArray::encode(&Array1::from_vec(vec![true, false]), &mut bad_bool).expect("encode");
        *bad_bool.last_mut().expect("data") = 7;
        assert!(<NdArray as Codec<Array1<bool>>>::decode(&bad_bool).is_err());
    }
}
