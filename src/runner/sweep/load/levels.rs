//! A load sweep's levels: the arrivals of each (closed-loop concurrency or Poisson rate), the request lengths and
//! SLO (flags, then a `[[workload]]`, then the defaults), the keys a resumed level is found by, and the warnings
//! a level's SLO check carries.

use super::{LoadOptions, PatternOptions};
use crate::analysis::load::ineligible;
use crate::config::workload::{TokenDistribution, Tokens, WorkloadEntry};
use crate::config::Config;
use crate::exit::InputError;
use crate::results::load::{LevelRecord, LevelSummary};
use crate::results::slo::SloTerm;
use crate::results::Warning;
use crate::runner::load::{Arrivals, Lengths, LevelSpec};

/// Measured requests per level when neither `--requests` nor `--duration` is given (a closed loop's warm-up
/// adds its own): four per slot, so each slot sees several requests, and never fewer than p95 needs (20: with
/// fewer, p95 is the largest sample).
pub fn default_requests(slots: u32) -> u32 {
    (4 * slots).max(crate::stats::Percentile::P95.min_samples() as u32)
}

/// Default sequence slots for open-loop levels (llama-server's `--parallel` is often set to this order).
pub const DEFAULT_OPEN_LOOP_SLOTS: u32 = 16;

pub fn levels(opts: &LoadOptions) -> Result<Vec<Arrivals>, InputError> {
    match &opts.pattern {
        Some(PatternOptions::Trace { trace, speeds }) => {
            if !opts.concurrency.is_empty() || !opts.rates.is_empty() {
                return Err(InputError(
                    "--trace: the trace sets the arrivals; give --trace-speed instead of -c/--concurrency or --rate"
                        .into(),
                ));
            }
            if let Some(k) = speeds.iter().find(|k| !(k.is_finite() && **k > 0.0)) {
                return Err(InputError(format!(
                    "--trace-speed: {k} is not a positive factor"
                )));
            }
            let slots = opts.parallel.unwrap_or(DEFAULT_OPEN_LOOP_SLOTS).max(1);
            // a level's rate is the trace's own times its speed, to 4 significant digits (its label)
            let rate = trace.rate_per_s().unwrap_or(1.0);
            return Ok(speeds
                .iter()
                .map(|k| Arrivals::Open {
                    rate_per_s: significant(rate * k, 4),
                    slots,
                })
                .collect());
        }
        Some(PatternOptions::MultiTurn { turns, .. }) => {
            if !opts.rates.is_empty() {
                return Err(InputError(
                    "--turns: multi-turn sessions run in a closed loop (-c), not at a --rate"
                        .into(),
                ));
            }
            if *turns < 2 {
                return Err(InputError(format!(
                    "--turns: {turns}: a multi-turn session has at least 2 turns"
                )));
            }
        }
        None => {}
    }
    if !opts.concurrency.is_empty() && !opts.rates.is_empty() {
        return Err(InputError(
            "give either -c/--concurrency or --rate, not both".into(),
        ));
    }
    if opts.concurrency.contains(&0) {
        return Err(InputError(
            "-c/--concurrency: values must be at least 1".into(),
        ));
    }
    if let Some(r) = opts.rates.iter().find(|r| !(r.is_finite() && **r > 0.0)) {
        return Err(InputError(format!(
            "--rate: {r} is not a positive rate in requests/s"
        )));
    }
    let slots = opts.parallel.unwrap_or(DEFAULT_OPEN_LOOP_SLOTS);
    if slots == 0 {
        return Err(InputError("--parallel: must be at least 1".into()));
    }
    Ok(if !opts.rates.is_empty() {
        opts.rates
            .iter()
            .map(|&rate_per_s| Arrivals::Open { rate_per_s, slots })
            .collect()
    } else if opts.concurrency.is_empty() {
        [1, 2, 4, 8]
            .map(|concurrency| Arrivals::Closed { concurrency })
            .to_vec()
    } else {
        opts.concurrency
            .iter()
            .map(|&concurrency| Arrivals::Closed { concurrency })
            .collect()
    })
}

/// `x` rounded to `digits` significant digits.
fn significant(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(digits - 1 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// Each level offers more load than the one before.
pub fn rising(levels: &[Arrivals]) -> bool {
    levels.windows(2).all(|w| match (w[0], w[1]) {
        (Arrivals::Closed { concurrency: a }, Arrivals::Closed { concurrency: b }) => b > a,
        (Arrivals::Open { rate_per_s: a, .. }, Arrivals::Open { rate_per_s: b, .. }) => b > a,
        _ => false,
    })
}

/// Request lengths of a workload: a `{ min, max }` distribution becomes a uniform range, anything else its mean.
pub fn lengths_of(t: &Tokens) -> Lengths {
    let at_least_one = |x: f64| x.round().clamp(1.0, u32::MAX as f64) as u32;
    match t {
        Tokens::Distribution(TokenDistribution {
            min: Some(a),
            max: Some(b),
            ..
        }) if at_least_one(*a) < at_least_one(*b) => {
            Lengths::Range(at_least_one(*a), at_least_one(*b))
        }
        other => Lengths::Fixed(at_least_one(other.mean())),
    }
}

/// Request lengths and SLO: flags first, then the workload, then the defaults.
pub fn request_shape(
    opts: &LoadOptions,
    config: &Config,
) -> Result<(Lengths, Lengths, Vec<SloTerm>), InputError> {
    let workload = match &opts.workload {
        None => None,
        Some(name) => Some(
            config
                .workload
                .iter()
                .find(|w| &w.name == name)
                .ok_or_else(|| {
                    let have: Vec<&str> = config.workload.iter().map(|w| w.name.as_str()).collect();
                    InputError(format!(
                        "--workload: no [[workload]] named '{name}' in the configuration (it has: {})",
                        if have.is_empty() { "none".to_string() } else { have.join(", ") }
                    ))
                })?,
        ),
    };
    let pick = |flag: &Option<Lengths>, from: fn(&WorkloadEntry) -> &Tokens| {
        flag.clone()
            .or_else(|| workload.map(|w| lengths_of(from(w))))
            .unwrap_or(Lengths::Fixed(DEFAULT_REQUEST_TOKENS))
    };
    let input = pick(&opts.input_tokens, |w| &w.input_tokens_per_request);
    let output = pick(&opts.output_tokens, |w| &w.output_tokens_per_request);
    let slo = match (&opts.slo, workload) {
        (Some(s), _) => s.clone(),
        (None, Some(w)) => w.slos(),
        (None, None) => Vec::new(),
    };
    Ok((input, output, slo))
}

/// Warnings about a level's SLO check: unfinished requests counted as misses, percentiles from too few samples.
pub fn slo_warnings(label: &str, s: &LevelSummary) -> Vec<Warning> {
    let mut out = Vec::new();
    if s.requests_not_completed > 0 && !s.slo_checks.is_empty() {
        out.push(Warning::UnfinishedRequests {
            level: label.to_string(),
            requests_not_completed: s.requests_not_completed,
            requests_started: s.requests_started,
            reason: ineligible(s),
        });
    }
    for c in s.slo_checks.iter().filter(|c| c.low_sample_count) {
        out.push(Warning::LowSampleSlo {
            level: label.to_string(),
            objective: c.objective.clone(),
            count: c.count,
        });
    }
    out
}

/// How long a level cut by `--duration` drains the requests that arrived in its window: the largest SLO limit,
/// and at least 10 s, so that a request still unfinished after it has waited longer than any objective allows
/// (a definite miss, not a request the cut happened to catch).
pub fn drain_bound_ns(slo: &[crate::results::slo::SloTerm]) -> u64 {
    let largest_ms = slo.iter().map(|t| t.max_ms).fold(0.0f64, f64::max);
    (largest_ms.max(DRAIN_MIN_MS) * 1e6) as u64
}

/// The drain's smallest bound.
pub const DRAIN_MIN_MS: f64 = 10_000.0;

/// What identifies a level across a resumed run: its arrivals, request lengths and seed.
pub fn spec_key(s: &LevelSpec) -> String {
    serde_json::json!([s.arrivals, s.input_tokens, s.output_tokens, s.seed]).to_string()
}

pub fn level_key(l: &LevelRecord) -> String {
    let Some(arrivals) = l.summary.arrivals() else {
        return String::new();
    };
    serde_json::json!([arrivals, l.input_tokens, l.output_tokens, l.seed]).to_string()
}

/// Added to a level's seed when it is run again to confirm saturation.
pub const REPLICATE_SEED: u64 = 1 << 20;

/// Prompt and output tokens per request when neither a flag nor a workload gives them.
pub const DEFAULT_REQUEST_TOKENS: u32 = 128;
