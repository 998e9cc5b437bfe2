//! `tokenmeter load`: serving load levels (closed-loop concurrency or Poisson arrival rates) with continuous
//! batching, latency percentiles per level, the SLO check and the operating point.

use super::bench::{backends_of, check_engine, model_entry, EngineOptions};
use super::telemetry::{self as tm, TelemetryOptions};
use super::{models, InputError};
use crate::config::workload::{TokenDistribution, Tokens, WorkloadEntry};
use crate::config::Config;
use crate::engine::{self, ContextParams, ModelParams};
use crate::report::ABSENT;
use crate::results::load::{operating_point, summarize_level, LevelRecord, LoadSweep, SloTerm};
use crate::results::telemetry::{level_energy, process_of};
use crate::results::{default_path, HostInfo, ResultFile, ToolInfo, Warning, SCHEMA_VERSION};
use crate::runner::load::{run_level, Arrivals, Lengths, LevelSpec};
use chrono::Utc;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct LoadOptions {
    pub model: Option<String>,
    pub config: Option<PathBuf>,
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
    /// Requests per level; `None` with no duration: four per slot.
    pub requests: Option<u32>,
    pub duration: Option<Duration>,
    /// `None`: the workload's SLO, else none.
    pub slo: Option<Vec<SloTerm>>,
    pub engine: EngineOptions,
    pub seed: u64,
    pub telemetry: TelemetryOptions,
    pub out: Option<PathBuf>,
    pub results_dir: PathBuf,
    pub verbose: bool,
    pub command_line: Vec<String>,
    pub stop: Arc<AtomicBool>,
}

/// Default sequence slots for open-loop levels (llama-server's `--parallel` is often set to this order).
pub const DEFAULT_OPEN_LOOP_SLOTS: u32 = 16;

pub struct LoadOutcome {
    pub result_path: PathBuf,
    pub result: ResultFile,
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

fn bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("valid template"),
    );
    bar
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

/// Prompt and output tokens per request when neither a flag nor a workload gives them.
pub const DEFAULT_REQUEST_TOKENS: u32 = 128;

pub fn run(opts: &LoadOptions) -> anyhow::Result<LoadOutcome> {
    check_engine(&opts.engine)?;
    let arrivals = levels(opts)?;
    let started_at = Utc::now();
    let config = Config::load(opts.config.as_deref())?;
    let config_dir = opts
        .config
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let (input_tokens, output_tokens, slo) = request_shape(opts, &config)?;
    let path = models::resolve(opts.model.as_slice(), &config, &config_dir)?.remove(0);
    let mut entry = model_entry(&path)?;
    let host = HostInfo::collect();
    let build = engine::build_info(opts.verbose)?;
    let configured_bandwidth = tm::configured_bandwidth(&opts.telemetry, &config)?;
    let mut meter = tm::open(&opts.telemetry)?;
    let n_threads = opts
        .engine
        .n_threads
        .unwrap_or_else(|| host.default_threads());
    let model_params = ModelParams {
        n_gpu_layers: opts.engine.n_gpu_layers,
        use_mmap: opts.engine.use_mmap,
    };
    let model = engine::load_model(&path, model_params, opts.verbose)?;
    entry.model_type = model.desc.clone();
    let max_len = input_tokens.max() + output_tokens.max();

    let progress = bar();
    let mut warnings = Vec::new();
    let mut records: Vec<LevelRecord> = Vec::new();
    let mut failure = None;
    for (i, a) in arrivals.iter().enumerate() {
        if opts.stop.load(Ordering::Relaxed) {
            break;
        }
        let slots = a.slots();
        let spec = LevelSpec {
            arrivals: *a,
            input_tokens: input_tokens.clone(),
            output_tokens: output_tokens.clone(),
            requests: opts.requests.or(if opts.duration.is_none() {
                Some(4 * slots)
            } else {
                None
            }),
            duration_ns: opts.duration.map(|d| d.as_nanos() as u64),
            seed: opts.seed.wrapping_add(i as u64),
        };
        let params = ContextParams {
            n_ctx: slots * max_len,
            n_batch: opts.engine.n_batch,
            n_ubatch: opts.engine.n_ubatch,
            n_threads,
            flash_attn: opts.engine.flash_attn,
            offload_kqv: !opts.engine.no_kv_offload,
            type_k: opts.engine.type_k.clone(),
            type_v: opts.engine.type_v.clone(),
            n_seq_max: slots,
        };
        let label = match a {
            Arrivals::Closed { concurrency } => format!("c={concurrency}"),
            Arrivals::Open { rate_per_s, .. } => format!("rate={rate_per_s}/s"),
        };
        let mut session = match engine::new_session(&model, &params) {
            Ok(s) => s,
            Err(e) => {
                failure = Some(anyhow::Error::new(e));
                break;
            }
        };
        let mut last_draw = Instant::now();
        meter.start(Instant::now());
        let run = run_level(&mut session, &spec, model.n_vocab, &opts.stop, |p| {
            if last_draw.elapsed() >= Duration::from_millis(200) {
                last_draw = Instant::now();
                let p95 = p
                    .itl
                    .quantile_ns(0.95)
                    .map(|ns| format!("{:.1} ms", ns as f64 / 1e6))
                    .unwrap_or_else(|| ABSENT.into());
                progress.set_message(format!(
                    "level {}/{} {label}: {}/{} requests done, ITL p95 {p95}",
                    i + 1,
                    arrivals.len(),
                    p.completed,
                    p.started
                ));
                progress.tick();
            }
        });
        let windows = meter.stop();
        match run {
            Ok(run) => {
                let mut rec = summarize_level(&run, &slo);
                let output_tokens = rec.requests.iter().map(|r| r.token_ns.len() as u64).sum();
                rec.energy = level_energy(
                    &windows,
                    output_tokens,
                    &meter.idle,
                    meter.energy_absent_reason.as_deref(),
                );
                rec.process = process_of(&windows);
                warnings.extend(tm::flag_warnings(&label, rec.energy.iter()));
                records.push(rec);
            }
            Err(e) => {
                failure = Some(anyhow::Error::new(e));
                break;
            }
        }
    }
    progress.finish_and_clear();

    let interrupted = opts.stop.load(Ordering::Relaxed);
    let on_cpu = backends_of(&build) == "CPU" || opts.engine.n_gpu_layers == 0;
    let (bandwidth, bandwidth_warning) =
        tm::load_bandwidth(&opts.telemetry, configured_bandwidth, &meter, on_cpu, &host);
    warnings.extend(bandwidth_warning);
    warnings.extend(tm::sensor_warnings(&meter));
    if interrupted {
        warnings.push(Warning::Interrupted {
            cases_done: records.iter().filter(|l| !l.summary.interrupted).count(),
            cases_total: arrivals.len(),
        });
    }
    let op = operating_point(&records);
    let result_path = match &opts.out {
        Some(p) => p.clone(),
        None => {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            default_path(
                &opts.results_dir,
                started_at,
                host.hostname.as_deref(),
                &format!("{stem}-load"),
            )
        }
    };
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
        },
        "backends": backends_of(&build),
        "seed": opts.seed,
    });
    let result = ResultFile {
        schema_version: SCHEMA_VERSION,
        kind: "load".into(),
        tokenmeter: ToolInfo::current(),
        command_line: opts.command_line.clone(),
        started_at,
        finished_at: Utc::now(),
        interrupted,
        host,
        build,
        models: vec![entry],
        parameters,
        cases: Vec::new(),
        load: Some(LoadSweep {
            model: path.display().to_string(),
            slo: slo.clone(),
            levels: records,
            operating_point: op,
        }),
        telemetry: Some(tm::info(&meter, bandwidth)),
        warnings,
    };
    let has_levels = result.load.as_ref().is_some_and(|l| !l.levels.is_empty());
    if has_levels || failure.is_none() {
        result.write(&result_path)?;
    }
    if let Some(e) = failure {
        if has_levels {
            return Err(e.context(format!(
                "measured levels saved to {}",
                result_path.display()
            )));
        }
        return Err(e);
    }
    Ok(LoadOutcome {
        result_path,
        result,
    })
}
