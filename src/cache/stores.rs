//! The persistent tiers of one cache: each opened on first use (as `PERSISTENT` lists
//! them), a tier that cannot always take writes fronted by its failover store (see
//! `tier/failover.rs`), the cache's types named in its folder's catalog when it first
//! opens storage there, and every open tier flushed when the cache's last clone goes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Once, Weak};

use crate::config::CacheConfig;
use crate::tier::{fronted, Kind, LazyTier, OpenTier, Opening, Store, PERSISTENT};
use crate::{CacheError, Result, Tier};

/// What the catalog records of a cache (see `catalog.rs`).
pub(super) struct CatalogEntry {
    pub fingerprint: u64,
    pub key_type: &'static str,
    pub value_type: &'static str,
}

/// The persistent tiers of a cache. Shared (`Arc`) with the failover stores among them,
/// which reach their spares through it.
pub(super) struct Stores {
    slots: [LazyTier<Arc<dyn Store>>; PERSISTENT.len()],
    namespace: String,
    /// `<root>/<namespace>`, or why there is none (persistent tiers then fail with it).
    dir: std::result::Result<PathBuf, String>,
    config: CacheConfig,
    catalog: CatalogEntry,
    cataloged: Once,
    this: Weak<Stores>,
}

impl Stores {
    pub(super) fn new(
        namespace: String,
        dir: std::result::Result<PathBuf, String>,
        config: CacheConfig,
        catalog: CatalogEntry,
    ) -> Arc<Stores> {
        Arc::new_cyclic(|this| Stores {
            slots: std::array::from_fn(|_| LazyTier::new()),
            namespace,
            dir,
            config,
            catalog,
            cataloged: Once::new(),
            this: this.clone(),
        })
    }

    /// The namespace folder, or the error of a tier that needs one.
    pub(super) fn dir(&self, tier: Tier) -> Result<&Path> {
        match &self.dir {
            Ok(dir) => Ok(dir),
            Err(_) => Err(CacheError::TierUnavailable {
                tier,
                reason: "no storage folder: set CacheConfig::dir or $SMARTCACHE_DIR",
            }),
        }
    }

    /// The namespace folder, if there is one.
    pub(super) fn path(&self) -> Option<&Path> {
        self.dir.as_deref().ok()
    }

    /// The tier, opened if need be.
    pub(super) fn open(&self, tier: Tier) -> Result<&dyn Store> {
        self.open_shared(tier).map(|store| &**store)
    }

    fn open_shared(&self, tier: Tier) -> Result<&Arc<dyn Store>> {
        let Some((i, kind)) = Kind::of(tier) else {
            return Err(CacheError::TierUnavailable {
                tier,
                reason: "the memory tier is not a persistent tier",
            });
        };
        if let Some(store) = self.slots[i].get() {
            return Ok(store);
        }
        let folder = match kind.folder {
            Some(name) => Some(self.dir(tier)?.join(name)),
            None => None,
        };
        let opening = Opening {
            folder: folder.as_deref(),
            namespace: &self.namespace,
            config: &self.config,
        };
        self.slots[i].get_or_open(tier, || {
            let primary = (kind.open)(&opening)?;
            if kind.folder.is_some() {
                self.record_in_catalog();
            }
            let tiers: Weak<dyn OpenTier> = self.this.clone();
            Ok(fronted(
                primary,
                (kind.spare)(&self.config),
                tiers,
                &self.namespace,
                self.path(),
                self.config.secure,
            ))
        })
    }

    /// Names this cache's types and key version in its folder's catalog, the first time
    /// one of its tiers opens storage there.
    fn record_in_catalog(&self) {
        let Ok(dir) = &self.dir else {
            return;
        };
        self.cataloged.call_once(|| {
            crate::catalog::record(
                dir,
                self.catalog.fingerprint,
                self.catalog.key_type,
                self.catalog.value_type,
                self.config.key_version,
                self.config.secure,
            );
        });
    }

    /// The tier if it is open.
    pub(super) fn opened(&self, tier: Tier) -> Option<&dyn Store> {
        let (i, _) = Kind::of(tier)?;
        self.slots[i].get().map(|store| &**store)
    }

    /// The tiers that are open.
    pub(super) fn open_stores(&self) -> impl Iterator<Item = &dyn Store> {
        self.slots
            .iter()
            .filter_map(|s| s.get())
            .map(|store| &**store)
    }

    /// The tier if it is open or has a folder on disk: reads never create storage.
    pub(super) fn open_if_exists(&self, tier: Tier) -> Result<Option<&dyn Store>> {
        if let Some(store) = self.opened(tier) {
            return Ok(Some(store));
        }
        let exists = Kind::of(tier).is_some_and(|(_, kind)| match kind.folder {
            Some(name) => self.dir.as_ref().is_ok_and(|dir| dir.join(name).is_dir()),
            // A tier kept elsewhere (a server) is there to be asked.
            None => true,
        });
        if exists {
            self.open(tier).map(Some)
        } else {
            Ok(None)
        }
    }
}

impl OpenTier for Stores {
    fn open_tier(&self, tier: Tier) -> Result<Arc<dyn Store>> {
        self.open_shared(tier).cloned()
    }
}

impl Drop for Stores {
    fn drop(&mut self) {
        for store in self.open_stores() {
            if let Err(e) = store.flush() {
                tracing::warn!(tier = %store.tier(), error = %e, "flush on drop failed");
            }
        }
    }
}
