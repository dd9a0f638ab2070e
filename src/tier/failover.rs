//! Failover: a tier that cannot always take writes, fronted by a store that sends them to
//! its spare meanwhile.
//!
//! Two tiers cannot always take writes: sled while another process holds its database
//! (or after it failed), and a Redis server while it is down. Their `Kind::spare` names
//! where their values go then: the file tier for sled (every process on the machine sees
//! it), the tier `CacheConfig::redis_fallback` names for Redis (files, sled, or memory
//! alone). The cache opens such a tier as a [`Failover`] of it and its spare, and sees one
//! [`Store`]: an insert lands in the tier or in the spare, and says which; a read looks in
//! both, in the order that serves the newest value; a removal reaches both.
//!
//! - **Which copy is newer.** Values sent to the spare are newer than what the tier holds
//!   of their keys. A tier says when the spare's copies are the newer ones whatever else
//!   ([`Primary::spare_is_newer`]: sled while other processes wait for it and write to the
//!   spare; a server, whose removals made while it was down are lost if the process ends):
//!   the spare is read first. Otherwise the spare is read after the tier, and only once a
//!   marker in the namespace folder says some process sent values there.
//! - **Hand-over.** While other processes wait for it, sled hands its entries over to the
//!   spare a batch at a time (at each read and write), as they are (times, type and all);
//!   an entry already in the spare is newer and stays, and a moved entry leaves sled only
//!   if it did not change meanwhile.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};

use super::audit::{Audited, Leftover, Met};
use super::{LoadError, Loaded, Primary, Store, Upkeep, Usage};
use crate::entry::{self, Expect, Incoming, Outgoing, WriteSeek};
use crate::key::{self, Address};
use crate::{paths, CacheError, Result, Tier};

/// Opens the other tiers of a cache, for a failover store to reach its spare: the cache's
/// own handle of it, opened on first need.
pub(crate) trait OpenTier: Send + Sync {
    /// The tier, opened if need be.
    fn open_tier(&self, tier: Tier) -> Result<Arc<dyn Store>>;
}

/// A tier that cannot always take writes, and its spare (see the module docs).
pub(crate) struct Failover {
    primary: Arc<dyn Primary>,
    /// The spare's tier; [`Tier::Memory`] for values kept in memory alone.
    spare: Tier,
    /// The cache's tiers, where the spare is opened.
    tiers: Weak<dyn OpenTier>,
    namespace: String,
    /// The marker that the spare holds values bound for the tier, in the namespace folder
    /// (`None` without one: then no process sends values to a spare on disk).
    marker: Option<PathBuf>,
    secure: bool,
    /// Whether the marker was found (or left), and when it was last looked for.
    marked: AtomicBool,
    marker_checked_ms: AtomicU64,
    /// Whether values go to the spare now (logged when it starts and ends).
    rerouting: AtomicBool,
}

impl Failover {
    /// `primary` of `kind`, with `spare`. `namespace_dir`: where the marker goes.
    pub fn new(
        primary: Arc<dyn Primary>,
        spare: Tier,
        tiers: Weak<dyn OpenTier>,
        namespace: &str,
        namespace_dir: Option<&std::path::Path>,
        secure: bool,
    ) -> Failover {
        let marker = namespace_dir.map(|dir| paths::spare_marker(dir, primary.tier(), spare));
        Failover {
            primary,
            spare,
            tiers,
            namespace: namespace.to_string(),
            marker,
            secure,
            marked: AtomicBool::new(false),
            marker_checked_ms: AtomicU64::new(0),
            rerouting: AtomicBool::new(false),
        }
    }

    /// The spare, opened if need be; `None` for memory alone.
    fn spare(&self) -> Result<Option<Arc<dyn Store>>> {
        if !self.spare.is_persistent() {
            return Ok(None);
        }
        let tiers = self.tiers.upgrade().ok_or(CacheError::TierUnavailable {
            tier: self.spare,
            reason: "the cache is closing",
        })?;
        tiers.open_tier(self.spare).map(Some)
    }

    /// Whether the spare may hold values bound for the tier, and is read first.
    fn spare_in_play(&self) -> Option<SpareFirst> {
        if !self.spare.is_persistent() {
            return None;
        }
        if self.primary.spare_is_newer() {
            Some(SpareFirst(true))
        } else {
            self.marked().then_some(SpareFirst(false))
        }
    }

    /// Whether the marker is there (looked for at most once a second, and remembered
    /// once found).
    fn marked(&self) -> bool {
        if self.marked.load(Relaxed) {
            return true;
        }
        let now = crate::clock::coarse_now_ms();
        if now.saturating_sub(self.marker_checked_ms.load(Relaxed)) < 1000 {
            return false;
        }
        self.marker_checked_ms.store(now, Relaxed);
        let found = self.marker.as_ref().is_some_and(|marker| marker.exists());
        if found {
            self.marked.store(true, Relaxed);
        }
        found
    }

    /// Leaves the marker that the spare holds values bound for the tier.
    fn mark(&self) {
        if !self.spare.is_persistent() || self.marked.swap(true, Relaxed) {
            return;
        }
        let Some(marker) = &self.marker else {
            return;
        };
        match paths::create_file(marker, self.secure) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                tracing::warn!(path = %marker.display(), error = %e, "cannot mark the spare tier as holding values of another");
                self.marked.store(false, Relaxed);
            }
        }
    }

    /// Logs when values start and stop going to the spare.
    fn note_rerouting(&self, rerouted: bool) {
        if self.rerouting.swap(rerouted, Relaxed) == rerouted {
            return;
        }
        let (tier, spare) = (self.primary.tier(), self.spare);
        // The tier has said why, once, itself (its warning when it failed, found its
        // database held, or lost its server).
        if rerouted {
            tracing::info!(namespace = %self.namespace, tier = %tier, spare = %spare,
                "the tier cannot take values now: they go to its spare");
        } else {
            tracing::info!(namespace = %self.namespace, tier = %tier, "the tier takes values again");
        }
    }

    /// Hands a batch of the tier's entries over to the spare while other processes want
    /// them (nothing to do otherwise).
    fn hand_over(&self) {
        const BATCH: usize = 32;
        let entries = self.primary.entries_to_hand_over(BATCH);
        if entries.is_empty() {
            return;
        }
        let Ok(Some(spare)) = self.spare() else {
            return;
        };
        self.mark();
        for moving in entries {
            let relaid = entry::head_of(&moving.entry).and_then(|(header, key)| {
                let bytes = entry::relaid_for_file(&moving.entry)?;
                Some((
                    key::address_of_encoded(&self.namespace, key),
                    bytes,
                    header.expires_ms,
                ))
            });
            match relaid {
                Some((address, bytes, expires_ms)) => {
                    let entry = Relaid { bytes, expires_ms };
                    if let Err(e) = spare.store(&address, &entry) {
                        tracing::debug!(tier = %self.primary.tier(), error = %e, "cannot hand an entry over to the spare");
                        return;
                    }
                }
                None => tracing::debug!(
                    tier = %self.primary.tier(),
                    "an entry to hand over does not check out; dropped"
                ),
            }
            // Moved, or not an entry this build can read (damaged, or of another build's
            // format, which it cannot lay out anew): either way it leaves the tier, so
            // that the hand-over gets through the rest.
            self.primary.handed_over(&moving);
        }
    }

    /// Asks the tier and its spare, in the order that serves the newest value, until one
    /// has the entry. Another type's entry (`Foreign`) is passed over, and said if
    /// neither has one of this cache's.
    fn first<T>(
        &self,
        mut look: impl FnMut(&dyn Store) -> std::result::Result<Option<T>, LoadError>,
    ) -> std::result::Result<Option<T>, LoadError> {
        let spare = match self.spare_in_play() {
            Some(first) => self.spare().ok().flatten().map(|spare| (spare, first)),
            None => None,
        };
        let mut foreign = false;
        let mut ask = |store: &dyn Store| match look(store) {
            Err(LoadError::Foreign) => {
                foreign = true;
                Ok(None)
            }
            found => found,
        };
        let found = match &spare {
            Some((spare, SpareFirst(true))) => match ask(&**spare)? {
                None => ask(&*self.primary)?,
                hit => hit,
            },
            Some((spare, SpareFirst(false))) => match ask(&*self.primary)? {
                None => ask(&**spare)?,
                hit => hit,
            },
            None => ask(&*self.primary)?,
        };
        match found {
            None if foreign => Err(LoadError::Foreign),
            found => Ok(found),
        }
    }

    /// Removes the older value of the key from the tier, which takes no writes now: a
    /// tier that cannot (held by another process) leaves it, and the spare, read first
    /// by its holder, hides it.
    fn remove_from_primary(&self, address: &Address) -> Result<()> {
        match self.primary.remove(address) {
            Ok(_) => Ok(()),
            Err(e @ CacheError::TierUnavailable { .. }) => {
                tracing::debug!(tier = %self.primary.tier(), error = %e, "insert: an older value could not be removed");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// Whether the spare is read before the tier.
struct SpareFirst(bool);

impl Store for Failover {
    fn tier(&self) -> Tier {
        self.primary.tier()
    }

    fn store(&self, address: &Address, entry: &dyn Outgoing) -> Result<Tier> {
        self.hand_over();
        if self.primary.takes_writes() {
            // An older value sent to the spare goes first.
            if self.spare_in_play().is_some() {
                if let Some(spare) = self.spare()? {
                    spare.remove(address)?;
                }
            }
            match self.primary.store(address, entry) {
                Ok(tier) => {
                    self.note_rerouting(false);
                    return Ok(tier);
                }
                // The tier failed and now takes no writes (its server went down during
                // this insert): the value goes to the spare, as the next ones.
                Err(e) if !self.primary.takes_writes() => {
                    tracing::debug!(tier = %self.primary.tier(), error = %e, "insert: the tier went down; the value goes to its spare");
                }
                Err(e) => return Err(e),
            }
        }
        self.note_rerouting(true);
        self.mark();
        self.remove_from_primary(address)?;
        match self.spare()? {
            Some(spare) => spare.store(address, entry),
            None => Ok(Tier::Memory),
        }
    }

    fn load(
        &self,
        address: &Address,
        expect: &Expect<'_>,
        into: &mut dyn Incoming,
    ) -> std::result::Result<Option<Loaded>, LoadError> {
        self.hand_over();
        let mut failure = None;
        let found = self.first(|store| match store.load(address, expect, into) {
            Err(LoadError::Failed(e)) => {
                failure.get_or_insert(e);
                Ok(None)
            }
            // Expired or invalid: the read is a miss, and the cache removes the key from
            // both (a copy in the other may be older).
            found => found,
        });
        match (found, failure) {
            (Ok(None), Some(e)) => Err(LoadError::Failed(e)),
            (found, _) => found,
        }
    }

    fn probe(
        &self,
        address: &Address,
        expect: &Expect<'_>,
    ) -> std::result::Result<Option<Tier>, LoadError> {
        self.first(|store| store.probe(address, expect))
    }

    /// Removes the key from both, even when one of them fails (its error is returned).
    fn remove(&self, address: &Address) -> Result<bool> {
        let primary = self.primary.remove(address);
        let spare = match self.spare_in_play() {
            Some(_) => self.spare().and_then(|spare| match spare {
                Some(spare) => spare.remove(address),
                None => Ok(false),
            }),
            None => Ok(false),
        };
        Ok(primary? | spare?)
    }

    fn may_hold(&self, hash: u128) -> bool {
        self.primary.may_hold(hash)
            || (self.spare_in_play().is_some()
                && self
                    .spare()
                    .map_or(true, |spare| spare.is_some_and(|s| s.may_hold(hash))))
    }

    fn touch(&self, address: &Address, now_ms: u64) {
        self.primary.touch(address, now_ms);
    }
}

impl Upkeep for Failover {
    fn clear(&self) -> Result<()> {
        self.primary.clear()?;
        if self.spare_in_play().is_some() {
            if let Some(spare) = self.spare()? {
                spare.clear()?;
            }
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        self.primary.flush()
    }

    fn usage(&self) -> Usage {
        self.primary.usage()
    }

    /// The tier's keys, and the spare's while it may hold values bound for the tier.
    fn keys(&self) -> Result<Vec<Vec<u8>>> {
        let mut keys = self.primary.keys()?;
        if self.spare_in_play().is_some() {
            if let Some(spare) = self.spare()? {
                keys.extend(spare.keys()?);
            }
        }
        Ok(keys)
    }

    fn shrink_to(&self, bytes: u64) -> Result<u64> {
        self.primary.shrink_to(bytes)
    }

    fn audit(&self, payloads: bool, visit: &mut dyn FnMut(&Met) -> bool) -> Result<Audited> {
        self.primary.audit(payloads, visit)
    }

    fn leftovers(&self, remove: bool) -> Vec<Leftover> {
        self.primary.leftovers(remove)
    }
}

/// An entry handed over, laid out anew for its spare (see `entry::relaid_for_file`). It
/// replaces nothing: an entry already in the spare is newer.
struct Relaid {
    bytes: Vec<u8>,
    expires_ms: u64,
}

impl Outgoing for Relaid {
    fn write_to(&self, out: &mut dyn WriteSeek, tier: Tier, path: &std::path::Path) -> Result<u64> {
        out.write_all(&self.bytes)
            .map_err(|e| CacheError::io(tier, path, e))?;
        Ok(self.bytes.len() as u64)
    }

    fn to_vec(&self, _tier: Tier, _path: &std::path::Path) -> Result<Vec<u8>> {
        Ok(self.bytes.clone())
    }

    fn expires_ms(&self) -> u64 {
        self.expires_ms
    }

    fn replaces(&self) -> bool {
        false
    }
}

/// `primary`, fronted by a [`Failover`] when its kind has a `spare` (see `Kind::spare`).
pub(crate) fn fronted(
    primary: Arc<dyn Primary>,
    spare: Option<Tier>,
    tiers: Weak<dyn OpenTier>,
    namespace: &str,
    namespace_dir: Option<&std::path::Path>,
    secure: bool,
) -> Arc<dyn Store> {
    match spare {
        Some(spare) => Arc::new(Failover::new(
            primary,
            spare,
            tiers,
            namespace,
            namespace_dir,
            secure,
        )),
        None => primary,
    }
}
