//! The profile's time budget: what share of the time left each phase may take, when a phase must end and when
//! its worker is stopped, how long a phase is estimated to take from the rates known so far, and why a phase that
//! does not fit is skipped.

use super::models::Candidate;
use super::phases::Kind;
use super::{DEPTH_TOKENS, GEN_TOKENS, PROMPT_TOKENS};
use crate::estimate::{self, BenchCase, LoadLevel, Rates};
use crate::runner::progress::short_duration;
use std::time::{Duration, Instant};

/// Share of the time left that a model's bench leaves to its load sweep, which follows it: the sweep's operating
/// point is what the report's cost rests on, so the bench gives up repetitions before the sweep gives up levels.
pub const LOAD_SHARE: f64 = 0.6;
/// How long past its deadline a phase's worker may run, as a share of the budget, before it is stopped: the
/// repetition or level in flight is given that long to finish.
pub const OVERRUN_SHARE: f64 = 0.05;

/// The time phase `n` of `plan` may take of the `left` of the budget: all of it, except that a bench whose model's
/// load sweep comes later leaves [`LOAD_SHARE`] of it to that sweep. Phases run in the order of what the report
/// needs (a model's bench, its load sweep, the next model, the depth tests), so a later phase never holds time
/// back from an earlier one.
pub fn allotment(plan: &[(Kind, usize)], n: usize, left: Duration) -> Duration {
    let (kind, m) = plan[n];
    if kind == Kind::Bench && plan[n + 1..].contains(&(Kind::Load, m)) {
        left.mul_f64(1.0 - LOAD_SHARE)
    } else {
        left
    }
}

/// When a phase started at `now` with `allotted` time must end, and when its worker is stopped if it has not:
/// the allotment's end (never past the budget's), and that plus [`OVERRUN_SHARE`] of the budget.
pub fn phase_deadlines(
    now: Instant,
    allotted: Duration,
    deadline: Instant,
    budget: Duration,
) -> (Instant, Instant) {
    let soft = (now + allotted).min(deadline);
    (soft, soft + budget.mul_f64(OVERRUN_SHARE))
}

/// Seconds a bench phase of `c` takes at rates `r`: its run's start, hashing the model (and synthesizing it
/// first when it is not yet written), and each of its cases with `runs` runs (warm-up included): pp512 and
/// tg128, or tg128 at depth 4096.
pub fn bench_phase_secs(kind: Kind, runs: u32, r: &Rates, c: &Candidate) -> f64 {
    let case = |n_prompt, n_gen, n_depth| {
        let case = BenchCase {
            n_prompt,
            n_gen,
            n_depth,
            runs,
        };
        estimate::bench_case_s(&c.size, r, &case)
    };
    let cases = match kind {
        Kind::Depth => case(0, GEN_TOKENS, DEPTH_TOKENS),
        _ => case(PROMPT_TOKENS, 0, 0) + case(0, GEN_TOKENS, 0),
    };
    run_start_secs(c) + cases
}

/// Seconds a load phase of `c` takes at rates `r` until its `first` level has run (each later level is
/// estimated from the level before, as the sweep reaches it): its run's start, hashing (and synthesizing) the
/// model, and the level.
pub fn load_phase_secs(first: &LoadLevel, r: &Rates, c: &Candidate) -> f64 {
    run_start_secs(c) + estimate::load_level_s(&c.size, r, first)
}

/// A phase's process start, hashing its model, and writing the model first when it is not yet synthesized.
fn run_start_secs(c: &Candidate) -> f64 {
    let synth_s = if c.needs_synth {
        estimate::synth_s(&c.size)
    } else {
        0.0
    };
    estimate::RUN_START_S + estimate::model_hash_s(&c.size) + synth_s
}

/// Levels a timed load phase is planned for: its first levels share the time it has, so that the sweep can rise
/// past the first.
pub const TIMED_LEVELS: u32 = 3;
/// The shortest timed level: shorter ones serve too few requests to give a percentile.
pub const TIMED_LEVEL_MIN: Duration = Duration::from_secs(4);

/// Each level's duration for a load phase that does not fit `allotted` by its levels' requests: two thirds of the
/// allotment (a third is left for each level's drain and its worker's start) shared by [`TIMED_LEVELS`] levels,
/// but at least [`TIMED_LEVEL_MIN`] (then fewer levels run: one gives an operating point); `None` when not even
/// one level of [`TIMED_LEVEL_MIN`] fits, and the phase is skipped.
pub fn timed_levels(allotted: Duration) -> Option<Duration> {
    let arrivals = allotted * 2 / 3;
    (arrivals >= TIMED_LEVEL_MIN).then(|| (arrivals / TIMED_LEVELS).max(TIMED_LEVEL_MIN))
}

/// Why a phase estimated at `estimate_s` does not fit the `left` of the budget it may take ([`allotment`]), or
/// `None` when it does.
pub fn over_budget(estimate_s: f64, left: Duration) -> Option<String> {
    (estimate_s > left.as_secs_f64()).then(|| {
        format!(
            "the time budget: estimated {}, {} left for it",
            short_duration(Duration::from_secs_f64(estimate_s)),
            short_duration(left)
        )
    })
}
