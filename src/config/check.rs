//! The checks that turn a bad configuration into a clear error when a cache is built, and
//! the namespace rules (valid names, derived names, shortened echoes).

use std::path::PathBuf;

use super::*;
use crate::CacheError;

impl CacheConfig {
    /// Checks every value that can be checked without touching storage.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.memory_capacity == 0 {
            return Err(CacheError::config(
                "memory_capacity is 0",
                "give CacheConfig::memory_capacity a positive number of bytes",
            ));
        }
        if self.disk_capacity == 0 {
            return Err(CacheError::config(
                "disk_capacity is 0",
                "give CacheConfig::disk_capacity a positive number of bytes",
            ));
        }
        if self.max_entries == Some(0) {
            return Err(CacheError::config(
                "max_entries is 0: nothing could be kept",
                "give CacheConfig::max_entries a positive number of entries, or leave it unset for no bound by count",
            ));
        }
        if self.ttl == Some(Duration::ZERO) {
            return Err(CacheError::config(
                "ttl is zero: nothing could ever be read back",
                "give CacheConfig::ttl a positive duration, or leave it unset for no expiry",
            ));
        }
        if self.tti == Some(Duration::ZERO) {
            return Err(CacheError::config(
                "tti is zero: nothing could ever be read back",
                "give CacheConfig::tti a positive duration, or leave it unset for no expiry",
            ));
        }
        if self.memory_threshold > self.file_threshold {
            return Err(CacheError::config(
                format!(
                    "memory_threshold ({}) is larger than file_threshold ({})",
                    self.memory_threshold, self.file_threshold
                ),
                "make CacheConfig::memory_threshold at most CacheConfig::file_threshold",
            ));
        }
        if let Compression::Zstd(level) = self.compression {
            if !(1..=22).contains(&level) {
                return Err(CacheError::config(
                    format!("zstd level {level} is out of range"),
                    "give CacheConfig::compression a Compression::Zstd level from 1 to 22 (3 is a good default)",
                ));
            }
        }
        if self
            .dir
            .as_deref()
            .is_some_and(|d| d.as_os_str().is_empty())
        {
            return Err(CacheError::config(
                "dir is an empty path, which would put the cache in whatever the current folder is",
                "give CacheConfig::dir a folder path, or leave it unset for $SMARTCACHE_DIR or the platform cache folder",
            ));
        }
        #[cfg(feature = "redis")]
        if self.redis.fallback == Tier::Redis {
            return Err(CacheError::config(
                "redis_fallback is the Redis tier itself",
                "give CacheConfig::redis_fallback Tier::File, Tier::Sled or Tier::Memory",
            ));
        }
        if let Some(prefix) = &self.namespace_prefix {
            validate_namespace(prefix)?;
        }
        if let Some(namespace) = &self.namespace {
            validate_namespace(namespace)?;
        }
        Ok(())
    }

    /// The storage root: the configured dir, `$SMARTCACHE_DIR`, or the platform cache dir.
    pub(crate) fn root(&self) -> Result<PathBuf> {
        match &self.dir {
            Some(dir) => Ok(dir.clone()),
            None => default_root().map(|(root, _)| root),
        }
    }
}

/// The storage root when no dir is configured: `$SMARTCACHE_DIR` (then `true`), else the
/// platform cache dir.
pub(crate) fn default_root() -> Result<(PathBuf, bool)> {
    if let Some(dir) = std::env::var_os("SMARTCACHE_DIR").filter(|d| !d.is_empty()) {
        return Ok((PathBuf::from(dir), true));
    }
    dirs::cache_dir()
        .map(|d| (d.join("smartcache"), false))
        .ok_or(CacheError::NoDirectory)
}

/// Refuses namespaces that would not be one plain folder under the root.
pub(crate) fn validate_namespace(namespace: &str) -> Result<()> {
    let refuse = |reason| {
        Err(CacheError::InvalidNamespace {
            namespace: shorten(namespace, 64),
            reason,
        })
    };
    if namespace.is_empty() {
        return refuse("it is empty");
    }
    if namespace.len() > 200 {
        return refuse("it is longer than 200 bytes");
    }
    if namespace.contains('/') || namespace.contains('\\') {
        return refuse("it contains a path separator");
    }
    if namespace.contains("..") {
        return refuse("it contains '..'");
    }
    if namespace.starts_with('.') {
        return refuse("it starts with '.'");
    }
    if namespace
        .chars()
        .any(|c| c.is_control() || c == ':' || c == '\0')
    {
        return refuse("it contains a control character or ':'");
    }
    Ok(())
}

/// `text`, or its first `max` characters and how long it was: for echoing user input in
/// error messages.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}… ({} bytes in all)", &text[..cut], text.len()),
    }
}

/// A folder-safe namespace derived from type names: `u64-vec_u8-1a2b3c4d`.
pub(crate) fn derived_namespace(key_type: &str, value_tag: &str) -> String {
    // `Vec<alloc::string::String>` -> `vec_string`: the type names, without module paths.
    let short = |name: &str| -> String {
        name.split(|c: char| !c.is_alphanumeric() && c != '_' && c != ':')
            .filter_map(|segment| segment.rsplit("::").next())
            .filter(|segment| !segment.is_empty())
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
            .join("_")
            .chars()
            .take(40)
            .collect()
    };
    let hash = crate::hash::hash64(format!("{key_type}\u{0}{value_tag}").as_bytes());
    format!(
        "{}-{}-{:08x}",
        short(key_type),
        short(value_tag),
        hash as u32
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_cannot_escape_the_root() {
        for bad in [
            "", "a/b", "..", "a..b", "../x", ".hidden", "c:\\x", "a\\b", "x\u{0}",
        ] {
            assert!(validate_namespace(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["reports", "my-cache_2", "v1.2"] {
            assert!(validate_namespace(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn long_namespaces_are_not_echoed_whole() {
        let long = "x".repeat(10_000) + "/";
        let message = validate_namespace(&long).expect_err("accepted").to_string();
        assert!(message.len() < 400, "{} bytes: {message}", message.len());
        assert!(message.contains("10001 bytes in all"), "{message}");
    }

    #[test]
    fn derived_namespaces_are_valid_and_readable() {
        let ns = derived_namespace("alloc::string::String", "Vec<u8>");
        assert!(ns.starts_with("string-vec_u8-"), "{ns}");
        validate_namespace(&ns).expect("derived namespace is valid");
    }

    #[test]
    fn every_bad_value_is_refused_with_its_fix() {
        let cases = [
            CacheConfig::default().memory_capacity(0),
            CacheConfig::default().disk_capacity(0),
            CacheConfig::default().max_entries(0),
            CacheConfig::default().ttl(Duration::ZERO),
            CacheConfig::default().tti(Duration::ZERO),
            CacheConfig::default()
                .memory_threshold(10)
                .file_threshold(5),
            CacheConfig::default().compression(Compression::Zstd(0)),
            CacheConfig::default().namespace("../etc"),
            CacheConfig::default().dir(""),
        ];
        for config in cases {
            let err = config.validate().expect_err("bad config accepted");
            assert!(err.to_string().contains("CacheConfig::"), "{err}");
        }
    }
}
