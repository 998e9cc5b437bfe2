//! `tokenmeter plan SWEEP`: the `[[sweep]]`'s shards (one per case or per model), their count and an estimate of
//! each shard's wall time; with `--emit slurm|kubernetes`, the job-array script or the Indexed Job manifest that
//! runs them. Nothing is measured and no model is synthesized.

use super::bench::{self, BenchOptions};
use super::fleet::{self, Level};
use super::load::{default_requests, LoadOptions, DEFAULT_OPEN_LOOP_SLOTS, DEFAULT_REQUEST_TOKENS};
use super::InputError;
use crate::config::sweep::{ShardUnit, SweepCommand};
use crate::config::{Config, SweepEntry};
use crate::estimate::{self, BenchCase, Calibration, LoadLevel, ModelSize};
use crate::fleet::emit::{self, EmitSpec};
use crate::fleet::Shard;
use crate::gguf::{read_model_info, synth};
use crate::results::HostInfo;
use serde::Serialize;
use std::fmt::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emit {
    Slurm,
    Kubernetes,
}

/// What `--emit` needs beyond the plan.
pub struct EmitOptions {
    pub kind: Emit,
    pub run_id: Option<String>,
    pub max_parallel: Option<u32>,
    pub gpus: u32,
    pub binary: Option<PathBuf>,
    pub results_dir: PathBuf,
    pub image: String,
    pub gpu_product: String,
}

pub struct PlanOptions {
    pub config: Option<PathBuf>,
    pub sweep: String,
    /// `None`: the sweep's `per`.
    pub per: Option<ShardUnit>,
    /// `None`: one shard per unit.
    pub shards: Option<u32>,
    /// A `[[hardware]]` whose memory bandwidth the estimate uses.
    pub hardware: Option<String>,
    pub json: bool,
    pub emit: Option<EmitOptions>,
    /// Where the plan or the emitted file goes; `None`: standard output.
    pub out: Option<PathBuf>,
    /// `bench`'s and `load`'s options with their flags' defaults: the sweep is applied to them exactly as
    /// `bench --sweep` and `load --sweep` apply it, so the plan's cases are the runs' cases.
    pub bench_defaults: BenchOptions,
    pub load_defaults: LoadOptions,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedCase {
    pub model: String,
    pub label: String,
    pub estimate_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedShard {
    pub index: u32,
    pub cases: Vec<PlannedCase>,
    /// Process start, hashing each model once, and the cases.
    pub estimate_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub sweep: String,
    pub command: &'static str,
    pub per: &'static str,
    pub units: usize,
    pub shards: Vec<PlannedShard>,
    pub calibration: Calibration,
}

/// A case of the sweep before sharding: its model's index and its estimate.
struct Unit {
    model: usize,
    label: String,
    estimate_s: f64,
}

/// What the estimate needs of each model: a file's header, or a synthesized shape's plan (its cached file when
/// there is one).
fn model_size(name: &str, config: &Config, config_dir: &Path) -> anyhow::Result<ModelSize> {
    let from_file = |p: &Path| -> anyhow::Result<ModelSize> {
        let i = read_model_info(p)?;
        Ok(ModelSize {
            file_size_bytes: i.file_size_bytes,
            n_params: i.n_params,
            weights_read_per_token_bytes: i.weights_read_per_token_bytes,
        })
    };
    let Some(entry) = config.model(name) else {
        return from_file(Path::new(name));
    };
    if let Some(p) = &entry.path {
        return from_file(&if p.is_relative() {
            config_dir.join(p)
        } else {
            p.clone()
        });
    }
    let s = entry
        .synth
        .as_ref()
        .ok_or_else(|| InputError(format!("model '{name}' has neither path nor synth")))?;
    let cached = crate::runner::models::synth_path(s);
    if cached.exists() {
        return from_file(&cached);
    }
    let spec = s
        .to_spec()
        .map_err(|e| InputError(format!("model '{name}': {e}")))?;
    let p = synth::plan(&spec);
    Ok(ModelSize {
        file_size_bytes: p.file_size_bytes,
        n_params: p.n_params,
        weights_read_per_token_bytes: p.weights_read_per_token_bytes,
    })
}

/// This host's bandwidth (its cached measurement), a `[[hardware]]` entry's, or the default.
fn calibration(
    opts: &PlanOptions,
    config: &Config,
    threads: u32,
    host: &HostInfo,
) -> anyhow::Result<Calibration> {
    if let Some(name) = &opts.hardware {
        let h = config
            .hardware
            .iter()
            .find(|h| &h.name == name)
            .ok_or_else(|| {
                InputError(format!(
                    "--hardware: no [[hardware]] named '{name}' in the configuration"
                ))
            })?;
        let gb = h.memory_bandwidth_gb_per_s.ok_or_else(|| {
            InputError(format!(
                "--hardware {name}: the entry has no memory_bandwidth_gb_per_s"
            ))
        })?;
        return Ok(Calibration {
            bandwidth_gb_per_s: gb,
            bandwidth_source: format!("[[hardware]] {name}"),
            threads,
        });
    }
    let path = crate::telemetry::bandwidth::cache_path(
        &crate::runner::models::cache_dir(),
        host.hostname.as_deref(),
    );
    let cached = std::fs::read_to_string(&path).ok().and_then(|t| {
        serde_json::from_str::<crate::telemetry::bandwidth::CachedBandwidth>(&t).ok()
    });
    Ok(match cached {
        Some(c) => Calibration {
            bandwidth_gb_per_s: c.bandwidth.gb_per_s,
            bandwidth_source: format!(
                "measured on {} ({})",
                c.host.as_deref().unwrap_or("this host"),
                c.measured_at.format("%Y-%m-%d")
            ),
            threads,
        },
        None => Calibration {
            bandwidth_gb_per_s: estimate::DEFAULT_BANDWIDTH_GB_PER_S,
            bandwidth_source: "assumed (no measurement cached for this host: run a bench first, or give --hardware)"
                .into(),
            threads,
        },
    })
}

fn bench_units(
    opts: &mut BenchOptions,
    s: &SweepEntry,
    sizes: &[ModelSize],
    cal: &Calibration,
) -> Vec<Unit> {
    fleet::apply_bench(opts, s);
    let models: Vec<PathBuf> = s.models.iter().map(PathBuf::from).collect();
    let grid = bench::grid(opts, models.clone(), cal.threads);
    crate::runner::expand(&grid)
        .into_iter()
        .map(|c| {
            let model = models
                .iter()
                .position(|m| *m == c.model_path)
                .expect("a sweep model");
            let case = BenchCase {
                n_prompt: c.test.n_prompt,
                n_gen: c.test.n_gen,
                n_depth: c.test.n_depth,
                runs: c.warmup_runs + c.stop_rule.min_runs.max(1),
            };
            Unit {
                model,
                label: c.test.name(),
                estimate_s: estimate::bench_case_s(&sizes[model], &cal.rates(&sizes[model]), &case),
            }
        })
        .collect()
}

fn mean_tokens(given: &Option<crate::results::load::Lengths>, workload: Option<f64>) -> f64 {
    given
        .as_ref()
        .map(|l| l.mean())
        .or(workload)
        .unwrap_or(DEFAULT_REQUEST_TOKENS as f64)
}

fn load_units(
    opts: &mut LoadOptions,
    s: &SweepEntry,
    config: &Config,
    sizes: &[ModelSize],
    cal: &Calibration,
) -> anyhow::Result<Vec<Unit>> {
    fleet::apply_load(opts, s)?;
    let workload = opts
        .workload
        .as_ref()
        .and_then(|w| config.workload.iter().find(|e| &e.name == w));
    let input = mean_tokens(
        &opts.input_tokens,
        workload.map(|w| w.input_tokens_per_request.mean()),
    );
    let output = mean_tokens(
        &opts.output_tokens,
        workload.map(|w| w.output_tokens_per_request.mean()),
    );
    let levels = fleet::levels_of(opts);
    Ok(fleet::load_units(&s.models, &levels)
        .into_iter()
        .map(|(model, level)| {
            let slots = match level {
                Level::Closed(c) => c,
                Level::Open(_) => opts.parallel.unwrap_or(DEFAULT_OPEN_LOOP_SLOTS),
            };
            let requests = opts.requests.unwrap_or_else(|| default_requests(slots));
            let estimate_s = match opts.duration {
                Some(d) => d.as_secs_f64(),
                None => estimate::load_level_s(
                    &sizes[model],
                    &cal.rates(&sizes[model]),
                    &LoadLevel {
                        requests,
                        input_tokens: input,
                        output_tokens: output,
                        slots,
                    },
                ),
            };
            Unit {
                model,
                label: level.label(),
                estimate_s,
            }
        })
        .collect())
}

/// The sweep's shards and their estimates.
pub fn plan(opts: &mut PlanOptions) -> anyhow::Result<Plan> {
    let config = Config::load(opts.config.as_deref())?;
    let s = fleet::find_sweep(opts.config.as_deref(), &opts.sweep)?;
    let config_dir = opts
        .config
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let sizes = s
        .models
        .iter()
        .map(|m| model_size(m, &config, &config_dir))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let host = HostInfo::collect();
    let threads = s
        .threads
        .as_ref()
        .and_then(|t| t.first().copied())
        .unwrap_or_else(|| host.default_threads());
    let cal = calibration(opts, &config, threads, &host)?;
    let units = match s.command {
        SweepCommand::Bench => bench_units(&mut opts.bench_defaults, &s, &sizes, &cal),
        SweepCommand::Load => load_units(&mut opts.load_defaults, &s, &config, &sizes, &cal)?,
    };
    let per = fleet::unit_of(opts.per, &s);
    let n_units = match per {
        ShardUnit::Case => units.len(),
        ShardUnit::Model => s.models.len(),
    };
    let count = opts.shards.unwrap_or(n_units as u32);
    if count == 0 || count as usize > n_units {
        return Err(InputError(format!(
            "--shards {count}: the sweep {} has {n_units} {}(s): give 1 to {n_units}",
            s.name,
            per.name()
        ))
        .into());
    }
    let mut shards: Vec<PlannedShard> = (0..count)
        .map(|index| PlannedShard {
            index,
            cases: Vec::new(),
            estimate_s: estimate::RUN_START_S,
        })
        .collect();
    for (i, u) in units.into_iter().enumerate() {
        let unit = match per {
            ShardUnit::Case => i,
            ShardUnit::Model => u.model,
        };
        let shard = &mut shards[unit % count as usize];
        debug_assert!(Shard {
            index: shard.index,
            count
        }
        .owns(unit));
        if !shard.cases.iter().any(|c| c.model == s.models[u.model]) {
            shard.estimate_s += estimate::model_hash_s(&sizes[u.model]);
        }
        shard.estimate_s += u.estimate_s;
        shard.cases.push(PlannedCase {
            model: s.models[u.model].clone(),
            label: u.label,
            estimate_s: u.estimate_s,
        });
    }
    Ok(Plan {
        sweep: s.name.clone(),
        command: s.command.name(),
        per: per.name(),
        units: n_units,
        shards,
        calibration: cal,
    })
}

/// `1.2 s`, `3.4 min`, `2.1 h`.
fn human_s(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.2} s")
    } else if s < 7200.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

pub fn render(p: &Plan) -> String {
    let mut out = format!(
        "sweep {} ({}): {} shard(s), one per {} ({} {}(s))\nestimate for a host with {:.1} GB/s ({}) and {} thread(s)\n\n",
        p.sweep,
        p.command,
        p.shards.len(),
        p.per,
        p.units,
        p.per,
        p.calibration.bandwidth_gb_per_s,
        p.calibration.bandwidth_source,
        p.calibration.threads
    );
    out.push_str("| shard | model | cases | estimate |\n|---:|---|---|---:|\n");
    for s in &p.shards {
        let mut models: Vec<&str> = s.cases.iter().map(|c| c.model.as_str()).collect();
        models.dedup();
        let labels: Vec<&str> = s.cases.iter().map(|c| c.label.as_str()).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            s.index,
            models.join(", "),
            labels.join(", "),
            human_s(s.estimate_s)
        );
    }
    let total: f64 = p.shards.iter().map(|s| s.estimate_s).sum();
    let longest = p.shards.iter().map(|s| s.estimate_s).fold(0.0, f64::max);
    let _ = writeln!(
        out,
        "\n{} shard(s); {} of shard time in all; the longest shard {}",
        p.shards.len(),
        human_s(total),
        human_s(longest)
    );
    out
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// The Slurm script or Kubernetes manifest for the plan.
pub fn emit(p: &Plan, config: Option<&Path>, e: &EmitOptions) -> anyhow::Result<String> {
    let run_id = e
        .run_id
        .clone()
        .unwrap_or_else(|| format!("{}-{}", p.sweep, chrono::Utc::now().format("%Y%m%d-%H%M%S")));
    crate::fleet::check_run_id(&run_id).map_err(|e| InputError(format!("--run-id: {e}")))?;
    let binary = match &e.binary {
        Some(b) => absolute(b),
        None => std::env::current_exe()
            .map_err(|err| InputError(format!("cannot find this tokenmeter's path: {err}")))?,
    };
    let shards = p.shards.len() as u32;
    let spec = EmitSpec {
        sweep: p.sweep.clone(),
        command: p.command,
        shards,
        per: ShardUnit::parse(p.per).expect("a unit's name"),
        run_id,
        max_parallel: e.max_parallel.unwrap_or(shards),
        gpus: e.gpus,
        longest_shard_s: p.shards.iter().map(|s| s.estimate_s).fold(0.0, f64::max),
        binary: binary.display().to_string(),
        config: absolute(config.unwrap_or(Path::new(crate::config::DEFAULT_CONFIG)))
            .display()
            .to_string(),
        results_dir: absolute(&e.results_dir).display().to_string(),
        image: e.image.clone(),
        gpu_product: e.gpu_product.clone(),
    };
    Ok(match e.kind {
        Emit::Slurm => emit::slurm(&spec),
        Emit::Kubernetes => emit::kubernetes(&spec),
    })
}
