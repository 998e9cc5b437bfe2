//! The profile sweep: a candidate machine in one run. It picks the model shapes that fit the device's memory,
//! runs a bench sweep (pp512, tg128), a rising load sweep that stops when goodput stops rising or the SLO is
//! missed, and tg128 at depth 4096, all within a time budget, and writes every result file into one directory.
//! Each phase is an ordinary bench or load sweep; what did not fit the budget is skipped, and the outcome says
//! why.
//!
//! This file owns the options and the order of the work: the checks before anything is measured ([`prepare`]),
//! the device and the models that fit it, the calibration, then the phases ([`phases`]) and the outcome. What a
//! phase may take of the budget is `budget.rs`'s; the report and the summary are the `profile` command's.

mod bench;
mod budget;
mod fit;
mod load;
mod models;
mod outcome;
mod phases;
mod requests;
#[cfg(test)]
mod tests;

pub use budget::{allotment, bench_phase_secs, load_phase_secs, over_budget, phase_deadlines};
pub use budget::{LOAD_SHARE, OVERRUN_SHARE};
pub use fit::{busy_machine, does_not_fit, short_context};
pub use models::{Candidate, DEFAULT_SHAPES};
pub use outcome::{PhaseRecord, ProfileOutcome, Status};
pub use phases::{phases, Kind};
pub use requests::{concurrency_levels, requests_too_long, DEFAULT_SLO, MAX_CONCURRENCY};

use crate::config::{Config, WorkloadEntry};
use crate::exit::InputError;
use crate::results::slo::SloTerm;
use crate::results::HostInfo;
use crate::runner::options::{check_engine, EngineOptions, RunOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// llama-bench's standard tests, and the context depth of the long-context generation test.
pub const PROMPT_TOKENS: u32 = 512;
pub const GEN_TOKENS: u32 = 128;
pub const DEPTH_TOKENS: u32 = 4096;
/// Request lengths of the load sweep when no workload gives them (`load`'s defaults).
pub const DEFAULT_REQUEST_TOKENS: u32 = crate::runner::sweep::load::DEFAULT_REQUEST_TOKENS;
/// Output tokens per request of `--quick`'s load sweep when no workload gives them: a level of 20 requests then
/// fits a few-minute budget on a CPU, and each request still has 31 inter-token gaps.
pub const QUICK_OUTPUT_TOKENS: u32 = 32;

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

    /// The engine settings of every phase.
    pub(super) fn engine(&self) -> EngineOptions {
        EngineOptions {
            n_threads: self.n_threads,
            n_gpu_layers: self.n_gpu_layers,
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
}

/// The `[[workload]]` (`--workload`) the load sweep takes its request lengths and SLO from.
pub struct Workload<'a> {
    pub name: &'a str,
    /// Its entry; `None` when the configuration could not be read (the sweep's lengths and SLO are then the
    /// defaults, and the load sweep reads the workload itself).
    pub entry: Option<&'a WorkloadEntry>,
}

/// What [`prepare`] checked: the budget's start, this host, the output directory and the configuration.
pub struct Prepared {
    started: Instant,
    host: HostInfo,
    dir: PathBuf,
    config: Config,
    config_dir: PathBuf,
}

/// Starts the budget's clock, and refuses an output directory that is not new or empty and a configuration
/// that cannot be read, before anything is measured.
pub fn prepare(o: &ProfileOptions) -> anyhow::Result<Prepared> {
    let started = Instant::now();
    let host = HostInfo::collect();
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
    Ok(Prepared {
        started,
        host,
        dir,
        config,
        config_dir,
    })
}

fn default_dir(host: &HostInfo) -> PathBuf {
    let host = host.hostname.clone().unwrap_or_else(|| "host".into());
    PathBuf::from("results").join(format!(
        "profile-{}-{}",
        chrono::Utc::now().format("%Y-%m-%dT%H%M%S"),
        crate::fsutil::file_name_part(&host)
    ))
}

/// Runs the profile `p` was prepared for: the models that fit this device, the calibration, then every phase
/// that fits the budget, each writing its result file into `p`'s directory.
pub fn run(
    o: &ProfileOptions,
    p: Prepared,
    workload: Option<Workload<'_>>,
) -> anyhow::Result<ProfileOutcome> {
    let budget = o.budget();
    let shape = requests::RequestShape::of(o, workload.as_ref().and_then(|w| w.entry));
    let engine = o.engine();
    check_engine(&engine)?;
    let all = models::candidates(&o.models, &p.config, &p.config_dir)?;

    let build = crate::engine::build_info(o.run.verbose)?;
    let mut host_facts = crate::preflight::host_facts_of(&p.host, &build);
    host_facts.has_gpu &= o.n_gpu_layers != 0;
    let free = crate::preflight::measure_free(&build, host_facts.has_gpu)?;
    let device = fit::Device::of(&p.host, host_facts.has_gpu, &free);
    let (mut fit, models_left_out) = device.fitting(all);
    if fit.is_empty() {
        return Err(InputError(format!(
            "no model fits this device: {}",
            models_left_out.join("; ")
        ))
        .into());
    }
    std::fs::create_dir_all(&p.dir)
        .map_err(|e| InputError(format!("{}: cannot create: {e}", p.dir.display())))?;
    if let Some(busy) =
        fit::cpu_busy_percent().and_then(|b| busy_machine(b, p.host.cpu_logical_cpus))
    {
        eprintln!("warning: {busy}");
    }

    let (calibration, calibration_took) =
        bench::calibration(o, &fit[0], &p.config_dir, &engine, p.started);
    for c in &mut fit {
        c.needs_synth = c.needs_synth && !models::cached(&c.entry);
    }
    let cx = phases::Context {
        o,
        models: fit,
        shape,
        workload: workload.map(|w| w.name.to_string()),
        engine,
        host_facts,
        free,
        dir: p.dir.clone(),
        config_dir: p.config_dir,
        deadline: p.started + budget,
        budget,
        calibration,
    };
    let records = phases::run_all(&cx);
    Ok(ProfileOutcome {
        dir: p.dir,
        device: device.name,
        budget,
        took: p.started.elapsed(),
        calibration: calibration_took,
        phases: records,
        models_left_out,
        report: None,
        report_error: None,
        interrupted: o.run.stopped(),
    })
}
