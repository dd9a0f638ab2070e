//! [`Cacheable`] for `ndarray` arrays (feature `ndarray`): `Array<A, D>` of every
//! [`Element`] type and every dimension, stored by the [`NdArray`] codec.

use std::borrow::Cow;

use ndarray::{Array, Dimension};

use crate::codec::{Element, NdArray};
use crate::{CacheConfig, Cacheable};

impl<A: Element, D: Dimension + 'static> Cacheable for Array<A, D> {
    type Codec = NdArray;

    /// The data's bytes, plus the array's own struct (shape and strides).
    fn size_hint(&self) -> usize {
        self.len() * std::mem::size_of::<A>() + std::mem::size_of::<Self>()
    }

    fn type_tag() -> Cow<'static, str> {
        Cow::Owned(format!(
            "ndarray::Array<{}, {}>",
            A::NAME,
            crate::codec::ndarray_dimension_name::<D>()
        ))
    }

    /// Uncompressed (numbers rarely compress well, and raw reads are the fast path),
    /// under a namespace prefixed `ndarray`.
    fn default_config() -> CacheConfig {
        CacheConfig::default().namespace_prefix("ndarray")
    }
}
