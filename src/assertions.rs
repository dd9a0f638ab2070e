//! What is proved at compile time: a build in which one of these facts is false does
//! not compile.
//!
//! - every built-in value family makes a `SmartCache` that is `Send + Sync`;
//! - the codec ids are distinct, each codec uses its registered id, and all of them are
//!   in the reserved range, below the ids left to other codecs.

use static_assertions::{assert_impl_all, const_assert, const_assert_eq};

use crate::codec::{ids, Bincode, Codec, Raw};
use crate::SmartCache;

assert_impl_all!(SmartCache<u64, u64>: Send, Sync);
assert_impl_all!(SmartCache<String, String>: Send, Sync);
assert_impl_all!(SmartCache<String, Vec<u8>>: Send, Sync);
assert_impl_all!(SmartCache<(u32, String), Vec<String>>: Send, Sync);
assert_impl_all!(SmartCache<u64, std::collections::HashMap<String, Vec<f64>>>: Send, Sync);
assert_impl_all!(SmartCache<u64, Option<Box<(u8, char, bool)>>>: Send, Sync);
#[cfg(feature = "ndarray")]
assert_impl_all!(SmartCache<u64, ndarray::Array2<f64>>: Send, Sync);
#[cfg(feature = "ndarray")]
assert_impl_all!(SmartCache<u64, ndarray::ArrayD<bool>>: Send, Sync);
#[cfg(feature = "ndarray")]
assert_impl_all!(crate::MappedArray<f32, ndarray::Ix3>: Send, Sync);
#[cfg(feature = "polars")]
assert_impl_all!(SmartCache<u64, polars::prelude::DataFrame>: Send, Sync);
#[cfg(feature = "polars")]
assert_impl_all!(SmartCache<u64, polars::prelude::Series>: Send, Sync);
#[cfg(feature = "image")]
assert_impl_all!(SmartCache<u64, image::DynamicImage>: Send, Sync);
#[cfg(feature = "image")]
assert_impl_all!(SmartCache<u64, image::RgbImage>: Send, Sync);
#[cfg(feature = "image")]
assert_impl_all!(SmartCache<u64, image::ImageBuffer<image::Rgb<f32>, Vec<f32>>>: Send, Sync);
#[cfg(feature = "json")]
assert_impl_all!(SmartCache<u64, serde_json::Value>: Send, Sync);

/// Whether no two ids are equal.
const fn distinct(ids: &[u16]) -> bool {
    let mut i = 0;
    while i < ids.len() {
        let mut j = i + 1;
        while j < ids.len() {
            if ids[i] == ids[j] {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

const_assert!(distinct(&ids::ALL));
const_assert_eq!(<Bincode as Codec<u64>>::ID, ids::BINCODE);
const_assert_eq!(<Raw as Codec<Vec<u8>>>::ID, ids::RAW);
#[cfg(feature = "json")]
const_assert_eq!(
    <crate::codec::Json as Codec<serde_json::Value>>::ID,
    ids::JSON
);
#[cfg(feature = "ndarray")]
const_assert_eq!(
    <crate::codec::NdArray as Codec<ndarray::Array1<u8>>>::ID,
    ids::NDARRAY
);
#[cfg(feature = "image")]
const_assert_eq!(
    <crate::codec::Image as Codec<image::DynamicImage>>::ID,
    ids::IMAGE
);
#[cfg(feature = "polars")]
const_assert_eq!(
    <crate::codec::ArrowIpc as Codec<polars::prelude::DataFrame>>::ID,
    ids::ARROW_IPC
);

/// Whether every id but the fallback's is below the ids left to other codecs.
const fn reserved(all: &[u16]) -> bool {
    let mut i = 0;
    while i < all.len() {
        if all[i] >= ids::FIRST_CUSTOM && all[i] != ids::FALLBACK {
            return false;
        }
        i += 1;
    }
    true
}

const_assert!(reserved(&ids::ALL));
