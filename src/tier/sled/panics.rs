//! sled's panics: sled 0.34 panics inside its own code on some damaged stores. Every call
//! into it is contained (`catch_unwind`, in `state.rs`); this file names what a contained
//! panic leaves: the reason the database was closed and set aside for, and the count in
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

impl SledTier {
    /// The reason for closing the database after a panic of sled's, which is counted in
    /// `stats().sled.contained_panics`.
    pub(super) fn contained(&self, panic: &(dyn std::any::Any + Send)) -> String {
        self.contained_panics.fetch_add(1, Relaxed);
        panicked(panic)
    }
}
