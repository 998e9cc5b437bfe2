//! Two sets of results judged against each other: cases joined on llama-bench's key properties, `load` levels on
//! their arrivals and request lengths, a ratio with its confidence interval per figure, a verdict, what the
//! samples could have detected, and what else differs between the two runs.
//!
//! A change counts only when its whole confidence interval lies beyond the noise threshold in one direction (the
//! rule criterion uses): significance alone would flag a 0.3% shift that no one cares about, the threshold alone
//! would flag noise.
//!
//! What gates the exit code:
//! - The unit of replication is the process run. Repetitions within one run share its state of the machine
//!   (clocks, neighbours, memory placement), so they leave out run-to-run variance: unpaired sides are tested on
//!   one figure per run (the geometric mean of a case's repetitions, a level's own rate or percentile), which
//!   needs two or more runs per side; interleaved rounds (`paired`) are tested round by round. With one run on a
//!   side the within-run interval is shown, and does not gate.
//! - One primary figure per kind: `t/s` for a bench case, `goodput` for a load level (`output t/s` without an
//!   SLO). Others are reported; they gate only when `Options::gate` names them.
//! - Holm's step-down correction over every gated figure of every joined case and level keeps the chance of any
//!   false alarm at `alpha`: a gated figure is changed only when its p-value of "within the noise band"
//!   (`Ratio::p_band`) passes its Holm threshold.

use super::load::request_meets;
use crate::results::llama_bench::LlamaBenchRecord;
use crate::results::load::{Lengths, LevelRecord};
use crate::results::slo::SloTerm;
use crate::results::{CaseRecord, ResultFile};
use crate::stats::ratio::{self, Method, Ratio};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// What was read from one path.
#[derive(Debug, Clone)]
pub enum Input {
    Result(Box<ResultFile>),
    LlamaBench(Vec<LlamaBenchRecord>),
}

/// One input file of a side.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: String,
    pub input: Input,
}

/// The properties a bench case is joined on, in llama-bench's names (`model` is the model's type, parameter count
/// and file size, which identify it across machines and paths).
pub const CASE_KEYS: [&str; 12] = [
    "model",
    "n_threads",
    "n_gpu_layers",
    "repack",
    "n_batch",
    "n_ubatch",
    "type_k",
    "type_v",
    "flash_attn",
    "n_prompt",
    "n_gen",
    "n_depth",
];

/// Figures `--fail-on` can name to gate besides each kind's primary one (`t/s` for bench, `goodput` for load).
pub const GATEABLE: [&str; 10] = [
    "t/s",
    "J/token",
    "goodput",
    "output t/s",
    "ttft_p50",
    "ttft_p95",
    "ttft_p99",
    "itl_p50",
    "itl_p95",
    "itl_p99",
];

/// The properties a load level is joined on.
pub const LEVEL_KEYS: [&str; 4] = ["model", "arrivals", "input_tokens", "output_tokens"];

#[derive(Debug, Clone)]
pub struct Options {
    /// 1 − the confidence level of the intervals.
    pub alpha: f64,
    /// Changes smaller than this fraction are not counted (0.02 = 2%).
    pub noise: f64,
    /// Join keys left out (`model` to compare different models).
    pub ignore: BTreeSet<String>,
    /// The two sides are interleaved rounds: the i-th input of each side ran next to each other.
    pub paired: bool,
    pub resamples: usize,
    pub seed: u64,
    /// Figures that gate the exit code besides each kind's primary one (`--fail-on ttft_p99,…`).
    pub gate: BTreeSet<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            alpha: 0.05,
            noise: 0.02,
            ignore: BTreeSet::new(),
            paired: false,
            resamples: 2000,
            seed: 1,
            gate: BTreeSet::new(),
        }
    }
}

/// Whether a unknown key was asked to be ignored.
pub fn check_ignore(keys: &BTreeSet<String>) -> Result<(), String> {
    let known: BTreeSet<&str> = CASE_KEYS.iter().chain(&LEVEL_KEYS).copied().collect();
    match keys.iter().find(|k| !known.contains(k.as_str())) {
        Some(k) => Err(format!(
            "--ignore: '{k}' is not a join key (one of: {})",
            known.into_iter().collect::<Vec<_>>().join(", ")
        )),
        None => Ok(()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Higher,
    Lower,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Faster,
    Unchanged,
    Slower,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Faster => "faster",
            Verdict::Unchanged => "unchanged",
            Verdict::Slower => "slower",
        }
    }
}

/// One figure of a joined case or level on both sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricComparison {
    /// `t/s`, `goodput`, `ttft_p95`, `J/token`.
    pub metric: String,
    /// `t/s`, `req/s`, `ms`, `J/token`.
    pub unit: String,
    pub better: Better,
    pub base: Option<f64>,
    pub new: Option<f64>,
    pub ratio: Option<Ratio>,
    pub verdict: Verdict,
    /// False when the samples allow no test (one figure per side, a percentile from too few samples): the
    /// verdict is then `unchanged` and `note` says why.
    pub tested: bool,
    /// Whether the smallest detectable change exceeds the noise threshold (a green verdict then means little).
    pub underpowered: bool,
    /// Whether this figure decides the exit code: the kind's primary figure or one `--fail-on` names, tested on
    /// replicated runs or interleaved rounds.
    pub gating: bool,
    /// For a gated figure: whether it passed Holm's threshold over all gated figures (its verdict stands); a
    /// gated figure beyond the band that did not pass is `unchanged`, and `note` says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holm_rejected: Option<bool>,
    pub note: Option<String>,
}

/// A case or level found on both sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Joined {
    /// `bench` or `load`.
    pub kind: String,
    pub label: String,
    pub key: BTreeMap<String, String>,
    pub base_sources: Vec<String>,
    pub new_sources: Vec<String>,
    pub metrics: Vec<MetricComparison>,
}

impl Joined {
    /// The worst verdict among the figures that gate (slower over unchanged over faster).
    pub fn verdict(&self) -> Verdict {
        let gating: Vec<Verdict> = self
            .metrics
            .iter()
            .filter(|m| m.gating)
            .map(|m| m.verdict)
            .collect();
        if gating.contains(&Verdict::Slower) {
            Verdict::Slower
        } else if gating.contains(&Verdict::Faster) {
            Verdict::Faster
        } else {
            Verdict::Unchanged
        }
    }
}

/// A case or level found on one side only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneSided {
    pub kind: String,
    pub label: String,
    pub key: BTreeMap<String, String>,
    pub sources: Vec<String>,
}

/// A property of the two runs that differs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvDiff {
    pub field: String,
    pub base: Vec<String>,
    pub new: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub faster: usize,
    pub unchanged: usize,
    pub slower: usize,
    /// Joined cases whose gating figure could not have detected a change of twice the noise threshold.
    pub underpowered: usize,
}

/// The family of figures that gate the exit code, and its correction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Family {
    /// `holm`: Holm's step-down over the gated figures' `p_band`, family-wise error at `alpha`.
    pub correction: String,
    /// Gated figures over all joined cases and levels.
    pub gated: usize,
    /// Gated figures whose change passed the correction.
    pub rejected: usize,
    /// Figures beyond the band on their own that the correction kept unchanged.
    pub kept_unchanged: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub base: Vec<String>,
    pub new: Vec<String>,
    /// `regression check`, or `comparison between systems` when the hardware or the model differs.
    pub kind: String,
    /// Why it is a comparison between systems.
    pub systems_differ: Vec<String>,
    pub alpha: f64,
    pub noise: f64,
    pub paired: bool,
    pub ignored_keys: Vec<String>,
    pub joined: Vec<Joined>,
    pub only_base: Vec<OneSided>,
    pub only_new: Vec<OneSided>,
    pub environment: Vec<EnvDiff>,
    pub counts: Counts,
    pub family: Family,
}

// ---- bench cases -------------------------------------------------------------------------------------------

/// A bench case as either input gives it.
struct CaseView {
    key: BTreeMap<String, String>,
    test: String,
    /// Which input of the side it came from (the round, when paired).
    input: usize,
    source: String,
    samples_ts: Vec<f64>,
    j_per_token: Option<f64>,
}

fn model_key(model_type: Option<&str>, n_params: Option<u64>, size: Option<u64>) -> String {
    let o = |x: Option<u64>| x.map_or("?".into(), |v| v.to_string());
    format!(
        "{} ({} params, {} bytes)",
        model_type.unwrap_or("?"),
        o(n_params),
        o(size)
    )
}

fn test_name(n_prompt: u32, n_gen: u32, n_depth: u32) -> String {
    crate::results::record::Test {
        n_prompt,
        n_gen,
        n_depth,
    }
    .name()
}

fn case_from_record(c: &CaseRecord) -> BTreeMap<String, String> {
    let pairs: [(&str, String); 12] = [
        (
            "model",
            model_key(
                Some(&c.model_type),
                Some(c.model_n_params),
                Some(c.model_size),
            ),
        ),
        ("n_threads", c.n_threads.to_string()),
        ("n_gpu_layers", c.n_gpu_layers.to_string()),
        ("repack", u8::from(c.repack).to_string()),
        ("n_batch", c.n_batch.to_string()),
        ("n_ubatch", c.n_ubatch.to_string()),
        ("type_k", c.type_k.clone()),
        ("type_v", c.type_v.clone()),
        ("flash_attn", c.flash_attn.to_string()),
        ("n_prompt", c.n_prompt.to_string()),
        ("n_gen", c.n_gen.to_string()),
        ("n_depth", c.n_depth.to_string()),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn case_from_llama_bench(r: &LlamaBenchRecord) -> BTreeMap<String, String> {
    let o = |x: Option<String>| x.unwrap_or_else(|| "?".into());
    let pairs: [(&str, String); 12] = [
        (
            "model",
            model_key(r.model_type.as_deref(), r.model_n_params, r.model_size),
        ),
        ("n_threads", o(r.n_threads.map(|x| x.to_string()))),
        ("n_gpu_layers", o(r.n_gpu_layers.map(|x| x.to_string()))),
        ("repack", llama_bench_repack(r)),
        ("n_batch", o(r.n_batch.map(|x| x.to_string()))),
        ("n_ubatch", o(r.n_ubatch.map(|x| x.to_string()))),
        ("type_k", o(r.type_k.clone())),
        ("type_v", o(r.type_v.clone())),
        ("flash_attn", o(r.flash_attn.map(|x| x.to_string()))),
        ("n_prompt", r.n_prompt.to_string()),
        ("n_gen", r.n_gen.to_string()),
        ("n_depth", r.n_depth.to_string()),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// llama-bench's `repack` as `1` or `0`: a bool in its JSON, `1`/`0` in its CSV; a file from a llama-bench
/// without the field ran with llama.cpp's default, on.
fn llama_bench_repack(r: &LlamaBenchRecord) -> String {
    let on = match r.other.get("repack") {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::Number(n)) => n.as_i64() != Some(0),
        Some(serde_json::Value::String(s)) => !matches!(s.as_str(), "0" | "false"),
        _ => true,
    };
    u8::from(on).to_string()
}

/// Joules per token over the devices that measured the case's whole window; absent when none did.
fn case_j_per_token(c: &CaseRecord) -> Option<f64> {
    let js: Vec<f64> = c
        .energy
        .iter()
        .filter_map(|e| e.total.j_per_token)
        .collect();
    (!js.is_empty()).then(|| js.iter().sum())
}

fn case_views(sources: &[Source]) -> Vec<CaseView> {
    let mut out = Vec::new();
    for (input, s) in sources.iter().enumerate() {
        match &s.input {
            Input::Result(f) => {
                for (i, c) in f.cases.iter().enumerate() {
                    out.push(CaseView {
                        key: case_from_record(c),
                        test: c.test.clone(),
                        input,
                        source: format!("{}#cases[{i}]", s.path),
                        samples_ts: c.summary.samples_ts.clone(),
                        j_per_token: case_j_per_token(c),
                    });
                }
            }
            Input::LlamaBench(records) => {
                for (i, r) in records.iter().enumerate() {
                    let samples_ts = if !r.samples_ts.is_empty() {
                        r.samples_ts.clone()
                    } else {
                        r.avg_ts.into_iter().collect()
                    };
                    out.push(CaseView {
                        key: case_from_llama_bench(r),
                        test: test_name(r.n_prompt, r.n_gen, r.n_depth),
                        input,
                        source: format!("{}#{i}", s.path),
                        samples_ts,
                        j_per_token: None,
                    });
                }
            }
        }
    }
    out
}

// ---- load levels -------------------------------------------------------------------------------------------

struct LevelView<'a> {
    key: BTreeMap<String, String>,
    label: String,
    /// Which input of the side it came from (the round, when paired).
    input: usize,
    source: String,
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

fn arrivals_of(l: &LevelRecord) -> String {
    match (l.summary.concurrency, l.summary.rate) {
        (Some(c), _) => format!("c={c}"),
        (None, Some(r)) => format!("rate={r}/s slots={}", l.summary.slots),
        (None, None) => format!("slots={}", l.summary.slots),
    }
}

fn level_views(sources: &[Source]) -> Vec<LevelView<'_>> {
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
            let arrivals = arrivals_of(l);
            let key: BTreeMap<String, String> = [
                ("model", model.clone()),
                ("arrivals", arrivals.clone()),
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

// ---- verdicts ----------------------------------------------------------------------------------------------

fn verdict(r: &Ratio, better: Better, noise: f64) -> Verdict {
    let (Some(lo), Some(hi)) = (r.lower, r.upper) else {
        return Verdict::Unchanged;
    };
    let up = 1.0 + noise;
    let down = 1.0 / up;
    let (gain, loss) = match better {
        Better::Higher => (lo > up, hi < down),
        Better::Lower => (hi < down, lo > up),
    };
    if loss {
        Verdict::Slower
    } else if gain {
        Verdict::Faster
    } else {
        Verdict::Unchanged
    }
}

#[allow(clippy::too_many_arguments)]
fn metric(
    name: &str,
    unit: &str,
    better: Better,
    base: Option<f64>,
    new: Option<f64>,
    r: Option<Ratio>,
    gating: bool,
    noise: f64,
    mut note: Option<String>,
) -> MetricComparison {
    let tested = r.as_ref().is_some_and(|r| r.lower.is_some());
    let v = r
        .as_ref()
        .map_or(Verdict::Unchanged, |r| verdict(r, better, noise));
    let underpowered = r
        .as_ref()
        .is_some_and(|r| r.detectable.is_some_and(|d| ratio::underpowered(d, noise)));
    if !tested && note.is_none() {
        note = Some(match &r {
            None if base.is_some() && new.is_some() => "no ratio: the base figure is zero".into(),
            None => "absent on a side".into(),
            Some(r) if r.method == Method::Single => "one figure per side: not tested".into(),
            Some(r) => format!("too few samples to test (n={}/{})", r.n_base, r.n_new),
        });
    }
    MetricComparison {
        metric: name.into(),
        unit: unit.into(),
        better,
        base,
        new,
        verdict: v,
        tested,
        underpowered,
        gating: gating && tested,
        holm_rejected: None,
        ratio: r,
        note,
    }
}

/// A round's figure: its fastest repetition. Another program on the machine only ever slows a repetition down,
/// so the fastest is the one it disturbed least.
fn fastest(xs: &[f64]) -> Option<f64> {
    xs.iter()
        .copied()
        .filter(|x| x.is_finite() && *x > 0.0)
        .reduce(f64::max)
}

fn compare_cases(base: &[&CaseView], new: &[&CaseView], opts: &Options) -> Vec<MetricComparison> {
    let pool = |v: &[&CaseView]| -> Vec<f64> {
        v.iter()
            .flat_map(|c| c.samples_ts.iter().copied())
            .collect()
    };
    let (pb, pn) = (pool(base), pool(new));
    let mean = |xs: &[f64]| crate::stats::mean(xs);
    let mut note = None;
    let mut replicated = true;
    let r = if opts.paired {
        let rounds = |v: &[&CaseView]| -> BTreeMap<usize, Vec<f64>> {
            let mut m: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
            for c in v {
                m.entry(c.input)
                    .or_default()
                    .extend(c.samples_ts.iter().copied());
            }
            m
        };
        let (rb, rn) = (rounds(base), rounds(new));
        let (mut xb, mut xn) = (Vec::new(), Vec::new());
        for (i, b) in &rb {
            if let (Some(b), Some(n)) = (fastest(b), rn.get(i).and_then(|n| fastest(n))) {
                xb.push(b);
                xn.push(n);
            }
        }
        if xb.len() < rb.len().max(rn.len()) {
            note = Some(format!(
                "{} of {} rounds have both sides",
                xb.len(),
                rb.len().max(rn.len())
            ));
        }
        ratio::paired_signed_rank(&xb, &xn, opts.alpha, opts.noise)
    } else {
        let (rb, rn) = (run_figures(base), run_figures(new));
        if rb.len() >= 2 && rn.len() >= 2 {
            note = Some(format!(
                "{}/{} runs, each run's geometric mean one sample",
                rb.len(),
                rn.len()
            ));
            ratio::welch_log(&rb, &rn, opts.alpha, opts.noise)
        } else {
            replicated = false;
            note = Some(ONE_RUN.into());
            ratio::welch_log(&pb, &pn, opts.alpha, opts.noise)
        }
    };
    let gate = |name: &str| replicated && (name == "t/s" || opts.gate.contains(name));
    let mut out = vec![metric(
        "t/s",
        "t/s",
        Better::Higher,
        mean(&pb),
        mean(&pn),
        r,
        gate("t/s"),
        opts.noise,
        note,
    )];
    let energy = |v: &[&CaseView]| -> Option<f64> {
        let js: Vec<f64> = v.iter().filter_map(|c| c.j_per_token).collect();
        mean(&js)
    };
    let (eb, en) = (energy(base), energy(new));
    if eb.is_some() || en.is_some() {
        let r = single(eb, en, 1, 1);
        let note = match (eb, en) {
            (Some(_), Some(_)) => "one reading per side: not tested",
            _ => "measured on one side only",
        };
        out.push(metric(
            "J/token",
            "J/token",
            Better::Lower,
            eb,
            en,
            r,
            gate("J/token"),
            opts.noise,
            Some(note.into()),
        ));
    }
    out
}

/// Why a side with one run does not gate.
const ONE_RUN: &str =
    "one run on a side: this interval is within the run, which leaves out run-to-run \
variance, so it does not gate (use --interleave, or two or more runs per side)";

/// One figure per run (input) of a case: the geometric mean of its positive repetitions.
fn run_figures(v: &[&CaseView]) -> Vec<f64> {
    let mut runs: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for c in v {
        runs.entry(c.input).or_default().extend(
            c.samples_ts
                .iter()
                .copied()
                .filter(|x| x.is_finite() && *x > 0.0)
                .map(f64::ln),
        );
    }
    runs.values()
        .filter_map(|logs| crate::stats::mean(logs).map(f64::exp))
        .collect()
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

fn single(base: Option<f64>, new: Option<f64>, n_base: usize, n_new: usize) -> Option<Ratio> {
    base.zip(new).filter(|(b, _)| *b > 0.0).map(|(b, n)| Ratio {
        method: Method::Single,
        ratio: n / b,
        lower: None,
        upper: None,
        p_value: None,
        p_band: None,
        n_base,
        n_new,
        detectable: None,
        samples_needed: None,
    })
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
fn compare_levels(
    base: &[&LevelView],
    new: &[&LevelView],
    opts: &Options,
) -> Vec<MetricComparison> {
    use crate::results::load::RequestSample;
    let slos: BTreeSet<String> = base.iter().chain(new).map(|l| slo_text(l.slo)).collect();
    let any_slo = base.iter().chain(new).any(|l| !l.slo.is_empty());
    let same_slo = slos.len() == 1 && any_slo;
    let names = level_metric_names(same_slo);
    let primary = if same_slo { "goodput" } else { "output t/s" };
    let n_rates = if same_slo { 2 } else { 1 };
    let n_pct = LEVEL_PERCENTILES.len();

    let figures = |v: &[&LevelView]| -> BTreeMap<usize, (Vec<Option<f64>>, Vec<usize>)> {
        // A side's levels of one input are one run (an input holds one level per key).
        v.iter()
            .map(|l| (l.input, level_figures(l, same_slo)))
            .collect()
    };
    let (fb, fn_) = (figures(base), figures(new));
    let replicated = opts.paired || (fb.len() >= 2 && fn_.len() >= 2);

    // Point figures over all of a side's requests (the whole side as one level).
    let pooled = |v: &[&LevelView]| -> Vec<Option<f64>> {
        let secs: f64 = v.iter().map(|l| l.level.summary.rate_seconds()).sum();
        let per_s = |x: f64| (secs > 0.0).then(|| x / secs);
        let mut out = Vec::new();
        if same_slo {
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
    };
    let (pb, pn) = (pooled(base), pooled(new));

    let mut ratios: Vec<(Option<Ratio>, Option<String>)> = Vec::with_capacity(names.len());
    if replicated {
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
            let r = if opts.paired {
                let (mut xb, mut xn) = (Vec::new(), Vec::new());
                for (i, (b, _)) in &fb {
                    if let (Some(b), Some(n)) = (b[k], fn_.get(i).and_then(|(n, _)| n[k])) {
                        xb.push(b);
                        xn.push(n);
                    }
                }
                ratio::paired_signed_rank(&xb, &xn, opts.alpha, opts.noise)
            } else {
                let col = |m: &BTreeMap<usize, (Vec<Option<f64>>, Vec<usize>)>| -> Vec<f64> {
                    m.values().filter_map(|(f, _)| f[k]).collect()
                };
                let (xb, xn) = (col(&fb), col(&fn_));
                if xb.len() >= 2 && xn.len() >= 2 {
                    ratio::welch_log(&xb, &xn, opts.alpha, opts.noise)
                } else {
                    None
                }
            };
            let note = r.is_none().then(|| {
                format!("{name}: absent (censored or zero) in too many runs or rounds to test")
            });
            ratios.push((r, note));
        }
    } else {
        type Share = dyn Fn(&LevelView, &RequestSample) -> f64;
        let good: &Share = &|l, r| f64::from(u8::from(request_meets(r, l.slo)));
        let tokens: &Share = &|_, r| r.token_ns.len() as f64;
        let mut shares: Vec<&Share> = Vec::new();
        if same_slo {
            shares.push(good);
        }
        shares.push(tokens);
        let qs: Vec<f64> = LEVEL_PERCENTILES.iter().map(|p| p.quantile()).collect();
        let side = |v: &[&LevelView]| -> ratio::Requests {
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
        };
        let (sb, sn) = (side(base), side(new));
        let boot = ratio::bootstrap_requests(
            &sb,
            &sn,
            &qs,
            opts.alpha,
            opts.noise,
            opts.resamples,
            opts.seed,
        );
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
    }

    let mut out = Vec::new();
    if any_slo && !same_slo {
        out.push(metric(
            "goodput",
            "req/s",
            Better::Higher,
            None,
            None,
            None,
            false,
            opts.noise,
            Some(format!(
                "not compared: the sides ran under different SLOs ({})",
                slos.iter()
                    .map(|s| if s.is_empty() { "none" } else { s.as_str() })
                    .collect::<Vec<_>>()
                    .join(" vs ")
            )),
        ));
    }
    for (k, ((name, unit, better), (r, note))) in names.iter().zip(ratios).enumerate() {
        let gating = replicated && (name == primary || opts.gate.contains(name.as_str()));
        out.push(metric(
            name, unit, *better, pb[k], pn[k], r, gating, opts.noise, note,
        ));
    }
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
    if eb.is_some() || en.is_some() {
        let note = if eb.is_some() && en.is_some() {
            "one reading per side: not tested"
        } else {
            "measured on one side only"
        };
        out.push(metric(
            "J/token",
            "J/token",
            Better::Lower,
            eb,
            en,
            single(eb, en, 1, 1),
            false,
            opts.noise,
            Some(note.into()),
        ));
    }
    out
}

/// `f` over `items` on as many threads as there are CPUs (each item's result depends on it alone, so the
/// output is the same as a sequential map's).
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a comparison thread does not panic"))
            .collect()
    })
}

// ---- joining -----------------------------------------------------------------------------------------------

fn strip(key: &BTreeMap<String, String>, ignore: &BTreeSet<String>) -> BTreeMap<String, String> {
    key.iter()
        .filter(|(k, _)| !ignore.contains(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `pp512 t=2`, with the key properties that vary among all cases added (not those left out of the join).
fn labels<'a>(
    keys: impl Iterator<Item = (&'a BTreeMap<String, String>, &'a str)>,
    ignore: &BTreeSet<String>,
) -> impl Fn(&BTreeMap<String, String>, &str) -> String {
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (k, _) in keys {
        for (name, v) in k {
            values.entry(name.clone()).or_default().insert(v.clone());
        }
    }
    let varying: Vec<String> = values
        .into_iter()
        .filter(|(k, v)| {
            v.len() > 1
                && !ignore.contains(k)
                && !matches!(k.as_str(), "n_prompt" | "n_gen" | "n_depth")
        })
        .map(|(k, _)| k)
        .collect();
    move |key, test| {
        let mut s = test.to_string();
        for k in &varying {
            if let Some(v) = key.get(k) {
                let short = match k.as_str() {
                    "n_threads" => "t",
                    "n_gpu_layers" => "ngl",
                    "n_batch" => "b",
                    "n_ubatch" => "ub",
                    "flash_attn" => "fa",
                    "type_k" => "ctk",
                    "type_v" => "ctv",
                    other => other,
                };
                s.push_str(&format!(" {short}={v}"));
            }
        }
        s
    }
}

fn group<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> BTreeMap<String, String>,
) -> BTreeMap<BTreeMap<String, String>, Vec<T>> {
    let mut m: BTreeMap<BTreeMap<String, String>, Vec<T>> = BTreeMap::new();
    for it in items {
        m.entry(key(&it)).or_default().push(it);
    }
    m
}

// ---- environment -------------------------------------------------------------------------------------------

fn flatten_json(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_json(&p, v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// Every fact known about a side's runs: field → the values its inputs have.
fn facts(sources: &[Source]) -> BTreeMap<String, BTreeSet<String>> {
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        m.entry(k.to_string()).or_default().insert(v);
    };
    let opt = |x: &Option<String>| x.clone().unwrap_or_else(|| "—".into());
    for s in sources {
        match &s.input {
            Input::Result(f) => {
                put("tokenmeter version", f.tokenmeter.version.clone());
                put("tokenmeter commit", opt(&f.tokenmeter.git_commit));
                put(
                    "llama-cpp-sys-2 version",
                    f.build.llama_cpp_sys_version.clone(),
                );
                put("ggml version", f.build.ggml_version.clone());
                put("ggml commit", f.build.ggml_commit.clone());
                put("system_info", f.build.system_info.clone());
                let devices: Vec<String> = f
                    .build
                    .devices
                    .iter()
                    .map(|d| format!("{} ({}, {})", d.description, d.backend, d.name))
                    .collect();
                put("backend devices", devices.join("; "));
                put("host", opt(&f.host.hostname));
                put("cpu model", opt(&f.host.cpu_model));
                put("logical cpus", f.host.cpu_logical_cpus.to_string());
                put(
                    "os",
                    format!("{} {}", opt(&f.host.os), opt(&f.host.os_version)),
                );
                put("kernel", opt(&f.host.kernel));
                for m in &f.models {
                    put("model sha256", opt(&m.sha256));
                }
                if let Some(t) = f.telemetry.as_ref().filter(|t| !t.drivers.is_empty()) {
                    put("drivers", t.drivers.join("; "));
                }
                if let Some(sweep) = &f.load {
                    let slo: Vec<String> = sweep
                        .slo
                        .iter()
                        .map(|t| {
                            format!("{:?}_{}<={}ms", t.metric, t.percentile, t.max_ms)
                                .to_lowercase()
                        })
                        .collect();
                    put("slo", slo.join(","));
                }
                let mut params = BTreeMap::new();
                flatten_json("", &f.parameters, &mut params);
                for (k, v) in params {
                    if k != "models" {
                        put(&format!("parameter {k}"), v);
                    }
                }
                for c in &f.cases {
                    // in llama-bench's terms, so that a llama-bench run of the same tree shows no difference
                    put(
                        "build_commit",
                        crate::results::llama_bench::build_commit(f, c),
                    );
                    put("build_number", c.build_number.unwrap_or(0).to_string());
                    put("cpu_info", c.cpu_info.clone());
                    put("gpu_info", c.gpu_info.clone());
                    put("backends", c.backends.clone());
                }
            }
            Input::LlamaBench(records) => {
                for r in records {
                    put("build_commit", opt(&r.build_commit));
                    put(
                        "build_number",
                        r.build_number.map_or("—".into(), |n| n.to_string()),
                    );
                    put("cpu_info", opt(&r.cpu_info));
                    put("gpu_info", opt(&r.gpu_info));
                    put("backends", opt(&r.backends));
                }
            }
        }
    }
    m
}

fn environment(base: &[Source], new: &[Source]) -> Vec<EnvDiff> {
    let (fb, fnew) = (facts(base), facts(new));
    fb.iter()
        .filter_map(|(k, vb)| {
            let vn = fnew.get(k)?;
            (vb != vn).then(|| EnvDiff {
                field: k.clone(),
                base: vb.iter().cloned().collect(),
                new: vn.iter().cloned().collect(),
            })
        })
        .collect()
}

// ---- the comparison ----------------------------------------------------------------------------------------

/// Joins and judges two sides. `Err` when they share no case or level.
pub fn compare(base: &[Source], new: &[Source], opts: &Options) -> Result<Comparison, String> {
    let mut joined = Vec::new();
    let (mut only_base, mut only_new) = (Vec::new(), Vec::new());

    let (cb, cn) = (case_views(base), case_views(new));
    let label = labels(
        cb.iter().chain(&cn).map(|c| (&c.key, c.test.as_str())),
        &opts.ignore,
    );
    let key_of = |c: &CaseView| strip(&c.key, &opts.ignore);
    let (gb, mut gn) = (
        group(cb.iter().collect(), |c| key_of(c)),
        group(cn.iter().collect(), |c| key_of(c)),
    );
    let mut model_differs = false;
    for (k, b) in gb {
        let lab = label(&b[0].key, &b[0].test);
        match gn.remove(&k) {
            Some(n) => {
                if b[0].key.get("model") != n[0].key.get("model") {
                    model_differs = true;
                }
                joined.push(Joined {
                    kind: "bench".into(),
                    label: lab,
                    metrics: compare_cases(&b, &n, opts),
                    key: k,
                    base_sources: b.iter().map(|c| c.source.clone()).collect(),
                    new_sources: n.iter().map(|c| c.source.clone()).collect(),
                });
            }
            None => only_base.push(OneSided {
                kind: "bench".into(),
                label: lab,
                key: k,
                sources: b.iter().map(|c| c.source.clone()).collect(),
            }),
        }
    }
    for (k, n) in gn {
        only_new.push(OneSided {
            kind: "bench".into(),
            label: label(&n[0].key, &n[0].test),
            key: k,
            sources: n.iter().map(|c| c.source.clone()).collect(),
        });
    }

    let (lb, ln) = (level_views(base), level_views(new));
    let key_of = |l: &LevelView| strip(&l.key, &opts.ignore);
    let (gb, mut gn) = (
        group(lb.iter().collect(), |l| key_of(l)),
        group(ln.iter().collect(), |l| key_of(l)),
    );
    let mut pairs = Vec::new();
    for (k, b) in gb {
        match gn.remove(&k) {
            Some(n) => {
                if b[0].key.get("model") != n[0].key.get("model") {
                    model_differs = true;
                }
                pairs.push((k, b, n));
            }
            None => only_base.push(OneSided {
                kind: "load".into(),
                label: b[0].label.clone(),
                key: k,
                sources: b.iter().map(|l| l.source.clone()).collect(),
            }),
        }
    }
    let metrics = parallel_map(&pairs, |(_, b, n)| compare_levels(b, n, opts));
    for ((k, b, n), metrics) in pairs.into_iter().zip(metrics) {
        joined.push(Joined {
            kind: "load".into(),
            label: b[0].label.clone(),
            metrics,
            key: k,
            base_sources: b.iter().map(|l| l.source.clone()).collect(),
            new_sources: n.iter().map(|l| l.source.clone()).collect(),
        });
    }
    for (k, n) in gn {
        only_new.push(OneSided {
            kind: "load".into(),
            label: n[0].label.clone(),
            key: k,
            sources: n.iter().map(|l| l.source.clone()).collect(),
        });
    }

    if joined.is_empty() {
        let list = |v: &[OneSided]| -> String {
            let mut labels: Vec<&str> = v.iter().map(|o| o.label.as_str()).collect();
            labels.dedup();
            let more = labels.len().saturating_sub(4);
            labels.truncate(4);
            format!(
                "{}{}",
                labels.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )
        };
        return Err(format!(
            "the two sides share no case (base: {}; new: {}); --ignore KEY leaves a join key out",
            list(&only_base),
            list(&only_new)
        ));
    }

    let environment = environment(base, new);
    let mut systems_differ = Vec::new();
    for field in [
        "cpu_info",
        "gpu_info",
        "backends",
        "cpu model",
        "backend devices",
    ] {
        if let Some(d) = environment.iter().find(|d| d.field == field) {
            systems_differ.push(format!(
                "{field}: {} → {}",
                d.base.join(", "),
                d.new.join(", ")
            ));
        }
    }
    if model_differs {
        systems_differ.push("the models differ (joined with --ignore model)".into());
    } else if let Some(d) = environment.iter().find(|d| d.field == "model sha256") {
        systems_differ.push(format!(
            "model sha256: {} → {}",
            d.base.join(", "),
            d.new.join(", ")
        ));
    }
    let family = holm(&mut joined, opts.alpha);
    let mut counts = Counts {
        faster: 0,
        unchanged: 0,
        slower: 0,
        underpowered: 0,
    };
    for j in &joined {
        match j.verdict() {
            Verdict::Faster => counts.faster += 1,
            Verdict::Unchanged => counts.unchanged += 1,
            Verdict::Slower => counts.slower += 1,
        }
        if j.metrics.iter().any(|m| m.gating && m.underpowered) {
            counts.underpowered += 1;
        }
    }
    Ok(Comparison {
        base: base.iter().map(|s| s.path.clone()).collect(),
        new: new.iter().map(|s| s.path.clone()).collect(),
        kind: if systems_differ.is_empty() {
            "regression check".into()
        } else {
            "comparison between systems".into()
        },
        systems_differ,
        alpha: opts.alpha,
        noise: opts.noise,
        paired: opts.paired,
        ignored_keys: opts.ignore.iter().cloned().collect(),
        joined,
        only_base,
        only_new,
        environment,
        counts,
        family,
    })
}

/// Holm's step-down over every gated figure: sorted by `p_band`, the i-th smallest (from 0) of m passes when it
/// and every smaller one are at most `alpha / (m − i)`. A gated figure beyond the band that does not pass becomes
/// `unchanged`, with a note; its interval stays as computed.
fn holm(joined: &mut [Joined], alpha: f64) -> Family {
    let mut gated: Vec<(usize, usize, f64)> = Vec::new();
    for (j, jn) in joined.iter().enumerate() {
        for (k, m) in jn.metrics.iter().enumerate() {
            if m.gating {
                let p = m.ratio.as_ref().and_then(|r| r.p_band).unwrap_or(1.0);
                gated.push((j, k, p));
            }
        }
    }
    gated.sort_by(|a, b| a.2.total_cmp(&b.2));
    let m = gated.len();
    let (mut rejected, mut kept) = (0, 0);
    let mut passing = true;
    for (i, &(j, k, p)) in gated.iter().enumerate() {
        passing = passing && p <= alpha / (m - i) as f64;
        let metric = &mut joined[j].metrics[k];
        metric.holm_rejected = Some(passing);
        if passing {
            rejected += 1;
        } else if metric.verdict != Verdict::Unchanged {
            kept += 1;
            metric.verdict = Verdict::Unchanged;
            let why = format!(
                "beyond the band on its own (p = {p:.3}), not after Holm's correction over {m} gated figures"
            );
            metric.note = Some(match metric.note.take() {
                Some(n) => format!("{n}; {why}"),
                None => why,
            });
        }
    }
    Family {
        correction: "holm".into(),
        gated: m,
        rejected,
        kept_unchanged: kept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ratio(lower: f64, upper: f64, p_band: f64) -> Ratio {
        Ratio {
            method: Method::WelchLog,
            ratio: (lower * upper).sqrt(),
            lower: Some(lower),
            upper: Some(upper),
            p_value: None,
            p_band: Some(p_band),
            n_base: 3,
            n_new: 3,
            detectable: Some(0.05),
            samples_needed: None,
        }
    }

    #[test]
    fn the_rule_needs_the_whole_interval_beyond_the_band() {
        let n = 0.02;
        let v = |lo, hi, b| verdict(&ratio(lo, hi, 0.5), b, n);
        assert_eq!(v(0.90, 0.97, Better::Higher), Verdict::Slower);
        assert_eq!(v(1.03, 1.10, Better::Higher), Verdict::Faster);
        // one end inside the band: unchanged, however significant
        assert_eq!(v(0.90, 0.985, Better::Higher), Verdict::Unchanged);
        assert_eq!(v(1.019, 1.10, Better::Higher), Verdict::Unchanged);
        // the band is symmetric on the log scale: its lower edge is 1/1.02, not 0.98
        assert_eq!(v(0.90, 0.980, Better::Higher), Verdict::Slower);
        assert_eq!(
            v(0.90, 1.0 / 1.02 + 1e-9, Better::Higher),
            Verdict::Unchanged
        );
        // an end exactly on the band's edge is not beyond it, either way up
        let (up, down) = (1.0 + n, 1.0 / (1.0 + n));
        for b in [Better::Higher, Better::Lower] {
            assert_eq!(v(0.90, down, b), Verdict::Unchanged);
            assert_eq!(v(up, 1.10, b), Verdict::Unchanged);
        }
        // lower is better for latencies
        assert_eq!(v(1.03, 1.10, Better::Lower), Verdict::Slower);
        assert_eq!(v(0.90, 0.97, Better::Lower), Verdict::Faster);
        let none = Ratio {
            lower: None,
            upper: None,
            ..ratio(0.5, 0.6, 0.0)
        };
        assert_eq!(verdict(&none, Better::Higher, n), Verdict::Unchanged);
    }

    fn joined(ps: &[f64]) -> Vec<Joined> {
        ps.iter()
            .enumerate()
            .map(|(i, &p)| Joined {
                kind: "bench".into(),
                label: format!("case {i}"),
                key: BTreeMap::new(),
                base_sources: vec![],
                new_sources: vec![],
                metrics: vec![
                    metric(
                        "t/s",
                        "t/s",
                        Better::Higher,
                        Some(100.0),
                        Some(90.0),
                        Some(ratio(0.85, 0.95, p)),
                        true,
                        0.02,
                        None,
                    ),
                    // reported, not gated: the correction leaves it alone
                    metric(
                        "J/token",
                        "J/token",
                        Better::Lower,
                        Some(1.0),
                        Some(1.2),
                        Some(ratio(1.1, 1.3, p)),
                        false,
                        0.02,
                        None,
                    ),
                ],
            })
            .collect()
    }

    #[test]
    fn holm_keeps_the_family_wise_error_at_alpha() {
        // four gated figures, each beyond the band on its own at 0.05
        let mut j = joined(&[0.04, 0.01, 0.03, 0.02]);
        let f = holm(&mut j, 0.05);
        // sorted: 0.01 ≤ 0.05/4 passes; 0.02 > 0.05/3 stops the step-down
        assert_eq!((f.gated, f.rejected, f.kept_unchanged), (4, 1, 3));
        let verdicts: Vec<Verdict> = j.iter().map(|j| j.metrics[0].verdict).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Unchanged,
                Verdict::Slower,
                Verdict::Unchanged,
                Verdict::Unchanged
            ]
        );
        assert!(j[0].metrics[0].note.as_ref().unwrap().contains("Holm"));
        assert_eq!(j[0].metrics[0].holm_rejected, Some(false));
        assert_eq!(j[1].metrics[0].holm_rejected, Some(true));
        for x in &j {
            assert_eq!(x.metrics[1].verdict, Verdict::Slower);
            assert_eq!(x.metrics[1].holm_rejected, None);
        }
        // with every p small enough, all stand; one gated figure is tested at alpha itself
        let mut j = joined(&[0.001, 0.002, 0.012, 0.02]);
        assert_eq!(holm(&mut j, 0.05).rejected, 4);
        let mut j = joined(&[0.049]);
        assert_eq!(holm(&mut j, 0.05).rejected, 1);
        assert_eq!(j[0].verdict(), Verdict::Slower);
    }

    #[test]
    fn an_untested_figure_says_why_and_never_gates() {
        let welch = |lower: Option<f64>| Ratio {
            lower,
            upper: lower.map(|l| l * 1.1),
            n_base: 1,
            n_new: 1,
            ..ratio(0.9, 0.99, 0.5)
        };
        let single = Ratio {
            method: Method::Single,
            ..welch(None)
        };
        let m = |base, new, r: Option<Ratio>| {
            metric("t/s", "t/s", Better::Higher, base, new, r, true, 0.02, None)
        };
        let cases = [
            (
                m(Some(0.0), Some(1.0), None),
                "no ratio: the base figure is zero",
            ),
            (m(Some(1.0), None, None), "absent on a side"),
            (m(None, Some(1.0), None), "absent on a side"),
            (
                m(Some(1.0), Some(1.0), Some(single)),
                "one figure per side: not tested",
            ),
            (
                m(Some(1.0), Some(1.0), Some(welch(None))),
                "too few samples to test (n=1/1)",
            ),
        ];
        for (c, why) in cases {
            assert_eq!((c.tested, c.gating), (false, false), "{why}");
            assert_eq!(c.note.as_deref(), Some(why));
        }
        // a tested figure keeps the note it was given (none here) and gates as asked
        let t = m(Some(1.0), Some(1.0), Some(welch(Some(0.9))));
        assert_eq!((t.tested, t.gating, t.note), (true, true, None));
        let reported = metric(
            "t/s",
            "t/s",
            Better::Higher,
            Some(1.0),
            Some(1.0),
            Some(welch(Some(0.9))),
            false,
            0.02,
            None,
        );
        assert!(reported.tested && !reported.gating);
    }

    #[test]
    fn interleaved_bench_rounds_are_judged_on_each_rounds_fastest_repetition() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("results/baselines/ci-small/run-1.json");
        let f = crate::results::read_result(&p).unwrap();
        // eight rounds drifting together on both sides; each run's second repetition disturbed (slower); the
        // new side's fastest is 10% below the base's, ±1% alternately. Means of the repetitions would say 0.8.
        let round = |i: usize, fast: f64, disturbed: f64| {
            let mut r = f.clone();
            let drift = 1.0 + 0.05 * i as f64;
            for c in &mut r.cases {
                c.summary.samples_ts = vec![fast * drift, disturbed * drift];
            }
            load_source(&format!("round-{i:02}.json"), r)
        };
        let base: Vec<Source> = (0..8).map(|i| round(i, 1000.0, 500.0)).collect();
        let new: Vec<Source> = (0..8)
            .map(|i| round(i, 900.0 * if i % 2 == 0 { 1.01 } else { 0.99 }, 300.0))
            .collect();
        let paired = Options {
            paired: true,
            ..Options::default()
        };
        let c = compare(&base, &new, &paired).unwrap();
        assert_eq!(c.joined.len(), 2);
        for j in &c.joined {
            let m = &j.metrics[0];
            let r = m.ratio.as_ref().unwrap();
            assert_eq!(
                (r.method, r.n_base, r.n_new),
                (Method::PairedSignedRank, 8, 8)
            );
            assert!((r.ratio - 0.9).abs() < 0.002, "{r:?}");
            assert!(r.lower.unwrap() < 0.9 && 0.9 < r.upper.unwrap(), "{r:?}");
            assert!(m.gating);
            assert_eq!(m.verdict, Verdict::Slower);
        }
        assert_eq!(c.counts.slower, 2);
        assert!(c.joined.iter().all(|j| j.metrics[0].note.is_none()));
        // a repetition with no finite rate (a zero-length timing) is no round's fastest
        let mut inf = base.clone();
        if let Input::Result(r) = &mut inf[0].input {
            for c in &mut r.cases {
                c.summary.samples_ts.push(f64::INFINITY);
            }
        }
        let i = compare(&inf, &new, &paired).unwrap();
        for (a, b) in i.joined.iter().zip(&c.joined) {
            assert_eq!(a.metrics[0].ratio, b.metrics[0].ratio);
        }
        // a round where one side has no repetition of a case is left out of that case, and the note says so
        let mut gap = new.clone();
        if let Input::Result(r) = &mut gap[7].input {
            r.cases[0].summary.samples_ts.clear();
        }
        let c = compare(&base, &gap, &paired).unwrap();
        let m = &c.joined[0].metrics[0];
        assert_eq!(m.ratio.as_ref().unwrap().n_base, 7);
        assert_eq!(m.note.as_deref(), Some("7 of 8 rounds have both sides"));
        assert_eq!(c.joined[1].metrics[0].ratio.as_ref().unwrap().n_base, 8);
        // one run on a side (even with three on the other): its within-run interval, shown, never gated
        for (b, n) in [(&base[..1], &new[..3]), (&base[..3], &new[..1])] {
            let c = compare(b, n, &Options::default()).unwrap();
            for j in &c.joined {
                let m = &j.metrics[0];
                assert!(!m.gating, "{m:?}");
                assert_eq!(m.note.as_deref(), Some(ONE_RUN));
            }
            assert_eq!(c.family.gated, 0);
        }
        // the same files as separate runs: each run's geometric mean of its repetitions is one sample
        let sep = compare(&base, &new, &Options::default()).unwrap();
        for j in &sep.joined {
            let r = j.metrics[0].ratio.as_ref().unwrap();
            assert_eq!((r.method, r.n_base), (Method::WelchLog, 8));
            let gm = |fast: f64, disturbed: f64| (fast * disturbed).sqrt();
            assert!(
                (r.ratio - gm(900.0, 300.0) / gm(1000.0, 500.0)).abs() < 0.01,
                "{r:?}"
            );
        }
        // a repetition with no rate (zero) is no sample of its run's geometric mean
        let mut zeroed = base.clone();
        for s in &mut zeroed {
            if let Input::Result(r) = &mut s.input {
                for c in &mut r.cases {
                    c.summary.samples_ts.push(0.0);
                }
            }
        }
        let z = compare(&zeroed, &new, &Options::default()).unwrap();
        for (a, b) in z.joined.iter().zip(&sep.joined) {
            assert_eq!(
                a.metrics[0].ratio.as_ref().unwrap().ratio,
                b.metrics[0].ratio.as_ref().unwrap().ratio
            );
        }
        // energy per token: shown, never tested; on one side only it says so
        let with_energy = |v: &[Source], j: f64| -> Vec<Source> {
            let mut v = v.to_vec();
            for s in &mut v {
                if let Input::Result(r) = &mut s.input {
                    for c in &mut r.cases {
                        c.energy[0].total.j_per_token = Some(j);
                    }
                }
            }
            v
        };
        let energy = |b: &[Source], n: &[Source]| {
            let c = compare(b, n, &Options::default()).unwrap();
            let m = c.joined[0]
                .metrics
                .iter()
                .find(|m| m.metric == "J/token")
                .cloned();
            m
        };
        assert!(energy(&base, &new).is_none());
        let one = energy(&with_energy(&base, 2.0), &new).unwrap();
        assert_eq!((one.base, one.new, one.gating), (Some(2.0), None, false));
        assert_eq!(one.note.as_deref(), Some("measured on one side only"));
        let one = energy(&base, &with_energy(&new, 3.0)).unwrap();
        assert_eq!((one.base, one.new), (None, Some(3.0)));
        let both = energy(&with_energy(&base, 2.0), &with_energy(&new, 3.0)).unwrap();
        assert_eq!(
            (both.base, both.new, both.tested),
            (Some(2.0), Some(3.0), false)
        );
        assert_eq!(
            both.note.as_deref(),
            Some("one reading per side: not tested")
        );
        assert!((both.ratio.unwrap().ratio - 1.5).abs() < 1e-12);
    }

    fn load_source(path: &str, f: ResultFile) -> Source {
        Source {
            path: path.into(),
            input: Input::Result(Box::new(f)),
        }
    }

    fn reference_load() -> ResultFile {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("results/reference/slo-goodput-qwen2.5-0.5b-q4_0/load.json");
        crate::results::read_result(&p).unwrap()
    }

    #[test]
    fn unserved_requests_count_against_a_side_as_the_slo_counts_them() {
        let base = reference_load();
        let mut new = base.clone();
        // the rate=2/s level: 27 of its 51 requests got a first token; three more never do on the new side, so
        // its median falls among the unserved
        let level = &mut new.load.as_mut().unwrap().levels[1];
        assert_eq!(level.requests.len(), 51);
        for r in level
            .requests
            .iter_mut()
            .filter(|r| !r.token_ns.is_empty())
            .take(3)
        {
            r.token_ns.clear();
            r.admitted_ns = None;
            r.completed = false;
        }
        let c = compare(
            &[load_source("base.json", base)],
            &[load_source("new.json", new)],
            &Options::default(),
        )
        .unwrap();
        let j = c
            .joined
            .iter()
            .find(|j| j.label.contains("rate=2/s"))
            .unwrap();
        let m = |name: &str| j.metrics.iter().find(|m| m.metric == name).unwrap();
        // served requests alone would give the new side a TTFT p50 from its 24 served requests; censored, it falls
        // among the unserved ones (beyond every measured TTFT): no figure, never "faster", and goodput drops
        assert!(m("ttft_p50").base.is_some());
        assert_eq!(m("ttft_p50").new, None, "{:?}", m("ttft_p50"));
        assert_ne!(m("ttft_p50").verdict, Verdict::Faster);
        assert!(m("ttft_p50")
            .note
            .as_ref()
            .unwrap()
            .contains("never served"));
        assert!(m("goodput").new.unwrap() <= m("goodput").base.unwrap());
    }

    #[test]
    fn different_slos_leave_goodput_out_and_say_why() {
        let base = reference_load();
        let mut new = base.clone();
        new.load.as_mut().unwrap().slo[0].max_ms *= 2.0;
        let c = compare(
            &[load_source("base.json", base)],
            &[load_source("new.json", new)],
            &Options::default(),
        )
        .unwrap();
        for j in &c.joined {
            let g = j.metrics.iter().find(|m| m.metric == "goodput").unwrap();
            assert_eq!((g.base, g.new, g.gating), (None, None, false));
            assert!(g.note.as_ref().unwrap().contains("different SLOs"), "{g:?}");
        }
    }

    #[test]
    fn separate_load_runs_are_replicated_by_run_and_paired_rounds_by_round() {
        let f = reference_load();
        let sources = |n: usize| -> Vec<Source> {
            (0..n)
                .map(|i| load_source(&format!("run{i}.json"), f.clone()))
                .collect()
        };
        // one run a side: within-run bootstrap, not gated
        let one = compare(&sources(1), &sources(1), &Options::default()).unwrap();
        assert!(one
            .joined
            .iter()
            .all(|j| j.metrics.iter().all(|m| !m.gating)));
        assert_eq!(one.family.gated, 0);
        // three runs a side: each run's goodput one sample; goodput gates
        let three = compare(&sources(3), &sources(3), &Options::default()).unwrap();
        for j in &three.joined {
            let g = &j.metrics[0];
            assert_eq!(g.metric, "goodput");
            assert!(g.gating, "{g:?}");
            let r = g.ratio.as_ref().unwrap();
            assert_eq!((r.method, r.n_base, r.n_new), (Method::WelchLog, 3, 3));
            // the other figures are reported only
            assert!(j.metrics[1..].iter().all(|m| !m.gating));
        }
        // paired rounds: round by round
        let paired = Options {
            paired: true,
            ..Options::default()
        };
        let p = compare(&sources(6), &sources(6), &paired).unwrap();
        let r = p.joined[0].metrics[0].ratio.as_ref().unwrap();
        assert_eq!((r.method, r.n_base), (Method::PairedSignedRank, 6));
        // --fail-on names another figure: it gates too
        let named = Options {
            gate: ["ttft_p50".to_string()].into_iter().collect(),
            ..Options::default()
        };
        let c = compare(&sources(3), &sources(3), &named).unwrap();
        let gated: Vec<&str> = c
            .joined
            .iter()
            .find(|j| j.label.contains("rate=2/s"))
            .unwrap()
            .metrics
            .iter()
            .filter(|m| m.gating)
            .map(|m| m.metric.as_str())
            .collect();
        assert_eq!(gated, ["goodput", "ttft_p50"]);
    }
}
