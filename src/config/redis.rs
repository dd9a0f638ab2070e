//! The Redis tier's settings: the URL (from the configuration or `$SMARTCACHE_REDIS_URL`),
//! the timeouts, the fallback tier and, for `rediss://`, the certificate authority; the
//! password kept out of every message.

use std::time::Duration;

use crate::Tier;

/// The environment variable that names the server when the configuration does not.
pub(crate) const URL_VAR: &str = "SMARTCACHE_REDIS_URL";

/// How a cache reaches Redis (`CacheConfig::redis`, `redis_timeout`, `redis_backoff`,
/// `redis_fallback`, `redis_ca`).
#[derive(Clone)]
pub(crate) struct RedisSettings {
    /// `redis[s]://[user:password@]host[:port][/db]`; `None`: `$SMARTCACHE_REDIS_URL`.
    pub url: Option<String>,
    /// Longest wait for a connection or a reply.
    pub timeout: Duration,
    /// How long the tier stays down after a failure before it tries again.
    pub backoff: Duration,
    /// Where values bound for Redis go while it is down: the file tier, sled, or memory.
    pub fallback: Tier,
    /// A PEM file of the certificate authority that signed the server's certificate,
    /// trusted beside the system's (feature `redis-tls`).
    #[cfg(feature = "redis-tls")]
    pub ca: Option<std::path::PathBuf>,
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings {
            url: None,
            timeout: Duration::from_millis(250),
            backoff: Duration::from_secs(3),
            fallback: Tier::File,
            #[cfg(feature = "redis-tls")]
            ca: None,
        }
    }
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("RedisSettings");
        d.field("url", &self.url.as_deref().map(redacted))
            .field("timeout", &self.timeout)
            .field("backoff", &self.backoff)
            .field("fallback", &self.fallback);
        #[cfg(feature = "redis-tls")]
        d.field("ca", &self.ca);
        d.finish()
    }
}

/// `url` with its password replaced by `***`, for messages and logs.
pub(crate) fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_string(),
    }
}
