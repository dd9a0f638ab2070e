//! Macros of smartcache: `#[derive(Cacheable)]` and `#[memoize]`.
//!
//! Use them through the `smartcache` crate (`use smartcache::prelude::*;`), which
//! re-exports both under the names of the things they implement. Generated code names only
//! `::smartcache::__private::…`.
//!
//! Both macros run in three stages, as serde_derive does:
//!
//! 1. **parse** the input into typed values: the shared attribute vocabulary in `attr`
//!    (tiers, durations, integers, codecs, compressions, namespaces, duplicate and
//!    unknown keys), used by `cacheable/attr.rs` for `#[cacheable(..)]` and by
//!    `memoize/options.rs` for `#[memoize(..)]`; the memoized function's arguments and
//!    return type in `memoize/signature.rs`.
//! 2. **check** how the parsed parts go together, in `check`.
//! 3. **expand** into code: `cacheable/expand.rs` writes the `Cacheable` impl;
//!    `memoize/expand.rs` the memoized function and its companions, with the key from
//!    `memoize/key.rs`.
//!
//! Every stage records its mistakes in one `ctxt::Ctxt` and goes on, so that a build
//! reports them all at once, each saying the fix. Expansion runs only when there is none;
//! otherwise the output is the errors plus a stand-in (a fallback impl for the derive, the
//! function as written for `#[memoize]`), so that they are the only errors the user sees.
//! `cacheable/mod.rs` and `memoize/mod.rs` run the stages.

use proc_macro::TokenStream;

mod attr;
mod cacheable;
mod check;
mod ctxt;
mod memoize;
mod respan;

/// Implements `smartcache::Cacheable` for a struct or enum.
///
/// Type attributes: `#[cacheable(tier = "auto|memory|sled|file|redis", version = N,
/// ttl = "90s|10m|1h|1d", codec = "bincode|json", size_with = path, tag = "name")]`.
/// Field attribute: `#[cacheable(skip_size)]` leaves the field out of the size estimate.
///
/// `tag` names the type in stored entries; without it the name is the type's module path,
/// so moving the type to another module turns its stored entries into misses. Give a tag
/// to a type whose entries should outlive a refactor (and keep it unique in the program).
#[proc_macro_derive(Cacheable, attributes(cacheable))]
pub fn derive_cacheable(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    cacheable::derive(&input).into()
}

/// Options, all optional:
///
/// | option | meaning |
/// |---|---|
/// | `tier = "auto"/"memory"/"sled"/"file"/"redis"` | where results go (default: by the result type's `Cacheable`, routed by size; `redis` needs the feature and `$SMARTCACHE_REDIS_URL`) |
/// | `ttl = "250ms"/"90s"/"10m"/"1h"/"1d"` | time to live |
/// | `ttl_of = path` | a `fn(&Result) -> Option<Duration>`: each result's own time to live |
/// | `tti = ".."` | time to idle |
/// | `capacity = N` | bytes of memory (weighed by `size_hint`) |
/// | `disk_capacity = N` | bytes of disk per persistent tier |
/// | `max_entries = N` | results kept per tier |
/// | `memory_threshold = N`, `file_threshold = N` | bytes from which results go to sled, to files |
/// | `eviction = "clockpro"/"tinylfu"/"lru"` | the memory tier's policy (default `clockpro`: the lightest hits) |
/// | `durability = "buffered"/"fsync"`, `secure = false` | as the `CacheConfig` options |
/// | `config = <expr>` | a whole `CacheConfig`, which the other options apply on top of |
/// | `content = [arg, ..]` | arguments keyed by their content (arrays, frames and images are by default) |
/// | `namespace = "name"` | the storage folder (default: module path and function name) |
/// | `dir = <expr>` | the storage root (default: `$SMARTCACHE_DIR`, else the platform cache folder) |
/// | `compression = "none"/"lz4"/"zstd"/"zstd(19)"` | compression of persisted results |
/// | `key = <expr>: <Type>` | the key, built from the arguments (default: the arguments) |
/// | `ignore = [arg, ..]` | arguments left out of the key (`ignore = [self]`: every instance of a method shares its results) |
/// | `cache_none`, `cache_err` | also store `None` / `Err` results (by default they are returned, not stored) |
/// | `version = N` | bump to stop reading stored results (results are kept per version of the function's code, which changes with its body too) |
///
/// The key is the tuple of the arguments in their owned form (`&str` becomes `String`,
/// `&T` becomes `T`). A method whose body reads `self` is keyed by its instance too (so
/// `Self` must be a key), unless `key = ..` or `ignore = [self]` says otherwise; one
/// that does not read `self` is not. A function returning `Arc<T>` shares the
/// cached value instead of cloning it. Concurrent callers with the same new arguments
/// (threads, or tasks of an `async fn` with feature `async`) run the body once.
#[proc_macro_attribute]
pub fn memoize(args: TokenStream, item: TokenStream) -> TokenStream {
    memoize::expand(args.into(), item.into()).into()
}
