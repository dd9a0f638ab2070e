//! The one error type of the crate, [`CacheError`], and its [`Result`] alias.
//!
//! Every message names what went wrong *and* what to change: the builder method, the path,
//! or the tier to use instead.

use std::path::PathBuf;

use crate::Tier;

/// `Result<T, CacheError>`.
pub type Result<T, E = CacheError> = std::result::Result<T, E>;

/// Everything that can go wrong in smartcache.
///
/// Configuration problems are reported when a cache is built. Problems met while *reading*
/// (I/O errors, corrupt, stale or foreign entries) are not errors for [`SmartCache::get`]:
/// they are misses, counted in [`CacheStats`] and logged with `tracing`.
///
/// [`SmartCache::get`]: crate::SmartCache::get
/// [`CacheStats`]: crate::CacheStats
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// A configuration value is out of range or inconsistent.
    #[error("invalid cache configuration: {what}; {fix}")]
    InvalidConfig {
        /// What is wrong.
        what: String,
        /// How to fix it (usually the `CacheConfig` method to call).
        fix: &'static str,
    },

    /// The namespace would not stay a single folder under the storage root.
    #[error(
        "invalid namespace {namespace:?}: {reason}; use a plain folder name such as \"reports\" \
         (letters, digits, '-', '_', '.'), set with CacheConfig::namespace"
    )]
    InvalidNamespace {
        /// The namespace as given.
        namespace: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// The storage directory cannot be used.
    #[error("cache directory {path:?} is unusable: {reason}; choose another with CacheConfig::dir or $SMARTCACHE_DIR")]
    BadDirectory {
        /// The directory.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },

    /// No storage root could be found (no `$SMARTCACHE_DIR`, no platform cache directory).
    #[error("no cache directory: $SMARTCACHE_DIR is unset and the platform has no cache directory; set one with CacheConfig::dir")]
    NoDirectory,

    /// Another process holds the sled database of this cache.
    #[error(
        "the sled database at {path:?} is locked by another process (sled allows one process per \
         database); give each process its own CacheConfig::dir or namespace, or use Tier::File, \
         which several processes can share"
    )]
    Locked {
        /// The sled folder.
        path: PathBuf,
    },

    /// A tier failed while reading or writing. The OS error is the
    /// [`source`](std::error::Error::source).
    #[error("{tier} tier I/O error at {path:?}")]
    Io {
        /// The tier involved.
        tier: Tier,
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The sled database reported an error. sled's own error is the
    /// [`source`](std::error::Error::source) (boxed: sled's types are not part of this
    /// crate's API).
    #[error("sled tier error at {path:?}")]
    Sled {
        /// The sled folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },

    /// A value or key could not be encoded. The codec's error is the
    /// [`source`](std::error::Error::source).
    #[error("cannot encode {what} with the {codec} codec")]
    Encode {
        /// `"key"` or the value's type tag.
        what: String,
        /// The codec's name.
        codec: &'static str,
        /// What the codec said.
        #[source]
        source: crate::codec::CodecError,
    },

    /// [`SmartCache::get_mapped`](crate::SmartCache::get_mapped) found the value, but in a
    /// form that cannot be viewed in place: compressed, or not in the file tier (arrays
    /// smaller than `file_threshold` live in memory or sled). Read it with `get`.
    #[error("cannot view the array in place: {reason}; {fix}")]
    NotMappable {
        /// Why.
        reason: &'static str,
        /// What to do.
        fix: &'static str,
    },

    /// The Redis server failed a command (unreachable, refused, timed out, or an error
    /// reply such as a wrong password). Its error is the
    /// [`source`](std::error::Error::source).
    #[cfg(feature = "redis")]
    #[error("Redis tier error at {server}")]
    Redis {
        /// The server's URL, without its password.
        server: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },

    /// An [`AnyCache`](crate::AnyCache) value would be persisted, but its type is not
    /// registered, so no process could read it back.
    #[error(
        "{} is not registered for AnyCache: derive it with #[cacheable(any)] or register it with smartcache::register_any!",
        short_type_name(type_name)
    )]
    NotRegistered {
        /// The value's type.
        type_name: &'static str,
    },

    /// An [`AnyCache`](crate::AnyCache) holds a value of another type than the one asked
    /// for.
    #[error(
        "the value of this key is of type {}, not {}",
        short_type_name(found),
        short_type_name(wanted)
    )]
    WrongType {
        /// The type asked for.
        wanted: &'static str,
        /// The type of the value held.
        found: &'static str,
    },

    /// The tier is not available in this build or configuration.
    #[error("the {tier} tier is not available: {reason}")]
    TierUnavailable {
        /// The tier.
        tier: Tier,
        /// Why, and what to do.
        reason: &'static str,
    },
}

impl CacheError {
    pub(crate) fn config(what: impl Into<String>, fix: &'static str) -> Self {
        CacheError::InvalidConfig {
            what: what.into(),
            fix,
        }
    }

    pub(crate) fn io(tier: Tier, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CacheError::Io {
            tier,
            path: path.into(),
            source,
        }
    }
}

/// A type's name without its module paths, for messages:
/// `ArrayBase<OwnedRepr<f64>, Dim<[usize; 2]>, f64>` for an `Array2<f64>`.
pub(crate) fn short_type_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut word = String::new();
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            word.clear(); // a module path segment: dropped
        } else if c.is_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            out.push_str(&word);
            word.clear();
            out.push(c);
        }
    }
    out.push_str(&word);
    out
}

#[cfg(test)]
mod tests {
    use super::short_type_name;

    #[test]
    fn type_names_lose_their_paths() {
        assert_eq!(short_type_name("alloc::string::String"), "String");
        assert_eq!(
            short_type_name("alloc::vec::Vec<std::collections::HashMap<u8, a::B>>"),
            "Vec<HashMap<u8, B>>"
        );
        assert_eq!(short_type_name("(u64, my::T)"), "(u64, T)");
    }
}
