//! Heterogeneous values: one cache for values of many types ([`AnyCache`]).
//!
//! Any [`Cacheable`] type is an [`AnyCacheable`] (a blanket impl). In an `AnyCache` each
//! value is routed by its own type's placement and size, and persisted with its own
//! type's codec (an array stays raw), its type's fingerprint in the entry header. To read
//! a persisted value back, a process looks the fingerprint up in the registry of types
//! ([`registered_types`]): the library registers its built-in families,
//! `#[cacheable(any)]` a derived type, [`register_any!`](crate::register_any) any other. An entry of a type this program has not registered (or of another version
//! of it) is a counted foreign miss, never a panic and never a wrong value.

mod cache;
pub(crate) mod registry;

use std::any::Any;
use std::io::Write;
use std::sync::Arc;

use crate::codec::{Codec, CodecError, CodecOptions};
use crate::{Cacheable, Placement};

pub use self::cache::{AnyCache, KeyOf};
pub use self::registry::{registered_types, AnyType};

/// A value of some [`Cacheable`] type, behind a trait object: what an [`AnyCache`] holds,
/// and what a `#[memoize]` function returning `Box<dyn AnyCacheable>` caches. Every
/// `Cacheable + Clone` type is one; persisted values need their type registered
/// (`#[cacheable(any)]`, or built in) to be read back.
pub trait AnyCacheable: Any + Send + Sync {
    /// The Rust name of the value's type, for messages.
    fn type_name(&self) -> &'static str;

    /// The value's [`Cacheable::size_hint`] (named apart from it, as every `Cacheable`
    /// type has both).
    fn dyn_size_hint(&self) -> usize;

    /// The value's type's [`Cacheable::PLACEMENT`].
    fn dyn_placement(&self) -> Placement;

    /// A copy of the value, boxed.
    fn dyn_clone(&self) -> Box<dyn AnyCacheable>;

    /// The value's type as the registry knows it.
    #[doc(hidden)]
    fn __kind(&self) -> &'static AnyType;

    /// Writes the value with its type's codec.
    #[doc(hidden)]
    fn __encode(&self, out: &mut dyn Write, options: &CodecOptions) -> Result<(), CodecError>;
}

impl<T: Cacheable + Clone> AnyCacheable for T {
    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }

    fn dyn_size_hint(&self) -> usize {
        Cacheable::size_hint(self)
    }

    fn dyn_placement(&self) -> Placement {
        T::PLACEMENT
    }

    fn dyn_clone(&self) -> Box<dyn AnyCacheable> {
        Box::new(self.clone())
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

/// The per-value hooks of [`Cacheable`] for a value of many types: `$inner` turns the
/// value into its [`AnyCacheable`], `$wrap` a decoded `Box<dyn AnyCacheable>` into the
/// value. Each value is routed by its own type, recorded with that type's fingerprint and
/// codec, and decoded through the registry.
macro_rules! own_type_hooks {
    (|$value:ident| $inner:expr, |$boxed:ident| $wrap:expr) => {
        const __OWN_TYPES: bool = true;

        fn __placement(&self) -> Placement {
            let $value = self;
            $inner.dyn_placement()
        }

        fn __identity(&self) -> crate::Result<Option<(u16, u64)>> {
            let $value = self;
            registry::identity($inner.__kind()).map(Some)
        }

        fn __knows(fingerprint: u64, codec: u16) -> bool {
            registry::find(fingerprint, codec).is_some()
        }

        fn __ready() -> crate::Result<()> {
            registry::check()
        }

        #[allow(private_interfaces)]
        fn __decode_own(
            fingerprint: u64,
            payload: crate::entry::Payload<'_>,
            header: &crate::entry::Header,
        ) -> Result<Self, crate::entry::Refusal> {
            let kind =
                registry::find(fingerprint, header.codec).ok_or(crate::entry::Refusal::Foreign)?;
            let $boxed = kind.decode(payload, header)?;
            Ok($wrap)
        }
    };
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

    own_type_hooks!(|value| &*value.0, |boxed| AnyValue(Arc::from(boxed)));
}

impl Clone for Box<dyn AnyCacheable> {
    fn clone(&self) -> Self {
        (**self).dyn_clone()
    }
}

impl dyn AnyCacheable {
    /// The value, if it is a `T`.
    pub fn downcast_ref<T: AnyCacheable>(&self) -> Option<&T> {
        (self as &dyn Any).downcast_ref::<T>()
    }
}

/// A `Box<dyn AnyCacheable>` is cached as the value inside it: routed by that value's
/// type and size, stored with its codec (the form a `#[memoize]` function returns).
impl Cacheable for Box<dyn AnyCacheable> {
    type Codec = AnyCodec;

    fn size_hint(&self) -> usize {
        (**self).dyn_size_hint()
    }

    fn type_tag() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("smartcache::AnyValue")
    }

    own_type_hooks!(|value| &**value, |boxed| boxed);
}

/// The value inside `value` when `V` holds values of many types ([`AnyValue`] or
/// `Box<dyn AnyCacheable>`): its own type decides its tier and codec.
#[inline]
fn erased<V: Cacheable>(value: &V) -> Option<&dyn AnyCacheable> {
    if !V::__OWN_TYPES {
        return None; // decided at compile time: nothing on a typed cache's path
    }
    let value = value as &dyn Any;
    if let Some(value) = value.downcast_ref::<AnyValue>() {
        return Some(&*value.0);
    }
    value
        .downcast_ref::<Box<dyn AnyCacheable>>()
        .map(|value| &**value)
}

/// The codec of an [`AnyValue`] or a `Box<dyn AnyCacheable>`: each value's own type's
/// codec. Entries record that codec
/// and that type's fingerprint, and are decoded through the registry, never here.
#[derive(Debug)]
pub struct AnyCodec;

impl<V: Cacheable> Codec<V> for AnyCodec {
    const ID: u16 = crate::codec::ids::ANY;
    const NAME: &'static str = "any";

    fn encode<W: Write>(value: &V, out: &mut W) -> Result<(), CodecError> {
        Self::encode_with(value, out, &CodecOptions::default())
    }

    fn encode_with<W: Write>(
        value: &V,
        out: &mut W,
        options: &CodecOptions,
    ) -> Result<(), CodecError> {
        match erased(value) {
            Some(value) => value.__encode(out, options),
            None => Err(CodecError::new("AnyCodec stores only values of many types")),
        }
    }

    fn decode(_: &[u8]) -> Result<V, CodecError> {
        Err(CodecError::new(
            "a value of many types is decoded by its own type's codec, through the registry",
        ))
    }
}
