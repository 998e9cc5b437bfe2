//! The requests of the profile's load sweep: their lengths and SLO (from `--slo`, the workload, or the
//! defaults), the concurrency levels tried, and which of those levels fit the free memory and the model's
//! trained context.

use super::ProfileOptions;
use crate::config::WorkloadEntry;
use crate::preflight;
use crate::results::slo::SloTerm;
use crate::runner::load::{Arrivals, Lengths};
use crate::runner::options::EngineOptions;
use std::path::Path;

/// The load sweep's objective when neither `--slo` nor `--workload` gives one: interactive chat, the first token
/// within 2 s and then at least ten tokens a second.
pub const DEFAULT_SLO: &str = "ttft_p95=2s,itl_p95=100ms";
/// The load sweep's highest concurrency (levels double from 1).
pub const MAX_CONCURRENCY: u32 = 256;

/// The load sweep's request lengths (means) and SLO: `--slo`, else the workload's, else [`DEFAULT_SLO`].
pub struct RequestShape {
    /// Mean request lengths.
    pub input: f64,
    pub output: f64,
    /// The longest request: the positions one sequence needs.
    pub longest: u32,
    pub slo: Option<Vec<SloTerm>>,
    /// Where the SLO comes from, as the phase's summary names it.
    pub slo_note: String,
}

impl RequestShape {
    /// The shape of `o`'s load sweep with `workload`'s lengths and SLO, when it has one.
    pub fn of(o: &ProfileOptions, workload: Option<&WorkloadEntry>) -> RequestShape {
        let (input, output) = workload.map_or(
            (
                super::DEFAULT_REQUEST_TOKENS as f64,
                o.default_output_tokens() as f64,
            ),
            |w| {
                (
                    w.input_tokens_per_request.mean().max(1.0),
                    w.output_tokens_per_request.mean().max(1.0),
                )
            },
        );
        let longest = workload.map_or(
            super::DEFAULT_REQUEST_TOKENS + o.default_output_tokens(),
            |w| {
                longest_tokens(&w.input_tokens_per_request)
                    + longest_tokens(&w.output_tokens_per_request)
            },
        );
        let workload_has_slo = workload.is_some_and(|w| !w.slo.is_empty());
        let (slo, slo_note) = match (&o.slo, workload_has_slo) {
            (Some(s), _) => (Some(s.clone()), "--slo".to_string()),
            (None, true) => (None, "the workload's".to_string()),
            (None, false) => (
                Some(crate::results::slo::parse_slo(DEFAULT_SLO).expect("the default SLO parses")),
                format!("default {DEFAULT_SLO}"),
            ),
        };
        RequestShape {
            input,
            output,
            longest,
            slo,
            slo_note,
        }
    }

    /// The concurrency levels whose memory estimate fits what is free (all of them when nothing is known).
    pub fn fitting_levels(
        &self,
        path: &Path,
        e: &EngineOptions,
        host: &preflight::memory::HostFacts,
        free: &preflight::memory::FreeMemory,
    ) -> Vec<u32> {
        let facts = preflight::model_facts(path).ok().and_then(|(f, _)| f);
        // the longest request: what each sequence's KV cells must hold
        let out = (self.output.round() as u32).clamp(1, self.longest.max(2) - 1);
        let input = Lengths::Fixed(self.longest.saturating_sub(out).max(1));
        let output = Lengths::Fixed(out);
        concurrency_levels()
            .into_iter()
            .filter(|&c| {
                let Some(m) = &facts else { return true };
                let case =
                    preflight::load_case(&Arrivals::Closed { concurrency: c }, &input, &output, e);
                let est = preflight::memory::estimate(m, &case.context, host);
                preflight::memory::shortfall(&est, free).is_none()
            })
            .collect()
    }
}

/// The longest request length `load` makes of a workload's tokens: a `{ min, max }` range's max, else the mean.
fn longest_tokens(t: &crate::config::workload::Tokens) -> u32 {
    use crate::config::workload::{TokenDistribution, Tokens};
    let v = match t {
        Tokens::Distribution(TokenDistribution {
            min: Some(a),
            max: Some(b),
            ..
        }) if a.round() < b.round() => *b,
        other => other.mean(),
    };
    v.round().clamp(1.0, u32::MAX as f64 / 2.0) as u32
}

/// Why requests of `longest` positions do not suit a model trained on `n_ctx_train`, or `None`.
pub fn requests_too_long(longest: u32, n_ctx_train: Option<u64>) -> Option<String> {
    n_ctx_train.filter(|n| *n < longest as u64).map(|n| {
        format!(
            "its requests (up to {longest} tokens of prompt and output) are longer than the model's trained context ({n} tokens)"
        )
    })
}

/// Closed-loop levels 1, 2, 4, … up to [`MAX_CONCURRENCY`].
pub fn concurrency_levels() -> Vec<u32> {
    std::iter::successors(Some(1u32), |c| Some(c * 2))
        .take_while(|c| *c <= MAX_CONCURRENCY)
        .collect()
}
