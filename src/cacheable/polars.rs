//! [`Cacheable`] for polars (feature `polars`): `DataFrame` and `Series`, stored as Arrow
//! IPC by the [`ArrowIpc`] codec.

use std::borrow::Cow;

use polars::prelude::{DataFrame, Series};

use crate::codec::ArrowIpc;
use crate::{CacheConfig, Cacheable};

/// Uncompressed (Arrow IPC reads fastest as is; choose LZ4 or zstd to trade CPU for
/// space), under a namespace prefixed `polars`.
fn polars_config() -> CacheConfig {
    CacheConfig::default().namespace_prefix("polars")
}

impl Cacheable for DataFrame {
    type Codec = ArrowIpc;

    /// polars' own estimate of the frame's heap (its buffers, shared ones counted).
    fn size_hint(&self) -> usize {
        self.estimated_size() + std::mem::size_of::<Self>()
    }

    fn type_tag() -> Cow<'static, str> {
        Cow::Borrowed("polars::DataFrame")
    }

    fn default_config() -> CacheConfig {
        polars_config()
    }
}

impl Cacheable for Series {
    type Codec = ArrowIpc;

    /// polars' own estimate of the series' heap.
    fn size_hint(&self) -> usize {
        self.estimated_size() + std::mem::size_of::<Self>()
    }

    fn type_tag() -> Cow<'static, str> {
        Cow::Borrowed("polars::Series")
    }

    fn default_config() -> CacheConfig {
        polars_config()
    }
}
