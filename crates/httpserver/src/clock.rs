//! The coarse monotonic clock that stamps connection activity.

use std::time::Instant;

/// The coarse monotonic clock in milliseconds. Activity is stamped on every
/// read and write of every connection but only ever compared with timeouts
/// of seconds, so a clock that is a scheduler tick (a few ms) behind will do;
/// reading it costs no time-stamp counter read (which in a virtual machine
/// can be a paravirtual clock read).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub(crate) fn coarse_now_ms() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec, and clock_gettime writes
    // nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &raw mut ts) };
    if rc != 0 {
        // Not expected on Linux; every call then takes the precise clock.
        return precise_now_ms();
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let millis = u64::try_from(ts.tv_nsec).unwrap_or(0) / 1_000_000;
    secs.saturating_mul(1000).saturating_add(millis)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn coarse_now_ms() -> u64 {
    precise_now_ms()
}

/// Milliseconds since the first call, on the precise monotonic clock.
fn precise_now_ms() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    u64::try_from(START.get_or_init(Instant::now).elapsed().as_millis()).unwrap_or(u64::MAX)
}
