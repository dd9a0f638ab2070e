//! The Redis tier (feature `redis`): entries on a Redis server, shared by every process
//! and machine that uses the same server and namespace.
//!
//! Keys are `smartcache:<namespace>:<key hash>` (32 hex digits), values the same
//! envelope as the other persistent tiers (checksums, type fingerprint, full key), and a
//! time to live is Redis's own (`SET .. PX`). `clear()` removes only its namespace's keys,
//! found with `SCAN`. `rediss://` URLs speak TLS (feature `redis-tls`, rustls); the URL and
//! the options are read in `settings.rs`.
//!
//! Connections (`connection.rs`): up to [`CONNECTIONS`], each made on first use and serving one command at a
//! time, so threads do not queue behind one socket.
//!
//! Faults: every command runs with the configured timeout. A command that fails on the
//! connection (refused, reset, timed out: a stopped server) opens a circuit breaker and
//! retires every connection: for the back-off period the tier answers at once that it is
//! down, its reads are misses, and its writes go to the fallback tier (see
//! `tier/failover.rs`). After the back-off the next call tries again, and the tier is
//! back without a restart. One warning is logged per outage.
//!
//! A removal or `clear()` that cannot reach the server is kept and made, in order, before
//! the next command once the server answers, so a removed value never comes back. Kept
//! removals live in this process: one that ends during an outage loses them.

mod client;
mod connection;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Gauge, Kind, LoadError, Loaded, Opening, Primary, Store, Upkeep, Usage};
use crate::entry::{self, Expect, Incoming, Outgoing};
use crate::key::Address;
use crate::{CacheError, Result, Tier};

use self::client::client;
pub(crate) use self::connection::is_outage;
use self::connection::{Pending, Pooled};
use crate::config::{redacted, URL_VAR};

/// The Redis tier, as the list of persistent tiers has it.
pub(crate) const KIND: Kind = Kind {
    tier: Tier::Redis,
    folder: None,
    open: |o| Ok(Arc::new(RedisTier::open(o)?)),
    spare: |config| Some(config.redis.fallback),
};

/// The most connections one cache keeps to its server.
pub(crate) const CONNECTIONS: usize = 4;

/// The Redis tier of one namespace.
pub(crate) struct RedisTier {
    client: redis::Client,
    /// The URL without its password, for messages.
    shown: String,
    /// `smartcache:<namespace>:`.
    prefix: String,
    timeout: Duration,
    backoff: Duration,
    /// Where values go while the server is down (named in the outage's warning).
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
}

/// Milliseconds until `expires_ms`, at least 1 (for `PX`).
fn px_of(expires_ms: u64) -> u64 {
    expires_ms.saturating_sub(crate::clock::now_ms()).max(1)
}

impl Store for RedisTier {
    fn tier(&self) -> Tier {
        Tier::Redis
    }

    fn store(&self, address: &Address, entry: &dyn Outgoing) -> Result<Tier> {
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
            if !entry.replaces() {
                set.arg("NX");
            }
            set.query::<Option<String>>(c)
        })?;
        // One round trip: what the key held before is not asked, so the counts are this
        // process's writes, not the server's contents.
        self.gauge.stored(None, len);
        Ok(Tier::Redis)
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
            tier: Tier::Redis,
        }))
    }

    fn probe(
        &self,
        address: &Address,
        expect: &Expect<'_>,
    ) -> std::result::Result<Option<Tier>, LoadError> {
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
            return Ok(None);
        }
        let needed = match entry::check_head(&head, total, expect).map_err(refused)? {
            Ok(_) => return Ok(Some(Tier::Redis)),
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
            Ok(_) => Ok(Some(Tier::Redis)),
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
            Err(e) if self.unreachable(&e) => {
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
}

impl Upkeep for RedisTier {
    fn clear(&self) -> Result<()> {
        match self.run(|c| self.delete_namespace(c)) {
            Ok(()) => {}
            Err(e) if self.unreachable(&e) => {
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

    fn keys(&self) -> Result<Vec<Vec<u8>>> {
        const FIRST: isize = 4095;
        self.run(|c| {
            let mut found = Vec::new();
            self.scan_namespace(c, |c, keys| {
                let mut heads = redis::pipe();
                for key in keys {
                    heads.cmd("GETRANGE").arg(key).arg(0).arg(FIRST);
                }
                let heads: Vec<Vec<u8>> = heads.query(c)?;
                for (key, head) in keys.iter().zip(heads) {
                    let head = match entry::head_needs(&head) {
                        // A key longer than the first bytes: read as far as it goes.
                        Some(needed) if needed > head.len() => redis::cmd("GETRANGE")
                            .arg(key)
                            .arg(0)
                            .arg(needed.saturating_sub(1))
                            .query(c)?,
                        _ => head,
                    };
                    // One that does not check out is passed over: reads deal with it.
                    if let Some((_, key)) = entry::head_of(&head) {
                        found.push(key.to_vec());
                    }
                }
                Ok(())
            })?;
            Ok(found)
        })
    }
}

/// A server that may be down: its writes then go to the spare, whose copies are the newer
/// ones (a removal this process keeps for the server is lost if it ends meanwhile).
impl Primary for RedisTier {
    fn takes_writes(&self) -> bool {
        !self.is_down()
    }

    fn spare_is_newer(&self) -> bool {
        true
    }
}
