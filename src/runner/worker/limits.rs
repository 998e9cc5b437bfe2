//! How long a worker may run: the policy that turns a unit's expected run time and the user's flags into a
//! timeout and a stall limit, and which limit, if any, ends a worker now.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The shortest timeout derived from an estimate. A worker's start, its model load from a cold page cache and a
/// numerics gate take tens of seconds on a busy or slow-disk machine whatever the work itself is estimated at.
pub const TIMEOUT_FLOOR: Duration = Duration::from_secs(120);

/// A derived timeout is this many times the unit's estimate. Estimates come from a model of the machine (rates
/// and bandwidths measured once) and miss by up to a factor of two or three on a throttled CPU or a noisy
/// neighbour; a unit five times slower than expected is broken, not slow.
pub const TIMEOUT_FACTOR: u32 = 5;

/// The timeout of a unit with no estimate. Generous: a hung kernel must end within the run, but no honest unit
/// of a supported model (a 70B model's prompt batches on CPU included) takes half an hour.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The shortest stall limit derived from a timeout: a model's load or one prompt batch of a large model sends no
/// reply for tens of seconds.
pub const STALL_FLOOR: Duration = Duration::from_secs(30);

/// A derived stall limit is this share of the timeout (a quarter). With a timeout of `TIMEOUT_FACTOR` times the
/// estimate that is 1.25 times the whole unit's estimate: no gap between two replies of a unit that runs as
/// estimated is that long, as a worker replies after its model loads and after each repetition or, in a load
/// level, at least every few hundred milliseconds.
pub const STALL_SHARE: u32 = 4;

/// How the parent ends a worker early.
pub struct Limits<'a> {
    /// Set by a second Ctrl-C: kill the worker now.
    pub stop_now: &'a AtomicBool,
    /// The unit's timeout as given (`--case-timeout`, or a caller's own); `None`: derived from `estimate`.
    pub timeout: Option<Duration>,
    /// The longest a worker may go without a reply, as given (`--stall-timeout`); `None`: derived from the
    /// timeout.
    pub stall: Option<Duration>,
    /// How long the unit is expected to run, its worker's start and model load included; `None`: unknown.
    pub estimate: Option<Duration>,
    /// The end of the time a larger run (`profile`) gave this phase: a worker still running then is stopped.
    pub deadline: Option<Instant>,
}

/// The limits a worker runs under, once the policy has filled in what was not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectiveLimits {
    /// The worker is killed this long after it started.
    pub timeout: Duration,
    /// The worker is killed when it has sent no reply (progress counts) for this long.
    pub stall: Duration,
}

/// `2m`, `30s`, `1s 500ms`.
fn phrase(d: Duration) -> String {
    humantime::format_duration(Duration::from_millis(d.as_millis() as u64)).to_string()
}

impl Limits<'_> {
    /// The timeout: as given, else `TIMEOUT_FACTOR` times the estimate but at least `TIMEOUT_FLOOR`, else
    /// `DEFAULT_TIMEOUT`. The stall limit: as given, else a `STALL_SHARE` of the timeout but at least
    /// `STALL_FLOOR`, and never past the timeout.
    pub fn effective(&self) -> EffectiveLimits {
        let timeout = self.timeout.unwrap_or_else(|| match self.estimate {
            Some(e) => e.saturating_mul(TIMEOUT_FACTOR).max(TIMEOUT_FLOOR),
            None => DEFAULT_TIMEOUT,
        });
        let stall = self
            .stall
            .unwrap_or_else(|| (timeout / STALL_SHARE).max(STALL_FLOOR).min(timeout));
        EffectiveLimits { timeout, stall }
    }

    /// Why a worker that started `elapsed` ago and last replied `quiet` ago must end at `now`, if it must.
    pub(super) fn fired(
        &self,
        effective: &EffectiveLimits,
        elapsed: Duration,
        quiet: Duration,
        now: Instant,
    ) -> Option<String> {
        if self.stop_now.load(Ordering::Relaxed) {
            Some("stopped by a second Ctrl-C".into())
        } else if self.deadline.is_some_and(|d| now >= d) {
            Some("ran past its phase's share of the profile's time budget".into())
        } else if elapsed >= effective.timeout {
            Some(format!(
                "ran past its timeout of {}",
                phrase(effective.timeout)
            ))
        } else if quiet >= effective.stall {
            Some(format!(
                "made no progress for {} (stall limit)",
                phrase(effective.stall)
            ))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    fn limits(
        stop_now: &AtomicBool,
        timeout: Option<Duration>,
        stall: Option<Duration>,
        estimate: Option<Duration>,
    ) -> Limits<'_> {
        Limits {
            stop_now,
            timeout,
            stall,
            estimate,
            deadline: None,
        }
    }

    fn effective(
        timeout: Option<Duration>,
        stall: Option<Duration>,
        estimate: Option<Duration>,
    ) -> EffectiveLimits {
        limits(&AtomicBool::new(false), timeout, stall, estimate).effective()
    }

    #[test]
    fn an_estimate_gives_five_times_it_with_a_floor_of_two_minutes() {
        assert_eq!(
            effective(None, None, Some(S(60))),
            EffectiveLimits {
                timeout: S(300),
                stall: S(75)
            }
        );
        assert_eq!(
            effective(None, None, Some(S(10))),
            EffectiveLimits {
                timeout: S(120),
                stall: S(30)
            },
            "5 × 10 s is under the floor"
        );
        assert_eq!(
            effective(None, None, Some(Duration::ZERO)).timeout,
            TIMEOUT_FLOOR
        );
    }

    #[test]
    fn no_estimate_gives_half_an_hour_and_a_stall_limit_of_a_quarter_of_it() {
        assert_eq!(
            effective(None, None, None),
            EffectiveLimits {
                timeout: S(1800),
                stall: S(450)
            }
        );
    }

    #[test]
    fn a_given_timeout_wins_over_the_estimate_and_sets_the_stall_limit() {
        assert_eq!(
            effective(Some(S(600)), None, Some(S(1))),
            EffectiveLimits {
                timeout: S(600),
                stall: S(150)
            }
        );
        assert_eq!(
            effective(Some(S(80)), None, None),
            EffectiveLimits {
                timeout: S(80),
                stall: S(30)
            },
            "a quarter of 80 s is under the stall floor"
        );
        assert_eq!(
            effective(Some(S(10)), None, None),
            EffectiveLimits {
                timeout: S(10),
                stall: S(10)
            },
            "the stall floor never goes past the timeout"
        );
    }

    #[test]
    fn a_given_stall_limit_is_kept_as_given() {
        assert_eq!(
            effective(None, Some(S(3)), Some(S(60))),
            EffectiveLimits {
                timeout: S(300),
                stall: S(3)
            }
        );
        assert_eq!(
            effective(Some(S(10)), Some(S(20)), None),
            EffectiveLimits {
                timeout: S(10),
                stall: S(20)
            }
        );
    }

    #[test]
    fn each_limit_fires_at_its_value_and_is_named() {
        let never = AtomicBool::new(false);
        let l = limits(&never, Some(S(120)), Some(S(30)), None);
        let e = l.effective();
        let now = Instant::now();
        assert_eq!(l.fired(&e, S(119), S(29), now), None);
        assert_eq!(
            l.fired(&e, S(120), S(0), now).as_deref(),
            Some("ran past its timeout of 2m")
        );
        assert_eq!(
            l.fired(&e, S(40), S(30), now).as_deref(),
            Some("made no progress for 30s (stall limit)")
        );
        assert_eq!(
            l.fired(&e, S(130), S(130), now).as_deref(),
            Some("ran past its timeout of 2m"),
            "the timeout is named first when both are past"
        );
    }

    #[test]
    fn a_second_ctrl_c_or_the_phase_deadline_end_a_worker_within_its_limits() {
        let now = Instant::now();
        let stop = AtomicBool::new(true);
        let l = limits(&stop, None, None, None);
        assert_eq!(
            l.fired(&l.effective(), S(0), S(0), now).as_deref(),
            Some("stopped by a second Ctrl-C")
        );
        let never = AtomicBool::new(false);
        let l = Limits {
            deadline: Some(now),
            ..limits(&never, None, None, None)
        };
        assert_eq!(
            l.fired(&l.effective(), S(0), S(0), now).as_deref(),
            Some("ran past its phase's share of the profile's time budget")
        );
        assert_eq!(
            l.fired(&l.effective(), S(0), S(0), now - Duration::from_millis(1)),
            None
        );
    }
}
