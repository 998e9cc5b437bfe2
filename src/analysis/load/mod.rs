//! A `load` level's figures from its raw requests: throughput, latency distributions, each SLO term over all
//! arrivals, goodput, and the operating point.
//!
//! A request the level ended before it finished is censored, not absent: its latency is at least the time it
//! waited. TTFT, E2E and queue terms count every arrival, and a request that had not reached that point (no
//! first token, not completed, never admitted) counts as a miss. An ITL term counts every measured gap, and
//! the pending gap of an unfinished request as a miss once its wait since its last token already exceeds the
//! limit (gaps not yet due are not counted). A request that failed (over HTTP: a status, a timeout, a reset, a
//! malformed stream) is a miss of every term, its pending gap included, whatever it had reached before failing.
//!
//! Goodput counts the completed requests that met every term on their own: TTFT, E2E and queue time against
//! the limit, and for an ITL term the request's own gaps at that percentile (nearest rank).

mod slo;
mod sweep;

pub use slo::{check_term, request_meets};
pub use sweep::{
    ineligible, missed_objectives, needs_replicate, operating_point, saturation,
    SATURATION_MIN_GAIN,
};

use crate::results::load::{Arrivals, LevelSummary, PatternSummary, RequestSample, SloCheck};
use crate::results::slo::SloTerm;
use crate::stats::LatencyHistogram;

/// The raw figures of one level, as the runner produced them.
pub struct LevelSamples<'a> {
    pub arrivals: Arrivals,
    pub requests: &'a [RequestSample],
    /// The whole level (arrival window and drain).
    pub duration_ns: u64,
    /// The end of the measured arrival window, when a duration cut arrivals or a closed loop's cool-down began;
    /// rates are over the window.
    pub window_ns: Option<u64>,
    /// The window's start: a closed loop's warm-up, whose requests (a prefix of `requests`) are not measured.
    pub warmup_ns: u64,
    pub prompt_tokens_processed: u64,
    pub interrupted: bool,
}

/// The sessions, prefix reuse and issue lateness of `reqs`, when they come from a multi-turn or trace pattern.
fn pattern_summary(reqs: &[RequestSample]) -> Option<PatternSummary> {
    if !reqs.iter().any(|r| r.origin.is_some()) {
        return None;
    }
    let sessions: std::collections::BTreeSet<&str> = reqs
        .iter()
        .filter_map(|r| r.origin.as_ref()?.session.as_deref())
        .collect();
    let prompt: u64 = reqs.iter().map(|r| u64::from(r.input_tokens)).sum();
    let reusable: u64 = reqs
        .iter()
        .filter_map(|r| r.origin.as_ref())
        .map(|o| u64::from(o.reusable_prefix_tokens))
        .sum();
    let late: LatencyHistogram = reqs
        .iter()
        .filter_map(|r| Some(r.origin.as_ref()?.issued_ns?.saturating_sub(r.arrival_ns)))
        .collect();
    Some(PatternSummary {
        sessions: sessions.len(),
        prefix_reuse_ratio: (prompt > 0).then(|| reusable as f64 / prompt as f64),
        issue_late_ms: (!late.is_empty()).then(|| (&late).into()),
    })
}

/// Summarises one level from its raw requests.
pub fn summarize_level(level: &LevelSamples, slo: &[SloTerm]) -> LevelSummary {
    // Requests arrive in order: those of the warm-up lead.
    let warmup = level
        .requests
        .iter()
        .take_while(|r| r.arrival_ns < level.warmup_ns)
        .count();
    let reqs = &level.requests[warmup..];
    let completed = reqs.iter().filter(|r| r.completed).count();
    let ttft: LatencyHistogram = reqs.iter().filter_map(RequestSample::ttft_ns).collect();
    let e2e: LatencyHistogram = reqs.iter().filter_map(RequestSample::e2e_ns).collect();
    let queue: LatencyHistogram = reqs.iter().filter_map(RequestSample::queue_ns).collect();
    let itl: LatencyHistogram = reqs.iter().flat_map(|r| r.itl_ns()).collect();
    // Rates are over the measured arrival window, from the warm-up's end to where arrivals stopped (the requests
    // counted are those that arrived in it, served during the drain or not), else over the whole level.
    let window_end = level.window_ns.unwrap_or(level.duration_ns);
    let seconds = window_end.saturating_sub(level.warmup_ns) as f64 / 1e9;
    let output_tokens: u64 = reqs.iter().map(|r| r.token_ns.len() as u64).sum();
    let (concurrency, rate) = match level.arrivals {
        Arrivals::Closed { concurrency } => (Some(concurrency), None),
        Arrivals::Open { rate_per_s, .. } => (None, Some(rate_per_s)),
    };
    let slo_checks: Vec<SloCheck> = slo
        .iter()
        .map(|t| check_term(reqs, level.duration_ns, t))
        .collect();
    let (goodput_requests_per_s, goodput_output_tokens_per_s) = if slo.is_empty() {
        (None, None)
    } else {
        let good: Vec<&RequestSample> = reqs.iter().filter(|r| request_meets(r, slo)).collect();
        let tokens: u64 = good.iter().map(|r| r.token_ns.len() as u64).sum();
        (
            Some(good.len() as f64 / seconds),
            Some(tokens as f64 / seconds),
        )
    };
    LevelSummary {
        concurrency,
        rate,
        slots: level.arrivals.slots(),
        requests_started: reqs.len(),
        requests_warmup: warmup,
        warmup_s: (level.warmup_ns > 0).then(|| level.warmup_ns as f64 / 1e9),
        requests_completed: completed,
        requests_not_completed: reqs.len() - completed,
        duration_s: level.duration_ns as f64 / 1e9,
        arrival_window_s: level
            .window_ns
            .map(|w| w.saturating_sub(level.warmup_ns) as f64 / 1e9),
        drain_s: level
            .window_ns
            .map(|w| level.duration_ns.saturating_sub(w) as f64 / 1e9),
        requests_per_s: completed as f64 / seconds,
        output_tokens_per_s: output_tokens as f64 / seconds,
        total_tokens_per_s: (output_tokens + level.prompt_tokens_processed) as f64 / seconds,
        goodput_requests_per_s,
        goodput_output_tokens_per_s,
        ttft_ms: (&ttft).into(),
        itl_ms: (&itl).into(),
        e2e_ms: (&e2e).into(),
        queue_ms: (&queue).into(),
        slo_met: (!slo.is_empty()).then(|| slo_checks.iter().all(|c| c.met)),
        pattern: pattern_summary(reqs),
        slo_checks,
        interrupted: level.interrupted,
        replicate: false,
    }
}

#[cfg(test)]
mod tests;
