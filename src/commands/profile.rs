//! `tokenmeter profile`: a candidate machine in one command. It picks the model shapes that fit the device's
//! memory, runs `bench` (pp512, tg128), a rising `load` sweep that stops when goodput stops rising or the SLO is
//! missed, and tg128 at depth 4096, all within a time budget, then writes every result file and the report into
//! one directory. Each phase is an ordinary `bench` or `load` run; what did not fit the budget is skipped, and the
//! summary and the report say so.

use super::cost::{Loaded, Selection};
use super::report::{check_selection, PageFormat, ReportOptions};
use super::{bench, load, InputError};
use crate::config::{Config, ModelEntry, SynthRef};
use crate::estimate::{self, BenchCase, LoadLevel, MeasuredLevel, ModelSize, Rates};
use crate::gguf::{read_model_info, synth};
use crate::preflight;
use crate::results::load::LevelRecord;
use crate::results::slo::SloTerm;
use crate::results::ResultFile;
use crate::runner::load::{Arrivals, Lengths};
use crate::runner::models;
use crate::runner::options::{check_engine, EngineOptions, PhaseLabel, RunOptions};
use crate::runner::progress::short_duration;
use crate::stats::ci::StopRule;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The shapes profiled when `--models` is not given, smallest first, each at q4_0 (the names `models.toml` gives
/// them, so the synthesized files are shared with `bench -m NAME`).
pub const DEFAULT_SHAPES: [&str; 3] = ["llama-3.2-1b", "llama-3.1-8b", "llama-3.1-70b"];
/// llama-bench's standard tests, and the context depth of the long-context generation test.
pub const PROMPT_TOKENS: u32 = 512;
pub const GEN_TOKENS: u32 = 128;
pub const DEPTH_TOKENS: u32 = 4096;
/// The load sweep's objective when neither `--slo` nor `--workload` gives one: interactive chat, the first token
/// within 2 s and then at least ten tokens a second.
pub const DEFAULT_SLO: &str = "ttft_p95=2s,itl_p95=100ms";
/// The load sweep's highest concurrency (levels double from 1).
pub const MAX_CONCURRENCY: u32 = 256;
/// Request lengths of the load sweep when no workload gives them (`load`'s defaults).
pub const DEFAULT_REQUEST_TOKENS: u32 = load::DEFAULT_REQUEST_TOKENS;
/// Output tokens per request of `--quick`'s load sweep when no workload gives them: a level of 20 requests then
/// fits a few-minute budget on a CPU, and each request still has 31 inter-token gaps.
pub const QUICK_OUTPUT_TOKENS: u32 = 32;
/// Share of the time left that a model's bench leaves to its load sweep, which follows it: the sweep's operating
/// point is what the report's cost rests on, so the bench gives up repetitions before the sweep gives up levels.
pub const LOAD_SHARE: f64 = 0.6;
/// How long past its deadline a phase's worker may run, as a share of the budget, before it is stopped: the
/// repetition or level in flight is given that long to finish.
pub const OVERRUN_SHARE: f64 = 0.05;
/// No calibration run below this budget (the phases then run without estimates, each within its deadline); the
/// calibration is stopped after [`CALIBRATION_SHARE`] of the budget.
const CALIBRATION_MIN: Duration = Duration::from_secs(20);
const CALIBRATION_SHARE: f64 = 0.1;
/// Memory a model needs beyond its weights before it is tried: KV cache, compute buffers, the process.
const HEADROOM_BYTES: u64 = 1 << 30;

pub struct ProfileOptions {
    /// Fewer repetitions and a short default budget.
    pub quick: bool,
    /// `[[model]]` names or GGUF files; empty: [`DEFAULT_SHAPES`] that fit.
    pub models: Vec<String>,
    /// `None`: 15 minutes, `--quick` 4 minutes.
    pub budget: Option<Duration>,
    /// `None`: `results/profile-<date>-<host>`.
    pub out_dir: Option<PathBuf>,
    /// `None`: the workload's, else [`DEFAULT_SLO`].
    pub slo: Option<Vec<SloTerm>>,
    /// `None`: physical cores.
    pub n_threads: Option<u32>,
    pub n_gpu_layers: i32,
    /// The report's pricing: configuration, hardware, workload (also the load sweep's request lengths and SLO)
    /// and cloud offerings.
    pub selection: Selection,
    /// Every phase's run options start from these (telemetry, stop flags, verbosity, worker isolation).
    pub run: RunOptions,
}

impl ProfileOptions {
    pub fn budget(&self) -> Duration {
        self.budget.unwrap_or(if self.quick {
            Duration::from_secs(4 * 60)
        } else {
            Duration::from_secs(15 * 60)
        })
    }

    /// Output tokens per load request when no workload gives them: [`QUICK_OUTPUT_TOKENS`] with `--quick`, else
    /// `load`'s default.
    pub fn default_output_tokens(&self) -> u32 {
        if self.quick {
            QUICK_OUTPUT_TOKENS
        } else {
            DEFAULT_REQUEST_TOKENS
        }
    }

    pub fn repetitions(&self) -> u32 {
        if self.quick {
            3
        } else {
            5
        }
    }
}

/// A model the profile may measure: a catalogue entry (synthesized on first use) or a file.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub name: String,
    pub entry: ModelEntry,
    pub size: ModelSize,
    /// Synthesized and not yet in the cache: writing it is part of its first phase.
    pub needs_synth: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bench,
    Load,
    Depth,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Bench => "bench pp512 tg128",
            Kind::Load => "load sweep",
            Kind::Depth => "bench tg128 @ d4096",
        }
    }

    fn file_suffix(self) -> &'static str {
        match self {
            Kind::Bench => "bench",
            Kind::Load => "load",
            Kind::Depth => "depth",
        }
    }
}

/// The phases in the order they run: each model's bench and then its load sweep, smallest model first, then the
/// long-context tests — so a short budget keeps whole pictures of the models it reaches.
pub fn phases(n_models: usize) -> Vec<(Kind, usize)> {
    let mut p: Vec<(Kind, usize)> = (0..n_models)
        .flat_map(|m| [(Kind::Bench, m), (Kind::Load, m)])
        .collect();
    p.extend((0..n_models).map(|m| (Kind::Depth, m)));
    p
}

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

/// Why a model of `file_bytes` does not fit `free_bytes` of device memory, or `None`.
pub fn does_not_fit(file_bytes: u64, free_bytes: Option<u64>, memory: &str) -> Option<String> {
    let free = free_bytes?;
    let need = file_bytes + file_bytes / 10 + HEADROOM_BYTES;
    (need > free).then(|| {
        format!(
            "needs ~{} of {memory} (weights {} + KV, buffers), {} free",
            preflight::memory::size(need),
            preflight::memory::size(file_bytes),
            preflight::memory::size(free)
        )
    })
}

/// Why the depth test does not suit a model trained on `n_ctx_train` positions, or `None`.
pub fn short_context(n_ctx_train: Option<u64>) -> Option<String> {
    let need = (DEPTH_TOKENS + GEN_TOKENS) as u64;
    n_ctx_train.filter(|n| *n < need).map(|n| {
        format!("the model's trained context ({n} tokens) is shorter than depth {DEPTH_TOKENS} + {GEN_TOKENS}")
    })
}

/// A warning when other work keeps the CPUs busy (a quarter of their time or more, over a short look before
/// anything runs): llama.cpp's threads wait on each other at every operation, so one descheduled thread stalls
/// them all, and generation on a busy CPU can be many times slower than on an idle one.
pub fn busy_machine(cpu_busy_percent: f32, cpus: usize) -> Option<String> {
    (cpu_busy_percent >= 25.0).then(|| {
        format!(
            "the machine is busy (its {cpus} CPUs {cpu_busy_percent:.0}% in use by other work): its rates will \
             be lower and noisier than on an idle machine"
        )
    })
}

/// How busy the CPUs are, in percent of all of them, over half a second; `None` when it cannot be read.
fn cpu_busy_percent() -> Option<f32> {
    let mut s = sysinfo::System::new().ok()?;
    s.refresh_cpu_usage();
    std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL.max(Duration::from_millis(500)));
    s.refresh_cpu_usage();
    Some(s.global_cpu_usage())
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

/// What became of one phase.
#[derive(Debug, Clone)]
pub enum Status {
    Done {
        summary: String,
    },
    /// Ran, but some cases or levels failed (the result file's `failed` says why).
    CasesFailed {
        summary: String,
    },
    Failed(String),
    Skipped(String),
    Interrupted,
}

#[derive(Debug, Clone)]
pub struct PhaseRecord {
    pub kind: Kind,
    pub model: String,
    pub estimate_s: Option<f64>,
    pub took_s: Option<f64>,
    pub status: Status,
    pub result: Option<PathBuf>,
}

pub struct ProfileOutcome {
    pub dir: PathBuf,
    pub device: String,
    pub budget: Duration,
    /// Wall time from the start to the end of the last phase: what the budget bounds.
    pub took: Duration,
    /// The calibration run's wall time (it includes the host's one-time measurements when they were not cached),
    /// or why it did not run.
    pub calibration: Result<Duration, String>,
    pub phases: Vec<PhaseRecord>,
    /// Models left out before any phase, each with why.
    pub models_left_out: Vec<String>,
    pub report: Option<PathBuf>,
    /// Why the report was not written.
    pub report_error: Option<String>,
    pub interrupted: bool,
}

impl ProfileOutcome {
    pub fn any_failed(&self) -> bool {
        self.phases
            .iter()
            .any(|p| matches!(p.status, Status::Failed(_) | Status::CasesFailed { .. }))
    }

    /// The phases as a markdown table, with the models left out and the budget.
    pub fn summary(&self) -> String {
        let dur = |s: Option<f64>| {
            s.map_or_else(
                || crate::report::ABSENT.to_string(),
                |s| short_duration(Duration::from_secs_f64(s)),
            )
        };
        let mut out = format!(
            "profile of {} — budget {}, results in {}\n\n| # | phase | model | estimate | took | outcome |\n|---|---|---|---|---|---|\n",
            self.device,
            short_duration(self.budget),
            self.dir.display()
        );
        for (i, p) in self.phases.iter().enumerate() {
            let outcome = match &p.status {
                Status::Done { summary } => summary.clone(),
                Status::CasesFailed { summary } => format!("{summary}; some cases failed"),
                Status::Failed(why) => format!("failed: {why}"),
                Status::Skipped(why) => format!("skipped: {why}"),
                Status::Interrupted => "interrupted (Ctrl-C)".into(),
            };
            out += &format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                i + 1,
                p.kind.label(),
                p.model,
                match (p.kind, p.estimate_s) {
                    // later levels are estimated one at a time, from the level before
                    (Kind::Load, Some(_)) => format!("{} (c=1)", dur(p.estimate_s)),
                    _ => dur(p.estimate_s),
                },
                dur(p.took_s),
                outcome.replace('|', "\\|")
            );
        }
        out += &format!(
            "\ncalibration (one pp64 and tg16 run, not a result): {}\nphases ended {} after the start, of a budget of {}\n",
            match &self.calibration {
                Ok(d) => short_duration(*d),
                Err(why) => format!("not run: {why}"),
            },
            short_duration(self.took),
            short_duration(self.budget)
        );
        for m in &self.models_left_out {
            out += &format!("\nleft out: {m}");
        }
        if !self.models_left_out.is_empty() {
            out.push('\n');
        }
        out
    }

    /// One line per phase that did not run, for the report.
    fn remarks(&self) -> Vec<String> {
        let mut r: Vec<String> = self
            .models_left_out
            .iter()
            .map(|m| format!("profile: model left out — {m}"))
            .collect();
        for p in &self.phases {
            let why = match &p.status {
                Status::Skipped(why) => why.clone(),
                Status::Failed(why) => format!("failed: {why}"),
                Status::Interrupted => "interrupted (Ctrl-C)".into(),
                _ => continue,
            };
            r.push(format!(
                "profile: {} of {} not measured — {why}",
                p.kind.label(),
                p.model
            ));
        }
        r
    }
}

fn default_candidates() -> Vec<ModelEntry> {
    DEFAULT_SHAPES
        .iter()
        .map(|shape| ModelEntry {
            name: format!("{shape}-q4_0"),
            path: None,
            synth: Some(SynthRef {
                shape: (*shape).into(),
                weight_type: "q4_0".into(),
                seed: 1,
            }),
            notes: None,
        })
        .collect()
}

/// A synthesized entry already in the cache.
fn cached(entry: &ModelEntry) -> bool {
    entry
        .synth
        .as_ref()
        .is_some_and(|s| models::synth_path(s).exists())
}

fn candidate(entry: ModelEntry, config_dir: &Path) -> anyhow::Result<Candidate> {
    if let Some(s) = &entry.synth {
        let spec = s
            .to_spec()
            .map_err(|e| InputError(format!("model '{}': {e}", entry.name)))?;
        let plan = synth::plan(&spec);
        return Ok(Candidate {
            name: entry.name.clone(),
            size: ModelSize {
                file_size_bytes: plan.file_size_bytes,
                n_params: plan.n_params,
                weights_read_per_token_bytes: plan.weights_read_per_token_bytes,
            },
            needs_synth: !cached(&entry),
            entry,
        });
    }
    let path = entry.path.clone().unwrap_or_default();
    let path = if path.is_relative() {
        config_dir.join(path)
    } else {
        path
    };
    let info = read_model_info(&path)?;
    Ok(Candidate {
        name: entry.name.clone(),
        size: ModelSize {
            file_size_bytes: info.file_size_bytes,
            n_params: info.n_params,
            weights_read_per_token_bytes: info.weights_read_per_token_bytes,
        },
        needs_synth: false,
        entry,
    })
}

/// `--models` (names of `[[model]]` entries, or files) or the default shapes, smallest first.
fn candidates(
    names: &[String],
    config: &Config,
    config_dir: &Path,
) -> anyhow::Result<Vec<Candidate>> {
    let entries: Vec<ModelEntry> = if names.is_empty() {
        default_candidates()
    } else {
        names
            .iter()
            .map(|n| {
                let p = Path::new(n);
                if p.is_file() {
                    let stem = p
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_else(|| n.clone());
                    return Ok(ModelEntry {
                        name: stem,
                        path: Some(std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())),
                        synth: None,
                        notes: None,
                    });
                }
                config.model(n).cloned().ok_or_else(|| {
                    InputError(format!(
                        "--models: {n}: no such file, and no [[model]] named '{n}' in the configuration"
                    ))
                })
            })
            .collect::<Result<_, _>>()?
    };
    let mut out = entries
        .into_iter()
        .map(|e| candidate(e, config_dir))
        .collect::<anyhow::Result<Vec<_>>>()?;
    out.sort_by_key(|c| c.size.file_size_bytes);
    Ok(out)
}

/// A file name made of the model's name.
fn file_stem(name: &str) -> String {
    crate::fsutil::file_name_part(name)
}

fn default_dir(host: &crate::results::HostInfo) -> PathBuf {
    let host = host.hostname.clone().unwrap_or_else(|| "host".into());
    PathBuf::from("results").join(format!(
        "profile-{}-{}",
        chrono::Utc::now().format("%Y-%m-%dT%H%M%S"),
        file_stem(&host)
    ))
}

fn engine(o: &ProfileOptions) -> EngineOptions {
    EngineOptions {
        n_threads: o.n_threads,
        n_gpu_layers: o.n_gpu_layers,
        n_batch: 2048,
        n_ubatch: 512,
        flash_attn: -1,
        no_kv_offload: false,
        type_k: "f16".into(),
        type_v: "f16".into(),
        use_mmap: true,
        repack: true,
    }
}

/// The pp512 and tg128 (or tg128 at depth) rates of a bench result.
fn rates(r: &ResultFile) -> (Option<f64>, Option<f64>) {
    let rate = |f: &dyn Fn(&crate::results::CaseRecord) -> bool| {
        r.cases
            .iter()
            .filter(|c| f(c))
            .find_map(|c| c.summary.avg_ts)
    };
    (
        rate(&|c| c.n_prompt > 0 && c.n_gen == 0),
        rate(&|c| c.n_prompt == 0 && c.n_gen > 0),
    )
}

/// The load sweep's request lengths (means) and SLO: `--slo`, else the workload's, else [`DEFAULT_SLO`].
struct Shape {
    /// Mean request lengths.
    input: f64,
    output: f64,
    /// The longest request: the positions one sequence needs.
    longest: u32,
    slo: Option<Vec<SloTerm>>,
    slo_note: String,
}

fn request_shape(o: &ProfileOptions, loaded: Option<&Loaded>) -> anyhow::Result<Shape> {
    let workload = match (&o.selection.workload, loaded) {
        (Some(_), Some(l)) => Some(l.workload(&o.selection)?.0.entry.clone()),
        _ => None,
    };
    let (input, output) = workload.as_ref().map_or(
        (
            DEFAULT_REQUEST_TOKENS as f64,
            o.default_output_tokens() as f64,
        ),
        |w| {
            (
                w.input_tokens_per_request.mean().max(1.0),
                w.output_tokens_per_request.mean().max(1.0),
            )
        },
    );
    let longest =
        workload
            .as_ref()
            .map_or(DEFAULT_REQUEST_TOKENS + o.default_output_tokens(), |w| {
                longest_tokens(&w.input_tokens_per_request)
                    + longest_tokens(&w.output_tokens_per_request)
            });
    let workload_has_slo = workload.as_ref().is_some_and(|w| !w.slo.is_empty());
    let (slo, slo_note) = match (&o.slo, workload_has_slo) {
        (Some(s), _) => (Some(s.clone()), "--slo".to_string()),
        (None, true) => (None, "the workload's".to_string()),
        (None, false) => (
            Some(crate::results::slo::parse_slo(DEFAULT_SLO).expect("the default SLO parses")),
            format!("default {DEFAULT_SLO}"),
        ),
    };
    Ok(Shape {
        input,
        output,
        longest,
        slo,
        slo_note,
    })
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

/// The concurrency levels whose memory estimate fits what is free (all of them when nothing is known).
fn fitting_levels(
    path: &Path,
    shape: &Shape,
    e: &EngineOptions,
    host: &preflight::memory::HostFacts,
    free: &preflight::memory::FreeMemory,
) -> Vec<u32> {
    let facts = preflight::model_facts(path).ok().and_then(|(f, _)| f);
    // the longest request: what each sequence's KV cells must hold
    let out = (shape.output.round() as u32).clamp(1, shape.longest.max(2) - 1);
    let input = Lengths::Fixed(shape.longest.saturating_sub(out).max(1));
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

/// `tokenmeter profile`.
pub fn run(o: &ProfileOptions) -> anyhow::Result<ProfileOutcome> {
    let started = Instant::now();
    let budget = o.budget();
    let deadline = started + budget;
    let left = || deadline.saturating_duration_since(Instant::now());
    let host = crate::results::HostInfo::collect();
    let dir = o.out_dir.clone().unwrap_or_else(|| default_dir(&host));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(InputError(format!(
            "{}: exists and is not empty; a profile writes into a new or empty directory (-o DIR)",
            dir.display()
        ))
        .into());
    }
    let config = Config::load(o.run.config.as_deref())?;
    let config_dir = o
        .run
        .config
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    // The report's entries are checked before anything is measured: a wrong name is the user's to fix.
    let loaded = match Loaded::read(&o.selection) {
        Ok(l) => {
            check_selection(&l, &o.selection)?;
            Some(l)
        }
        Err(e) if o.selection.config.is_none() => {
            eprintln!("note: the report will not price the results: {e:#}");
            None
        }
        Err(e) => return Err(e),
    };
    let shape = request_shape(o, loaded.as_ref())?;
    let engine_opts = engine(o);
    check_engine(&engine_opts)?;
    let all = candidates(&o.models, &config, &config_dir)?;

    let build = crate::engine::build_info(o.run.verbose)?;
    let mut host_facts = preflight::host_facts_of(&host, &build);
    host_facts.has_gpu &= o.n_gpu_layers != 0;
    let free = preflight::measure_free(&build, host_facts.has_gpu)?;
    let (device, free_bytes, memory) = if host_facts.has_gpu && !free.gpus.is_empty() {
        (
            free.gpus
                .iter()
                .map(|g| g.name.clone())
                .collect::<Vec<_>>()
                .join(", "),
            Some(free.gpus.iter().map(|g| g.free_bytes).sum::<u64>()),
            "GPU memory",
        )
    } else {
        (
            format!(
                "CPU ({})",
                host.cpu_model.as_deref().unwrap_or("unknown model")
            ),
            free.ram_bytes,
            "RAM",
        )
    };
    let mut models_left_out = Vec::new();
    let mut fit: Vec<Candidate> = all
        .into_iter()
        .filter(
            |c| match does_not_fit(c.size.file_size_bytes, free_bytes, memory) {
                Some(why) => {
                    models_left_out.push(format!("{}: {why}", c.name));
                    false
                }
                None => true,
            },
        )
        .collect();
    if fit.is_empty() {
        return Err(InputError(format!(
            "no model fits this device: {}",
            models_left_out.join("; ")
        ))
        .into());
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| InputError(format!("{}: cannot create: {e}", dir.display())))?;
    if let Some(busy) = cpu_busy_percent().and_then(|p| busy_machine(p, host.cpu_logical_cpus)) {
        eprintln!("warning: {busy}");
    }

    let calibration_start = Instant::now();
    let calibration = (budget >= CALIBRATION_MIN)
        .then(|| {
            let until = started + budget.mul_f64(CALIBRATION_SHARE);
            calibrate(o, &fit[0], &config_dir, &engine_opts, until)
        })
        .flatten();
    let calibration_took = if budget < CALIBRATION_MIN {
        Err(format!(
            "a budget under {}",
            short_duration(CALIBRATION_MIN)
        ))
    } else if calibration.is_none() {
        Err(format!(
            "did not measure rates in {}",
            short_duration(calibration_start.elapsed())
        ))
    } else {
        Ok(calibration_start.elapsed())
    };
    for c in &mut fit {
        c.needs_synth = c.needs_synth && !cached(&c.entry);
    }
    let plan = phases(fit.len());
    let mut records: Vec<PhaseRecord> = Vec::new();
    let mut speeds: Vec<Option<Rates>> = vec![None; fit.len()];
    let mut paths: Vec<Option<PathBuf>> = vec![None; fit.len()];
    let mut idle_from: Option<PathBuf> = None;
    let mut telemetry = o.run.telemetry.clone();
    for (n, &(kind, m)) in plan.iter().enumerate() {
        let c = &fit[m];
        let mut record = PhaseRecord {
            kind,
            model: c.name.clone(),
            estimate_s: None,
            took_s: None,
            status: Status::Skipped(String::new()),
            result: None,
        };
        if o.run.stopped() {
            record.status = Status::Interrupted;
            records.push(record);
            continue;
        }
        // The nearest measured model's rates, scaled to this one.
        let known = speeds[m]
            .or_else(|| {
                (0..fit.len())
                    .filter_map(|k| speeds[k].map(|s| (k, s)))
                    .min_by_key(|(k, _)| k.abs_diff(m))
                    .map(|(k, s)| s.scaled(&fit[k].size, &c.size))
            })
            .or_else(|| calibration.map(|s| s.scaled(&fit[0].size, &c.size)));
        let c_now = Candidate {
            needs_synth: c.needs_synth && paths[m].is_none(),
            ..c.clone()
        };
        let first_level = LoadLevel {
            requests: load::default_requests(1),
            input_tokens: shape.input,
            output_tokens: shape.output,
            slots: 1,
        };
        let allotted = allotment(&plan, n, left());
        let mut repetitions = o.repetitions();
        let estimate = |reps: u32| {
            known.map(|r| match kind {
                Kind::Load => load_phase_secs(&first_level, &r, &c_now),
                _ => bench_phase_secs(kind, reps + 1, &r, &c_now),
            })
        };
        if kind != Kind::Load {
            // Fewer repetitions rather than none: the smallest count down to 1 that fits the time left.
            while repetitions > 1
                && estimate(repetitions).is_some_and(|e| e > allotted.as_secs_f64())
            {
                repetitions -= 1;
            }
        }
        record.estimate_s = estimate(repetitions);
        if kind != Kind::Bench && speeds[m].is_none() {
            record.status = Status::Skipped(format!(
                "its {} did not measure the rates this phase needs",
                Kind::Bench.label()
            ));
            records.push(record);
            continue;
        }
        let why_not = match record.estimate_s {
            Some(est) => over_budget(est, allotted),
            None if allotted.is_zero() => Some("the time budget is spent".into()),
            None => None,
        };
        if let Some(why) = why_not {
            record.status = Status::Skipped(why);
            records.push(record);
            continue;
        }
        let phase_start = Instant::now();
        let (phase_end, stop_at) = phase_deadlines(phase_start, allotted, deadline, budget);
        let path = match &paths[m] {
            Some(p) => p.clone(),
            None => match models::materialize(&c.entry, &config_dir, &o.run.stop) {
                Ok(p) => {
                    paths[m] = Some(p.clone());
                    p
                }
                Err(e) => {
                    record.status = if o.run.stopped() {
                        Status::Interrupted
                    } else {
                        Status::Failed(crate::text::one_line(&format!("{e:#}")))
                    };
                    records.push(record);
                    continue;
                }
            },
        };
        let trained = preflight::model_facts(&path).ok().and_then(|(_, n)| n);
        if kind == Kind::Load {
            if let Some(why) = requests_too_long(shape.longest, trained) {
                record.status = Status::Skipped(why);
                records.push(record);
                continue;
            }
        }
        if kind == Kind::Depth {
            if let Some(why) = short_context(trained) {
                record.status = Status::Skipped(why);
                records.push(record);
                continue;
            }
        }
        let out = dir.join(format!(
            "{}-{}.json",
            file_stem(&c.name),
            kind.file_suffix()
        ));
        let mut run = o.run.clone();
        run.out = Some(out.clone());
        run.results_dir = dir.clone();
        run.resume = None;
        run.save_baseline = None;
        run.phase = Some(PhaseLabel {
            text: format!(
                "profile {}/{}: {} {}",
                n + 1,
                plan.len(),
                kind.label(),
                c.name
            ),
            deadline: Some(phase_end),
        });
        run.hard_deadline = Some(stop_at);
        run.telemetry = telemetry.clone();
        let model = path.display().to_string();
        let outcome: anyhow::Result<ResultFile> = match kind {
            Kind::Bench | Kind::Depth => {
                let (n_prompt, n_depth) = if kind == Kind::Bench {
                    (vec![PROMPT_TOKENS], vec![0])
                } else {
                    (vec![0], vec![DEPTH_TOKENS])
                };
                let cases = (n_prompt.len() + 1) as f64;
                // Each case's repetitions stop at its share of the phase, less what loading and warming up
                // take (a fifth of it, when nothing better is known).
                let max_time = phase_end
                    .saturating_duration_since(Instant::now())
                    .mul_f64(0.8 / cases);
                bench::run(&bench_options(
                    o,
                    &engine_opts,
                    model,
                    BenchTests {
                        n_prompt,
                        n_gen: GEN_TOKENS,
                        n_depth,
                        repetitions,
                        warmup_runs: 1,
                        max_time: Some(max_time),
                    },
                    run,
                ))
                .map(|b| b.result)
            }
            Kind::Load => {
                let levels = fitting_levels(&path, &shape, &engine_opts, &host_facts, &free);
                let output = shape.output;
                let size = c.size;
                let gate_deadline = phase_end;
                load::run(&load::LoadOptions {
                    model: Some(model),
                    concurrency: levels,
                    rates: Vec::new(),
                    parallel: None,
                    input_tokens: o
                        .selection
                        .workload
                        .is_none()
                        .then_some(Lengths::Fixed(DEFAULT_REQUEST_TOKENS)),
                    output_tokens: o
                        .selection
                        .workload
                        .is_none()
                        .then_some(Lengths::Fixed(o.default_output_tokens())),
                    workload: o.selection.workload.clone(),
                    requests: None,
                    duration: None,
                    slo: shape.slo.clone(),
                    engine: engine(o),
                    seed: 1,
                    run,
                    force: false,
                    until_saturated: true,
                    burst: false,
                    http: None,
                    gate: Some(Box::new(move |a: &Arrivals, done: &[LevelRecord]| {
                        let previous = done.last()?;
                        let measured = MeasuredLevel {
                            output_tokens_per_s: previous.summary.output_tokens_per_s,
                            duration_s: previous.summary.duration_s,
                        };
                        let requests = load::default_requests(a.slots());
                        let est = estimate::next_load_level_s(&size, requests, output, &measured);
                        over_budget(est, gate_deadline.saturating_duration_since(Instant::now()))
                    })),
                })
                .map(|l| l.result)
            }
        };
        record.took_s = Some(phase_start.elapsed().as_secs_f64());
        match outcome {
            Err(e) => {
                record.status = if o.run.stopped() {
                    Status::Interrupted
                } else {
                    Status::Failed(crate::text::one_line(&format!("{e:#}")))
                };
            }
            Ok(result) => {
                record.result = Some(out.clone());
                let mut summary = phase_summary(kind, &result, &shape.slo_note);
                if kind != Kind::Load && repetitions < o.repetitions() {
                    summary += &format!(
                        " ({repetitions} repetitions instead of {} to fit the time budget)",
                        o.repetitions()
                    );
                }
                if kind == Kind::Bench {
                    if let (Some(pp), Some(tg)) = rates(&result) {
                        speeds[m] = Rates::measured(pp, tg);
                    }
                }
                if idle_from.is_none()
                    && result
                        .telemetry
                        .as_ref()
                        .is_some_and(|t| !t.idle.is_empty())
                {
                    idle_from = Some(out.clone());
                    telemetry.idle_from = idle_from.clone();
                }
                record.status = if result.interrupted {
                    Status::Interrupted
                } else if !result.failed.is_empty() {
                    Status::CasesFailed { summary }
                } else {
                    Status::Done { summary }
                };
            }
        }
        eprintln!(
            "profile {}/{}: {} {}: {}",
            n + 1,
            plan.len(),
            kind.label(),
            c.name,
            match &record.status {
                Status::Done { summary } | Status::CasesFailed { summary } => summary.clone(),
                Status::Failed(w) => format!("failed: {w}"),
                Status::Skipped(w) => format!("skipped: {w}"),
                Status::Interrupted => "interrupted".into(),
            }
        );
        records.push(record);
    }

    let interrupted = o.run.stopped();
    let mut outcome = ProfileOutcome {
        dir: dir.clone(),
        device,
        budget,
        took: started.elapsed(),
        calibration: calibration_took,
        phases: records,
        models_left_out,
        report: None,
        report_error: None,
        interrupted,
    };
    let wrote_any = outcome.phases.iter().any(|p| p.result.is_some());
    if wrote_any {
        let remarks = outcome.remarks();
        let report = |out: PathBuf, format| {
            super::report::run(&ReportOptions {
                inputs: vec![dir.clone()],
                out: Some(out),
                format,
                selection: o.selection.clone(),
                relative_to: None,
                remarks: remarks.clone(),
            })
        };
        let html = dir.join("report.html");
        match report(html.clone(), PageFormat::Html)
            .and_then(|_| report(dir.join("report.md"), PageFormat::Markdown))
        {
            Ok(_) => outcome.report = Some(html),
            Err(e) => outcome.report_error = Some(crate::text::one_line(&format!("{e:#}"))),
        }
    } else {
        outcome.report_error = Some("no phase wrote a result file".into());
    }
    let nothing_ran = outcome
        .phases
        .iter()
        .all(|p| matches!(&p.status, Status::Skipped(_)));
    let summary = format!(
        "# tokenmeter profile\n\ncommand: {}\n\n{}",
        o.run.command_line.join(" "),
        outcome.summary()
    );
    crate::fsutil::write_atomic(&dir.join("profile.md"), summary.as_bytes())
        .map_err(|e| InputError(format!("{}: cannot write: {e}", dir.display())))?;
    if nothing_ran {
        return Err(InputError(format!(
            "the time budget of {} left no phase to run (estimates in {})",
            short_duration(budget),
            dir.join("profile.md").display()
        ))
        .into());
    }
    Ok(outcome)
}

/// The tests of one bench phase.
struct BenchTests {
    n_prompt: Vec<u32>,
    n_gen: u32,
    n_depth: Vec<u32>,
    repetitions: u32,
    warmup_runs: u32,
    /// Each case's repetitions stop once this much measuring time has passed (after at least one).
    max_time: Option<Duration>,
}

/// A bench run of `model` with the profile's engine settings.
fn bench_options(
    o: &ProfileOptions,
    e: &EngineOptions,
    model: String,
    t: BenchTests,
    run: RunOptions,
) -> bench::BenchOptions {
    bench::BenchOptions {
        models: vec![model],
        n_prompt: t.n_prompt,
        n_gen: vec![t.n_gen],
        pg: Vec::new(),
        n_depth: t.n_depth,
        stop_rule: StopRule {
            max_time_ns: t.max_time.map(|d| d.as_nanos() as u64),
            ..StopRule::fixed(t.repetitions)
        },
        n_threads: o.n_threads.map(|t| vec![t]),
        n_gpu_layers: vec![o.n_gpu_layers],
        repack: vec![e.repack],
        n_batch: vec![e.n_batch],
        n_ubatch: vec![e.n_ubatch],
        flash_attn: vec![e.flash_attn],
        no_kv_offload: vec![e.no_kv_offload],
        type_k: vec![e.type_k.clone()],
        type_v: vec![e.type_v.clone()],
        use_mmap: e.use_mmap,
        warmup_runs: t.warmup_runs,
        seed: 1,
        run,
        force: false,
    }
}

/// Rough rates of the smallest model before anything is planned: one run of pp64 and tg16, no warm-up, no
/// sensors, into a temporary directory (never part of the profile's results). `None` when it did not run.
fn calibrate(
    o: &ProfileOptions,
    smallest: &Candidate,
    config_dir: &Path,
    e: &EngineOptions,
    until: Instant,
) -> Option<Rates> {
    let path = models::materialize(&smallest.entry, config_dir, &o.run.stop).ok()?;
    let tmp = tempfile::tempdir().ok()?;
    let mut run = o.run.clone();
    run.out = Some(tmp.path().join("calibration.json"));
    run.results_dir = tmp.path().to_path_buf();
    run.resume = None;
    run.save_baseline = None;
    run.telemetry.enabled = false;
    run.telemetry.idle = Duration::ZERO;
    run.telemetry.idle_from = None;
    run.phase = Some(PhaseLabel {
        text: format!("profile: calibrating on {}", smallest.name),
        deadline: None,
    });
    run.hard_deadline = Some(until);
    let tests = BenchTests {
        n_prompt: vec![64],
        n_gen: 16,
        n_depth: vec![0],
        repetitions: 1,
        warmup_runs: 0,
        max_time: None,
    };
    let r = bench::run(&bench_options(o, e, path.display().to_string(), tests, run)).ok()?;
    match rates(&r.result) {
        (Some(pp_tps), Some(tg_tps)) => Rates::measured(pp_tps, tg_tps),
        _ => None,
    }
}

/// One line of what a phase measured.
fn phase_summary(kind: Kind, r: &ResultFile, slo_note: &str) -> String {
    let ts = |v: Option<f64>| {
        v.map_or_else(
            || crate::report::ABSENT.to_string(),
            |v| format!("{v:.2} t/s"),
        )
    };
    match kind {
        Kind::Bench => {
            let (pp, tg) = rates(r);
            format!("pp512 {}, tg128 {}", ts(pp), ts(tg))
        }
        Kind::Depth => format!("tg128 @ d4096 {}", ts(rates(r).1)),
        Kind::Load => {
            let Some(sweep) = &r.load else {
                return "no sweep".into();
            };
            let levels: Vec<String> = sweep
                .levels
                .iter()
                .filter_map(|l| l.summary.concurrency.map(|c| format!("c={c}")))
                .collect();
            let op = sweep.operating_point.as_ref().map_or_else(
                || format!("no level met the SLO ({slo_note})"),
                |op| {
                    format!(
                        "operating point c={} at {} goodput (SLO: {slo_note})",
                        op.concurrency.map_or_else(|| "?".into(), |c| c.to_string()),
                        ts(op.goodput_output_tokens_per_s)
                    )
                },
            );
            let stop = sweep
                .stopped_early
                .as_ref()
                .map(|s| format!("; stopped after {}: {}", s.after, s.reason))
                .unwrap_or_default();
            format!("levels {}; {op}{stop}", levels.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2 GB model: its worker's start and model load take 0.01 s + 1 s, hashing it 2 / 0.35 s.
    fn two_gb() -> Candidate {
        Candidate {
            name: "m".into(),
            entry: default_candidates()[0].clone(),
            size: ModelSize {
                file_size_bytes: 2_000_000_000,
                n_params: 1_000_000_000,
                weights_read_per_token_bytes: 1_800_000_000,
            },
            needs_synth: false,
        }
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    #[test]
    fn phases_run_each_models_bench_and_load_then_the_depths() {
        let p = phases(2);
        assert_eq!(
            p,
            vec![
                (Kind::Bench, 0),
                (Kind::Load, 0),
                (Kind::Bench, 1),
                (Kind::Load, 1),
                (Kind::Depth, 0),
                (Kind::Depth, 1)
            ]
        );
    }

    #[test]
    fn a_bench_phase_counts_its_run_start_hashing_synthesis_and_every_run_of_each_case() {
        let mut c = two_gb();
        let r = Rates::measured(512.0, 128.0).unwrap();
        let run_start = 0.01 + 2e9 / 0.35e9;
        // pp512 and tg128: 2 cases × (start 1.01 s + 4 runs × 1 s).
        close(
            bench_phase_secs(Kind::Bench, 4, &r, &c),
            run_start + 2.0 * (1.01 + 4.0),
        );
        // tg128 at depth 4096: one case, 4 runs × (4096 / 512 s + 128 / (128 × 0.7) s).
        close(
            bench_phase_secs(Kind::Depth, 4, &r, &c),
            run_start + 1.01 + 4.0 * (8.0 + 1.0 / 0.7),
        );
        c.needs_synth = true;
        close(
            bench_phase_secs(Kind::Bench, 4, &r, &c),
            run_start + 2e9 / 300e6 + 2.0 * (1.01 + 4.0),
        );
    }

    #[test]
    fn a_load_phase_is_estimated_to_the_end_of_its_first_level() {
        let c = two_gb();
        let r = Rates::measured(1000.0, 100.0).unwrap();
        let first = LoadLevel {
            requests: 20,
            input_tokens: 128.0,
            output_tokens: 32.0,
            slots: 1,
        };
        // run start and hashing, the level's start 1.01 s, 20 × 128 prompt tokens × 1 ms, and 20 requests × 32
        // steps × (10 ms + 1 slot × 3 × 1 ms).
        close(
            load_phase_secs(&first, &r, &c),
            0.01 + 2e9 / 0.35e9 + 1.01 + 2.56 + 640.0 * 0.013,
        );
    }

    #[test]
    fn a_models_bench_leaves_its_load_sweep_the_larger_share_and_nothing_holds_time_back_for_depth()
    {
        let plan = phases(2);
        let left = Duration::from_secs(100);
        // bench 0, load 0, bench 1, load 1, depth 0, depth 1
        assert_eq!(allotment(&plan, 0, left), left.mul_f64(1.0 - LOAD_SHARE));
        assert_eq!(allotment(&plan, 1, left), left);
        assert_eq!(allotment(&plan, 2, left), left.mul_f64(1.0 - LOAD_SHARE));
        assert_eq!(allotment(&plan, 3, left), left);
        assert_eq!(allotment(&plan, 4, left), left);
        // a bench whose load sweep already ran (or is not planned) keeps all of it
        let bench_only = [(Kind::Bench, 0), (Kind::Depth, 0)];
        assert_eq!(allotment(&bench_only, 0, left), left);
    }

    #[test]
    fn a_phase_ends_at_its_allotment_or_the_budget_and_its_worker_a_little_later() {
        let now = Instant::now();
        let budget = Duration::from_secs(200);
        let grace = budget.mul_f64(OVERRUN_SHARE);
        let (soft, hard) = phase_deadlines(
            now,
            Duration::from_secs(30),
            now + Duration::from_secs(100),
            budget,
        );
        assert_eq!(soft, now + Duration::from_secs(30));
        assert_eq!(hard, soft + grace);
        let (soft, hard) = phase_deadlines(
            now,
            Duration::from_secs(300),
            now + Duration::from_secs(100),
            budget,
        );
        assert_eq!(
            soft,
            now + Duration::from_secs(100),
            "never past the budget"
        );
        assert_eq!(hard, soft + grace);
    }

    #[test]
    fn a_phase_longer_than_the_time_left_is_skipped_with_both_times() {
        let why = over_budget(125.0, Duration::from_secs(60)).expect("over");
        assert!(why.contains("2m05s") && why.contains("1m00s"), "{why}");
        assert_eq!(over_budget(59.0, Duration::from_secs(60)), None);
    }

    #[test]
    fn a_model_must_leave_headroom_in_free_memory() {
        let gib = 1u64 << 30;
        assert_eq!(does_not_fit(4 * gib, Some(16 * gib), "RAM"), None);
        let why = does_not_fit(38 * gib, Some(20 * gib), "RAM").expect("too big");
        assert!(
            why.contains("RAM") && why.contains("20.00 GiB free"),
            "{why}"
        );
        assert_eq!(
            does_not_fit(38 * gib, None, "RAM"),
            None,
            "unknown free memory is not a refusal"
        );
    }

    #[test]
    fn the_depth_test_needs_a_long_enough_trained_context() {
        let why = short_context(Some(2048)).expect("too short");
        assert!(why.contains("2048") && why.contains("4096"), "{why}");
        assert_eq!(short_context(Some(131_072)), None);
        assert_eq!(
            short_context(None),
            None,
            "unknown context: the bench's own preflight decides"
        );
    }

    #[test]
    fn a_busy_machine_is_flagged_before_it_is_measured() {
        assert!(busy_machine(60.0, 2).is_some_and(|w| w.contains("2 CPUs 60% in use")));
        assert_eq!(busy_machine(3.0, 2), None);
    }

    #[test]
    fn a_load_sweep_needs_requests_within_the_trained_context() {
        let why = requests_too_long(4200, Some(4096)).expect("too long");
        assert!(why.contains("4200") && why.contains("4096"), "{why}");
        assert_eq!(requests_too_long(256, Some(4096)), None);
        assert_eq!(requests_too_long(4200, None), None);
    }

    #[test]
    fn levels_double_up_to_the_cap() {
        let l = concurrency_levels();
        assert_eq!(l.first(), Some(&1));
        assert_eq!(l.last(), Some(&MAX_CONCURRENCY));
        assert!(l.windows(2).all(|w| w[1] == 2 * w[0]));
    }

    #[test]
    fn the_default_slo_parses() {
        assert!(crate::results::slo::parse_slo(DEFAULT_SLO).is_ok());
    }
}
