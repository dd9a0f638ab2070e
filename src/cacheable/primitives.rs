//! [`Cacheable`] for numbers, `bool`, `char`, `String` and `()`.

use std::borrow::Cow;

use crate::codec::Bincode;
use crate::Cacheable;

macro_rules! primitives {
    ($($t:ty),* $(,)?) => {$(
        impl Cacheable for $t {
            type Codec = Bincode;
            #[inline]
            fn size_hint(&self) -> usize {
                std::mem::size_of::<$t>()
            }
            fn type_tag() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($t))
            }
        }
    )*};
}

primitives!(
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    ()
);

impl Cacheable for String {
    type Codec = Bincode;
    #[inline]
    fn size_hint(&self) -> usize {
        std::mem::size_of::<String>() + self.len()
    }
    fn type_tag() -> Cow<'static, str> {
        Cow::Borrowed("String")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_count_the_heap() {
        assert_eq!(7u64.size_hint(), 8);
        assert_eq!(().size_hint(), 0);
        assert_eq!(String::from("hello").size_hint(), 24 + 5);
    }

    #[test]
    fn tags_are_plain_names() {
        assert_eq!(u8::type_tag(), "u8");
        assert_eq!(String::type_tag(), "String");
        assert_eq!(<()>::type_tag(), "()");
    }
}
