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

mod bench;
mod environment;
mod join;
mod levels;
mod verdict;

use crate::results::llama_bench::LlamaBenchRecord;
use crate::results::ResultFile;
use crate::stats::ratio::Ratio;
use environment::{environment, systems_differ};
use join::{join_cases, join_levels, no_shared_case, Joins};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use verdict::{count_verdicts, holm};

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

/// Joins and judges two sides. `Err` when they share no case or level.
pub fn compare(base: &[Source], new: &[Source], opts: &Options) -> Result<Comparison, String> {
    let mut joins = Joins::default();
    join_cases(base, new, opts, &mut joins);
    join_levels(base, new, opts, &mut joins);
    let Joins {
        mut joined,
        only_base,
        only_new,
        model_differs,
    } = joins;
    if joined.is_empty() {
        return Err(no_shared_case(&only_base, &only_new));
    }

    let environment = environment(base, new);
    let systems_differ = systems_differ(&environment, model_differs);
    let family = holm(&mut joined, opts.alpha);
    let counts = count_verdicts(&joined);
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

#[cfg(test)]
mod tests;
