//! The client of a Redis URL: the URL checked, TLS set up with the configured certificate
//! authority. Connects nothing.

use crate::config::RedisSettings;
use crate::{CacheError, Result};

/// The client for `url` (`shown`: without its password). Checks the URL; connects nothing.
pub(super) fn client(url: &str, shown: &str, settings: &RedisSettings) -> Result<redis::Client> {
    let invalid = |e: redis::RedisError| {
        CacheError::config(
            format!("the Redis URL {shown} is not valid ({e})"),
            "write it as redis://[user:password@]host[:port][/db], or rediss:// for TLS",
        )
    };
    if url.starts_with("rediss://") && cfg!(not(feature = "redis-tls")) {
        return Err(CacheError::config(
            format!("the Redis URL {shown} asks for TLS"),
            "enable the `redis-tls` feature of smartcache, or use a redis:// URL",
        ));
    }
    #[cfg(feature = "redis-tls")]
    {
        install_crypto_provider();
        if let Some(path) = &settings.ca {
            let pem = std::fs::read(path).map_err(|e| {
                CacheError::config(
                    format!(
                        "cannot read the certificate authority {} ({e})",
                        path.display()
                    ),
                    "give CacheConfig::redis_ca the path of a PEM file",
                )
            })?;
            let certificates = redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(pem),
            };
            return redis::Client::build_with_tls(url, certificates).map_err(invalid);
        }
    }
    #[cfg(not(feature = "redis-tls"))]
    let _ = settings;
    redis::Client::open(url).map_err(invalid)
}

/// Makes rustls use *ring* unless the program chose its crypto provider.
#[cfg(feature = "redis-tls")]
fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Fails only if another thread installed one meanwhile, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
