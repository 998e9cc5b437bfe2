//! The options every measuring run takes (`bench`, `load`, a `profile` phase): where the result goes, how units
//! are isolated, limited and stopped, resume, baselines and the engine flags a `load` sweep takes.

use super::sensors::TelemetryOptions;
use crate::engine;
use crate::exit::InputError;
use std::path::PathBuf;
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

/// Where `--save-baseline` keeps the run's result: `<dir>/<name>.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineTarget {
    pub dir: PathBuf,
    pub name: String,
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
