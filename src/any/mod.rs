//! Heterogeneous values: one cache for values of many types ([`AnyCache`]).
//!
//! Any [`Cacheable`] type is an [`AnyCacheable`] (a blanket impl). In an `AnyCache` each
//! value is routed by its own type's placement and size, and persisted with its own
//! type's codec (an array stays raw), its type's fingerprint in the entry header. To read
//! a persisted value back, a process looks the fingerprint up in the registry of types
//! ([`registry`]): the library registers its built-in families, `#[cacheable(any)]` a
//! user type. An entry of a type this program has not registered (or of another version
//! of it) is a counted foreign miss, never a panic and never a wrong value.

mod cache;
pub(crate) mod registry;

use std::any::Any;
use std::io::Write;
use std::sync::Arc;

use crate::codec::{Codec, CodecError, CodecOptions};
use crate::{Cacheable, Placement};

pub use self::cache::AnyCache;
pub use self::registry::{registered_types, AnyType};

/// A value of some [`Cacheable`] type, behind a trait object: what an [`AnyCache`] holds.
/// Every `Cacheable` type is one; persisted values need their type registered
/// (`#[cacheable(any)]`, or built in) to be read back.
pub trait AnyCacheable: Any + Send + Sync {
    /// The Rust name of the value's type, for messages.
    fn type_name(&self) -> &'static str;

    /// The value's [`Cacheable::size_hint`] (named apart from it, as every `Cacheable`
    /// type has both).
    fn dyn_size_hint(&self) -> usize;

    /// The value's type's [`Cacheable::PLACEMENT`].
    fn dyn_placement(&self) -> Placement;

    /// The value's type as the registry knows it.
    #[doc(hidden)]
    fn __kind(&self) -> &'static AnyType;

    /// Writes the value with its type's codec.
    #[doc(hidden)]
    fn __encode(&self, out: &mut dyn Write, options: &CodecOptions) -> Result<(), CodecError>;
}

impl<T: Cacheable> AnyCacheable for T {
    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }

    fn dyn_size_hint(&self) -> usize {
        Cacheable::size_hint(self)
    }

    fn dyn_placement(&self) -> Placement {
        T::PLACEMENT
    }

    fn __kind(&self) -> &'static AnyType {
        registry::Of::<T>::KIND
    }

    fn __encode(&self, mut out: &mut dyn Write, options: &CodecOptions) -> Result<(), CodecError> {
        <T::Codec as Codec<T>>::encode_with(self, &mut out, options)
    }
}

impl std::fmt::Debug for dyn AnyCacheable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AnyCacheable({})", self.type_name())
    }
}

/// The value type of the [`SmartCache`](crate::SmartCache) inside an [`AnyCache`]: a
/// shared [`AnyCacheable`].
#[derive(Clone, Debug)]
pub struct AnyValue(pub(crate) Arc<dyn AnyCacheable>);

impl AnyValue {
    /// The value, if it is a `T`.
    pub fn downcast<T: AnyCacheable>(&self) -> Option<Arc<T>> {
        let any: Arc<dyn Any + Send + Sync> = Arc::clone(&self.0) as Arc<dyn Any + Send + Sync>;
        any.downcast::<T>().ok()
    }

    /// The value behind its trait object.
    pub fn get(&self) -> &dyn AnyCacheable {
        &*self.0
    }
}

impl Cacheable for AnyValue {
    type Codec = AnyCodec;

    fn size_hint(&self) -> usize {
        self.0.dyn_size_hint()
    }

    fn type_tag() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("smartcache::AnyValue")
    }
}

/// `AnyValue` when `V` is it: the value whose own type decides its tier and codec.
#[inline]
pub(crate) fn as_any_value<V: 'static>(value: &V) -> Option<&AnyValue> {
    (value as &dyn Any).downcast_ref::<AnyValue>()
}

/// Whether `V` is [`AnyValue`] (decided at compile time, per `V`).
#[inline]
pub(crate) fn is_any<V: 'static>() -> bool {
    std::any::TypeId::of::<V>() == std::any::TypeId::of::<AnyValue>()
}

/// The codec of an [`AnyValue`]: each value's own type's codec. Entries record that codec
/// and that type's fingerprint, and are decoded through the registry, never here.
#[derive(Debug)]
pub struct AnyCodec;

impl Codec<AnyValue> for AnyCodec {
    const ID: u16 = crate::codec::ids::ANY;
    const NAME: &'static str = "any";

    fn encode<W: Write>(value: &AnyValue, out: &mut W) -> Result<(), CodecError> {
        value.0.__encode(out, &CodecOptions::default())
    }

    fn encode_with<W: Write>(
        value: &AnyValue,
        out: &mut W,
        options: &CodecOptions,
    ) -> Result<(), CodecError> {
        value.0.__encode(out, options)
    }

    fn decode(_: &[u8]) -> Result<AnyValue, CodecError> {
        Err(CodecError::new(
            "an AnyValue is decoded by its own type's codec, through the registry",
        ))
    }
}
