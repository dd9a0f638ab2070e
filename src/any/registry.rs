//! The registry of types an [`AnyCache`](super::AnyCache) can read back: for each, its
//! fingerprint, codec and decoders, found by the fingerprint in an entry's header.
//!
//! Registrations are `inventory` submissions, collected when the program starts: the
//! library's own for its built-in families, and one per `#[cacheable(any)]` type. Some
//! linkers drop a registration whose object file nothing else uses; an `AnyCache` checks
//! at build time that the library's own are there, and says so if they are not.

use std::collections::HashMap;
use std::io::Read;
use std::marker::PhantomData;
use std::sync::OnceLock;

use super::AnyCacheable;
use crate::entry::{Header, Payload, Refusal};
use crate::Cacheable;

/// A value decoded by its registered type, or why not.
type Decoded = Result<Box<dyn AnyCacheable>, Refusal>;

/// A type as the registry knows it. Made by the library for each `Cacheable` type.
pub struct AnyType {
    type_name: fn() -> &'static str,
    fingerprint: fn() -> u64,
    codec: u16,
    decode_verified: fn(&[u8], &Header) -> Decoded,
    read_payload: fn(&mut dyn Read, &Header) -> Decoded,
}

impl AnyType {
    /// The type `T`.
    pub const fn of<T: Cacheable + Clone>() -> AnyType {
        AnyType {
            type_name: std::any::type_name::<T>,
            fingerprint: crate::cacheable::fingerprint::<T>,
            codec: <T::Codec as crate::codec::Codec<T>>::ID,
            decode_verified: decode_verified::<T>,
            read_payload: read_payload::<T>,
        }
    }

    /// The Rust name of the type.
    pub fn type_name(&self) -> &'static str {
        (self.type_name)()
    }

    /// The fingerprint of the type's stored form (its tag, version and codec).
    pub(crate) fn fingerprint(&self) -> u64 {
        (self.fingerprint)()
    }

    /// Decodes a stored payload (checksum first), held in memory or read from a stream.
    pub(crate) fn decode(&self, payload: Payload<'_>, header: &Header) -> Decoded {
        match payload {
            Payload::Slice(payload) => (self.decode_verified)(payload, header),
            Payload::Stream(input) => (self.read_payload)(input, header),
        }
    }
}

impl std::fmt::Debug for AnyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnyType")
            .field("type_name", &self.type_name())
            .field("codec", &self.codec)
            .finish()
    }
}

fn decode_verified<T: Cacheable + Clone>(payload: &[u8], header: &Header) -> Decoded {
    let value = crate::entry::decode_verified::<T, T::Codec>(payload, header)?;
    Ok(Box::new(value))
}

fn read_payload<T: Cacheable + Clone>(input: &mut dyn Read, header: &Header) -> Decoded {
    let value = crate::entry::read_payload::<T, T::Codec, _>(input, header)?;
    Ok(Box::new(value))
}

/// The [`AnyType`] of `T`, as a `'static`.
pub struct Of<T>(PhantomData<T>);

impl<T: Cacheable + Clone> Of<T> {
    /// `T`'s entry.
    pub const KIND: &'static AnyType = &AnyType::of::<T>();
}

/// What a type needs to be registered: an `AnyCache` hands out copies of its values.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be registered for AnyCache",
    label = "needs Clone and Cacheable",
    note = "derive Clone for it (an AnyCache hands out copies), and Cacheable"
)]
pub trait Registrable: Cacheable + Clone {}

impl<T: Cacheable + Clone> Registrable for T {}

/// `T`'s entry, for [`register_any!`](crate::register_any).
pub const fn kind<T: Registrable>() -> &'static AnyType {
    Of::<T>::KIND
}

/// One registered type: what `#[cacheable(any)]` submits.
pub struct Registration(pub &'static AnyType);

inventory::collect!(Registration);

/// Registers types so that an [`AnyCache`](crate::AnyCache) reads their values back in
/// any process of this program: for a type of another crate, or an instance of a generic
/// type (`#[cacheable(any)]` registers a derived type itself).
///
/// ```
/// # use smartcache::prelude::*;
/// #[derive(Clone, serde::Serialize, serde::Deserialize, Cacheable)]
/// struct Pair<T> { a: T, b: T }
///
/// smartcache::register_any!(Pair<u32>, Pair<String>);
/// ```
#[macro_export]
macro_rules! register_any {
    ($($ty:ty),* $(,)?) => {
        $(
            $crate::__private::inventory::submit! {
                $crate::__private::Registration($crate::__private::kind::<$ty>())
            }
        )*
    };
}

/// The registered types, by fingerprint; a type registered twice is one entry.
fn table() -> &'static HashMap<u64, &'static AnyType> {
    static TABLE: OnceLock<HashMap<u64, &'static AnyType>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = HashMap::new();
        for Registration(kind) in inventory::iter::<Registration> {
            let previous = table.insert(kind.fingerprint(), *kind);
            if let Some(previous) = previous.filter(|p| p.type_name() != kind.type_name()) {
                tracing::warn!(
                    first = previous.type_name(),
                    second = kind.type_name(),
                    "two registered types have one type tag: give one #[cacheable(tag = \"..\")]"
                );
            }
        }
        table
    })
}

/// The registered type of fingerprint `fingerprint`, written with `codec`.
pub(crate) fn find(fingerprint: u64, codec: u16) -> Option<&'static AnyType> {
    table()
        .get(&fingerprint)
        .copied()
        .filter(|kind| kind.codec == codec)
}

/// The codec id and fingerprint an entry of a value of `kind` records: an error if `kind`
/// is not registered (its entries could not be read back).
pub(crate) fn identity(kind: &AnyType) -> crate::Result<(u16, u64)> {
    match find(kind.fingerprint(), kind.codec) {
        Some(_) => Ok((kind.codec, kind.fingerprint())),
        None => Err(crate::CacheError::NotRegistered {
            type_name: kind.type_name(),
        }),
    }
}

/// The names of every registered type, sorted.
pub fn registered_types() -> Vec<&'static str> {
    let mut names: Vec<_> = table().values().map(|kind| kind.type_name()).collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Checks that the library's own registrations reached the program.
pub(crate) fn check() -> crate::Result<()> {
    let string = Of::<String>::KIND;
    if find(string.fingerprint(), string.codec).is_none() {
        return Err(crate::CacheError::config(
            "the registry of AnyCacheable types is empty: the linker dropped it",
            "link with the default linker settings (no --gc-sections on the registrations), \
             or see the book's heterogeneous caches chapter",
        ));
    }
    Ok(())
}

// The built-in families.
crate::register_any!(
    bool, char, u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64,
    (), String,
    Vec<u8>, Vec<u16>, Vec<u32>, Vec<u64>, Vec<i32>, Vec<i64>, Vec<f32>, Vec<f64>,
    Vec<bool>, Vec<String>,
    Option<u64>, Option<i64>, Option<f64>, Option<String>,
    (u64, u64), (i64, i64), (f64, f64), (String, String), (String, u64), (String, f64),
    std::collections::HashMap<String, String>, std::collections::HashMap<String, u64>,
    std::collections::HashMap<String, i64>, std::collections::HashMap<String, f64>,
    std::collections::BTreeMap<String, String>, std::collections::BTreeMap<String, u64>,
    std::collections::BTreeMap<String, f64>,
    std::collections::HashSet<String>, std::collections::BTreeSet<String>,
    std::collections::HashSet<u64>, std::collections::BTreeSet<u64>,
);

#[cfg(feature = "ndarray")]
crate::register_any!(
    ndarray::Array1<f32>,
    ndarray::Array2<f32>,
    ndarray::Array3<f32>,
    ndarray::ArrayD<f32>,
    ndarray::Array1<f64>,
    ndarray::Array2<f64>,
    ndarray::Array3<f64>,
    ndarray::ArrayD<f64>,
    ndarray::Array1<i32>,
    ndarray::Array2<i32>,
    ndarray::Array1<i64>,
    ndarray::Array2<i64>,
    ndarray::Array1<u8>,
    ndarray::Array2<u8>,
    ndarray::Array3<u8>,
    ndarray::Array1<bool>,
    ndarray::Array1<u64>,
    ndarray::Array2<u64>,
);

#[cfg(feature = "polars")]
crate::register_any!(polars::prelude::DataFrame, polars::prelude::Series);

#[cfg(feature = "image")]
crate::register_any!(
    image::DynamicImage,
    image::RgbImage,
    image::RgbaImage,
    image::GrayImage,
    image::GrayAlphaImage,
    image::Rgb32FImage,
    image::Rgba32FImage,
);

#[cfg(feature = "json")]
crate::register_any!(serde_json::Value);
