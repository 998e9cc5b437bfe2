//! Each SLO term over every arrival of a level (`check_term`, unfinished requests censored) and one completed
//! request's own check against every term (`request_meets`), which goodput counts.

use crate::results::load::{RequestSample, SloCheck};
use crate::results::slo::{Metric, SloTerm};
use crate::stats::Percentile;

/// Nearest-rank percentile of `sorted` values followed by `n_censored` values beyond them all:
/// `None` when the rank falls among the censored ones.
fn censored_percentile(sorted: &[u64], n_censored: u64, p: Percentile) -> Option<u64> {
    let n = sorted.len() as u64 + n_censored;
    if n == 0 {
        return None;
    }
    let rank = ((p.quantile() * n as f64).ceil() as u64).clamp(1, n);
    sorted.get(rank as usize - 1).copied()
}

/// A request's own value of a request-level metric (TTFT, E2E or queue).
fn request_value_ns(r: &RequestSample, metric: Metric) -> Option<u64> {
    match metric {
        Metric::Ttft => r.ttft_ns(),
        Metric::E2e => r.e2e_ns(),
        Metric::Queue => r.queue_ns(),
        Metric::Itl => None,
    }
}

/// `term` over every request that arrived in a level `duration_ns` long, unfinished requests censored.
pub fn check_term(requests: &[RequestSample], duration_ns: u64, term: &SloTerm) -> SloCheck {
    let limit_ns = term.max_ms * 1e6;
    let (mut values, censored): (Vec<u64>, u64) = match term.metric {
        Metric::Itl => {
            let gaps = requests.iter().flat_map(RequestSample::itl_ns).collect();
            // a failed request's pending gap is a miss at once: no token follows
            let overdue = requests
                .iter()
                .filter(|r| !r.completed)
                .filter(|r| {
                    r.failure.is_some()
                        || r.token_ns
                            .last()
                            .is_some_and(|&last| duration_ns.saturating_sub(last) as f64 > limit_ns)
                })
                .count() as u64;
            (gaps, overdue)
        }
        metric => {
            // a failed request is a miss of every term, even one it had reached (a first token before a reset)
            let known: Vec<u64> = requests
                .iter()
                .filter(|r| r.failure.is_none())
                .filter_map(|r| request_value_ns(r, metric))
                .collect();
            let censored = (requests.len() - known.len()) as u64;
            (known, censored)
        }
    };
    values.sort_unstable();
    let count = values.len() as u64 + censored;
    if term.metric == Metric::Itl && count == 0 {
        // No request had a gap to measure (every one produced one token, or none was due): the ITL term does
        // not apply to them, as goodput's per-request check (`request_meets`) already has it.
        return SloCheck {
            objective: term.objective(),
            limit_ms: term.max_ms,
            value_ms: None,
            count: 0,
            unfinished: 0,
            low_sample_count: false,
            met: true,
        };
    }
    let value_ms =
        censored_percentile(&values, censored, term.percentile).map(|ns| ns as f64 / 1e6);
    SloCheck {
        objective: term.objective(),
        limit_ms: term.max_ms,
        value_ms,
        count,
        unfinished: censored,
        low_sample_count: term.percentile.low_sample_count(count),
        met: value_ms.is_some_and(|v| v <= term.max_ms),
    }
}

/// Whether one completed request met every term on its own.
pub fn request_meets(r: &RequestSample, slo: &[SloTerm]) -> bool {
    r.completed
        && slo.iter().all(|t| {
            let value_ns = match t.metric {
                Metric::Itl => {
                    let mut gaps: Vec<u64> = r.itl_ns().collect();
                    gaps.sort_unstable();
                    if gaps.is_empty() {
                        return true;
                    }
                    censored_percentile(&gaps, 0, t.percentile)
                }
                metric => request_value_ns(r, metric),
            };
            value_ns.is_some_and(|ns| ns as f64 / 1e6 <= t.max_ms)
        })
}
