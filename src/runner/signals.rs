//! Stopping a run on a signal, as a terminal and a scheduler send them. The first SIGINT (Ctrl-C) lets the unit in
//! flight finish and starts no other; a second stops that unit too. SIGTERM (Slurm at a job's time limit or on
//! preemption, Kubernetes on eviction: both send SIGKILL 30 s later by default) and SIGHUP (the terminal went
//! away) stop the unit in flight at once. Either way the run then writes its checkpoint and its result with the
//! finished units, and exits with 128 + the signal's number (130, 143, 129), as shells report a process killed by
//! it.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;

/// What the signals have asked of a run so far.
#[derive(Clone, Default)]
pub struct StopFlags {
    /// No new unit starts.
    pub stop: Arc<AtomicBool>,
    /// The unit in flight ends now (its worker is killed; in-process, it stops at its next check).
    pub stop_now: Arc<AtomicBool>,
    /// The first signal that stopped the run (0: none).
    pub signal: Arc<AtomicI32>,
}

impl StopFlags {
    /// The signal that stopped the run, if one did.
    pub fn signal(&self) -> Option<i32> {
        match self.signal.load(Ordering::Relaxed) {
            0 => None,
            s => Some(s),
        }
    }

    /// What to do on `signal`; returns the line to print.
    pub fn on(&self, signal: i32) -> &'static str {
        let _ = self
            .signal
            .compare_exchange(0, signal, Ordering::Relaxed, Ordering::Relaxed);
        let again = self.stop.swap(true, Ordering::Relaxed);
        if signal == libc::SIGINT && !again {
            return "Ctrl-C: finishing the unit in flight, then saving (Ctrl-C again to stop it now)";
        }
        self.stop_now.store(true, Ordering::Relaxed);
        match signal {
            libc::SIGINT => "second Ctrl-C: stopping the unit in flight, then saving",
            libc::SIGTERM => "SIGTERM: stopping the unit in flight, then saving",
            libc::SIGHUP => "SIGHUP: stopping the unit in flight, then saving",
            _ => "stopping the unit in flight, then saving",
        }
    }
}

/// The signals a run handles.
pub const HANDLED: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Starts handling SIGINT, SIGTERM and SIGHUP for the rest of the process: each sets the returned flags and prints
/// one line on stderr.
pub fn install() -> std::io::Result<StopFlags> {
    let flags = StopFlags::default();
    let mut signals = signal_hook::iterator::Signals::new(HANDLED)?;
    let f = flags.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                eprintln!("\n{}", f.on(signal));
            }
        })?;
    Ok(flags)
}

/// The exit code of a run stopped by `signal`: 128 + its number.
pub fn exit_code(signal: i32) -> u8 {
    (128 + signal).clamp(0, 255) as u8
}

/// `SIGTERM`: a signal's name, as a result file records it.
pub fn short_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "signal",
    }
}

/// `SIGTERM`, `SIGINT (Ctrl-C)`: a signal's name for messages.
pub fn name(signal: i32) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT (Ctrl-C)",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_ctrl_c_lets_the_unit_finish_and_the_second_stops_it() {
        let f = StopFlags::default();
        f.on(libc::SIGINT);
        assert!(f.stop.load(Ordering::Relaxed));
        assert!(!f.stop_now.load(Ordering::Relaxed));
        f.on(libc::SIGINT);
        assert!(f.stop_now.load(Ordering::Relaxed));
        assert_eq!(f.signal(), Some(libc::SIGINT));
    }

    #[test]
    fn sigterm_and_sighup_stop_the_unit_in_flight_at_once_and_the_first_signal_is_kept() {
        for s in [libc::SIGTERM, libc::SIGHUP] {
            let f = StopFlags::default();
            assert_eq!(f.signal(), None);
            f.on(s);
            assert!(f.stop.load(Ordering::Relaxed) && f.stop_now.load(Ordering::Relaxed));
            f.on(libc::SIGINT);
            assert_eq!(f.signal(), Some(s));
        }
        assert_eq!(
            [
                exit_code(libc::SIGINT),
                exit_code(libc::SIGTERM),
                exit_code(libc::SIGHUP)
            ],
            [130, 143, 129]
        );
    }
}
