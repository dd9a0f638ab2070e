//! The Redis tier (feature `redis`): entries on a Redis server, shared by every process
//! and machine that uses the same server and namespace.
//!
//! Keys are `smartcache:<namespace>:<key hash>` (32 hex digits), values the same
//! envelope as the other persistent tiers (checksums, type fingerprint, full key), and a
//! time to live is Redis's own (`SET .. PX`). `clear()` removes only its namespace's keys,
//! found with `SCAN`. `rediss://` URLs speak TLS (feature `redis-tls`, rustls).
//!
//! Connections: up to [`CONNECTIONS`], each made on first use and serving one command at a
//! time, so threads do not queue behind one socket.
//!
//! Faults: every command runs with the configured timeout. A command that fails on the
//! connection (refused, reset, timed out: a stopped server) opens a circuit breaker and
//! retires every connection: for the back-off period the tier answers at once that it is
//! down, its reads are misses, and its writes go to the fallback tier (see
//! [`Store::takes_writes`]). After the back-off the next call tries again, and the tier is
//! back without a restart. One warning is logged per outage.
//!
//! A removal or `clear()` that cannot reach the server is kept and made, in order, before
//! the next command once the server answers, so a removed value never comes back. Kept
//! removals live in this process: one that ends during an outage loses them.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
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

/// The most connections one cache keeps to its server.
pub(crate) const CONNECTIONS: usize = 4;

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

/// The Redis tier of one namespace.
pub(crate) struct RedisTier {
    client: redis::Client,
    /// The URL without its password, for messages.
    shown: String,
    /// `smartcache:<namespace>:`.
    prefix: String,
    timeout: Duration,
    backoff: Duration,
    fallback: Tier,
    /// The connections, each made on first use and again after an outage.
    pool: [Mutex<Option<Pooled>>; CONNECTIONS],
    /// Where the next command starts looking for a free connection.
    next: AtomicUsize,
    /// Bumped when the breaker opens: connections of an older epoch are not used again.
    epoch: AtomicU64,
    /// Until when the tier counts as down (the circuit breaker), in ms since the Unix
    /// epoch; 0 while it is up.
    down_until_ms: AtomicU64,
    /// Whether the current outage has been logged.
    warned: AtomicBool,
    /// Removals made while the server could not be reached, made when it answers again.
    pending: Mutex<Pending>,
    /// Whether `pending` holds anything (read before every command, without its lock).
    has_pending: AtomicBool,
    gauge: Gauge,
}

/// A connection and the epoch it was made in.
struct Pooled {
    epoch: u64,
    connection: redis::Connection,
}

/// Removals kept while the server is down.
#[derive(Default)]
struct Pending {
    /// The whole namespace, before `keys`.
    clear: bool,
    keys: HashSet<String>,
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
        let client = client(&url, &shown, settings)?;
        Ok(RedisTier {
            client,
            shown,
            prefix: format!("smartcache:{}:", o.namespace),
            timeout: settings.timeout,
            backoff: settings.backoff,
            fallback: settings.fallback,
            pool: Default::default(),
            next: AtomicUsize::new(0),
            epoch: AtomicU64::new(0),
            down_until_ms: AtomicU64::new(0),
            warned: AtomicBool::new(false),
            pending: Mutex::default(),
            has_pending: AtomicBool::new(false),
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

    fn unavailable() -> CacheError {
        CacheError::TierUnavailable {
            tier: Tier::Redis,
            reason: "Redis failed a moment ago; it is tried again after the back-off (CacheConfig::redis_backoff)",
        }
    }

    /// A free connection slot, or the next one if all are busy.
    fn slot(&self) -> MutexGuard<'_, Option<Pooled>> {
        let start = self.next.fetch_add(1, Relaxed);
        for i in 0..CONNECTIONS {
            match self.pool[(start + i) % CONNECTIONS].try_lock() {
                Ok(slot) => return slot,
                Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.pool[start % CONNECTIONS]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `command` on a connection (made if need be), within the timeout, after the
    /// removals kept during an outage.
    fn run<T>(
        &self,
        command: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T> {
        if self.is_down() {
            return Err(Self::unavailable());
        }
        let mut slot = self.slot();
        if self.is_down() {
            // A command failed while this one waited for its connection.
            return Err(Self::unavailable());
        }
        let epoch = self.epoch.load(Relaxed);
        let result = (|| {
            if slot.as_ref().is_none_or(|pooled| pooled.epoch != epoch) {
                *slot = None;
                let connection = self.client.get_connection_with_timeout(self.timeout)?;
                connection.set_read_timeout(Some(self.timeout))?;
                connection.set_write_timeout(Some(self.timeout))?;
                *slot = Some(Pooled { epoch, connection });
            }
            let Some(pooled) = slot.as_mut() else {
                return Err(std::io::Error::other("no connection").into());
            };
            self.replay(&mut pooled.connection)?;
            command(&mut pooled.connection)
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
                if is_outage(&e) {
                    *slot = None;
                    drop(slot);
                    self.down(&e);
                }
                Err(self.error(e))
            }
        }
    }

    /// Whether `e`, from [`RedisTier::run`], means the server could not be reached.
    fn is_outage(&self, e: &CacheError) -> bool {
        matches!(e, CacheError::TierUnavailable { .. }) || self.is_down()
    }

    /// Keeps a removal (one key, or the namespace) for when the server answers again.
    fn defer(&self, key: Option<String>) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        match key {
            Some(key) => {
                pending.keys.insert(key);
            }
            None => {
                pending.clear = true;
                pending.keys.clear();
            }
        }
        self.has_pending.store(true, Relaxed);
    }

    /// Makes the removals kept during an outage, on a connection that works.
    fn replay(&self, c: &mut redis::Connection) -> redis::RedisResult<()> {
        if !self.has_pending.load(Relaxed) {
            return Ok(());
        }
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let (clear, keys) = (pending.clear, pending.keys.len());
        if pending.clear {
            self.delete_namespace(c)?;
            pending.clear = false;
        }
        while !pending.keys.is_empty() {
            let batch: Vec<String> = pending.keys.iter().take(1000).cloned().collect();
            redis::cmd("DEL").arg(&batch).query::<()>(c)?;
            for key in &batch {
                pending.keys.remove(key);
            }
        }
        self.has_pending.store(false, Relaxed);
        tracing::info!(server = %self.shown, clear, keys,
            "Redis tier: the removals asked for while the server was down are made");
        Ok(())
    }

    /// Deletes every key of this namespace, found with `SCAN`.
    fn delete_namespace(&self, c: &mut redis::Connection) -> redis::RedisResult<()> {
        let pattern = format!("{}*", self.prefix);
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
    }

    /// Opens the breaker, retires the connections, and logs the outage once.
    fn down(&self, e: &redis::RedisError) {
        let backoff = u64::try_from(self.backoff.as_millis()).unwrap_or(u64::MAX);
        self.down_until_ms.store(
            crate::clock::now_ms().saturating_add(backoff).max(1),
            Relaxed,
        );
        self.epoch.fetch_add(1, Relaxed);
        if !self.warned.swap(true, Relaxed) {
            tracing::warn!(server = %self.shown, error = %e, backoff = ?self.backoff, fallback = %self.fallback,
                "Redis tier: the server does not answer; its values are misses and new ones go to the fallback tier until it is back");
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
        if text.contains("invalid peer certificate") {
            return Some(CacheError::config(
                format!(
                    "the Redis server {} gave a certificate this program does not trust ({text})",
                    self.shown
                ),
                "give the certificate authority that signed it with CacheConfig::redis_ca(\"ca.pem\"), \
                 and connect by a name or address the certificate lists",
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

/// Whether `e` means the server cannot be reached now (refused, reset, timed out), as
/// opposed to an answer it gave.
pub(crate) fn is_outage(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
}

/// The client for `url` (`shown`: without its password). Checks the URL; connects nothing.
fn client(url: &str, shown: &str, settings: &RedisSettings) -> Result<redis::Client> {
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
        // The length and the first bytes in one round trip; the payload stays on the server.
        const FIRST: usize = 4096;
        let key = self.key(address);
        let refused = |r| LoadError::refused(r, Tier::Redis, Path::new(&self.shown));
        let (total, head): (u64, Vec<u8>) = self.run(|c| {
            redis::pipe()
                .cmd("STRLEN")
                .arg(&key)
                .cmd("GETRANGE")
                .arg(&key)
                .arg(0)
                .arg(FIRST - 1)
                .query(c)
        })?;
        if total == 0 {
            return Ok(false);
        }
        let needed = match entry::check_head(&head, total, expect).map_err(refused)? {
            Ok(_) => return Ok(true),
            Err(needed) => needed,
        };
        let head: Vec<u8> = self.run(|c| {
            redis::cmd("GETRANGE")
                .arg(&key)
                .arg(0)
                .arg(needed.saturating_sub(1))
                .query(c)
        })?;
        match entry::check_head(&head, total, expect).map_err(refused)? {
            Ok(_) => Ok(true),
            // Replaced meanwhile by a shorter entry: not the one asked about.
            Err(_) => Err(LoadError::Invalid("truncated entry".into())),
        }
    }

    fn remove(&self, address: &Address) -> Result<bool> {
        let key = self.key(address);
        match self.run(|c| redis::cmd("DEL").arg(&key).query::<usize>(c)) {
            Ok(removed) => {
                if removed > 0 {
                    self.gauge.removed(0);
                }
                Ok(removed > 0)
            }
            Err(e) if self.is_outage(&e) => {
                tracing::debug!(server = %self.shown, "Redis tier: a removal waits for the server");
                self.defer(Some(key));
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    fn touch(&self, _address: &Address, _now_ms: u64) {
        // Redis keeps its own expiry; reads do not extend it.
    }

    fn clear(&self) -> Result<()> {
        match self.run(|c| self.delete_namespace(c)) {
            Ok(()) => {}
            Err(e) if self.is_outage(&e) => {
                tracing::debug!(server = %self.shown, "Redis tier: clear() waits for the server");
                self.defer(None);
            }
            Err(e) => return Err(e),
        }
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

    fn fallback(&self) -> Tier {
        self.fallback
    }
}
