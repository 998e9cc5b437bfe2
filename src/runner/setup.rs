//! Everything a run has before its first measurement: the configuration, the model files (resolved and hashed),
//! provenance (host and build), the sensors; and the run's result path and checkpoint, claimed with the header
//! that names the run.

use super::checkpoint::{Checkpoint, CheckpointError, Entry, Header};
use super::models;
use super::options::RunOptions;
use super::sensors as tm;
use crate::config::Config;
use crate::engine::{self, BuildInfo};
use crate::gguf::{read_model_info, sha256_file};
use crate::results::provenance::features_missing_from_build;
use crate::results::telemetry::Bandwidth;
use crate::results::{default_path, HostInfo, ModelEntry, Warning};
use crate::runner::Meter;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

/// Everything a run has before its first measurement.
pub struct Setup {
    pub started_at: DateTime<Utc>,
    pub config: Config,
    /// The model files, resolved from paths or `[[model]]` names.
    pub models: Vec<PathBuf>,
    /// One entry per model, in the same order.
    pub entries: Vec<ModelEntry>,
    /// What a run without a model file (a server over HTTP) names its result after: the served model.
    pub subject: Option<String>,
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
        let config_dir = run
            .config
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Setup::open_with(run, &run.telemetry, |config| {
            let paths = models::resolve(models, config, &config_dir, &run.stop)?;
            let entries = paths
                .iter()
                .map(|p| model_entry(p))
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok((paths, entries))
        })
    }

    /// What a run of a server over HTTP has: no model file (its result is named after `subject`, the served
    /// model), and this machine's sensors only when the server is on it (`local`).
    pub fn open_for_server(run: &RunOptions, subject: &str, local: bool) -> anyhow::Result<Setup> {
        let telemetry = super::sensors::TelemetryOptions {
            enabled: run.telemetry.enabled && local,
            ..run.telemetry.clone()
        };
        let mut setup = Setup::open_with(run, &telemetry, |_| Ok((Vec::new(), Vec::new())))?;
        setup.subject = Some(subject.to_string());
        Ok(setup)
    }

    fn open_with(
        run: &RunOptions,
        telemetry: &super::sensors::TelemetryOptions,
        models: impl FnOnce(&Config) -> anyhow::Result<(Vec<PathBuf>, Vec<ModelEntry>)>,
    ) -> anyhow::Result<Setup> {
        let started_at = Utc::now();
        let result_dir = run
            .resume
            .as_ref()
            .or(run.out.as_ref())
            .and_then(|p| p.parent())
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(&run.results_dir);
        super::cleanup::remove_stale_of_runs(result_dir);
        let config = Config::load(run.config.as_deref())?;
        let (paths, entries) = models(&config)?;
        let host = HostInfo::collect();
        let build = engine::build_info(run.verbose)?;
        let configured_bandwidth = tm::configured_bandwidth(telemetry, &config)?;
        let meter = tm::open(telemetry, &run.stop)?;
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
            subject: None,
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
        let stem = match self.models.first() {
            Some(m) => m
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            None => self.subject.clone().unwrap_or_default(),
        };
        default_path(
            &run.results_dir,
            self.started_at,
            self.host.hostname.as_deref(),
            &format!("{stem}{suffix}"),
        )
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
    // By content alone: a later attempt on another node-local directory holds the same models at other paths.
    let models: Vec<serde_json::Value> = setup
        .entries
        .iter()
        .map(|e| serde_json::json!({"sha256": e.sha256}))
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
