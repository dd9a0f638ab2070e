//! The Redis tier (feature `redis`): entries on a Redis server, shared by every process
//! and machine that uses the same server and namespace.
//!
//! Keys are `smartcache:<namespace>:<key hash>` (32 hex digits), values the same
//! envelope as the other persistent tiers (checksums, type fingerprint, full key), and a
//! time to live is Redis's own (`SET .. PX`). `clear()` removes only its namespace's keys,
//! found with `SCAN`.
//!
//! Faults: every command runs with the configured timeout. A command that fails on the
//! connection (refused, reset, timed out: a stopped server) drops the connection and opens
//! a circuit breaker: for the back-off period the tier answers at once that it is down, its
//! reads are misses, and its writes go to the file tier (see [`Store::takes_writes`]).
//! After the back-off the next call tries again, and the tier is back without a restart.
//! One warning is logged per outage.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Gauge, Kind, LoadError, Loaded, Opening, Store, Usage};
use crate::entry::{self, Expect, Incoming, Outgoing};
use crate::key::Address;
use crate::{CacheError, Result, Tier};

/// The Redis tier, as the list of persistent tiers has it.
pub(crate) const KIND: Kind = Kind {
    tier: Tier::Redis,
    folder: None,
    open: |o| Ok(Arc::new(RedisTier::open(o)?)),
};

/// The environment variable that names the server when the configuration does not.
pub(crate) const URL_VAR: &str = "SMARTCACHE_REDIS_URL";

/// How a cache reaches Redis (`CacheConfig::redis`, `redis_timeout`, `redis_backoff`).
#[derive(Clone)]
pub(crate) struct RedisSettings {
    /// `redis://[user:password@]host[:port][/db]`; `None`: `$SMARTCACHE_REDIS_URL`.
    pub url: Option<String>,
    /// Longest wait for a connection or a reply.
    pub timeout: Duration,
    /// How long the tier stays down after a failure before it tries again.
    pub backoff: Duration,
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings {
            url: None,
            timeout: Duration::from_millis(250),
            backoff: Duration::from_secs(3),
        }
    }
}

impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &self.url.as_deref().map(redacted))
            .field("timeout", &self.timeout)
            .field("backoff", &self.backoff)
            .finish()
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

/// The Redis tier of one namespace.
pub(crate) struct RedisTier {
    client: redis::Client,
    /// The URL without its password, for messages.
    shown: String,
    /// `smartcache:<namespace>:`.
    prefix: String,
    timeout: Duration,
    backoff: Duration,
    /// The connection, made on first use and after a failure; one command at a time.
    connection: Mutex<Option<redis::Connection>>,
    /// Until when the tier counts as down (the circuit breaker), in ms since the Unix
    /// epoch; 0 while it is up.
    down_until_ms: AtomicU64,
    /// Whether the current outage has been logged.
    warned: AtomicBool,
    gauge: Gauge,
}

impl RedisTier {
    /// The tier for the cache's namespace. Connects nothing yet: a bad URL is an error
    /// here, an unreachable server one at first use.
    fn open(o: &Opening<'_>) -> Result<RedisTier> {
        let settings = &o.config.redis;
        let url = match &settings.url {
            Some(url) => url.clone(),
            None => std::env::var(URL_VAR).map_err(|_| {
                CacheError::config(
                    "no Redis server is set",
                    "give CacheConfig::redis(\"redis://host:6379\") or set $SMARTCACHE_REDIS_URL",
                )
            })?,
        };
        let shown = redacted(&url);
        let client = redis::Client::open(url.as_str()).map_err(|e| {
            CacheError::config(
                format!("the Redis URL {shown} is not valid ({:?})", e.kind()),
                "write it as redis://[user:password@]host[:port][/db]",
            )
        })?;
        Ok(RedisTier {
            client,
            shown,
            prefix: format!("smartcache:{}:", o.namespace),
            timeout: settings.timeout,
            backoff: settings.backoff,
            connection: Mutex::new(None),
            down_until_ms: AtomicU64::new(0),
            warned: AtomicBool::new(false),
            gauge: Gauge::default(),
        })
    }

    fn key(&self, address: &Address) -> String {
        format!("{}{:032x}", self.prefix, address.hash())
    }

    /// Whether the breaker is open: the tier failed less than a back-off ago.
    fn is_down(&self) -> bool {
        let until = self.down_until_ms.load(Relaxed);
        until != 0 && crate::clock::now_ms() < until
    }

    /// Runs `command` on the connection (made if need be), within the timeout.
    fn run<T>(
        &self,
        command: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T> {
        if self.is_down() {
            return Err(CacheError::TierUnavailable {
                tier: Tier::Redis,
                reason: "Redis failed a moment ago; it is tried again after the back-off (CacheConfig::redis_backoff)",
            });
        }
        let mut slot = self.connection.lock().unwrap_or_else(|p| p.into_inner());
        let result = (|| {
            if slot.is_none() {
                let connection = self.client.get_connection_with_timeout(self.timeout)?;
                connection.set_read_timeout(Some(self.timeout))?;
                connection.set_write_timeout(Some(self.timeout))?;
                *slot = Some(connection);
            }
            let Some(connection) = slot.as_mut() else {
                return Err(std::io::Error::other("no connection").into());
            };
            command(connection)
        })();
        match result {
            Ok(value) => {
                self.up();
                Ok(value)
            }
            Err(e) => {
                if let Some(fix) = self.misconfigured(&e) {
                    // Not an outage: the server answers, and says what is wrong.
                    *slot = None;
                    return Err(fix);
                }
                let broken = e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.is_timeout()
                    || e.is_unrecoverable_error();
                if broken {
                    *slot = None;
                    drop(slot);
                    self.down(&e);
                }
                Err(self.error(e))
            }
        }
    }

    /// Opens the breaker, and logs the outage once.
    fn down(&self, e: &redis::RedisError) {
        let backoff = u64::try_from(self.backoff.as_millis()).unwrap_or(u64::MAX);
        self.down_until_ms.store(
            crate::clock::now_ms().saturating_add(backoff).max(1),
            Relaxed,
        );
        if !self.warned.swap(true, Relaxed) {
            tracing::warn!(server = %self.shown, error = %e, backoff = ?self.backoff,
                "Redis tier: the server does not answer; its values are misses and new ones go to the file tier until it is back");
        }
    }

    /// Closes the breaker after a command went through (two loads while it is closed).
    fn up(&self) {
        if self.down_until_ms.load(Relaxed) != 0 {
            self.down_until_ms.store(0, Relaxed);
        }
        if self.warned.load(Relaxed) && self.warned.swap(false, Relaxed) {
            tracing::info!(server = %self.shown, "Redis tier: the server answers again");
        }
    }

    /// The configuration error that `e` reports, if it is one: a wrong password, or a
    /// database the server does not have.
    fn misconfigured(&self, e: &redis::RedisError) -> Option<CacheError> {
        let text = e.to_string();
        if e.kind() == redis::ErrorKind::AuthenticationFailed
            || text.contains("WRONGPASS")
            || text.contains("NOAUTH")
        {
            return Some(CacheError::config(
                format!("the Redis server {} refused the credentials", self.shown),
                "give the right user and password in the URL: redis://user:password@host:port",
            ));
        }
        if text.contains("DB index is out of range") {
            return Some(CacheError::config(
                format!("the Redis server {} has no such database", self.shown),
                "give a database index the server has (0 to 15 by default) at the end of the URL",
            ));
        }
        None
    }

    fn error(&self, e: redis::RedisError) -> CacheError {
        CacheError::Redis {
            server: self.shown.clone(),
            source: Box::new(e),
        }
    }
}

/// Milliseconds until `expires_ms`, at least 1 (for `PX`).
fn px_of(expires_ms: u64) -> u64 {
    expires_ms.saturating_sub(crate::clock::now_ms()).max(1)
}

impl Store for RedisTier {
    fn tier(&self) -> Tier {
        Tier::Redis
    }

    fn store(&self, address: &Address, entry: &dyn Outgoing) -> Result<u64> {
        let bytes = entry.to_vec(Tier::Redis, Path::new(&self.shown))?;
        let len = bytes.len() as u64;
        let key = self.key(address);
        let expires_ms = entry.expires_ms();
        self.run(|c| {
            let mut set = redis::cmd("SET");
            set.arg(&key).arg(&bytes);
            if expires_ms != 0 {
                set.arg("PX").arg(px_of(expires_ms));
            }
            set.query::<()>(c)
        })?;
        // One round trip: what the key held before is not asked, so the counts are this
        // process's writes, not the server's contents.
        self.gauge.stored(None, len);
        Ok(len)
    }

    fn load(
        &self,
        address: &Address,
        expect: &Expect<'_>,
        into: &mut dyn Incoming,
    ) -> std::result::Result<Option<Loaded>, LoadError> {
        let key = self.key(address);
        let bytes: Option<Vec<u8>> = self.run(|c| redis::cmd("GET").arg(&key).query(c))?;
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        let header = into
            .decode_entry(&bytes, expect)
            .map_err(|r| LoadError::refused(r, Tier::Redis, Path::new(&self.shown)))?;
        Ok(Some(Loaded {
            expires_ms: header.expires_ms,
        }))
    }

    fn probe(
        &self,
        address: &Address,
        expect: &Expect<'_>,
    ) -> std::result::Result<bool, LoadError> {
        let key = self.key(address);
        let bytes: Option<Vec<u8>> = self.run(|c| redis::cmd("GET").arg(&key).query(c))?;
        match bytes {
            None => Ok(false),
            Some(bytes) => entry::check_slice(&bytes, expect)
                .map(|_| true)
                .map_err(|r| LoadError::refused(r, Tier::Redis, Path::new(&self.shown))),
        }
    }

    fn remove(&self, address: &Address) -> Result<bool> {
        let key = self.key(address);
        let removed: usize = self.run(|c| redis::cmd("DEL").arg(&key).query(c))?;
        if removed > 0 {
            self.gauge.removed(0);
        }
        Ok(removed > 0)
    }

    fn touch(&self, _address: &Address, _now_ms: u64) {
        // Redis keeps its own expiry; reads do not extend it.
    }

    fn clear(&self) -> Result<()> {
        let pattern = format!("{}*", self.prefix);
        self.run(|c| {
            let mut cursor: u64 = 0;
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query(c)?;
                if !keys.is_empty() {
                    redis::cmd("DEL").arg(&keys).query::<()>(c)?;
                }
                if next == 0 {
                    return Ok(());
                }
                cursor = next;
            }
        })?;
        self.gauge.set(0, 0);
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        // Every write is on the server when `store` returns.
        Ok(())
    }

    fn usage(&self) -> Usage {
        self.gauge.usage()
    }

    fn takes_writes(&self) -> bool {
        !self.is_down()
    }
}
