//! `tokenmeter load`: serving load levels (closed-loop concurrency or Poisson arrival rates) with continuous
//! batching, latency percentiles per level, the SLO check over all arrivals, goodput and the operating point.

use super::InputError;
use crate::analysis::load::{
    ineligible, needs_replicate, operating_point, saturation, summarize_level, LevelSamples,
};
use crate::config::workload::{TokenDistribution, Tokens, WorkloadEntry};
use crate::config::Config;
use crate::engine::{self, ContextParams};
use crate::report::ABSENT;
use crate::results::load::RequestSample;
use crate::results::load::{LevelRecord, LevelSummary, LoadSweep, StoppedEarly};
use crate::results::record::{EngineFallback, Kernels, Numerics, NumericsVerdict, Offload};
use crate::results::slo::SloTerm;
use crate::results::telemetry::ProcessContext;
use crate::results::{FailedCase, ResultFile, Warning};
use crate::runner::checkpoint::{Entry, Header};
use crate::runner::energy::{level_energy, process_of};
use crate::runner::load::{run_level, Arrivals, Lengths, LevelSpec};
use crate::runner::numerics as gate;
use crate::runner::probe::EngineConfig;
use crate::runner::scaffold::{
    self, backends_of, check_engine, EngineOptions, Failures, Measured, RunOptions, Setup,
};
use crate::runner::selftest::{self, Decision, SelfTestOptions};
use crate::runner::sensors as tm;
use crate::runner::worker::{run_in_worker, Job, Reply, Request, WorkerFailure};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct LoadOptions {
    pub model: Option<String>,
    pub concurrency: Vec<u32>,
    pub rates: Vec<f64>,
    /// Sequence slots for open-loop levels; `None`: 16.
    pub parallel: Option<u32>,
    /// `None`: the workload's, else 128.
    pub input_tokens: Option<Lengths>,
    /// `None`: the workload's, else 128.
    pub output_tokens: Option<Lengths>,
    /// A `[[workload]]` of models.toml supplying request lengths and the SLO where no flag gives them.
    pub workload: Option<String>,
    /// Requests per level; `None` with no duration: [`default_requests`].
    pub requests: Option<u32>,
    pub duration: Option<Duration>,
    /// `None`: the workload's SLO, else none.
    pub slo: Option<Vec<SloTerm>>,
    pub engine: EngineOptions,
    pub seed: u64,
    pub run: RunOptions,
    /// Run levels that preflight would refuse for memory or the trained context.
    pub force: bool,
    /// Stop adding levels once one saturates ([`saturation`]): the levels must rise.
    pub until_saturated: bool,
    /// `--burst`: a closed loop's requests start together (see `LevelSpec::burst`).
    pub burst: bool,
    /// Asked before each level after the first: a reason to add no more levels (e.g. a time budget), or `None`.
    pub gate: Option<LevelGate>,
}

/// See [`LoadOptions::gate`]: the next level's arrivals and the levels measured so far.
pub type LevelGate = Box<dyn Fn(&Arrivals, &[LevelRecord]) -> Option<String>>;

/// Measured requests per level when neither `--requests` nor `--duration` is given (a closed loop's warm-up
/// adds its own): four per slot, so each slot sees several requests, and never fewer than p95 needs (20: with
/// fewer, p95 is the largest sample).
pub fn default_requests(slots: u32) -> u32 {
    (4 * slots).max(crate::stats::Percentile::P95.min_samples() as u32)
}

/// Default sequence slots for open-loop levels (llama-server's `--parallel` is often set to this order).
pub const DEFAULT_OPEN_LOOP_SLOTS: u32 = 16;

pub struct LoadOutcome {
    pub result_path: PathBuf,
    pub result: ResultFile,
    /// What became of `--save-baseline`, when it was given.
    pub baseline: Option<scaffold::BaselineOutcome>,
}

fn levels(opts: &LoadOptions) -> Result<Vec<Arrivals>, InputError> {
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

/// Each level offers more load than the one before.
fn rising(levels: &[Arrivals]) -> bool {
    levels.windows(2).all(|w| match (w[0], w[1]) {
        (Arrivals::Closed { concurrency: a }, Arrivals::Closed { concurrency: b }) => b > a,
        (Arrivals::Open { rate_per_s: a, .. }, Arrivals::Open { rate_per_s: b, .. }) => b > a,
        _ => false,
    })
}

/// Request lengths of a workload: a `{ min, max }` distribution becomes a uniform range, anything else its mean.
fn lengths_of(t: &Tokens) -> Lengths {
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
fn request_shape(
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

fn arrivals_label(a: &Arrivals) -> String {
    match a {
        Arrivals::Closed { concurrency } => format!("c={concurrency}"),
        Arrivals::Open { rate_per_s, .. } => format!("rate={rate_per_s}/s"),
    }
}

fn level_label(s: &LevelSummary) -> String {
    match (s.concurrency, s.rate) {
        (Some(concurrency), _) => arrivals_label(&Arrivals::Closed { concurrency }),
        (None, Some(rate_per_s)) => arrivals_label(&Arrivals::Open {
            rate_per_s,
            slots: s.slots,
        }),
        (None, None) => "level".into(),
    }
}

/// Warnings about a level's SLO check: unfinished requests counted as misses, percentiles from too few samples.
fn slo_warnings(label: &str, s: &LevelSummary) -> Vec<Warning> {
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

/// What one level produced, in this process or a worker; `start_ns` on the sensors' clock.
struct LevelDone {
    model_desc: String,
    requests: Vec<RequestSample>,
    duration_ns: u64,
    window_ns: Option<u64>,
    warmup_ns: u64,
    prompt_tokens_processed: u64,
    interrupted: bool,
    start_ns: u64,
    process: Option<ProcessContext>,
}

/// How long a level cut by `--duration` drains the requests that arrived in its window: the largest SLO limit,
/// and at least 10 s, so that a request still unfinished after it has waited longer than any objective allows
/// (a definite miss, not a request the cut happened to catch).
pub fn drain_bound_ns(slo: &[crate::results::slo::SloTerm]) -> u64 {
    let largest_ms = slo.iter().map(|t| t.max_ms).fold(0.0f64, f64::max);
    (largest_ms.max(DRAIN_MIN_MS) * 1e6) as u64
}

/// The drain's smallest bound.
const DRAIN_MIN_MS: f64 = 10_000.0;

/// What identifies a level across a resumed run: its arrivals, request lengths and seed.
fn spec_key(s: &LevelSpec) -> String {
    serde_json::json!([s.arrivals, s.input_tokens, s.output_tokens, s.seed]).to_string()
}

fn level_key(l: &LevelRecord) -> String {
    let arrivals = match (l.summary.concurrency, l.summary.rate) {
        (Some(concurrency), _) => Arrivals::Closed { concurrency },
        (None, Some(rate_per_s)) => Arrivals::Open {
            rate_per_s,
            slots: l.summary.slots,
        },
        (None, None) => return String::new(),
    };
    serde_json::json!([arrivals, l.input_tokens, l.output_tokens, l.seed]).to_string()
}

/// Added to a level's seed when it is run again to confirm saturation.
const REPLICATE_SEED: u64 = 1 << 20;

/// Prompt and output tokens per request when neither a flag nor a workload gives them.
pub const DEFAULT_REQUEST_TOKENS: u32 = 128;

pub fn run(opts: &LoadOptions) -> anyhow::Result<LoadOutcome> {
    check_engine(&opts.engine)?;
    let arrivals = levels(opts)?;
    if opts.until_saturated && !rising(&arrivals) {
        return Err(InputError(
            "--until-saturated: the levels must rise (e.g. -c 1,2,4,8 or --rate 1,2,4)".into(),
        )
        .into());
    }
    let run = &opts.run;
    let mut setup = Setup::open(run, opts.model.as_slice())?;
    let (input_tokens, output_tokens, slo) = request_shape(opts, &setup.config)?;
    crate::preflight::load(opts, &arrivals, &input_tokens, &output_tokens, &setup)?;
    let path = setup.models[0].clone();
    let n_threads = opts
        .engine
        .n_threads
        .unwrap_or_else(|| setup.host.default_threads());
    let asked = EngineConfig {
        n_gpu_layers: opts.engine.n_gpu_layers,
        repack: opts.engine.repack,
        n_threads,
        flash_attn: opts.engine.flash_attn,
        type_k: opts.engine.type_k.clone(),
        type_v: opts.engine.type_v.clone(),
        no_amx: false,
    };
    let checked = self_tested(&asked, &path, &setup, run)?;
    let used = checked.used.clone().unwrap_or_else(|| asked.clone());
    let model_params = used.model_params(opts.engine.use_mmap);
    let max_len = input_tokens.max() + output_tokens.max();
    let parameters = serde_json::json!({
        "arrivals": arrivals,
        "workload": opts.workload,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "requests": opts.requests,
        "duration_s": opts.duration.map(|d| d.as_secs_f64()),
        "slo": slo,
        "n_threads": n_threads,
        "engine": {
            "n_gpu_layers": opts.engine.n_gpu_layers,
            "n_batch": opts.engine.n_batch,
            "n_ubatch": opts.engine.n_ubatch,
            "flash_attn": opts.engine.flash_attn,
            "no_kv_offload": opts.engine.no_kv_offload,
            "type_k": opts.engine.type_k,
            "type_v": opts.engine.type_v,
            "use_mmap": opts.engine.use_mmap,
            "repack": opts.engine.repack,
        },
        "verify": run.verify,
        "backends": backends_of(&setup.build),
        "seed": opts.seed,
        "until_saturated": opts.until_saturated,
        "burst": opts.burst,
    });
    let header = Header::new("load", scaffold::identity(&setup, run, parameters.clone()));
    let (result_path, mut checkpoint, done_before, mut warnings) =
        scaffold::claim(&setup, run, "-load", &header)?;
    warnings.extend(checked.warnings.iter().cloned());
    let mut resumed: Vec<LevelRecord> = done_before
        .into_iter()
        .filter_map(|e| match e {
            Entry::Level(l) => Some(*l),
            _ => None,
        })
        .collect();

    let progress = scaffold::progress_bar(None, "levels", run.phase.as_ref());
    let mut records: Vec<LevelRecord> = Vec::new();
    let mut failed: Vec<FailedCase> = Vec::new();
    let mut failure = None;
    let mut stopped_early: Option<StoppedEarly> = None;
    let mut loaded: Option<engine::Model> = None;
    // the levels in order; a level the saturation rule would stop on is first run once more (`replicate`)
    let mut next = 0usize;
    let mut pending_replicate: Option<usize> = None;
    loop {
        let (i, replicate) = match pending_replicate.take() {
            Some(k) => (k, true),
            None if next < arrivals.len() => {
                next += 1;
                (next - 1, false)
            }
            None => break,
        };
        let a = &arrivals[i];
        if run.stopped() {
            break;
        }
        if let Some(last) = records.last().filter(|_| !replicate) {
            let summaries: Vec<LevelSummary> = records.iter().map(|l| l.summary.clone()).collect();
            if opts.until_saturated && i > 0 && needs_replicate(&summaries) {
                let again = &arrivals[i - 1];
                match opts.gate.as_ref().and_then(|gate| gate(again, &records)) {
                    None => {
                        next -= 1;
                        pending_replicate = Some(i - 1);
                        continue;
                    }
                    Some(why) => {
                        stopped_early = Some(StoppedEarly {
                            after: level_label(&last.summary),
                            reason: format!(
                                "{} (not run again to confirm: {why})",
                                saturation(&summaries, level_label).unwrap_or_default()
                            ),
                            levels_not_run: arrivals[i..].iter().map(arrivals_label).collect(),
                        });
                        break;
                    }
                }
            }
            let why = opts
                .until_saturated
                .then(|| saturation(&summaries, level_label))
                .flatten()
                .or_else(|| opts.gate.as_ref().and_then(|gate| gate(a, &records)));
            if let Some(reason) = why {
                stopped_early = Some(StoppedEarly {
                    after: level_label(&last.summary),
                    reason,
                    levels_not_run: arrivals[i..].iter().map(arrivals_label).collect(),
                });
                break;
            }
        }
        let slots = a.slots();
        let spec = LevelSpec {
            arrivals: *a,
            input_tokens: input_tokens.clone(),
            output_tokens: output_tokens.clone(),
            requests: opts.requests.or(if opts.duration.is_none() {
                Some(default_requests(slots))
            } else {
                None
            }),
            duration_ns: opts.duration.map(|d| d.as_nanos() as u64),
            drain_ns: opts.duration.map(|_| drain_bound_ns(&slo)),
            seed: opts.seed.wrapping_add(i as u64).wrapping_add(if replicate {
                REPLICATE_SEED
            } else {
                0
            }),
            burst: opts.burst,
        };
        if let Some(k) = resumed.iter().position(|l| level_key(l) == spec_key(&spec)) {
            records.push(resumed.swap_remove(k));
            continue;
        }
        let params = ContextParams {
            n_ctx: slots * max_len,
            n_batch: opts.engine.n_batch,
            n_ubatch: opts.engine.n_ubatch,
            n_threads: used.n_threads,
            flash_attn: used.flash_attn,
            offload_kqv: !opts.engine.no_kv_offload,
            type_k: used.type_k.clone(),
            type_v: used.type_v.clone(),
            n_seq_max: slots,
        };
        let label = arrivals_label(a);
        if let Some(why) = &checked.blocked {
            Failures {
                checkpoint: &mut checkpoint,
                warnings: &mut warnings,
                failed: &mut failed,
            }
            .record(
                label.clone(),
                serde_json::to_value(&spec)?,
                WorkerFailure {
                    reason: why.clone(),
                    ..WorkerFailure::default()
                },
            )?;
            continue;
        }
        let show = |completed: u64, started: Option<usize>, itl_p95: Option<String>| {
            progress.set_message(format!(
                "level {}/{} {label}: {completed}{} requests done{}",
                i + 1,
                arrivals.len(),
                started.map(|s| format!("/{s}")).unwrap_or_default(),
                itl_p95
                    .map(|p| format!(", ITL p95 {p}"))
                    .unwrap_or_default(),
            ));
            progress.tick();
        };
        let (window_start, window_mono_ns) = crate::clock::now();
        let outcome = if run.in_process {
            let model = match &loaded {
                Some(m) => m,
                None => match engine::load_model(&path, model_params, run.verbose) {
                    Ok(m) => loaded.insert(m),
                    Err(e) => {
                        failure = Some(anyhow::Error::new(e));
                        break;
                    }
                },
            };
            let mut session = match engine::new_session(model, &params) {
                Ok(s) => s,
                Err(e) => {
                    failure = Some(anyhow::Error::new(e));
                    break;
                }
            };
            let mut last_draw = Instant::now();
            setup.meter.start(window_start);
            let level = run_level(
                &mut session,
                &spec,
                model.n_vocab,
                window_start,
                &run.stop_now,
                |p| {
                    if last_draw.elapsed() >= Duration::from_millis(200) {
                        last_draw = Instant::now();
                        let p95 = p
                            .itl
                            .quantile_ns(0.95)
                            .map(|ns| format!("{:.1} ms", ns as f64 / 1e6))
                            .unwrap_or_else(|| ABSENT.into());
                        show(p.completed as u64, Some(p.started), Some(p95));
                    }
                },
            );
            let windows = setup.meter.stop();
            match level {
                Ok(l) => Ok((
                    LevelDone {
                        model_desc: model.desc.clone(),
                        requests: l.requests,
                        duration_ns: l.duration_ns,
                        window_ns: l.window_ns,
                        warmup_ns: l.warmup_ns,
                        prompt_tokens_processed: l.prompt_tokens_processed,
                        interrupted: l.interrupted,
                        start_ns: l.start_ns,
                        process: process_of(&windows),
                    },
                    windows,
                )),
                Err(e) => {
                    failure = Some(anyhow::Error::new(e));
                    break;
                }
            }
        } else {
            let req = Request {
                job: Job::LoadLevel {
                    model_path: path.clone(),
                    model: model_params,
                    context: params,
                    spec: spec.clone(),
                },
                label: label.clone(),
                verbose: run.verbose,
                sample_interval_ns: run
                    .telemetry
                    .enabled
                    .then_some(run.telemetry.sample_interval.as_nanos() as u64),
                parent_pid: std::process::id(),
            };
            let limits = run.limits();
            show(0, None, None);
            setup.meter.start(window_start);
            let reply = run_in_worker(&req, &limits, |done| show(done, None, None));
            let windows = setup.meter.stop();
            match reply {
                Ok(Reply::Load(d)) => Ok((
                    LevelDone {
                        model_desc: d.model.desc,
                        requests: d.requests,
                        duration_ns: d.duration_ns,
                        window_ns: d.window_ns,
                        warmup_ns: d.warmup_ns,
                        prompt_tokens_processed: d.prompt_tokens_processed,
                        interrupted: d.interrupted,
                        start_ns: crate::clock::rebase(
                            d.start_ns,
                            d.origin_mono_ns,
                            window_mono_ns,
                        )
                        .unwrap_or(0),
                        process: d.process,
                    },
                    windows,
                )),
                Ok(other) => Err(WorkerFailure {
                    reason: format!("worker replied {other:?} to a load level"),
                    ..WorkerFailure::default()
                }),
                Err(f) => Err(f),
            }
        };
        match outcome {
            Ok((level, windows)) => {
                setup.entries[0].model_type = level.model_desc.clone();
                let summary = summarize_level(
                    &LevelSamples {
                        arrivals: spec.arrivals,
                        requests: &level.requests,
                        duration_ns: level.duration_ns,
                        window_ns: level.window_ns,
                        warmup_ns: level.warmup_ns,
                        prompt_tokens_processed: level.prompt_tokens_processed,
                        interrupted: level.interrupted,
                    },
                    &slo,
                );
                warnings.extend(slo_warnings(&label, &summary));
                let output_tokens = level.requests.iter().map(|r| r.token_ns.len() as u64).sum();
                let span = (level.start_ns, level.start_ns + level.duration_ns);
                let energy = level_energy(
                    &windows,
                    Some(span),
                    output_tokens,
                    &setup.meter.idle,
                    setup.meter.energy_absent_reason.as_deref(),
                );
                warnings.extend(tm::flag_warnings(&label, energy.iter()));
                let rec = LevelRecord {
                    summary: LevelSummary {
                        replicate,
                        ..summary
                    },
                    input_tokens: spec.input_tokens,
                    output_tokens: spec.output_tokens,
                    seed: spec.seed,
                    prompt_tokens_processed: level.prompt_tokens_processed,
                    start_ns: Some(level.start_ns),
                    requests: level.requests,
                    energy,
                    process: level.process,
                };
                if !rec.summary.interrupted {
                    checkpoint.append(&Entry::Level(Box::new(rec.clone())))?;
                }
                records.push(rec);
            }
            Err(why) => Failures {
                checkpoint: &mut checkpoint,
                warnings: &mut warnings,
                failed: &mut failed,
            }
            .record(label.clone(), serde_json::to_value(&spec)?, why)?,
        }
    }
    progress.finish_and_clear();

    let on_cpu = backends_of(&setup.build) == "CPU" || opts.engine.n_gpu_layers == 0;
    let (bandwidth, bandwidth_warning) = tm::load_bandwidth(
        &run.telemetry,
        setup.configured_bandwidth.clone(),
        &setup.meter,
        on_cpu,
        &setup.host,
    );
    warnings.extend(bandwidth_warning);
    if run.stopped() {
        warnings.push(Warning::Interrupted {
            cases_done: records.iter().filter(|l| !l.summary.interrupted).count(),
            cases_total: arrivals.len(),
        });
    }
    let op = operating_point(&records);
    if let Some(op) = op.as_ref().filter(|op| op.requests_not_completed > 0) {
        warnings.push(Warning::OperatingPointUnfinished {
            level: level_label(&records[op.level_index].summary),
            requests_not_completed: op.requests_not_completed,
        });
    }
    let not_run = stopped_early.as_ref().map_or(0, |s| s.levels_not_run.len());
    let all_attempted = records
        .iter()
        .filter(|l| !l.summary.interrupted && !l.summary.replicate)
        .count()
        + failed.len()
        + not_run
        == arrivals.len();
    let measured = Measured {
        kind: "load",
        parameters,
        cases: Vec::new(),
        load: Some(LoadSweep {
            model: path.display().to_string(),
            slo,
            levels: records,
            operating_point: op,
            stopped_early,
            numerics_failed: checked
                .numerics
                .as_ref()
                .is_some_and(|n| n.verdict == NumericsVerdict::Failed),
            numerics: checked.numerics,
            weight_buffers_mib: checked.weight_buffers_mib,
            offloaded: checked.offloaded,
            engine_fallback: checked.fallback,
        }),
        bandwidth,
        warnings,
        failed,
        failure,
    };
    let scaffold::Finished { result, baseline } =
        scaffold::finish(setup, run, measured, &result_path)?;
    if all_attempted && result.failed.is_empty() {
        checkpoint.remove()?;
    }
    Ok(LoadOutcome {
        result_path,
        result,
        baseline,
    })
}

/// The sweep's engine configuration after the machine's self-test, and its numerics gate.
struct Checked {
    /// The configuration to measure with; `None` when none works (`blocked` says why).
    used: Option<EngineConfig>,
    fallback: Option<EngineFallback>,
    blocked: Option<String>,
    numerics: Option<Numerics>,
    weight_buffers_mib: std::collections::BTreeMap<String, f64>,
    /// The layers the configuration used puts on GPU devices.
    offloaded: Option<Offload>,
    warnings: Vec<Warning>,
}

/// Self-tests `asked` (falling back as `bench` does), then gates the configuration used against the CPU
/// reference on `path` (in a worker unless `--in-process`).
fn self_tested(
    asked: &EngineConfig,
    path: &std::path::Path,
    setup: &Setup,
    run: &RunOptions,
) -> anyhow::Result<Checked> {
    let o = SelfTestOptions::of(run);
    let weight_type = selftest::probe_weight_type(&setup.entries[0].tensor_types);
    let need = (asked.clone(), Kernels::BatchAndDecode);
    let (decisions, warnings) = selftest::self_test(
        std::slice::from_ref(&need),
        weight_type,
        &setup.host,
        &setup.build,
        &o,
    )?;
    let d = decisions.get(&need).cloned().unwrap_or(Decision {
        used: Some(asked.clone()),
        failure: None,
    });
    let mut checked = Checked {
        used: d.used.clone(),
        fallback: d.substitution(asked).and_then(Result::ok),
        blocked: d.substitution(asked).and_then(Result::err),
        numerics: None,
        weight_buffers_mib: Default::default(),
        offloaded: None,
        warnings,
    };
    let Some(used) = checked.used.clone().filter(|_| checked.blocked.is_none()) else {
        return Ok(checked);
    };
    if !run.verify {
        checked.numerics = Some(Numerics::not_verified("--no-verify"));
        return Ok(checked);
    }
    let dir = tempfile::Builder::new()
        .prefix("tokenmeter-numerics-")
        .tempdir()?;
    let refs = selftest::references(
        &[path.to_path_buf()],
        true,
        setup.host.default_threads(),
        run.in_process,
        run.verbose,
        &run.stop_now,
        dir.path(),
    );
    let reference = match refs.get(path) {
        Some(Ok(p)) => p.clone(),
        Some(Err(e)) => {
            checked.numerics = Some(Numerics::not_verified(format!(
                "the CPU reference could not be computed: {e}"
            )));
            return Ok(checked);
        }
        None => return Ok(checked),
    };
    let context = used.context();
    let label = format!("load gate {}", used.label());
    if run.in_process {
        let model = engine::load_model(path, used.model_params(true), run.verbose)?;
        checked.weight_buffers_mib = model.weight_buffers_mib.clone();
        checked.offloaded = crate::runner::worker::offload_of(&model);
        checked.numerics = Some(gate::check_file(
            &model,
            &context,
            Kernels::BatchAndDecode,
            &reference,
            &label,
        ));
    } else {
        let req = Request {
            job: Job::Gate {
                model_path: path.to_path_buf(),
                model: used.model_params(true),
                context,
                reference,
                kernels: Kernels::BatchAndDecode,
            },
            label,
            verbose: run.verbose,
            sample_interval_ns: None,
            parent_pid: std::process::id(),
        };
        let limits = run.limits();
        checked.numerics = Some(match run_in_worker(&req, &limits, |_| {}) {
            Ok(Reply::Gate {
                numerics,
                weight_buffers_mib,
                offloaded,
            }) => {
                checked.weight_buffers_mib = weight_buffers_mib;
                checked.offloaded = offloaded;
                numerics
            }
            Ok(other) => Numerics::not_verified(format!("unexpected reply {other:?}")),
            Err(f) => Numerics::not_verified(format!("the gate's worker failed: {f}")),
        });
    }
    if let Some(n) = checked
        .numerics
        .as_ref()
        .filter(|n| n.verdict == NumericsVerdict::Failed)
    {
        checked.warnings.push(Warning::NumericsFailed {
            case: format!("load sweep ({})", used.label()),
            detail: n.reason.clone().unwrap_or_default(),
        });
    }
    Ok(checked)
}
