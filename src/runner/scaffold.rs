//! What `bench` and `load` share around their measurements: the options every run takes, configuration and
//! model lookup, provenance, the sensors, the result path, progress bars, and assembling and writing the result
//! file so that whatever was measured is kept when a run fails or is stopped (and, when asked and the run is
//! whole, keeping it as a named baseline).

use super::models;
use super::sensors::{self as tm, TelemetryOptions};
use crate::config::Config;
use crate::engine::{self, BuildInfo};
use crate::exit::InputError;
use crate::gguf::{read_model_info, sha256_file};
use crate::results::baseline;
use crate::results::load::LoadSweep;
use crate::results::provenance::features_missing_from_build;
use crate::results::telemetry::Bandwidth;
use crate::results::{
    default_path, CaseRecord, FailedCase, HostInfo, ModelEntry, ResultFile, ToolInfo, Warning,
    SCHEMA_VERSION,
};
use crate::runner::checkpoint::{Checkpoint, CheckpointError, Entry, Header};
use crate::runner::worker::WorkerFailure;
use crate::runner::Meter;
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Options every measuring command takes.
#[derive(Clone)]
pub struct RunOptions {
    pub config: Option<PathBuf>,
    pub telemetry: TelemetryOptions,
    /// Result file path; `None`: `results/<date>-<host>-<model>[-suffix].json`.
    pub out: Option<PathBuf>,
    pub results_dir: PathBuf,
    pub verbose: bool,
    pub command_line: Vec<String>,
    /// Set by the first Ctrl-C: no new case starts; the one in flight finishes.
    pub stop: Arc<AtomicBool>,
    /// Set by the second Ctrl-C: the case in flight ends now (its worker is killed; in-process, it stops after
    /// the current repetition or load iteration).
    pub stop_now: Arc<AtomicBool>,
    /// The signal that stopped the run (0: none; see `runner::signals`).
    pub signal: Arc<std::sync::atomic::AtomicI32>,
    /// Run every case in this process (no worker processes): a crash then ends the run.
    pub in_process: bool,
    /// `--recheck`: run the machine's self-test again instead of reading its cached outcome.
    pub recheck: bool,
    /// The numerics gate; off with `--no-verify` (recorded in each case's `numerics`).
    pub verify: bool,
    /// A worker running longer than this is killed and its case recorded as failed.
    pub case_timeout: Option<std::time::Duration>,
    /// A worker that sends no reply (progress counts) for this long is killed and its case recorded as failed.
    pub stall_timeout: Option<std::time::Duration>,
    /// `--resume RESULT`: the result file to finish, whose checkpoint holds the cases already measured.
    pub resume: Option<PathBuf>,
    /// `--resume auto` with a shard: resume this host's checkpoint of the shard when one is left
    /// (`fleet::resumable`), else start a new attempt.
    pub resume_auto: bool,
    /// `--save-baseline NAME` (its name already checked) and `--baseline-dir`.
    pub save_baseline: Option<BaselineTarget>,
    /// A run inside a larger one (`profile`): its phase, shown before the progress bar with the time left.
    pub phase: Option<PhaseLabel>,
    /// The end of the time a larger run gave this one: no case or level starts after it, and a worker still
    /// running at it is stopped (its case recorded as failed with why). What finished before it is kept.
    pub hard_deadline: Option<std::time::Instant>,
    /// `--sweep`/`--shard`: the part of a sweep this run measures; its result file goes to
    /// `<results-dir>/<run-id>/<host>-<device>-<I>of<N>.json` and records the shard in `parameters.fleet`.
    pub shard: Option<crate::fleet::ShardRun>,
}

/// What a run's progress bar shows before its own progress when the run is one phase of a larger one.
#[derive(Debug, Clone)]
pub struct PhaseLabel {
    /// e.g. `profile 3/7: load llama-3.2-1b-q4_0`.
    pub text: String,
    /// When the larger run's time budget ends; the bar counts down to it.
    pub deadline: Option<std::time::Instant>,
}

/// `1h02m`, `4m05s`, `12s`, `0.4s`.
pub fn short_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=9 => format!("{:.1}s", d.as_secs_f64()),
        10..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s / 60 % 60),
    }
}

/// Where `--save-baseline` keeps the run's result: `<dir>/<name>.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineTarget {
    pub dir: PathBuf,
    pub name: String,
}

/// What became of `--save-baseline`.
#[derive(Debug, Clone, PartialEq)]
pub enum BaselineOutcome {
    /// The result file was also written here.
    Saved(PathBuf),
    /// The run was not whole (interrupted, failed cases…); only its result file was written.
    Refused { name: String, reason: String },
}

impl std::fmt::Display for BaselineOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BaselineOutcome::Saved(path) => write!(f, "baseline: {}", path.display()),
            BaselineOutcome::Refused { name, reason } => write!(
                f,
                "baseline '{name}' not saved: {reason} (the result file is kept; rerun to save a baseline)"
            ),
        }
    }
}

/// A written result file and what became of `--save-baseline`.
pub struct Finished {
    pub result: ResultFile,
    pub baseline: Option<BaselineOutcome>,
}

impl RunOptions {
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Whether the time a larger run gave this one is spent (see `hard_deadline`).
    pub fn past_deadline(&self) -> bool {
        self.hard_deadline
            .is_some_and(|d| std::time::Instant::now() >= d)
    }

    /// How a worker of this run is ended early: a second Ctrl-C, `--case-timeout`, `--stall-timeout`, the
    /// phase's deadline.
    pub fn limits(&self) -> crate::runner::worker::Limits<'_> {
        crate::runner::worker::Limits {
            stop_now: &self.stop_now,
            timeout: self.case_timeout,
            stall: self.stall_timeout,
            estimate: None,
            deadline: self.hard_deadline,
        }
    }
}

/// The run's result path and its checkpoint, claimed before anything is measured:
/// - `--resume FILE`: that file's checkpoint, whose header must match `header`; the units it holds and a warning
///   for each line that did not read come back with it;
/// - `--out FILE`: a new checkpoint there;
/// - a shard: a new attempt's file (`fleet::attempt_path`: never one an earlier attempt wrote), or with
///   `--resume auto` this host's unfinished attempt when there is one;
/// - else the default path, moving on to the next free name when another run took it meanwhile (two runs of
///   one model on one host and day).
pub fn claim(
    setup: &Setup,
    run: &RunOptions,
    suffix: &str,
    header: &Header,
) -> Result<(PathBuf, Checkpoint, Vec<Entry>, Vec<Warning>), CheckpointError> {
    let resume =
        |p: &Path| Checkpoint::resume(p, header).map(|(c, e, w)| (p.to_path_buf(), c, e, w));
    let create = |p: &Path| {
        Checkpoint::create(p, header).map(|c| (p.to_path_buf(), c, Vec::new(), Vec::new()))
    };
    if let Some(p) = &run.resume {
        return resume(p);
    }
    if let Some(p) = &run.out {
        return create(p);
    }
    if let Some(shard) = &run.shard {
        let (host, device) = (setup.host.hostname.as_deref(), setup.device_label());
        if run.resume_auto {
            if let Some(p) = crate::fleet::resumable(shard, &run.results_dir, host, &device) {
                return resume(&p);
            }
        }
        return create(&crate::fleet::attempt_path(
            shard,
            &run.results_dir,
            host,
            &device,
        ));
    }
    loop {
        match create(&setup.default_result_path(run, suffix)) {
            Err(CheckpointError::InUse { .. } | CheckpointError::Unfinished { .. }) => continue,
            other => return other,
        }
    }
}

/// What makes a run the same run for `--resume`: `parameters` (every parameter that changes a figure), how it
/// measures, the shard, the models (by content), the build and the host.
pub fn identity(
    setup: &Setup,
    run: &RunOptions,
    parameters: serde_json::Value,
) -> serde_json::Value {
    let models: Vec<serde_json::Value> = setup
        .models
        .iter()
        .zip(&setup.entries)
        .map(|(p, e)| {
            let path = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
            serde_json::json!({"path": path.display().to_string(), "sha256": e.sha256})
        })
        .collect();
    serde_json::json!({
        "parameters": parameters,
        "verify": run.verify,
        "in_process": run.in_process,
        "telemetry": {
            "enabled": run.telemetry.enabled,
            "sample_interval_ns": run.telemetry.sample_interval.as_nanos() as u64,
            "hardware": run.telemetry.hardware,
        },
        "shard": run.shard,
        "models": models,
        "build": {
            "ggml_commit": setup.build.ggml_commit,
            "system_info": setup.build.system_info,
            "devices": setup.build.devices.iter().map(|d| &d.description).collect::<Vec<_>>(),
        },
        "host": {
            "hostname": setup.host.hostname,
            "cpu_model": setup.host.cpu_model,
            "cpu_logical_cpus": setup.host.cpu_logical_cpus,
        },
    })
}

/// Engine flags with one value each, as `load` takes them.
pub struct EngineOptions {
    /// `None`: the physical core count.
    pub n_threads: Option<u32>,
    pub n_gpu_layers: i32,
    pub n_batch: u32,
    pub n_ubatch: u32,
    pub flash_attn: i8,
    pub no_kv_offload: bool,
    pub type_k: String,
    pub type_v: String,
    pub use_mmap: bool,
    /// llama.cpp's extra buffer types for the weights (`--repack`).
    pub repack: bool,
}

pub fn at_least_one(flag: &str, v: &[u32]) -> Result<(), InputError> {
    if v.contains(&0) {
        Err(InputError(format!("{flag}: values must be at least 1")))
    } else {
        Ok(())
    }
}

pub fn cache_types(flag: &str, list: &[String]) -> Result<(), InputError> {
    match list.iter().find(|t| !engine::is_cache_type(t)) {
        Some(bad) => Err(InputError(format!(
            "{flag}: unknown cache type '{bad}' (expected one of: {})",
            engine::CACHE_TYPES.join(", ")
        ))),
        None => Ok(()),
    }
}

pub fn check_engine(e: &EngineOptions) -> Result<(), InputError> {
    at_least_one("-b/--batch-size", &[e.n_batch])?;
    at_least_one("--ubatch-size", &[e.n_ubatch])?;
    at_least_one("-t/--threads", e.n_threads.as_slice())?;
    cache_types("--cache-type-k", std::slice::from_ref(&e.type_k))?;
    cache_types("--cache-type-v", std::slice::from_ref(&e.type_v))
}

/// A model file's entry in the result file (`model_type` is filled in once llama.cpp has loaded it).
pub fn model_entry(path: &Path) -> anyhow::Result<ModelEntry> {
    let info = read_model_info(path)?;
    Ok(ModelEntry {
        path: path.display().to_string(),
        sha256: Some(sha256_file(path)?),
        file_size_bytes: info.file_size_bytes,
        n_params: info.n_params,
        architecture: info.architecture,
        model_type: String::new(),
        tensor_types: info.tensor_types,
        weights_read_per_token_bytes: Some(info.weights_read_per_token_bytes),
    })
}

/// llama-bench's `backends`: the non-CPU backends with devices, or "CPU".
pub fn backends_of(build: &BuildInfo) -> String {
    let mut names: Vec<&str> = build
        .devices
        .iter()
        .map(|d| d.backend.as_str())
        .filter(|b| *b != "CPU")
        .collect();
    names.dedup();
    if names.is_empty() {
        "CPU".into()
    } else {
        names.join(",")
    }
}

/// A progress bar on stderr: `len` steps, or a spinner when the length is unknown; within a larger run, its phase
/// first and the time left of its budget last.
pub fn progress_bar(len: Option<u64>, unit: &str, phase: Option<&PhaseLabel>) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    let (head, tail) = match phase {
        Some(p) => (
            format!("{} | ", p.text.replace('{', "(").replace('}', ")")),
            if p.deadline.is_some() {
                ", {left} left"
            } else {
                ""
            },
        ),
        None => (String::new(), ""),
    };
    let template = match len {
        Some(_) => format!(
            "{head}{{bar:24}} {{pos}}/{{len}} {unit}  {{msg}}  [{{elapsed}}, ETA {{eta}}{tail}]"
        ),
        None => format!("{head}{{spinner}} {{msg}} [{{elapsed}}{tail}]"),
    };
    let mut style = ProgressStyle::with_template(&template)
        .expect("valid template")
        .progress_chars("=> ");
    if let Some(deadline) = phase.and_then(|p| p.deadline) {
        style = style.with_key(
            "left",
            move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                let _ = w.write_str(&short_duration(left));
            },
        );
    }
    bar.set_style(style);
    bar
}

/// What a run keeps of a case or level whose worker ended without a result: an entry in the result's `failed`,
/// a warning, and a checkpoint line.
pub struct Failures<'a> {
    pub checkpoint: &'a mut Checkpoint,
    pub warnings: &'a mut Vec<Warning>,
    pub failed: &'a mut Vec<FailedCase>,
}

impl Failures<'_> {
    pub fn record(
        &mut self,
        label: String,
        parameters: serde_json::Value,
        why: WorkerFailure,
    ) -> Result<(), CheckpointError> {
        let f = FailedCase {
            label,
            parameters,
            reason: why.to_string(),
            stderr_tail: why.stderr_tail,
        };
        self.warnings.push(Warning::CaseFailed {
            label: f.label.clone(),
            reason: f.reason.clone(),
        });
        self.checkpoint.append(&Entry::Failed(f.clone()))?;
        self.failed.push(f);
        Ok(())
    }
}

/// Everything a run has before its first measurement.
pub struct Setup {
    pub started_at: DateTime<Utc>,
    pub config: Config,
    /// The model files, resolved from paths or `[[model]]` names.
    pub models: Vec<PathBuf>,
    /// One entry per model, in the same order.
    pub entries: Vec<ModelEntry>,
    pub host: HostInfo,
    pub build: BuildInfo,
    /// `--hardware`'s configured memory bandwidth.
    pub configured_bandwidth: Option<Bandwidth>,
    pub meter: Meter,
    pub warnings: Vec<Warning>,
}

impl Setup {
    /// Loads the configuration, resolves `models`, reads their headers, collects provenance and opens the
    /// sensors; nothing is measured yet.
    pub fn open(run: &RunOptions, models: &[String]) -> anyhow::Result<Setup> {
        let started_at = Utc::now();
        let config = Config::load(run.config.as_deref())?;
        let config_dir = run
            .config
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let paths = models::resolve(models, &config, &config_dir, &run.stop)?;
        let entries = paths
            .iter()
            .map(|p| model_entry(p))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let host = HostInfo::collect();
        let build = engine::build_info(run.verbose)?;
        let configured_bandwidth = tm::configured_bandwidth(&run.telemetry, &config)?;
        let meter = tm::open(&run.telemetry, &run.stop)?;
        let mut warnings = Vec::new();
        let missing = features_missing_from_build(&host.cpu_features, &build.system_info);
        if !missing.is_empty() && build.system_info.contains("CPU :") {
            warnings.push(Warning::BuildLacksCpuFeatures { features: missing });
        }
        Ok(Setup {
            started_at,
            config,
            models: paths,
            entries,
            host,
            build,
            configured_bandwidth,
            meter,
            warnings,
        })
    }

    /// The accelerator a shard's file is named after (`cpu` without one).
    pub fn device_label(&self) -> String {
        crate::fleet::device_label(
            self.build
                .devices
                .iter()
                .filter(|d| d.backend != "CPU")
                .map(|d| d.description.as_str()),
        )
    }

    /// `<results-dir>/<date>-<host>-<first model><suffix>.json`, the first name no result or checkpoint holds.
    pub fn default_result_path(&self, run: &RunOptions, suffix: &str) -> PathBuf {
        let stem = self.models[0]
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        default_path(
            &run.results_dir,
            self.started_at,
            self.host.hostname.as_deref(),
            &format!("{stem}{suffix}"),
        )
    }
}

/// What a run measured, ready to become its result file.
pub struct Measured {
    /// `bench` or `load`.
    pub kind: &'static str,
    pub parameters: serde_json::Value,
    pub cases: Vec<CaseRecord>,
    pub load: Option<LoadSweep>,
    pub bandwidth: Option<Bandwidth>,
    /// The run's own warnings, after the setup's.
    pub warnings: Vec<Warning>,
    /// Cases or levels whose worker ended without a result.
    pub failed: Vec<FailedCase>,
    /// The error that ended the run early, if one did.
    pub failure: Option<anyhow::Error>,
}

impl Measured {
    fn anything(&self) -> bool {
        !self.cases.is_empty()
            || !self.failed.is_empty()
            || self.load.as_ref().is_some_and(|l| !l.levels.is_empty())
    }
}

/// A sharded run's parameters carry the shard (`parameters.fleet`: sweep, run id, shard and unit), so that
/// `fleet status` reads the shard count from any of the run's files.
fn with_shard(
    mut parameters: serde_json::Value,
    shard: Option<&crate::fleet::ShardRun>,
) -> serde_json::Value {
    if let (Some(s), Some(map)) = (shard, parameters.as_object_mut()) {
        let mut s = s.clone();
        s.per = Some(s.unit());
        map.insert(
            "fleet".into(),
            serde_json::to_value(s).expect("a shard serializes"),
        );
    }
    parameters
}

/// Assembles the result file and writes it to `path` when anything was measured or nothing failed; a failure
/// is returned with the saved file named in its context. With `--save-baseline`, a whole run's result is also
/// saved as that baseline; one interrupted, with failed cases or with nothing measured is not.
pub fn finish(
    setup: Setup,
    run: &RunOptions,
    measured: Measured,
    path: &Path,
) -> anyhow::Result<Finished> {
    let anything = measured.anything();
    let Setup {
        started_at,
        host,
        build,
        entries,
        meter,
        mut warnings,
        ..
    } = setup;
    warnings.extend(measured.warnings);
    warnings.extend(tm::sensor_warnings(&meter));
    let result = ResultFile {
        schema_version: SCHEMA_VERSION,
        kind: measured.kind.into(),
        tokenmeter: ToolInfo::current(),
        command_line: run.command_line.clone(),
        started_at,
        finished_at: Utc::now(),
        interrupted: run.stopped(),
        host,
        build,
        models: entries,
        parameters: with_shard(measured.parameters, run.shard.as_ref()),
        cases: measured.cases,
        load: measured.load,
        telemetry: Some(tm::info(&meter, measured.bandwidth)),
        failed: measured.failed,
        warnings,
    };
    if anything || measured.failure.is_none() {
        result.write(path)?;
    }
    match measured.failure {
        Some(e) if anything => {
            Err(e.context(format!("what was measured is saved to {}", path.display())))
        }
        Some(e) => Err(e),
        None => {
            let baseline = match &run.save_baseline {
                None => None,
                Some(t) => Some(match baseline::unfit(&result) {
                    Some(reason) => BaselineOutcome::Refused {
                        name: t.name.clone(),
                        reason,
                    },
                    None => BaselineOutcome::Saved(
                        baseline::save(&result, &t.dir, &t.name).map_err(|e| {
                            anyhow::Error::new(e).context(format!(
                                "baseline '{}' not saved (the result is saved to {})",
                                t.name,
                                path.display()
                            ))
                        })?,
                    ),
                }),
            };
            Ok(Finished { result, baseline })
        }
    }
}
