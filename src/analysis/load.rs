//! A `load` level's figures from its raw requests: throughput, latency distributions, each SLO term over all
//! arrivals, goodput, and the operating point.
//!
//! A request the level ended before it finished is censored, not absent: its latency is at least the time it
//! waited. TTFT, E2E and queue terms count every arrival, and a request that had not reached that point (no
//! first token, not completed, never admitted) counts as a miss. An ITL term counts every measured gap, and
//! the pending gap of an unfinished request as a miss once its wait since its last token already exceeds the
//! limit (gaps not yet due are not counted).
//!
//! Goodput counts the completed requests that met every term on their own: TTFT, E2E and queue time against
//! the limit, and for an ITL term the request's own gaps at that percentile (nearest rank).

use crate::results::load::{
    Arrivals, LevelRecord, LevelSummary, OperatingPoint, RequestSample, SloCheck,
};
use crate::results::slo::{Metric, SloTerm};
use crate::stats::{LatencyHistogram, Percentile};

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
            let overdue = requests
                .iter()
                .filter(|r| !r.completed)
                .filter_map(|r| r.token_ns.last())
                .filter(|&&last| duration_ns.saturating_sub(last) as f64 > limit_ns)
                .count() as u64;
            (gaps, overdue)
        }
        metric => {
            let known: Vec<u64> = requests
                .iter()
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
        slo_checks,
        interrupted: level.interrupted,
        replicate: false,
    }
}

/// The objectives a level missed, in the SLO's order.
pub fn missed_objectives(s: &LevelSummary) -> Vec<&str> {
    s.slo_checks
        .iter()
        .filter(|c| !c.met)
        .map(|c| c.objective.as_str())
        .collect()
}

/// Why a level cannot be the operating point, if it cannot.
pub fn ineligible(s: &LevelSummary) -> Option<String> {
    if s.interrupted {
        return Some("interrupted".into());
    }
    match s.slo_met {
        None => Some("no SLO".into()),
        Some(false) => Some(format!("missed {}", missed_objectives(s).join(", "))),
        Some(true) => None,
    }
}

/// Least rise of goodput (or, without an SLO, output t/s) over the best lower level for a rising sweep to go on:
/// smaller changes are within a run's noise.
pub const SATURATION_MIN_GAIN: f64 = 0.05;

/// The rate the saturation rule follows: goodput (output t/s when no SLO was given).
fn sweep_rate(s: &LevelSummary) -> f64 {
    match s.slo_met {
        Some(_) => s.goodput_output_tokens_per_s.unwrap_or(0.0),
        None => s.output_tokens_per_s,
    }
}

/// The last level of `levels` (with its replicate, when the last is one) and the levels below it.
fn last_level(levels: &[LevelSummary]) -> Option<(Vec<&LevelSummary>, &[LevelSummary])> {
    let (last, lower) = levels.split_last()?;
    match lower.split_last() {
        Some((first, below)) if last.replicate => Some((vec![first, last], below)),
        _ => Some((vec![last], lower)),
    }
}

/// Why a sweep of rising load should add no level after the last of `levels`: that level missed the SLO or was
/// interrupted, or its goodput (output t/s when no SLO was given) rose less than [`SATURATION_MIN_GAIN`] above
/// the best lower level's. A level run twice ([`needs_replicate`]) is judged on the mean of its runs' rates (a
/// missed SLO or an interruption in either ends the sweep). `None`: keep going.
pub fn saturation(
    levels: &[LevelSummary],
    label: impl Fn(&LevelSummary) -> String,
) -> Option<String> {
    let (runs, lower) = last_level(levels)?;
    for run in &runs {
        match ineligible(run) {
            Some(why) if why != "no SLO" => return Some(why),
            _ => {}
        }
    }
    let rate = runs.iter().map(|s| sweep_rate(s)).sum::<f64>() / runs.len() as f64;
    let what = if runs[0].slo_met.is_some() {
        "goodput"
    } else {
        "output"
    };
    let best = lower
        .iter()
        .filter(|s| !s.interrupted && !s.replicate)
        .max_by(|a, b| sweep_rate(a).total_cmp(&sweep_rate(b)))?;
    (rate < sweep_rate(best) * (1.0 + SATURATION_MIN_GAIN)).then(|| {
        let runs_note = if runs.len() > 1 {
            format!(
                " (mean of two runs: {})",
                runs.iter()
                    .map(|s| format!("{:.1}", sweep_rate(s)))
                    .collect::<Vec<_>>()
                    .join(" and ")
            )
        } else {
            String::new()
        };
        format!(
            "{what} {rate:.1} t/s{runs_note} is not {:.0}% above {}'s {:.1} t/s",
            SATURATION_MIN_GAIN * 100.0,
            label(best),
            sweep_rate(best)
        )
    })
}

/// Whether the sweep should run its last level once more before stopping: the saturation rule would stop on
/// that level's rise alone (it met the SLO, or there is none, and was not interrupted), and it has not been run
/// twice yet. One comparison of two single runs within a few percent is mostly noise; the second run's rate is
/// averaged with the first's.
pub fn needs_replicate(levels: &[LevelSummary]) -> bool {
    let Some(last) = levels.last() else {
        return false;
    };
    !last.replicate
        && levels.len() > 1
        && matches!(ineligible(last).as_deref(), None | Some("no SLO"))
        && saturation(levels, |_| String::new()).is_some()
}

/// The level with the highest goodput (output tokens/s of requests meeting every term) among those that met
/// the SLO over all arrivals and were not interrupted; ties go to the earlier level.
pub fn operating_point(levels: &[LevelRecord]) -> Option<OperatingPoint> {
    let goodput = |l: &LevelRecord| l.summary.goodput_output_tokens_per_s.unwrap_or(0.0);
    levels
        .iter()
        .enumerate()
        .filter(|(_, l)| ineligible(&l.summary).is_none() && !l.summary.replicate)
        .fold(None::<(usize, &LevelRecord)>, |best, (i, l)| match best {
            Some((_, b)) if goodput(b) >= goodput(l) => best,
            _ => Some((i, l)),
        })
        .map(|(i, l)| {
            let s = &l.summary;
            OperatingPoint {
                level_index: i,
                concurrency: s.concurrency,
                rate: s.rate,
                requests_per_s: s.requests_per_s,
                output_tokens_per_s: s.output_tokens_per_s,
                total_tokens_per_s: s.total_tokens_per_s,
                goodput_requests_per_s: s.goodput_requests_per_s,
                goodput_output_tokens_per_s: s.goodput_output_tokens_per_s,
                requests_not_completed: s.requests_not_completed,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::load::Lengths;
    use crate::results::slo::parse_slo;

    const MS: u64 = 1_000_000;

    fn request(arrival: u64, admitted: u64, tokens: &[u64], completed: bool) -> RequestSample {
        RequestSample {
            input_tokens: 4,
            output_tokens: tokens.len() as u32 + u32::from(!completed),
            arrival_ns: arrival,
            admitted_ns: Some(admitted),
            token_ns: tokens.to_vec(),
            completed,
        }
    }

    fn queued(arrival: u64, output_tokens: u32) -> RequestSample {
        RequestSample {
            input_tokens: 4,
            output_tokens,
            arrival_ns: arrival,
            admitted_ns: None,
            token_ns: vec![],
            completed: false,
        }
    }

    fn summary(
        arrivals: Arrivals,
        requests: &[RequestSample],
        duration_ns: u64,
        slo: &str,
    ) -> LevelSummary {
        summarize_level(
            &LevelSamples {
                arrivals,
                requests,
                duration_ns,
                window_ns: None,
                warmup_ns: 0,
                prompt_tokens_processed: 8,
                interrupted: false,
            },
            &parse_slo(slo).unwrap(),
        )
    }

    fn record(summary: LevelSummary) -> LevelRecord {
        LevelRecord {
            summary,
            input_tokens: Lengths::Fixed(4),
            output_tokens: Lengths::Fixed(3),
            seed: 1,
            prompt_tokens_processed: 8,
            start_ns: None,
            requests: vec![],
            energy: vec![],
            process: None,
        }
    }

    fn closed(concurrency: u32) -> Arrivals {
        Arrivals::Closed { concurrency }
    }

    #[test]
    fn level_figures_come_from_the_requests() {
        let reqs = [
            request(0, 0, &[10 * MS, 20 * MS, 30 * MS], true),
            request(0, 5 * MS, &[40 * MS], false),
        ];
        let s = summary(closed(2), &reqs, 1_000 * MS, "ttft_p50=50ms");
        assert_eq!(
            (
                s.requests_started,
                s.requests_completed,
                s.requests_not_completed
            ),
            (2, 1, 1)
        );
        assert_eq!(s.output_tokens_per_s, 4.0);
        assert_eq!(s.total_tokens_per_s, 12.0);
        assert_eq!(s.requests_per_s, 1.0);
        assert_eq!(
            s.e2e_ms.ms.count, 1,
            "only completed requests have an end-to-end latency"
        );
        assert_eq!(s.itl_ms.ms.count, 2);
        assert_eq!(s.queue_ms.ms.max.map(|x| x.round()), Some(5.0));
        // both requests have a first token: TTFT p50 over the two is 10 ms
        assert_eq!(s.slo_checks[0].value_ms, Some(10.0));
        assert_eq!((s.slo_checks[0].count, s.slo_checks[0].unfinished), (2, 0));
        let e2e = check_term(&reqs, 1_000 * MS, &parse_slo("e2e_p99=1s").unwrap()[0]);
        assert_eq!(
            (e2e.count, e2e.unfinished, e2e.value_ms),
            (2, 1, None),
            "the cut request is an E2E miss"
        );
        assert_eq!(s.slo_met, Some(true));
        assert_eq!(s.goodput_requests_per_s, Some(1.0));
        assert_eq!(s.goodput_output_tokens_per_s, Some(3.0));
    }

    #[test]
    fn the_itl_term_does_not_apply_to_requests_of_one_output_token_in_the_check_as_in_goodput() {
        let reqs: Vec<RequestSample> = (0..4).map(|_| request(0, 0, &[3 * MS], true)).collect();
        let s = summary(closed(2), &reqs, 100 * MS, "ttft_p50=50ms,itl_p95=10ms");
        let itl = &s.slo_checks[1];
        assert_eq!((itl.count, itl.value_ms), (0, None));
        assert!(itl.met, "no gap to judge: not a miss");
        assert_eq!(s.slo_met, Some(true));
        assert!(reqs
            .iter()
            .all(|r| request_meets(r, &parse_slo("itl_p95=10ms").unwrap())));
        assert_eq!(s.goodput_requests_per_s, Some(s.requests_per_s));
        // one gap anywhere makes the term apply again, and a slow one misses
        let mut mixed = reqs.clone();
        mixed.push(request(0, 0, &[3 * MS, 30 * MS], true));
        let s = summary(closed(2), &mixed, 100 * MS, "itl_p95=10ms");
        assert_eq!(s.slo_checks[0].count, 1);
        assert!(!s.slo_checks[0].met);
    }

    #[test]
    fn unfinished_requests_count_as_misses_not_as_absent() {
        // 19 served quickly, 1 still queued: p95 (rank 19 of 20) is served, p99 (rank 20) is the queued one
        let mut reqs: Vec<RequestSample> = (0..19)
            .map(|_| request(0, 0, &[MS, 2 * MS], true))
            .collect();
        reqs.push(queued(0, 2));
        let s = summary(closed(1), &reqs, 100 * MS, "ttft_p95=10ms");
        assert_eq!(s.slo_checks[0].value_ms, Some(1.0));
        assert_eq!(s.slo_met, Some(true));
        let s = summary(closed(1), &reqs, 100 * MS, "ttft_p99=10ms");
        assert_eq!(s.slo_checks[0].value_ms, None, "beyond anything measured");
        assert!(!s.slo_checks[0].met);
        assert_eq!(s.slo_met, Some(false));
        // the histogram still describes the served requests only
        assert_eq!(s.ttft_ms.ms.count, 19);
    }

    #[test]
    fn an_unfinished_requests_pending_gap_counts_as_an_itl_miss_once_overdue() {
        // delivered 2 of 10 tokens (one 1 ms gap), then nothing until the level ended at 100 ms
        let mut cut = request(0, 0, &[MS, 2 * MS], false);
        cut.output_tokens = 10;
        let c = check_term(
            std::slice::from_ref(&cut),
            100 * MS,
            &parse_slo("itl_p50=5ms").unwrap()[0],
        );
        assert_eq!((c.count, c.unfinished), (2, 1));
        assert_eq!(c.value_ms, Some(1.0));
        let c = check_term(
            std::slice::from_ref(&cut),
            100 * MS,
            &parse_slo("itl_p99=5ms").unwrap()[0],
        );
        assert_eq!(c.value_ms, None);
        assert!(!c.met);
        // 3 ms after its last token the wait is within the limit: not yet a miss, not counted
        let c = check_term(&[cut], 5 * MS, &parse_slo("itl_p99=5ms").unwrap()[0]);
        assert_eq!((c.count, c.value_ms), (1, Some(1.0)));
    }

    #[test]
    fn low_sample_counts_are_flagged_on_the_check() {
        let reqs: Vec<RequestSample> = (0..4).map(|_| request(0, 0, &[MS], true)).collect();
        let s = summary(closed(1), &reqs, 100 * MS, "ttft_p95=10ms,ttft_p50=10ms");
        assert!(s.slo_checks[0].low_sample_count, "p95 of 4 samples");
        assert!(!s.slo_checks[1].low_sample_count, "p50 of 4 samples");
    }

    #[test]
    fn goodput_counts_only_requests_meeting_every_term() {
        let reqs = [
            request(0, 0, &[5 * MS, 6 * MS, 7 * MS], true),
            // first token too late
            request(0, 0, &[50 * MS, 51 * MS, 52 * MS], true),
            // token gaps too long
            request(0, 0, &[5 * MS, 30 * MS, 55 * MS], true),
        ];
        let s = summary(closed(3), &reqs, 1_000 * MS, "ttft_p95=20ms,itl_p95=10ms");
        assert_eq!(s.goodput_requests_per_s, Some(1.0));
        assert_eq!(s.goodput_output_tokens_per_s, Some(3.0));
        assert_eq!(s.output_tokens_per_s, 9.0);
    }

    #[test]
    fn an_overloaded_level_with_high_raw_throughput_is_not_the_operating_point() {
        let slo = "ttft_p95=15ms";
        // c=1: every request served in time
        let calm: Vec<RequestSample> = (0..20)
            .map(|_| request(0, 0, &[10 * MS, 20 * MS], true))
            .collect();
        // an open-loop level cut off by its duration: fast while it lasted, most arrivals never served
        let mut overloaded: Vec<RequestSample> = (0..10)
            .map(|_| request(0, 0, &[10 * MS, 11 * MS], true))
            .collect();
        overloaded.extend((0..30).map(|i| queued(i * MS, 2)));
        let a = record(summary(closed(1), &calm, 1_000 * MS, slo));
        let b = record(summary(
            Arrivals::Open {
                rate_per_s: 400.0,
                slots: 4,
            },
            &overloaded,
            100 * MS,
            slo,
        ));
        assert!(b.summary.output_tokens_per_s > a.summary.output_tokens_per_s);
        assert_eq!(b.summary.requests_not_completed, 30);
        assert_eq!(b.summary.slo_met, Some(false));
        let op = operating_point(&[a, b]).unwrap();
        assert_eq!((op.level_index, op.concurrency), (0, Some(1)));
        assert_eq!(op.goodput_output_tokens_per_s, Some(40.0));
    }

    #[test]
    fn operating_point_is_the_highest_goodput_not_the_highest_throughput() {
        let slo = "ttft_p50=15ms";
        // all 4 requests fast: goodput 4 × 2 tokens / 1 s
        let fast: Vec<RequestSample> = (0..4)
            .map(|_| request(0, 0, &[10 * MS, 20 * MS], true))
            .collect();
        // 8 requests in 1.5 s, 5 within the objective (p50 met): more raw output, goodput 10 tokens / 1.5 s
        let mut mixed: Vec<RequestSample> = (0..5)
            .map(|_| request(0, 0, &[10 * MS, 20 * MS], true))
            .collect();
        mixed.extend((0..3).map(|_| request(0, 0, &[30 * MS, 40 * MS], true)));
        let a = record(summary(closed(1), &fast, 1_000 * MS, slo));
        let b = record(summary(closed(4), &mixed, 1_500 * MS, slo));
        assert_eq!(b.summary.slo_met, Some(true));
        assert!(b.summary.output_tokens_per_s > a.summary.output_tokens_per_s);
        assert_eq!(a.summary.goodput_output_tokens_per_s, Some(8.0));
        assert_eq!(b.summary.goodput_output_tokens_per_s, Some(10.0 / 1.5));
        let op = operating_point(&[b, a]).unwrap();
        assert_eq!(op.level_index, 1);
    }

    #[test]
    fn a_goodput_tie_or_a_lower_later_level_leaves_the_operating_point_on_the_earlier_level() {
        let reqs: Vec<RequestSample> = (0..4)
            .map(|_| request(0, 0, &[10 * MS, 20 * MS], true))
            .collect();
        let slo = "ttft_p50=15ms";
        let a = record(summary(closed(1), &reqs, 1_000 * MS, slo));
        let slower = record(summary(closed(2), &reqs, 2_000 * MS, slo));
        let tie = record(summary(closed(2), &reqs, 1_000 * MS, slo));
        assert!(slower.summary.goodput_output_tokens_per_s < a.summary.goodput_output_tokens_per_s);
        assert_eq!(
            operating_point(&[a.clone(), slower]).unwrap().level_index,
            0
        );
        assert_eq!(
            tie.summary.goodput_output_tokens_per_s,
            a.summary.goodput_output_tokens_per_s
        );
        assert_eq!(operating_point(&[a, tie]).unwrap().level_index, 0);
    }

    #[test]
    fn an_interrupted_level_is_never_the_operating_point() {
        let reqs: Vec<RequestSample> = (0..4).map(|_| request(0, 0, &[MS], true)).collect();
        let mut s = summary(closed(1), &reqs, 10 * MS, "ttft_p50=10ms");
        s.interrupted = true;
        assert_eq!(ineligible(&s).as_deref(), Some("interrupted"));
        assert_eq!(operating_point(&[record(s)]), None);
    }

    #[test]
    fn no_operating_point_without_a_level_meeting_the_slo() {
        let reqs = [request(0, 0, &[10 * MS], true)];
        let s = summary(closed(1), &reqs, 10 * MS, "ttft_p95=1ms");
        assert_eq!(ineligible(&s).as_deref(), Some("missed ttft_p95"));
        assert_eq!(operating_point(&[record(s)]), None);
    }

    fn label(s: &LevelSummary) -> String {
        format!("c={}", s.concurrency.unwrap_or(0))
    }

    /// Closed-loop levels whose every request took `token_ms` to its single token, over `duration_ms`.
    fn rising(levels: &[(u32, u64, u64)], slo: &str) -> Vec<LevelSummary> {
        levels
            .iter()
            .map(|&(c, token_ms, duration_ms)| {
                let reqs: Vec<RequestSample> = (0..c)
                    .map(|_| request(0, 0, &[token_ms * MS], true))
                    .collect();
                summary(closed(c), &reqs, duration_ms * MS, slo)
            })
            .collect()
    }

    #[test]
    fn a_sweep_goes_on_while_goodput_rises_by_more_than_the_noise() {
        // 1, 2, 4 requests in 100 ms: goodput doubles each level
        let s = rising(&[(1, 5, 100), (2, 5, 100), (4, 5, 100)], "ttft_p50=10ms");
        assert_eq!(
            saturation(&s[..1], label),
            None,
            "one level: nothing to compare"
        );
        assert_eq!(saturation(&s, label), None);
    }

    #[test]
    fn a_sweep_stops_when_goodput_rises_less_than_the_noise() {
        // c=4 serves 4 tokens in 195 ms: 20.5 t/s against c=2's 20 t/s, under 5% more
        let s = rising(&[(1, 5, 100), (2, 5, 100), (4, 5, 195)], "ttft_p50=10ms");
        let why = saturation(&s, label).expect("saturated");
        assert!(
            why.starts_with("goodput 20.5 t/s is not 5% above c=2's 20.0 t/s"),
            "{why}"
        );
        // just above the threshold goes on
        let s = rising(&[(2, 5, 100), (4, 5, 180)], "ttft_p50=10ms");
        assert_eq!(saturation(&s, label), None);
    }

    #[test]
    fn a_sweep_stops_at_the_first_level_that_misses_the_slo() {
        let s = rising(&[(1, 5, 100), (2, 50, 100)], "ttft_p50=10ms");
        assert_eq!(saturation(&s, label).as_deref(), Some("missed ttft_p50"));
    }

    #[test]
    fn without_an_slo_a_sweep_follows_output_throughput() {
        let s = rising(&[(1, 5, 100), (2, 5, 200)], "");
        assert_eq!(s[1].slo_met, None);
        let why = saturation(&s, label).expect("no gain");
        assert!(
            why.starts_with("output 10.0 t/s is not 5% above c=1's 10.0 t/s"),
            "{why}"
        );
    }

    #[test]
    fn the_sweep_stops_below_five_percent_above_the_best_first_run_below() {
        // levels at the given goodputs; `replicate` and `interrupted` marks by index
        let at = |rates: &[f64], replicate: &[usize], interrupted: &[usize]| {
            let mut s = rising(&vec![(1, 5, 100); rates.len()], "ttft_p50=10ms");
            for (i, l) in s.iter_mut().enumerate() {
                l.concurrency = Some(i as u32 + 1);
                l.goodput_output_tokens_per_s = Some(rates[i]);
                l.replicate = replicate.contains(&i);
                l.interrupted = interrupted.contains(&i);
            }
            s
        };
        let edge = 100.0 * (1.0 + SATURATION_MIN_GAIN);
        // 5% of the best, not 5 t/s: 103 stops after 100, 10.8 goes on after 10
        assert!(saturation(&at(&[100.0, 103.0], &[], &[]), label).is_some());
        assert_eq!(saturation(&at(&[10.0, 10.8], &[], &[]), label), None);
        // exactly on the edge is a rise of 5%: go on
        assert_eq!(saturation(&at(&[100.0, edge], &[], &[]), label), None);
        // the best below is a first run that was not interrupted: a replicate's or an interrupted level's rate
        // is no bar
        assert_eq!(
            saturation(&at(&[10.0, 20.0, 31.0, 25.0], &[2], &[]), label),
            None
        );
        assert_eq!(saturation(&at(&[10.0, 50.0, 12.0], &[], &[1]), label), None);
    }

    /// `levels` with a replicate of the last appended: `c` requests over `duration_ms`.
    fn with_replicate(
        mut levels: Vec<LevelSummary>,
        c: u32,
        duration_ms: u64,
    ) -> Vec<LevelSummary> {
        let mut again = rising(&[(c, 5, duration_ms)], "ttft_p50=10ms").remove(0);
        again.replicate = true;
        levels.push(again);
        levels
    }

    #[test]
    fn a_level_the_rule_would_stop_on_for_its_rise_alone_is_run_again_first() {
        // c=4 at 20.5 t/s against c=2's 20: the rule would stop; the level has not been run twice
        let s = rising(&[(1, 5, 100), (2, 5, 100), (4, 5, 195)], "ttft_p50=10ms");
        assert!(needs_replicate(&s));
        // the second run was faster (4 tokens in 160 ms: 25 t/s): the mean, 22.7 t/s, is 5% above 20, go on
        let twice = with_replicate(s.clone(), 4, 160);
        assert!(!needs_replicate(&twice), "run twice already");
        assert_eq!(saturation(&twice, label), None);
        // the second run agreed (19.5 t/s): stop, saying both
        let twice = with_replicate(s, 4, 205);
        let why = saturation(&twice, label).expect("saturated");
        assert!(why.contains("mean of two runs: 20.5 and 19.5"), "{why}");
        // a rising level, a missed SLO or a lone level needs no second run
        assert!(!needs_replicate(&rising(
            &[(1, 5, 100), (2, 5, 100)],
            "ttft_p50=10ms"
        )));
        assert!(!needs_replicate(&rising(
            &[(1, 5, 100), (2, 50, 100)],
            "ttft_p50=10ms"
        )));
        assert!(!needs_replicate(&rising(&[(1, 5, 100)], "ttft_p50=10ms")));
    }

    #[test]
    fn a_replicate_is_never_the_operating_point() {
        // the replicate of c=2 has the highest goodput, but the first runs choose the operating point
        let s = with_replicate(rising(&[(1, 5, 100), (2, 5, 195)], "ttft_p50=10ms"), 2, 50);
        let records: Vec<LevelRecord> = s.into_iter().map(record).collect();
        assert_eq!(operating_point(&records).unwrap().level_index, 1);
    }
}
