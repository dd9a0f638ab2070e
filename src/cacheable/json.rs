//! [`Cacheable`] for `serde_json::Value` (feature `json`), stored as JSON text by the
//! [`Json`](crate::codec::Json) codec: bincode cannot decode a `Value`, which needs a
//! self-describing format.

use std::borrow::Cow;

use serde_json::Value;

use crate::{CacheConfig, Cacheable, Compression};

impl Cacheable for Value {
    type Codec = crate::codec::Json;

    /// The tree's heap: every node, string and map entry (walked without recursion, so a
    /// deeply nested value cannot overflow the stack).
    fn size_hint(&self) -> usize {
        let node = std::mem::size_of::<Value>();
        let mut total = 0;
        let mut stack = vec![self];
        while let Some(value) = stack.pop() {
            total += node;
            match value {
                Value::String(s) => total += s.capacity(),
                Value::Array(items) => {
                    total += (items.capacity() - items.len()) * node;
                    stack.extend(items.iter());
                }
                Value::Object(map) => {
                    for (key, item) in map {
                        // The key's bytes, its String, and a map entry's bookkeeping.
                        total += key.capacity() + std::mem::size_of::<String>() + 16;
                        stack.push(item);
                    }
                }
                Value::Null | Value::Bool(_) | Value::Number(_) => {}
            }
        }
        total
    }

    fn type_tag() -> Cow<'static, str> {
        Cow::Borrowed("serde_json::Value")
    }

    /// zstd level 3 (JSON text compresses several times over at little cost), under a
    /// namespace prefixed `json`.
    fn default_config() -> CacheConfig {
        CacheConfig::default()
            .namespace_prefix("json")
            .compression(Compression::Zstd(3))
    }
}
