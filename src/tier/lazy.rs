//! A persistent tier opened on first use, with failed opens retried at most once a second.

use super::Tier;
use crate::{CacheError, Result};

/// A persistent tier opened on first use. A failed open is retried, at most once a second.
pub(crate) struct LazyTier<T> {
    cell: std::sync::OnceLock<T>,
    last_failure: std::sync::Mutex<Option<std::time::Instant>>,
}

impl<T> LazyTier<T> {
    pub fn new() -> Self {
        LazyTier {
            cell: std::sync::OnceLock::new(),
            last_failure: std::sync::Mutex::new(None),
        }
    }

    /// The tier if it is open.
    pub fn get(&self) -> Option<&T> {
        self.cell.get()
    }

    /// The tier, opened with `open` if need be.
    pub fn get_or_open(&self, tier: Tier, open: impl FnOnce() -> Result<T>) -> Result<&T> {
        if let Some(t) = self.cell.get() {
            return Ok(t);
        }
        let mut last = self.last_failure.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = self.cell.get() {
            return Ok(t);
        }
        if last.is_some_and(|at| at.elapsed() < std::time::Duration::from_secs(1)) {
            return Err(CacheError::TierUnavailable {
                tier,
                reason: "it failed to open less than a second ago (see the earlier error)",
            });
        }
        match open() {
            Ok(t) => {
                if last.is_some() {
                    tracing::info!(tier = %tier, "the tier opened after an earlier failure");
                }
                *last = None;
                Ok(self.cell.get_or_init(|| t))
            }
            Err(e) => {
                if last.is_none() {
                    tracing::warn!(tier = %tier, error = %e, "the tier cannot be opened; it is tried again at most once a second");
                } else {
                    tracing::debug!(tier = %tier, error = %e, "the tier still cannot be opened");
                }
                *last = Some(std::time::Instant::now());
                Err(e)
            }
        }
    }
}
