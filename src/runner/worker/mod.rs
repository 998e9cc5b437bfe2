//! One `bench` case, one `load` level, a self-test probe, a numerics gate or reference, or a matrix-vector probe
//! in a child process of the same binary (`tokenmeter worker`, hidden), so that a llama.cpp abort, a segfault, an
//! out-of-memory kill, a hang or a unit past its time limits ends that unit, not the sweep. This module owns the
//! protocol between the two processes; `parent` spawns and supervises a worker, `serve` is the worker's side.
//!
//! The parent writes the `Request` as JSON on the worker's stdin and reads `Reply`s, one JSON object per line,
//! from a pipe of their own: the worker finds its write end at the descriptor named by `TOKENMETER_REPLY_FD`.
//! Nothing llama.cpp or ggml prints can reach that pipe: the worker's stdout and stderr both go to the parent's
//! stderr tail (the failure reasons' last lines; echoed to the parent's stderr with `-v`). The worker states its
//! timestamps against an origin on the system-wide monotonic clock (`crate::clock`), so the parent places them in
//! its sensor windows. The worker runs in its own process group: Ctrl-C at a terminal reaches the parent only,
//! which decides whether the unit in flight finishes (first Ctrl-C) or is killed (second).

mod limits;
mod parent;
mod serve;
mod spawn;

pub use limits::{
    EffectiveLimits, Limits, DEFAULT_TIMEOUT, STALL_FLOOR, STALL_SHARE, TIMEOUT_FACTOR,
    TIMEOUT_FLOOR,
};
pub use parent::{buffers_phrase, run_in_worker, WorkerFailure, EXIT_GRACE, STDERR_TAIL_LINES};
pub use serve::serve;

use crate::engine::{self, ContextParams, ModelParams};
use crate::results::load::RequestSample;
use crate::results::record::RepSample;
use crate::results::record::{Kernels, Numerics, Offload};
use crate::results::telemetry::ProcessContext;
use crate::runner::load::LevelSpec;
use crate::runner::probe::{EngineConfig, ProbeReport};
use crate::runner::Case;
use crate::stats::StopReason;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The environment variable that tells a worker which descriptor its replies go to.
pub const REPLY_FD_ENV: &str = "TOKENMETER_REPLY_FD";

/// The descriptor a worker's replies go to (the first after stdin, stdout and stderr).
pub const REPLY_FD: i32 = 3;

/// Test hook: a worker whose job's label contains this variable's value aborts (SIGABRT) before running it, as
/// a llama.cpp assertion would.
pub const ABORT_ENV: &str = "TOKENMETER_WORKER_ABORT";

/// Test hook: a worker whose job's label contains this variable's value writes garbage to its stdout and stderr
/// (lines that look like replies, a JSON line left unfinished, bytes that are not UTF-8) before running it.
pub const NOISE_ENV: &str = "TOKENMETER_WORKER_NOISE";

/// Test hook: a worker whose job's label contains this variable's value sleeps forever once it has sent its
/// `Loaded` reply, as a hung kernel would.
pub const HANG_ENV: &str = "TOKENMETER_WORKER_HANG";

/// Test hook: a worker whose job's label contains this variable's value sends a final reply that cannot be read
/// in place of its result.
pub const BAD_REPLY_ENV: &str = "TOKENMETER_WORKER_BAD_REPLY";

/// What a worker runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    BenchCase {
        case: Case,
        /// The CPU reference's logits for the numerics gate; `None` with `--no-verify`.
        #[serde(default)]
        reference: Option<std::path::PathBuf>,
    },
    /// The self-test of one engine configuration on a tiny model.
    Probe {
        model_path: std::path::PathBuf,
        config: EngineConfig,
    },
    /// The numerics gate of one engine configuration against a reference (a `load` sweep's).
    Gate {
        model_path: std::path::PathBuf,
        model: ModelParams,
        context: ContextParams,
        reference: std::path::PathBuf,
        #[serde(default)]
        kernels: Kernels,
    },
    /// Generation's compute ceiling: ggml's matrix-vector product on a cache-resident matrix.
    MatVec {
        weight_type: String,
        matrix_bytes: u64,
        threads: u32,
        repack: bool,
    },
    /// The numerics gate's reference logits of a model, written to `out`.
    Reference {
        model_path: std::path::PathBuf,
        use_mmap: bool,
        n_threads: u32,
        out: std::path::PathBuf,
    },
    LoadLevel {
        model_path: std::path::PathBuf,
        model: ModelParams,
        context: ContextParams,
        spec: LevelSpec,
    },
}

/// The job and how to run it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub job: Job,
    /// A human label (`pp512 t=2`, `c=4`), for progress and the abort hook.
    pub label: String,
    pub verbose: bool,
    /// Interval of the worker's own process readings (CPU %, peak memory); `None` with `--telemetry off`.
    pub sample_interval_ns: Option<u64>,
    /// The parent's process id: a worker whose parent is already gone exits at once.
    pub parent_pid: u32,
}

/// What llama.cpp says of the loaded model (the parent never loads it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFacts {
    pub desc: String,
    pub size_bytes: u64,
    pub n_params: u64,
    pub n_vocab: i32,
    /// The layers llama.cpp put on GPU devices (absent for a build without GPU offload).
    #[serde(default)]
    pub offloaded: Option<Offload>,
}

/// A finished `bench` case; `samples[].start_ns` are ns after `origin_mono_ns`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchDone {
    pub model: ModelFacts,
    pub started_at: DateTime<Utc>,
    pub samples: Vec<RepSample>,
    pub complete: bool,
    pub stop_reason: StopReason,
    pub origin_mono_ns: u64,
    pub process: Option<ProcessContext>,
    /// The buffers llama.cpp put the weights in (MiB by buffer type).
    #[serde(default)]
    pub weight_buffers_mib: BTreeMap<String, f64>,
    #[serde(default)]
    pub numerics: Option<Numerics>,
}

/// A finished `load` level; `start_ns` is ns after `origin_mono_ns`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadDone {
    pub model: ModelFacts,
    pub requests: Vec<RequestSample>,
    pub duration_ns: u64,
    #[serde(default)]
    pub window_ns: Option<u64>,
    #[serde(default)]
    pub warmup_ns: u64,
    pub prompt_tokens_processed: u64,
    pub interrupted: bool,
    pub start_ns: u64,
    pub origin_mono_ns: u64,
    pub process: Option<ProcessContext>,
}

/// One line on the reply pipe.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// Repetitions (bench) or requests (load) done so far.
    Progress {
        done: u64,
    },
    /// The model is loaded, its weights in these buffers (sent before the first prompt batch, so that a crash
    /// after it names the kernels' buffer types).
    Loaded {
        weight_buffers_mib: BTreeMap<String, f64>,
    },
    Bench(Box<BenchDone>),
    Load(Box<LoadDone>),
    Probe(Box<ProbeReport>),
    /// The self-test's decodes alone are gated (sent before its first prompt batch, so that a crash in that
    /// batch still leaves the verdict on the decode kernels).
    Decoded {
        numerics: Numerics,
    },
    /// The reference logits are written.
    Reference {
        elapsed_ns: u64,
    },
    Gate {
        numerics: Numerics,
        weight_buffers_mib: BTreeMap<String, f64>,
        #[serde(default)]
        offloaded: Option<Offload>,
    },
    MatVec(crate::telemetry::compute::ComputeRate),
    /// llama.cpp refused the work (a decode failure, a context it could not create).
    Error {
        message: String,
    },
}

/// The layers `m`'s loader put on GPU devices.
pub fn offload_of(m: &engine::Model) -> Option<Offload> {
    m.offloaded_layers
        .map(|(layers, of)| Offload { layers, of })
}

impl ModelFacts {
    /// What llama.cpp says of `m`.
    pub fn of(m: &engine::Model) -> ModelFacts {
        ModelFacts {
            desc: m.desc.clone(),
            size_bytes: m.size_bytes,
            n_params: m.n_params,
            n_vocab: m.n_vocab,
            offloaded: offload_of(m),
        }
    }
}

impl Reply {
    /// Whether this reply ends the job: the result, or the error that took its place. Anything after it is
    /// ignored, and no limit applies once it has arrived.
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            Reply::Progress { .. } | Reply::Loaded { .. } | Reply::Decoded { .. }
        )
    }
}
