//! [`Cacheable`] for the standard collections and wrappers: `Vec`, `VecDeque`, `Option`,
//! `Box`, tuples up to 8, arrays, `HashMap`, `BTreeMap`, `HashSet`, `BTreeSet`.
//!
//! Sizes count the heap: a collection's hint is its own size plus its elements' hints.
//! Type tags are built from the elements' tags (`Vec<String>`), so they are stable.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hash};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::elements_size;
use crate::codec::{Bincode, Raw};
use crate::Cacheable;

impl<T> Cacheable for Vec<T>
where
    T: Cacheable + Serialize + DeserializeOwned,
{
    type Codec = Raw;
    #[inline]
    fn size_hint(&self) -> usize {
        std::mem::size_of::<Self>() + elements_size(self.iter())
    }
    fn type_tag() -> Cow<'static, str> {
        Cow::Owned(format!("Vec<{}>", T::type_tag()))
    }
}

impl<T> Cacheable for VecDeque<T>
where
    T: Cacheable + Serialize + DeserializeOwned,
{
    type Codec = Bincode;
    fn size_hint(&self) -> usize {
        std::mem::size_of::<Self>() + elements_size(self.iter())
    }
    fn type_tag() -> Cow<'static, str> {
        Cow::Owned(format!("VecDeque<{}>", T::type_tag()))
    }
}

impl<T> Cacheable for Option<T>
where
    T: Cacheable + Serialize + DeserializeOwned,
{
    type Codec = Bincode;
    fn size_hint(&self) -> usize {
        let tag = std::mem::size_of::<Self>().saturating_sub(std::mem::size_of::<T>());
        match self {
            Some(v) => tag + v.size_hint(),
            None => std::mem::size_of::<Self>(),
        }
    }
    fn type_tag() -> Cow<'static, str> {
        Cow::Owned(format!("Option<{}>", T::type_tag()))
    }
}

impl<T, E> Cacheable for Result<T, E>
where
    T: Cacheable + Serialize + DeserializeOwned,
    E: Cacheable + Serialize + DeserializeOwned,
{
    type Codec = Bincode;
    fn size_hint(&self) -> usize {
        let inline = std::mem::size_of::<Self>();
        match self {
            Ok(v) => inline.saturating_sub(std::mem::size_of::<T>()) + v.size_hint(),
            Err(e) => inline.saturating_sub(std::mem::size_of::<E>()) + e.size_hint(),
        }
    }
    fn type_tag() -> Cow<'static, str> {
        Cow::Owned(format!("Result<{}, {}>", T::type_tag(), E::type_tag()))
    }
}

impl<T> Cacheable for Box<T>
where
    T: Cacheable + Serialize + DeserializeOwned,
{
    const PLACEMENT: crate::Placement = T::PLACEMENT;
    const VERSION: u32 = T::VERSION;
    type Codec = Bincode;
    fn size_hint(&self) -> usize {
        std::mem::size_of::<Self>() + (**self).size_hint()
    }
    fn type_tag() -> Cow<'static, str> {
        Cow::Owned(format!("Box<{}>", T::type_tag()))
    }
}

impl<T, const N: usize> Cacheable for [T; N]
where
    T: Cacheable,
    [T; N]: Serialize + DeserializeOwned,
{
    type Codec = Bincode;
    fn size_hint(&self) -> usize {
        elements_size(self.iter())
    }
    fn type_tag() -> Cow<'static, str> {
        Cow::Owned(format!("[{}; {N}]", T::type_tag()))
    }
}

impl<K, V, S> Cacheable for HashMap<K, V, S>
where
    K: Cacheable + Serialize + DeserializeOwned + Eq + Hash,
    V: Cacheable + Serialize + DeserializeOwned,
    S: BuildHasher + Default + Send + Sync + 'static,
{
    type Codec = Bincode;
    fn size_hint(&self) -> usize {
        std::mem::size_of::<Self>() + elements_size(self.keys()) + elements_size(self.values())
    }
    fn type_tag() -> Cow<'static, str> {
        Cow::Owned(format!("HashMap<{},{}>", K::type_tag(), V::type_tag()))
    }
}

impl<K, V> Cacheable for BTreeMap<K, V>
where
    K: Cacheable + Serialize + DeserializeOwned + Ord,
    V: Cacheable + Serialize + DeserializeOwned,
{
    type Codec = Bincode;
    fn size_hint(&self) -> usize {
        std::mem::size_of::<Self>() + elements_size(self.keys()) + elements_size(self.values())
    }
    fn type_tag() -> Cow<'static, str> {
        Cow::Owned(format!("BTreeMap<{},{}>", K::type_tag(), V::type_tag()))
    }
}

impl<T, S> Cacheable for HashSet<T, S>
where
    T: Cacheable + Serialize + DeserializeOwned + Eq + Hash,
    S: BuildHasher + Default + Send + Sync + 'static,
{
    type Codec = Bincode;
    fn size_hint(&self) -> usize {
        std::mem::size_of::<Self>() + elements_size(self.iter())
    }
    fn type_tag() -> Cow<'static, str> {
        Cow::Owned(format!("HashSet<{}>", T::type_tag()))
    }
}

impl<T> Cacheable for BTreeSet<T>
where
    T: Cacheable + Serialize + DeserializeOwned + Ord,
{
    type Codec = Bincode;
    fn size_hint(&self) -> usize {
        std::mem::size_of::<Self>() + elements_size(self.iter())
    }
    fn type_tag() -> Cow<'static, str> {
        Cow::Owned(format!("BTreeSet<{}>", T::type_tag()))
    }
}

macro_rules! tuples {
    ($( ($($name:ident . $idx:tt),+) )+) => {$(
        impl<$($name),+> Cacheable for ($($name,)+)
        where
            $($name: Cacheable + Serialize + DeserializeOwned,)+
        {
            type Codec = Bincode;
            fn size_hint(&self) -> usize {
                0 $(+ self.$idx.size_hint())+
            }
            fn type_tag() -> Cow<'static, str> {
                let parts: Vec<Cow<'static, str>> = vec![$($name::type_tag()),+];
                Cow::Owned(format!("({})", parts.join(",")))
            }
        }
    )+};
}

tuples! {
    (A.0)
    (A.0, B.1)
    (A.0, B.1, C.2)
    (A.0, B.1, C.2, D.3)
    (A.0, B.1, C.2, D.3, E.4)
    (A.0, B.1, C.2, D.3, E.4, F.5)
    (A.0, B.1, C.2, D.3, E.4, F.5, G.6)
    (A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vec_of_strings_counts_the_strings() {
        let v = vec!["abc".to_string(), "defgh".to_string()];
        assert_eq!(v.size_hint(), 24 + (24 + 3) + (24 + 5));
    }

    #[test]
    fn vec_of_numbers_is_len_times_size() {
        assert_eq!(vec![0f64; 1000].size_hint(), 24 + 8000);
        assert_eq!(vec![0u8; 1 << 20].size_hint(), 24 + (1 << 20));
    }

    #[test]
    fn maps_count_keys_and_values() {
        let m: HashMap<String, Vec<u8>> = HashMap::from([("k".to_string(), vec![0u8; 100])]);
        assert_eq!(
            m.size_hint(),
            std::mem::size_of::<HashMap<String, Vec<u8>>>() + 25 + 124
        );
        let b: BTreeMap<u32, String> = BTreeMap::from([(1, "xy".to_string())]);
        assert_eq!(
            b.size_hint(),
            std::mem::size_of::<BTreeMap<u32, String>>() + 4 + 26
        );
    }

    #[test]
    fn tuples_options_and_arrays() {
        assert_eq!((1u8, 2u32, "ab".to_string()).size_hint(), 1 + 4 + 26);
        assert_eq!(Some("abc".to_string()).size_hint(), 27);
        assert_eq!(
            None::<String>.size_hint(),
            std::mem::size_of::<Option<String>>()
        );
        assert_eq!([1u16; 4].size_hint(), 8);
        assert_eq!(<(u8, String)>::type_tag(), "(u8,String)");
        assert_eq!(<[u16; 4]>::type_tag(), "[u16; 4]");
        assert_eq!(
            <HashMap<String, Vec<u8>>>::type_tag(),
            "HashMap<String,Vec<u8>>"
        );
    }
}
