//! The connections of the Redis tier and its circuit breaker: a pool of connections made
//! on first use, every command bounded by the timeout, a failure on the connection opening
//! the breaker (one warning an outage) and retiring the pool, and the removals kept while
//! the server is down, made before anything else once it answers.

use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{MutexGuard, PoisonError, TryLockError};

use super::{RedisTier, CONNECTIONS};
use crate::{CacheError, Result, Tier};

/// A connection and the epoch it was made in.
pub(super) struct Pooled {
    pub epoch: u64,
    pub connection: redis::Connection,
}

/// Removals kept while the server is down.
#[derive(Default)]
pub(super) struct Pending {
    /// The whole namespace, before `keys`.
    pub clear: bool,
    pub keys: HashSet<String>,
}

impl RedisTier {
    /// Whether the breaker is open: the tier failed less than a back-off ago.
    pub(super) fn is_down(&self) -> bool {
        let until = self.down_until_ms.load(Relaxed);
        until != 0 && crate::clock::now_ms() < until
    }

    pub(super) fn unavailable() -> CacheError {
        CacheError::TierUnavailable {
            tier: Tier::Redis,
            reason: "Redis failed a moment ago; it is tried again after the back-off (CacheConfig::redis_backoff)",
        }
    }

    /// A free connection slot, or the next one if all are busy.
    pub(super) fn slot(&self) -> MutexGuard<'_, Option<Pooled>> {
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
    pub(super) fn run<T>(
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
    pub(super) fn unreachable(&self, e: &CacheError) -> bool {
        matches!(e, CacheError::TierUnavailable { .. }) || self.is_down()
    }

    /// Keeps a removal (one key, or the namespace) for when the server answers again.
    pub(super) fn defer(&self, key: Option<String>) {
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
    pub(super) fn replay(&self, c: &mut redis::Connection) -> redis::RedisResult<()> {
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
    pub(super) fn delete_namespace(&self, c: &mut redis::Connection) -> redis::RedisResult<()> {
        self.scan_namespace(c, |c, keys| redis::cmd("DEL").arg(keys).query::<()>(c))
    }

    /// Calls `batch` with every key of this namespace, found with `SCAN` (never `KEYS`,
    /// which blocks the server), a batch at a time.
    pub(super) fn scan_namespace(
        &self,
        c: &mut redis::Connection,
        mut batch: impl FnMut(&mut redis::Connection, &[String]) -> redis::RedisResult<()>,
    ) -> redis::RedisResult<()> {
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
                batch(c, &keys)?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    /// Opens the breaker, retires the connections, and logs the outage once.
    pub(super) fn down(&self, e: &redis::RedisError) {
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
    pub(super) fn up(&self) {
        if self.down_until_ms.load(Relaxed) != 0 {
            self.down_until_ms.store(0, Relaxed);
        }
        if self.warned.load(Relaxed) && self.warned.swap(false, Relaxed) {
            tracing::info!(server = %self.shown, "Redis tier: the server answers again");
        }
    }

    /// The configuration error that `e` reports, if it is one: a wrong password, or a
    /// database the server does not have.
    pub(super) fn misconfigured(&self, e: &redis::RedisError) -> Option<CacheError> {
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

    pub(super) fn error(&self, e: redis::RedisError) -> CacheError {
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
