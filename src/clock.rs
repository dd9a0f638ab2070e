//! Time: milliseconds since the Unix epoch, precise and coarse, and the [`Clock`] of one
//! read (taken on first use, then fixed).

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Milliseconds on the coarse clock `id` (`CLOCK_*_COARSE`): a few milliseconds of
/// resolution, for a fraction of the cost of a precise read. `None` if it cannot be read.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn coarse_ms(id: libc::clockid_t) -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    let result = unsafe { libc::clock_gettime(id, &mut ts) };
    (result == 0).then(|| (ts.tv_sec as u64).saturating_mul(1000) + ts.tv_nsec as u64 / 1_000_000)
}

/// Milliseconds since the Unix epoch from the coarse clock. For access records, which
/// are read back only for eviction order and time to idle.
pub(crate) fn coarse_now_ms() -> u64 {
    #[cfg(target_os = "linux")]
    if let Some(ms) = coarse_ms(libc::CLOCK_REALTIME_COARSE) {
        return ms;
    }
    now_ms()
}

/// Milliseconds on a coarse monotonic clock, from an arbitrary start: for idle times in
/// memory, which a change of the system's time must not move (as moka's `Instant`s).
pub(crate) fn monotonic_coarse_ms() -> u64 {
    #[cfg(target_os = "linux")]
    if let Some(ms) = coarse_ms(libc::CLOCK_MONOTONIC_COARSE) {
        return ms;
    }
    monotonic_ms()
}

/// Milliseconds since this process first asked, on `Instant`'s monotonic clock.
fn monotonic_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = *START.get_or_init(std::time::Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The time of one read, taken from the system clock on first use and then fixed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Clock(std::cell::OnceCell<u64>);

impl Clock {
    /// A clock fixed at `ms`.
    #[cfg(test)]
    pub fn at(ms: u64) -> Self {
        Clock(std::cell::OnceCell::from(ms))
    }

    /// Milliseconds since the Unix epoch.
    pub fn ms(&self) -> u64 {
        *self.0.get_or_init(now_ms)
    }

    /// The time of the read if it was taken, else the coarse clock's.
    pub fn coarse_ms(&self) -> u64 {
        self.0.get().copied().unwrap_or_else(coarse_now_ms)
    }
}
