//! Building a cache: the configuration checked, the namespace and folder chosen, storage
//! opened (or left to first use), and the clean-up of temporary caches.

use super::*;

/// Deletes the storage of a temporary cache when dropped.
pub(super) enum Cleanup {
    TempDir(#[allow(dead_code)] tempfile::TempDir),
    Folder(PathBuf),
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Cleanup::Folder(dir) = self {
            if let Err(e) = std::fs::remove_dir_all(&*dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(dir = %dir.display(), error = %e, "temporary cache: cannot delete its folder");
                }
            }
        }
    }
}

impl<K: CacheKey, V: Cacheable> SmartCache<K, V> {
    /// The cache on `config`: its persistent tiers opened now if `eager`, else on first
    /// use; its memory tier holding small values inline if `inline` (for a memoized
    /// function returning values, see `MemoryTier::hold_inline`).
    pub(super) fn build(mut config: CacheConfig, eager: bool, inline: bool) -> Result<Self> {
        // The type's own time to live holds on every build path, unless the configuration
        // sets one.
        config.ttl = config.ttl.or(V::TTL);
        config.validate()?;
        let ttl_of = match &config.ttl_of {
            None => None,
            Some(ttl_of) => match ttl_of.function.downcast_ref::<fn(&V) -> Option<Duration>>() {
                Some(function) => Some(*function),
                None => {
                    return Err(CacheError::InvalidConfig {
                        what: format!(
                            "ttl_of takes a {}, and this cache holds {}",
                            ttl_of.value_type,
                            std::any::type_name::<V>()
                        ),
                        fix: "give CacheConfig::ttl_of a function of the cache's value type",
                    })
                }
            },
        };
        if V::__OWN_TYPES {
            // Without knowing their types, a cache of values of many types reads nothing
            // back.
            match V::__ready() {
                Err(e) if eager => return Err(e),
                Err(e) => {
                    tracing::error!(error = %e, "persisted values of many types will be misses")
                }
                Ok(()) => {}
            }
        }
        let namespace = match &config.namespace {
            Some(ns) => ns.clone(),
            None => {
                let derived = derived_namespace(std::any::type_name::<K>(), &V::type_tag());
                match &config.namespace_prefix {
                    Some(prefix) => format!("{prefix}-{derived}"),
                    None => derived,
                }
            }
        };
        let mut cleanup = None;
        let root = if config.temporary && config.dir.is_none() {
            let temp = tempfile::Builder::new()
                .prefix("smartcache-")
                .tempdir()
                .map_err(|e| CacheError::BadDirectory {
                    path: std::env::temp_dir(),
                    reason: format!("cannot create a temporary folder: {e}"),
                })?;
            let path = temp.path().to_path_buf();
            cleanup = Some(Cleanup::TempDir(temp));
            Ok(path)
        } else {
            config.root()
        };
        let dir = match root {
            Ok(root) => Ok(root.join(&namespace)),
            Err(e) if eager => return Err(e),
            Err(e) => Err(e.to_string()),
        };
        if let (true, Ok(dir)) = (config.temporary, &dir) {
            if cleanup.is_none() {
                cleanup = Some(Cleanup::Folder(dir.clone()));
            }
        }
        let counters = Arc::new(Counters::default());
        // The namespace is part of it: two namespaces that share a folder (on a
        // case-insensitive file system) never read each other's entries.
        let fingerprint = crate::hash::hash64(
            &[
                &crate::cacheable::fingerprint::<V>().to_le_bytes()[..],
                namespace.as_bytes(),
            ]
            .concat(),
        );
        let catalog = CatalogEntry {
            fingerprint,
            key_type: std::any::type_name::<K>(),
            value_type: std::any::type_name::<V>(),
        };
        let inner = Inner {
            router: Router {
                memory_threshold: config.memory_threshold,
                file_threshold: config.file_threshold,
                persist_all: config.persist_all,
                persistent_home: config.persistent_home,
                #[cfg(feature = "redis")]
                redis_configured: config.persistent_home == Some(Tier::Redis)
                    || config.redis.url.is_some()
                    || std::env::var_os(crate::config::URL_VAR).is_some(),
            },
            fingerprint,
            ttl_of,
            own_salt: V::__OWN_TYPES.then(|| crate::hash::hash64(namespace.as_bytes())),
            memory: MemoryTier::new(&config, Arc::clone(&counters), inline),
            counters,
            stores: Stores::new(namespace.clone(), dir, config.clone(), catalog),
            namespace,
            flights: Mutex::new(HashMap::new()),
            generations: Generations::new(),
            uses_memory: memory_holds_values::<V>(&config),
            config,
            _cleanup: cleanup,
        };
        if eager {
            if let Some(dir) = inner.stores.path() {
                paths::ensure_usable_dir(dir, inner.config.secure)?;
            }
            for &tier in inner.persistent_tiers() {
                inner.stores.open(tier)?;
            }
        }
        let inner = Arc::new(inner);
        let weak: std::sync::Weak<Inner<K, V>> = Arc::downgrade(&inner);
        crate::live::register(weak);
        Ok(SmartCache { inner })
    }

    /// A cache on `config` whose persistent tiers open on first use: storage problems
    /// show up as counted errors then, not here. Falls back to the memory tier alone
    /// when `config` itself is invalid. With `inline`, the memory tier holds small values
    /// in their slots, for a memoized function returning values.
    pub(crate) fn lazy(config: CacheConfig, inline: bool) -> Self {
        match Self::build(config, false, inline) {
            Ok(cache) => cache,
            Err(e) => {
                tracing::error!(error = %e, "invalid cache configuration; keeping values in memory only");
                Self::build(CacheConfig::default().tier(Tier::Memory), false, inline)
                    .expect("the default configuration is valid and opens nothing when lazy")
            }
        }
    }
}

/// Whether the memory tier can hold values of a cache of `V` on `config`: those whose home
/// it is, or copies of persisted ones. Not for a type pinned to a persistent tier, or sent
/// to one whatever its size (`CacheConfig::tier`), with `promote_max(0)`: reads then go
/// straight to the persistent tier.
fn memory_holds_values<V: Cacheable>(config: &CacheConfig) -> bool {
    let home = match V::PLACEMENT {
        Placement::Pinned(tier) => !tier.is_persistent(),
        // Values of own types are routed each by its type, which may pin memory.
        Placement::Auto => config.memory_threshold > 0 || V::__OWN_TYPES,
    };
    // With Redis down, values may fall back to memory.
    #[cfg(feature = "redis")]
    let home = home || config.redis.fallback == Tier::Memory;
    home || config.promote_max > 0
}
