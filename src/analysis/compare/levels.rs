//! `load` levels: joined on their arrivals and request lengths, and judged on goodput, output t/s, TTFT and ITL
//! percentiles (censored as the SLO check counts them) and energy per token.

use super::bench::model_key;
use super::verdict::{metric, single, ONE_RUN};
use super::{Better, Input, MetricComparison, Options, Source};
use crate::analysis::load::request_meets;
use crate::results::load::{Lengths, LevelRecord, RequestSample};
use crate::results::slo::SloTerm;
use crate::stats::ratio::{self, Ratio};
use std::collections::{BTreeMap, BTreeSet};

pub(super) struct LevelView<'a> {
    pub(super) key: BTreeMap<String, String>,
    pub(super) label: String,
    /// Which input of the side it came from (the round, when paired).
    input: usize,
    pub(super) source: String,
    level: &'a LevelRecord,
    slo: &'a [SloTerm],
}

fn lengths(l: &Lengths) -> String {
    match l {
        Lengths::Fixed(n) => n.to_string(),
        Lengths::Range(a, b) => format!("{a}..{b}"),
        Lengths::List(v) => v
            .iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(","),
    }
}

pub(super) fn level_views(sources: &[Source]) -> Vec<LevelView<'_>> {
    let mut out = Vec::new();
    for (input, s) in sources.iter().enumerate() {
        let Input::Result(f) = &s.input else { continue };
        let Some(sweep) = &f.load else { continue };
        let entry = f.models.first();
        let model = entry.map_or("?".to_string(), |m| {
            model_key(
                Some(&m.model_type),
                Some(m.n_params),
                Some(m.file_size_bytes),
            )
        });
        for (i, l) in sweep.levels.iter().enumerate() {
            let arrivals = l.summary.label();
            let key: BTreeMap<String, String> = [
                ("model", model.clone()),
                ("arrivals", arrivals.clone()),
                ("slots", l.summary.slots.to_string()),
                ("input_tokens", lengths(&l.input_tokens)),
                ("output_tokens", lengths(&l.output_tokens)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            out.push(LevelView {
                label: format!(
                    "{arrivals} in={} out={}",
                    lengths(&l.input_tokens),
                    lengths(&l.output_tokens)
                ),
                key,
                input,
                source: format!("{}#load.levels[{i}]", s.path),
                level: l,
                slo: &sweep.slo,
            });
        }
    }
    out
}

/// Milliseconds at the stored histograms' precision (three significant digits), which also keeps the distinct
/// values the bootstrap counts few.
fn ms_3_digits(ns: u64) -> f64 {
    let ms = ns as f64 / 1e6;
    if ms <= 0.0 {
        return 0.0;
    }
    let scale = 10f64.powi(ms.log10().floor() as i32 - 2);
    (ms / scale).round() * scale
}

/// The percentiles compared for TTFT and ITL.
const LEVEL_PERCENTILES: [crate::stats::Percentile; 3] = [
    crate::stats::Percentile::P50,
    crate::stats::Percentile::P95,
    crate::stats::Percentile::P99,
];

/// A request's TTFT in ms, `+∞` when it never produced a token (censored: its TTFT is at least the time it
/// waited, beyond every measured one), as the SLO check (`analysis::load`) counts it.
fn censored_ttft(r: &crate::results::load::RequestSample) -> f64 {
    r.ttft_ns().map_or(f64::INFINITY, ms_3_digits)
}

/// A request's inter-token gaps in ms, plus one `+∞` gap when it was unfinished at the level's end and its last
/// token (or its arrival) lies further back than the SLO's ITL limit: the SLO check's overdue gap.
fn censored_itl(
    r: &crate::results::load::RequestSample,
    end_ns: u64,
    itl_limit_ms: Option<f64>,
) -> Vec<f64> {
    let mut gaps: Vec<f64> = r.itl_ns().map(ms_3_digits).collect();
    if let Some(limit) = itl_limit_ms {
        let last = r.token_ns.last().copied().unwrap_or(r.arrival_ns);
        if !r.completed && end_ns.saturating_sub(last) as f64 > limit * 1e6 {
            gaps.push(f64::INFINITY);
        }
    }
    gaps
}

/// The SLO's ITL limit in ms, if it has an ITL term.
fn itl_limit_ms(slo: &[SloTerm]) -> Option<f64> {
    slo.iter()
        .find(|t| t.metric == crate::results::slo::Metric::Itl)
        .map(|t| t.max_ms)
}

/// The SLO terms of a level as one comparable string (`ttft_p95<=500ms, itl_p99<=100ms`).
fn slo_text(slo: &[SloTerm]) -> String {
    let mut terms: Vec<String> = slo
        .iter()
        .map(|t| format!("{}<={}ms", t.objective(), t.max_ms))
        .collect();
    terms.sort();
    terms.join(", ")
}

/// One level's own figures, in the order of `level_metric_names`: goodput (with an SLO), output t/s, TTFT and
/// ITL p50/p95/p99 (censored; `None` where the rank falls among unserved requests or there is no value), and
/// each percentile's sample count.
fn level_figures(l: &LevelView, with_slo: bool) -> (Vec<Option<f64>>, Vec<usize>) {
    let lv = l.level;
    let secs = lv.summary.rate_seconds();
    let per_s = |x: f64| (secs > 0.0).then(|| x / secs);
    let mut figures = Vec::new();
    if with_slo {
        let good = lv
            .measured()
            .iter()
            .filter(|r| request_meets(r, l.slo))
            .count();
        figures.push(per_s(good as f64));
    }
    let tokens: usize = lv.measured().iter().map(|r| r.token_ns.len()).sum();
    figures.push(per_s(tokens as f64));
    let itl_limit = itl_limit_ms(l.slo);
    let end_ns = (lv.summary.duration_s * 1e9) as u64;
    let mut ttft: Vec<f64> = lv.measured().iter().map(censored_ttft).collect();
    let mut itl: Vec<f64> = lv
        .measured()
        .iter()
        .flat_map(|r| censored_itl(r, end_ns, itl_limit))
        .collect();
    let mut counts = Vec::new();
    for values in [&mut ttft, &mut itl] {
        for p in LEVEL_PERCENTILES {
            figures.push(ratio::quantile(values, p.quantile()).filter(|v| v.is_finite()));
            counts.push(values.len());
        }
    }
    (figures, counts)
}

fn level_metric_names(with_slo: bool) -> Vec<(String, &'static str, Better)> {
    let mut names = Vec::new();
    if with_slo {
        names.push(("goodput".to_string(), "req/s", Better::Higher));
    }
    names.push(("output t/s".to_string(), "t/s", Better::Higher));
    for family in ["ttft", "itl"] {
        for p in LEVEL_PERCENTILES {
            names.push((format!("{family}_{p}"), "ms", Better::Lower));
        }
    }
    names
}

/// Goodput and output t/s, TTFT and ITL p50/p95/p99 (censored as the SLO check counts them: a request never
/// served has a TTFT beyond every measured one), and energy per token.
///
/// - Interleaved rounds: each round's own figures, paired round by round (`paired_signed_rank`).
/// - Two or more runs per side: each run's own figures as the samples of Welch's t on logs.
/// - One run on a side: a percentile bootstrap that resamples its requests (a request's gaps, tokens and SLO
///   outcome together), shown but not gating: it leaves out run-to-run variance.
///
/// The primary figure is goodput (output t/s without an SLO on both sides). Sides that ran under different SLOs
/// have no comparable goodput: it is left out, and the note says why.
pub(super) fn compare_levels(
    base: &[&LevelView],
    new: &[&LevelView],
    opts: &Options,
) -> Vec<MetricComparison> {
    let slos: BTreeSet<String> = base.iter().chain(new).map(|l| slo_text(l.slo)).collect();
    let any_slo = base.iter().chain(new).any(|l| !l.slo.is_empty());
    let same_slo = slos.len() == 1 && any_slo;
    let names = level_metric_names(same_slo);
    let primary = if same_slo { "goodput" } else { "output t/s" };
    let n_rates = if same_slo { 2 } else { 1 };

    let (fb, fn_) = (
        figures_per_run(base, same_slo),
        figures_per_run(new, same_slo),
    );
    let replicated = opts.paired || (fb.len() >= 2 && fn_.len() >= 2);
    let (pb, pn) = (
        pooled_figures(base, same_slo),
        pooled_figures(new, same_slo),
    );
    let ratios = if replicated {
        replicated_ratios(&names, n_rates, (&fb, &fn_), (&pb, &pn), opts)
    } else {
        bootstrap_ratios(base, new, same_slo, n_rates, (&pb, &pn), opts)
    };

    let mut out = Vec::new();
    if any_slo && !same_slo {
        out.push(goodput_not_compared(&slos, opts.noise));
    }
    for (k, ((name, unit, better), (r, note))) in names.iter().zip(ratios).enumerate() {
        let gating = replicated && (name == primary || opts.gate.contains(name.as_str()));
        out.push(metric(
            name, unit, *better, pb[k], pn[k], r, gating, opts.noise, note,
        ));
    }
    out.extend(energy_metric(base, new, opts.noise));
    out
}

/// A side's own figures (`level_figures`) per run, keyed by input.
type RunFigures = BTreeMap<usize, (Vec<Option<f64>>, Vec<usize>)>;

/// A figure's ratio, if it has one, and the note that goes with it.
type Judged = (Option<Ratio>, Option<String>);

/// A request's share of a summed statistic of its side (before dividing by the side's seconds).
type Share = dyn Fn(&LevelView, &RequestSample) -> f64;

/// A side's own figures per run: its levels of one input are one run (an input holds one level per key).
fn figures_per_run(v: &[&LevelView], with_slo: bool) -> RunFigures {
    v.iter()
        .map(|l| (l.input, level_figures(l, with_slo)))
        .collect()
}

/// Point figures over all of a side's requests (the whole side as one level), in the order of
/// `level_metric_names`.
fn pooled_figures(v: &[&LevelView], with_slo: bool) -> Vec<Option<f64>> {
    let secs: f64 = v.iter().map(|l| l.level.summary.rate_seconds()).sum();
    let per_s = |x: f64| (secs > 0.0).then(|| x / secs);
    let mut out = Vec::new();
    if with_slo {
        let good = v
            .iter()
            .map(|l| {
                l.level
                    .measured()
                    .iter()
                    .filter(|r| request_meets(r, l.slo))
                    .count()
            })
            .sum::<usize>();
        out.push(per_s(good as f64));
    }
    let tokens: usize = v
        .iter()
        .flat_map(|l| l.level.measured().iter().map(|r| r.token_ns.len()))
        .sum();
    out.push(per_s(tokens as f64));
    let mut ttft: Vec<f64> = v
        .iter()
        .flat_map(|l| l.level.measured().iter().map(censored_ttft))
        .collect();
    let mut itl: Vec<f64> = v
        .iter()
        .flat_map(|l| {
            let end = (l.level.summary.duration_s * 1e9) as u64;
            let lim = itl_limit_ms(l.slo);
            l.level
                .measured()
                .iter()
                .flat_map(move |r| censored_itl(r, end, lim))
        })
        .collect();
    for values in [&mut ttft, &mut itl] {
        for p in LEVEL_PERCENTILES {
            out.push(ratio::quantile(values, p.quantile()).filter(|v| v.is_finite()));
        }
    }
    out
}

/// Replicated sides (interleaved rounds, or two or more runs each): every figure tested on one sample per round
/// or run, except a percentile from too few samples in some run, which is shown untested.
fn replicated_ratios(
    names: &[(String, &'static str, Better)],
    n_rates: usize,
    (fb, fn_): (&RunFigures, &RunFigures),
    (pb, pn): (&[Option<f64>], &[Option<f64>]),
    opts: &Options,
) -> Vec<Judged> {
    let n_pct = LEVEL_PERCENTILES.len();
    let mut ratios = Vec::with_capacity(names.len());
    for (k, (name, _, _)) in names.iter().enumerate() {
        let low = k >= n_rates && {
            let p = LEVEL_PERCENTILES[(k - n_rates) % n_pct];
            fb.values()
                .chain(fn_.values())
                .any(|(_, c)| p.low_sample_count(c[k - n_rates] as u64))
        };
        if low {
            ratios.push((
                single(pb[k], pn[k], fb.len(), fn_.len()),
                Some(format!("{name} from too few samples in a run: not tested")),
            ));
            continue;
        }
        let r = run_ratio(k, fb, fn_, opts);
        let note = r.is_none().then(|| {
            format!("{name}: absent (censored or zero) in too many runs or rounds to test")
        });
        ratios.push((r, note));
    }
    ratios
}

/// Figure `k` tested round by round (`paired_signed_rank`) or on one sample per run (Welch's t on logs, which
/// needs two runs a side with the figure).
fn run_ratio(k: usize, fb: &RunFigures, fn_: &RunFigures, opts: &Options) -> Option<Ratio> {
    if opts.paired {
        let (mut xb, mut xn) = (Vec::new(), Vec::new());
        for (i, (b, _)) in fb {
            if let (Some(b), Some(n)) = (b[k], fn_.get(i).and_then(|(n, _)| n[k])) {
                xb.push(b);
                xn.push(n);
            }
        }
        ratio::paired_signed_rank(&xb, &xn, opts.alpha, opts.noise)
    } else {
        let col = |m: &RunFigures| -> Vec<f64> { m.values().filter_map(|(f, _)| f[k]).collect() };
        let (xb, xn) = (col(fb), col(fn_));
        if xb.len() >= 2 && xn.len() >= 2 {
            ratio::welch_log(&xb, &xn, opts.alpha, opts.noise)
        } else {
            None
        }
    }
}

/// One run on a side: a percentile bootstrap over the requests, shown but not gating. A percentile from too few
/// samples is not tested, and one that falls among the requests a side never served has no figure.
fn bootstrap_ratios(
    base: &[&LevelView],
    new: &[&LevelView],
    with_slo: bool,
    n_rates: usize,
    (pb, pn): (&[Option<f64>], &[Option<f64>]),
    opts: &Options,
) -> Vec<Judged> {
    let n_pct = LEVEL_PERCENTILES.len();
    let good: &Share = &|l, r| f64::from(u8::from(request_meets(r, l.slo)));
    let tokens: &Share = &|_, r| r.token_ns.len() as f64;
    let mut shares: Vec<&Share> = Vec::new();
    if with_slo {
        shares.push(good);
    }
    shares.push(tokens);
    let qs: Vec<f64> = LEVEL_PERCENTILES.iter().map(|p| p.quantile()).collect();
    let (sb, sn) = (request_side(base, &shares), request_side(new, &shares));
    let boot = ratio::bootstrap_requests(
        &sb,
        &sn,
        &qs,
        opts.alpha,
        opts.noise,
        opts.resamples,
        opts.seed,
    );
    let mut ratios = Vec::new();
    for r in boot.sums {
        ratios.push((r, Some(ONE_RUN.into())));
    }
    for (f, per_q) in boot.quantiles.into_iter().enumerate() {
        let count = |s: &ratio::Requests| s.values[f].iter().map(Vec::len).sum::<usize>();
        let (cb, cn) = (count(&sb), count(&sn));
        for (q, r) in per_q.into_iter().enumerate() {
            let k = n_rates + f * n_pct + q;
            let p = LEVEL_PERCENTILES[q];
            if p.low_sample_count(cb as u64) || p.low_sample_count(cn as u64) {
                ratios.push((
                    single(pb[k], pn[k], cb, cn),
                    Some(format!(
                        "{p} from n={cb}/{cn} samples (needs {}): not tested",
                        p.min_samples()
                    )),
                ));
            } else if pb[k].is_none() || pn[k].is_none() {
                ratios.push((
                    None,
                    Some(format!(
                        "{p} falls among the requests a side never served (censored): no figure"
                    )),
                ));
            } else {
                ratios.push((r, Some(ONE_RUN.into())));
            }
        }
    }
    ratios
}

/// A side's requests for the bootstrap: each request's `shares` over the side's seconds, its censored TTFT, and
/// its censored inter-token gaps.
fn request_side(v: &[&LevelView], shares: &[&Share]) -> ratio::Requests {
    let seconds: f64 = v.iter().map(|l| l.level.summary.rate_seconds()).sum();
    let all: Vec<(&LevelView, &RequestSample)> = v
        .iter()
        .flat_map(|l| l.level.measured().iter().map(move |r| (*l, r)))
        .collect();
    let itl = |l: &LevelView, r: &RequestSample| {
        let lim = itl_limit_ms(l.slo);
        censored_itl(r, (l.level.summary.duration_s * 1e9) as u64, lim)
    };
    ratio::Requests {
        sums: shares
            .iter()
            .map(|f| all.iter().map(|(l, r)| f(l, r) / seconds).collect())
            .collect(),
        values: vec![
            all.iter().map(|(_, r)| vec![censored_ttft(r)]).collect(),
            all.iter().map(|(l, r)| itl(l, r)).collect(),
        ],
    }
}

/// Goodput where the sides ran under different SLOs: not compared, and the note names the SLOs.
fn goodput_not_compared(slos: &BTreeSet<String>, noise: f64) -> MetricComparison {
    metric(
        "goodput",
        "req/s",
        Better::Higher,
        None,
        None,
        None,
        false,
        noise,
        Some(format!(
            "not compared: the sides ran under different SLOs ({})",
            slos.iter()
                .map(|s| if s.is_empty() { "none" } else { s.as_str() })
                .collect::<Vec<_>>()
                .join(" vs ")
        )),
    )
}

/// Energy per token where a side measured it: one reading per side, shown and never tested.
fn energy_metric(base: &[&LevelView], new: &[&LevelView], noise: f64) -> Option<MetricComparison> {
    let energy = |v: &[&LevelView]| -> Option<f64> {
        let js: Vec<f64> = v
            .iter()
            .filter_map(|l| {
                let js: Vec<f64> = l
                    .level
                    .energy
                    .iter()
                    .filter_map(|e| e.j_per_token)
                    .collect();
                (!js.is_empty()).then(|| js.iter().sum())
            })
            .collect();
        crate::stats::mean(&js)
    };
    let (eb, en) = (energy(base), energy(new));
    if eb.is_none() && en.is_none() {
        return None;
    }
    let note = if eb.is_some() && en.is_some() {
        "one reading per side: not tested"
    } else {
        "measured on one side only"
    };
    Some(metric(
        "J/token",
        "J/token",
        Better::Lower,
        eb,
        en,
        single(eb, en, 1, 1),
        false,
        noise,
        Some(note.into()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::load::RequestSample;

    const MS: u64 = 1_000_000;

    fn request(tokens: &[u64], completed: bool) -> RequestSample {
        RequestSample {
            input_tokens: 4,
            output_tokens: 8,
            arrival_ns: 0,
            admitted_ns: Some(0),
            token_ns: tokens.to_vec(),
            completed,
            failure: None,
            stream: None,
            origin: None,
        }
    }

    #[test]
    fn milliseconds_keep_three_significant_digits() {
        assert_eq!(ms_3_digits(0), 0.0);
        assert!((ms_3_digits(12_345_678) - 12.3).abs() < 1e-9);
        assert!((ms_3_digits(1_234_567_890) - 1230.0).abs() < 1e-6);
        assert!((ms_3_digits(98_765) - 0.0988).abs() < 1e-12);
    }

    #[test]
    fn an_unfinished_request_overdue_past_the_itl_limit_adds_one_infinite_gap() {
        // gaps of 2 and 3 ms; unfinished, its last token at 6 ms
        let r = request(&[MS, 3 * MS, 6 * MS], false);
        assert_eq!(censored_itl(&r, 10 * MS, None), [2.0, 3.0]);
        // 4 ms since its last token: within a 5 ms limit, beyond a 3 ms one
        assert_eq!(censored_itl(&r, 10 * MS, Some(5.0)), [2.0, 3.0]);
        assert_eq!(
            censored_itl(&r, 10 * MS, Some(3.0)),
            [2.0, 3.0, f64::INFINITY]
        );
        // a completed request owes no gap; one with no token waits from its arrival
        let done = request(&[MS, 3 * MS, 6 * MS], true);
        assert_eq!(censored_itl(&done, 100 * MS, Some(3.0)), [2.0, 3.0]);
        let none = request(&[], false);
        assert_eq!(censored_itl(&none, 10 * MS, Some(3.0)), [f64::INFINITY]);
        assert_eq!(censored_ttft(&none), f64::INFINITY);
        assert_eq!(censored_ttft(&r), 1.0);
    }
}
