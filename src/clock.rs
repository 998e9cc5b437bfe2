//! The system-wide monotonic clock (`CLOCK_MONOTONIC`), shared by every process on the machine: a worker process
//! states when its timed region began on it, and the parent, whose sensors read on its own `Instant`s, places
//! those timestamps in its sensor windows. On Linux `Instant` reads the same clock, so a reading taken next to
//! an `Instant` pairs the two to within the time between the calls.

use std::time::Instant;

/// Nanoseconds on the system-wide monotonic clock.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC exists on every supported system, so the call
    // cannot fail (its result is checked anyway).
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC)");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// `Instant::now()` and the monotonic clock's reading beside it.
pub fn now() -> (Instant, u64) {
    let i = Instant::now();
    (i, monotonic_ns())
}

/// Moves a timestamp stated against an origin at `from_mono_ns` to one stated against `to_mono_ns`; `None` when it
/// falls before the new origin.
pub fn rebase(ns: u64, from_mono_ns: u64, to_mono_ns: u64) -> Option<u64> {
    (ns + from_mono_ns).checked_sub(to_mono_ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_monotonic_clock_advances_with_instant() {
        let (i0, m0) = now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let (i1, m1) = now();
        let by_instant = i1.duration_since(i0).as_nanos() as i64;
        let by_clock = (m1 - m0) as i64;
        assert!(
            (by_instant - by_clock).abs() < 1_000_000,
            "{by_instant} vs {by_clock}"
        );
    }

    #[test]
    fn a_timestamp_moves_between_origins() {
        // an event 5 ms after a worker's origin at 1.010 s is 15 ms after a parent's origin at 1.000 s
        assert_eq!(
            rebase(5_000_000, 1_010_000_000, 1_000_000_000),
            Some(15_000_000)
        );
        assert_eq!(rebase(0, 1_000_000_000, 1_010_000_000), None);
    }
}
