//! A level's figures, its SLO check and goodput, the saturation rule and the operating point, on requests built
//! by hand.

use super::*;
use crate::results::load::{Lengths, LevelRecord};
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
        failure: None,
        stream: None,
        origin: None,
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
        failure: None,
        stream: None,
        origin: None,
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
        limits: None,
        summary,
        input_tokens: Lengths::Fixed(4),
        output_tokens: Lengths::Fixed(3),
        seed: 1,
        prompt_tokens_processed: 8,
        start_ns: None,
        requests: vec![],
        energy: vec![],
        process: None,
        http: None,
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
fn a_warm_up_is_left_out_and_rates_run_over_the_arrival_window_alone() {
    // Two requests arrive in the 100 ms warm-up, two after it; arrivals stop at 600 ms, the level ends at 900 ms.
    let reqs = [
        request(0, 0, &[10 * MS, 20 * MS], true),
        request(50 * MS, 50 * MS, &[60 * MS, 70 * MS], true),
        request(100 * MS, 100 * MS, &[110 * MS, 120 * MS, 130 * MS], true),
        request(300 * MS, 300 * MS, &[310 * MS], false),
    ];
    let level = |warmup_ns: u64| {
        summarize_level(
            &LevelSamples {
                arrivals: closed(2),
                requests: &reqs,
                duration_ns: 900 * MS,
                window_ns: Some(600 * MS),
                warmup_ns,
                prompt_tokens_processed: 8,
                interrupted: false,
            },
            &parse_slo("ttft_p50=50ms").unwrap(),
        )
    };
    let s = level(100 * MS);
    assert_eq!((s.requests_warmup, s.requests_started), (2, 2));
    assert_eq!((s.requests_completed, s.requests_not_completed), (1, 1));
    assert_eq!(s.warmup_s, Some(0.1));
    assert_eq!(s.arrival_window_s, Some(0.5));
    assert_eq!(s.drain_s, Some(0.3));
    assert_eq!(s.duration_s, 0.9, "the level's whole time, drain included");
    // 4 output tokens and 1 completed request over the 0.5 s window.
    assert_eq!(s.output_tokens_per_s, 8.0);
    assert_eq!(s.requests_per_s, 2.0);
    assert_eq!(
        s.total_tokens_per_s, 24.0,
        "4 output and 8 prompt tokens over 0.5 s"
    );
    // Good: the completed request within the TTFT term (the cut one is not served, so not good).
    assert_eq!(s.goodput_requests_per_s, Some(2.0));
    assert_eq!(s.goodput_output_tokens_per_s, Some(6.0));
    let none = level(0);
    assert_eq!((none.requests_warmup, none.requests_started), (0, 4));
    assert_eq!(none.warmup_s, None, "no warm-up is absent, not 0 s");
    assert_eq!(none.arrival_window_s, Some(0.6));
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
    let c = check_term(
        std::slice::from_ref(&cut),
        5 * MS,
        &parse_slo("itl_p99=5ms").unwrap()[0],
    );
    assert_eq!((c.count, c.value_ms), (1, Some(1.0)));
    // a wait of exactly the limit is not past it
    let c = check_term(&[cut], 7 * MS, &parse_slo("itl_p99=5ms").unwrap()[0]);
    assert_eq!((c.count, c.unfinished), (1, 0));
}

#[test]
fn a_request_level_term_is_its_percentile_of_every_arrival_and_none_arrived_is_not_met() {
    let term = &parse_slo("ttft_p50=50ms").unwrap()[0];
    // TTFT 100, 20 and 30 ms: p50 30 ms, within 50 ms
    let reqs = [
        request(0, 0, &[100 * MS], true),
        request(0, 0, &[20 * MS], true),
        request(0, 0, &[30 * MS], true),
    ];
    let c = check_term(&reqs, 200 * MS, term);
    assert_eq!(
        (c.count, c.unfinished, c.value_ms, c.met),
        (3, 0, Some(30.0), true)
    );
    // E2E and queue read their own times
    let e2e = check_term(&reqs, 200 * MS, &parse_slo("e2e_p50=25ms").unwrap()[0]);
    assert_eq!((e2e.value_ms, e2e.met), (Some(30.0), false));
    let late = [request(0, 40 * MS, &[50 * MS], true)];
    let queue = check_term(&late, 200 * MS, &parse_slo("queue_p50=50ms").unwrap()[0]);
    assert_eq!((queue.value_ms, queue.met), (Some(40.0), true));
    // no arrival: nothing to meet the term with, so it is not met (only the ITL term can not apply)
    let none = check_term(&[], 200 * MS, term);
    assert_eq!((none.count, none.value_ms, none.met), (0, None, false));
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
fn with_replicate(mut levels: Vec<LevelSummary>, c: u32, duration_ms: u64) -> Vec<LevelSummary> {
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

#[test]
fn a_failed_request_misses_every_term_even_one_it_had_reached() {
    use crate::results::http::{FailureKind, RequestFailure};
    // Two requests served at once with a first token after 5 ms; the second was reset after its first token.
    // TTFT p50 over both: 5 ms and a miss; at p50 (rank 1 of 2) the value is 5 ms, at p95 (rank 2) a miss.
    let reset = RequestSample {
        failure: Some(RequestFailure {
            kind: FailureKind::Connection,
            status: None,
            detail: "connection reset".into(),
        }),
        ..request(0, 0, &[5 * MS], false)
    };
    let ok = request(0, 0, &[5 * MS, 6 * MS, 7 * MS], true);
    let s = summary(
        closed(2),
        &[ok.clone(), reset.clone()],
        100 * MS,
        "ttft_p95=1s,itl_p95=1s",
    );
    let ttft = &s.slo_checks[0];
    assert_eq!((ttft.count, ttft.unfinished, ttft.met), (2, 1, false));
    assert_eq!(ttft.value_ms, None);
    // its pending gap is a miss at once, though its wait since its token (95 ms) is inside the limit
    let itl = &s.slo_checks[1];
    assert_eq!((itl.count, itl.unfinished, itl.met), (3, 1, false));
    // the one that completed is goodput; the failed one is not
    assert_eq!(s.goodput_requests_per_s, Some(1.0 / 0.1));
    assert_eq!(s.requests_not_completed, 1);
    // the same request unfinished without a failure (still streaming at the level's end) is not yet a miss
    let pending = RequestSample {
        failure: None,
        ..reset
    };
    let s = summary(
        closed(2),
        &[ok, pending],
        100 * MS,
        "ttft_p95=1s,itl_p95=1s",
    );
    assert_eq!((s.slo_checks[0].unfinished, s.slo_checks[0].met), (0, true));
    assert_eq!((s.slo_checks[1].unfinished, s.slo_checks[1].met), (0, true));
}

#[test]
fn a_pattern_levels_sessions_prefix_reuse_and_issue_lateness_come_from_its_requests() {
    use crate::results::load::RequestOrigin;
    let with = |session: Option<&str>, input: u32, reusable: u32, issued: Option<u64>| {
        let mut r = request(10 * MS, 10 * MS, &[20 * MS], true);
        r.input_tokens = input;
        r.origin = Some(RequestOrigin {
            session: session.map(str::to_string),
            turn: None,
            trace_line: None,
            reusable_prefix_tokens: reusable,
            issued_ns: issued,
        });
        r
    };
    // none of them from a pattern: no pattern summary
    assert_eq!(
        summary(closed(1), &[request(0, 0, &[MS], true)], 10 * MS, "").pattern,
        None
    );
    let reqs = [
        with(Some("a"), 40, 0, Some(11 * MS)),
        with(Some("a"), 60, 40, Some(13 * MS)),
        with(Some("b"), 100, 20, None),
    ];
    let p = summary(
        Arrivals::Open {
            rate_per_s: 1.0,
            slots: 4,
        },
        &reqs,
        100 * MS,
        "",
    )
    .pattern
    .unwrap();
    assert_eq!(p.sessions, 2);
    assert_eq!(p.prefix_reuse_ratio, Some(60.0 / 200.0));
    // issued 1 and 3 ms after the schedule; the request without an issue time is left out
    let late = p.issue_late_ms.unwrap();
    assert_eq!(late.ms.count, 2);
    assert!((late.ms.max.unwrap() - 3.0).abs() < 0.01, "{late:?}");
    // without issue times there is no lateness, and no prompt tokens give no ratio
    let mut bare = with(None, 0, 0, None);
    bare.input_tokens = 0;
    let p = summary(
        Arrivals::Open {
            rate_per_s: 1.0,
            slots: 4,
        },
        &[bare],
        100 * MS,
        "",
    )
    .pattern
    .unwrap();
    assert_eq!((p.sessions, p.prefix_reuse_ratio), (0, None));
    assert!(p.issue_late_ms.is_none());
}
