//! sled's panics and hangs: sled 0.34 panics inside its own code on some damaged stores,
//! and can block forever in a flush after some write failures. Calls into it are
//! contained (`catch_unwind`, here and in `state.rs`), flushes and closes bounded in time
//! (`within`); this file also names what a contained panic leaves: the reason the
//! database was closed and set aside for, and the count in
//! `stats().sled.contained_panics`. The process's panic hook has printed the panic by
//! then, so the warning logged for it says that it was contained.

use super::*;

/// What the reason for closing a database starts with when sled panicked.
const PANICKED: &str = "sled panicked: ";

/// The reason recorded for a panic of sled's that was contained.
pub(super) fn panicked(panic: &(dyn std::any::Any + Send)) -> String {
    format!("{PANICKED}{}", panic_message(panic))
}

/// Whether `reason` is that of a contained panic.
pub(super) fn is_contained_panic(reason: &str) -> bool {
    reason.starts_with(PANICKED)
}

/// The message of a caught panic.
pub(super) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Runs `work` on a thread of its own and waits for it at most `limit`. sled 0.34 can
/// block forever in a flush (which its close also runs) after some write failures: a
/// failed blob write leaves a claimed log slot that is never completed. `None` when the
/// work did not finish in time (the thread is left to it); a panic is contained.
pub(super) fn within<R: Send + 'static>(
    limit: Duration,
    work: impl FnOnce() -> R + Send + 'static,
) -> Option<std::thread::Result<R>> {
    let (done, wait) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("smartcache-sled".into())
        .spawn(move || {
            let _ = done.send(catch_unwind(AssertUnwindSafe(work)));
        });
    match spawned {
        Ok(_) => wait.recv_timeout(limit).ok(),
        Err(e) => {
            tracing::warn!(error = %e, "sled tier: cannot start a thread");
            None
        }
    }
}

/// Flushes a database, at most for [`FLUSH_WAIT`].
pub(super) fn flush_db(db: &sled::Db) -> sled::Result<()> {
    let db = db.clone();
    match within(FLUSH_WAIT, move || db.flush()) {
        Some(Ok(flushed)) => flushed.map(|_| ()),
        Some(Err(panic)) => Err(sled::Error::ReportableBug(format!(
            "sled panicked in a flush: {}",
            panic_message(&*panic)
        ))),
        None => Err(sled::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "sled did not finish a flush in time (its log is stuck after a failed write)",
        ))),
    }
}

/// Drops a database (sled flushes on close), containing its panics, waiting at most
/// [`CLOSE_WAIT`]. `false` when it did not close in time: it is stuck, and keeps its
/// folder locked for as long as this process runs.
pub(super) fn close<T: Send + 'static>(handles: T) -> bool {
    match within(CLOSE_WAIT, move || drop(handles)) {
        Some(Ok(())) => true,
        Some(Err(_)) => {
            tracing::warn!("sled tier: the database panicked while closing");
            true
        }
        None => {
            tracing::warn!("sled tier: the database did not close in time; it is set aside");
            false
        }
    }
}

impl SledTier {
    /// The reason for closing the database after a panic of sled's, which is counted in
    /// `stats().sled.contained_panics`.
    pub(super) fn contained(&self, panic: &(dyn std::any::Any + Send)) -> String {
        self.contained_panics.fetch_add(1, Relaxed);
        panicked(panic)
    }
}
