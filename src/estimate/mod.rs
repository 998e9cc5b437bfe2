//! How long a unit of work takes before it runs: a `bench` case, a `load` level (the first one, or the next one
//! from the level before), hashing and synthesizing a model. `plan` adds them up into a shard's wall time,
//! `profile` into a phase's to skip what does not fit its budget, and a worker's timeout starts from them. Pure:
//! no I/O, no clock.
//!
//! A model's [`Rates`] are the seconds one prompt token and one decode step take. They come from a physical model
//! of the host ([`Calibration`]: its memory bandwidth and threads), or from rates measured on the model (llama-bench's
//! t/s), and scale from one model to another: prompt processing with the parameters, generation with the bytes of
//! weights a token reads. The physical model:
//!
//! ```text
//!   prompt token = weight bytes / (prompt rate per thread × threads) + per-token overhead
//!   decode step  = weight bytes / (bandwidth × roofline fraction) + per-step overhead
//! ```
//!
//! where "weight bytes" are the bytes of weights one token reads. Prompt processing is compute-bound and its
//! matrix products scale with the weights (quantized weights cost in proportion to their bytes, so bytes stand
//! in for operations); generation is memory-bound: each token reads the weights once. A run of `pp` prompt tokens
//! and `tg` generated ones then takes `pp × prompt token + tg × decode step`; generation after a long context is
//! slower ([`GEN_RATE_SHARE_AT_DEPTH`]). A case or level adds its worker's start and model load (file size over
//! a page-cache read rate); a run of the command adds one process start and hashes each of its model files once.
//!
//! The bandwidth is the host's cached measurement (`bandwidth/<host>.json` in the cache directory), a
//! `[[hardware]]` entry's, or [`DEFAULT_BANDWIDTH_GB_PER_S`]. The constants were measured on a 2-thread AMD EPYC
//! virtual machine (28 GB/s, CPU backend) on 2026-11-26 with the `tiny` and `small` synthesized shapes in q4_0;
//! see results/reference/fleet-plan-cpu/ for the check against measured shard times. On a GPU the physical
//! model's prompt rate is still a CPU's (an upper bound there) until a rate is measured. Not counted: a first
//! bandwidth measurement on a new host, the idle-power measurement a host with an energy sensor makes (`--idle`,
//! 10 s by default), the numerics gate's run, and other programs sharing the machine.

#[cfg(test)]
mod tests;

use serde::Serialize;
use std::time::Duration;

/// A run's process start, configuration and provenance: a `plan` shard, a `profile` phase (measured: a whole
/// `tiny` pp128 shard takes 0.02-0.03 s, of which 5 ms are prompt processing).
pub const RUN_START_S: f64 = 0.01;
/// A case's or load level's worker process start, before its model loads.
pub const CASE_START_S: f64 = 0.01;
/// Rate at which a case's worker maps and loads a cached model file (page cache, CPU backend); assumed, checked
/// only as part of whole shard times (results/reference/fleet-plan-cpu/).
pub const MODEL_LOAD_BYTES_PER_S: f64 = 2.0e9;
/// Rate at which a run hashes each of its model files once for the result's provenance (SHA-256, one thread;
/// measured: a `small` shard spends about 0.1 s on its 33 MB file).
pub const MODEL_HASH_BYTES_PER_S: f64 = 0.35e9;
/// Rate at which a synthesized model is written (measured on the same host on 2026-12-06, other work sharing the
/// cores: `synth --shape llama-3.2-1b` 698 MB in 1.2 s, `qwen2.5-0.5b` 281 MB in 0.6 s, 470-580 MB/s; this
/// leaves room for a slower disk).
pub const SYNTH_BYTES_PER_S: f64 = 300e6;
/// Weight bytes a thread processes per second for prompt tokens (measured: `small` q4_0, 23.4 MB read per
/// token, pp128 at 3 420 t/s with 2 threads: 40 GB/s a thread).
pub const PROMPT_WEIGHT_BYTES_PER_S_PER_THREAD: f64 = 40.0e9;
/// Fixed cost of a prompt token (measured: `tiny` q4_0, pp128 at 103 000 t/s: 10 µs a token).
pub const PROMPT_TOKEN_S: f64 = 9.0e-6;
/// Generation's share of the memory-bandwidth roofline (measured: `small` q4_0, tg32 at 950 t/s against 28 GB/s).
pub const GEN_ROOFLINE_FRACTION: f64 = 0.8;
/// Fixed cost of one decode step (measured: `tiny` q4_0, tg32 at 12 700 t/s: 79 µs a token).
pub const DECODE_STEP_S: f64 = 80.0e-6;
/// What one sequence of a load level's decode batch costs, in prompt tokens: a batch of a few sequences uses the
/// matrix kernels less well than a prompt's hundreds of tokens (measured: `small` q4_0 under `load -c 4`, 5.3 ms
/// a step against 1.1 ms of weight reading and 0.3 ms a prompt token).
pub const DECODE_SEQUENCE_PROMPT_TOKENS: f64 = 3.0;
/// Memory bandwidth assumed when neither a measurement nor `--hardware` gives one (a desktop's dual-channel DDR4).
pub const DEFAULT_BANDWIDTH_GB_PER_S: f64 = 20.0;
/// Generation after [`GEN_DEPTH_REFERENCE_TOKENS`] of context runs at this share of its rate without context; a
/// decode step's time grows linearly with the depth in between and beyond (each step reads every earlier
/// position's keys and values). An assumption that errs long: the KV cache alone (f16) adds 19% to the bytes
/// a `llama-3.2-1b` q4_0 step reads at depth 4096 (128 MiB to 698 MB) and 13% to a `llama-3.1-8b` one's; the
/// attention's compute adds to that on a CPU.
pub const GEN_RATE_SHARE_AT_DEPTH: f64 = 0.7;
/// The depth [`GEN_RATE_SHARE_AT_DEPTH`] is stated at: llama-bench's and `profile`'s long-context test.
pub const GEN_DEPTH_REFERENCE_TOKENS: u32 = 4096;
/// The next load level's time as a multiple of the level before's when that level measured no output rate: the
/// next level has at most twice its requests (`load`'s default requests grow with the slots, which double).
pub const UNMEASURED_NEXT_LEVEL_FACTOR: f64 = 2.0;

/// What the estimate needs of a model (as `results::ModelEntry` records it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ModelSize {
    pub file_size_bytes: u64,
    pub n_params: u64,
    pub weights_read_per_token_bytes: u64,
}

impl ModelSize {
    /// A result file's model; one recorded without the bytes a token reads is taken to read the whole file
    /// (longer than it is).
    pub fn of_entry(e: &crate::results::ModelEntry) -> ModelSize {
        ModelSize {
            file_size_bytes: e.file_size_bytes,
            n_params: e.n_params,
            weights_read_per_token_bytes: e
                .weights_read_per_token_bytes
                .unwrap_or(e.file_size_bytes),
        }
    }
}

/// The host the physical model is for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    pub bandwidth_gb_per_s: f64,
    /// Where the bandwidth came from (`measured on HOST`, `[[hardware]] NAME`, `assumed`).
    pub bandwidth_source: String,
    pub threads: u32,
}

impl Calibration {
    /// A host with `threads` threads and its cached bandwidth measurement, or [`DEFAULT_BANDWIDTH_GB_PER_S`]
    /// when it has none (or a figure that is not a positive number).
    pub fn of_host(threads: u32, cached_bandwidth_gb_per_s: Option<f64>) -> Calibration {
        match cached_bandwidth_gb_per_s.filter(|b| b.is_finite() && *b > 0.0) {
            Some(b) => Calibration {
                bandwidth_gb_per_s: b,
                bandwidth_source: "measured".into(),
                threads,
            },
            None => Calibration {
                bandwidth_gb_per_s: DEFAULT_BANDWIDTH_GB_PER_S,
                bandwidth_source: "assumed".into(),
                threads,
            },
        }
    }

    /// The physical model's rates of model `m` on this host.
    pub fn rates(&self, m: &ModelSize) -> Rates {
        let bytes = m.weights_read_per_token_bytes as f64;
        Rates {
            prompt_token_s: bytes
                / (PROMPT_WEIGHT_BYTES_PER_S_PER_THREAD * self.threads.max(1) as f64)
                + PROMPT_TOKEN_S,
            decode_step_s: bytes / (self.bandwidth_gb_per_s * 1e9 * GEN_ROOFLINE_FRACTION)
                + DECODE_STEP_S,
        }
    }
}

/// One model's speed on one host: seconds a prompt token and a decode step (one sequence, no context) take.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rates {
    pub prompt_token_s: f64,
    pub decode_step_s: f64,
}

impl Rates {
    /// Measured prompt and generation rates (llama-bench's `avg_ts` of a prompt-only and a generation-only test);
    /// `None` unless both are positive.
    pub fn measured(pp_tps: f64, tg_tps: f64) -> Option<Rates> {
        let positive = |t: f64| t.is_finite() && t > 0.0;
        (positive(pp_tps) && positive(tg_tps)).then(|| Rates {
            prompt_token_s: 1.0 / pp_tps,
            decode_step_s: 1.0 / tg_tps,
        })
    }

    /// These rates with each measured one (positive) in place of its estimate.
    pub fn with_measured(self, pp_tps: Option<f64>, tg_tps: Option<f64>) -> Rates {
        let per_token = |t: Option<f64>| t.filter(|t| t.is_finite() && *t > 0.0).map(|t| 1.0 / t);
        Rates {
            prompt_token_s: per_token(pp_tps).unwrap_or(self.prompt_token_s),
            decode_step_s: per_token(tg_tps).unwrap_or(self.decode_step_s),
        }
    }

    /// The rates of model `to` from those of model `from`: prompt processing scales with the parameters
    /// (compute), generation with the bytes of weights a token reads (memory).
    pub fn scaled(self, from: &ModelSize, to: &ModelSize) -> Rates {
        let ratio = |to: u64, from: u64| to.max(1) as f64 / from.max(1) as f64;
        Rates {
            prompt_token_s: self.prompt_token_s * ratio(to.n_params, from.n_params),
            decode_step_s: self.decode_step_s
                * ratio(
                    to.weights_read_per_token_bytes,
                    from.weights_read_per_token_bytes,
                ),
        }
    }

    /// Prompt tokens a second.
    pub fn pp_tps(&self) -> f64 {
        1.0 / self.prompt_token_s
    }

    /// Generated tokens a second, without context.
    pub fn tg_tps(&self) -> f64 {
        1.0 / self.decode_step_s
    }

    /// A decode step after `n_depth` tokens of context ([`GEN_RATE_SHARE_AT_DEPTH`]).
    pub fn decode_step_at_depth_s(&self, n_depth: u32) -> f64 {
        let slowdown = 1.0 / GEN_RATE_SHARE_AT_DEPTH - 1.0;
        self.decode_step_s * (1.0 + slowdown * n_depth as f64 / GEN_DEPTH_REFERENCE_TOKENS as f64)
    }
}

/// A `bench` case: `runs` runs (warm-up included) of `n_depth` context tokens, `n_prompt` prompt tokens and
/// `n_gen` generated ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchCase {
    pub n_prompt: u32,
    pub n_gen: u32,
    pub n_depth: u32,
    pub runs: u32,
}

/// A `load` level: `requests` requests of `input_tokens` prompt and `output_tokens` generated tokens (means)
/// through `slots` sequences decoded together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadLevel {
    pub requests: u32,
    pub input_tokens: f64,
    pub output_tokens: f64,
    pub slots: u32,
}

/// What a finished load level measured, as the next level's estimate needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeasuredLevel {
    pub output_tokens_per_s: f64,
    pub duration_s: f64,
}

/// A case's or level's worker start and model load.
pub fn case_start_s(m: &ModelSize) -> f64 {
    CASE_START_S + m.file_size_bytes as f64 / MODEL_LOAD_BYTES_PER_S
}

/// Hashing model `m`'s file, once per model a run uses.
pub fn model_hash_s(m: &ModelSize) -> f64 {
    m.file_size_bytes as f64 / MODEL_HASH_BYTES_PER_S
}

/// Writing synthesized model `m` into the cache.
pub fn synth_s(m: &ModelSize) -> f64 {
    m.file_size_bytes as f64 / SYNTH_BYTES_PER_S
}

/// A bench case of model `m` at rates `r`: its worker's start and model load, then every run (the depth is
/// processed as prompt tokens; generation after it runs slower).
pub fn bench_case_s(m: &ModelSize, r: &Rates, c: &BenchCase) -> f64 {
    let per_run = (c.n_prompt + c.n_depth) as f64 * r.prompt_token_s
        + c.n_gen as f64 * r.decode_step_at_depth_s(c.n_depth);
    case_start_s(m) + c.runs as f64 * per_run
}

/// A load level of model `m` at rates `r`: its worker's start and model load, every request's prompt, and the
/// decode steps of as many waves of `slots` requests as there are (one step reads the weights once for every
/// busy slot; its compute grows with them, [`DECODE_SEQUENCE_PROMPT_TOKENS`] prompt tokens a slot).
pub fn load_level_s(m: &ModelSize, r: &Rates, l: &LoadLevel) -> f64 {
    let slots = l.slots.max(1);
    let waves = (l.requests as f64 / slots as f64).ceil();
    let step_s = r.decode_step_s + slots as f64 * DECODE_SEQUENCE_PROMPT_TOKENS * r.prompt_token_s;
    case_start_s(m)
        + l.requests as f64 * l.input_tokens * r.prompt_token_s
        + waves * l.output_tokens * step_s
}

/// The next load level of model `m`, `requests` requests of `output_tokens` generated tokens, from the level
/// before it: its worker's start and model load, then its requests at that level's output rate (no gain from
/// the added concurrency is assumed, so the estimate errs long); [`UNMEASURED_NEXT_LEVEL_FACTOR`] times the
/// level before when it measured no rate.
pub fn next_load_level_s(
    m: &ModelSize,
    requests: u32,
    output_tokens: f64,
    previous: &MeasuredLevel,
) -> f64 {
    let rate = previous.output_tokens_per_s;
    if rate.is_finite() && rate > 0.0 {
        case_start_s(m) + requests as f64 * output_tokens / rate
    } else {
        previous.duration_s * UNMEASURED_NEXT_LEVEL_FACTOR
    }
}

/// What an estimate made before a unit runs rests on: the host, and the rates earlier units of the same model
/// measured.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Basis {
    pub threads: u32,
    /// The host's cached memory-bandwidth measurement; `None`: [`DEFAULT_BANDWIDTH_GB_PER_S`].
    pub bandwidth_gb_per_s: Option<f64>,
    /// Prompt tokens a second an earlier prompt-only case of the model measured.
    pub measured_pp_tps: Option<f64>,
    /// Generated tokens a second an earlier generation-only case (without context) of the model measured.
    pub measured_tg_tps: Option<f64>,
}

impl Basis {
    /// Model `m`'s rates: the measured ones, and the physical model's for what was not measured.
    pub fn rates(&self, m: &ModelSize) -> Rates {
        Calibration::of_host(self.threads, self.bandwidth_gb_per_s)
            .rates(m)
            .with_measured(self.measured_pp_tps, self.measured_tg_tps)
    }
}

/// Seconds as a duration; [`Duration::MAX`] for what does not fit one (an infinite or huge estimate).
fn duration(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)
}

/// How long a bench case of `model` takes in its worker (start, model load and every run).
pub fn bench_case_estimate(model: &ModelSize, case: &BenchCase, basis: &Basis) -> Duration {
    duration(bench_case_s(model, &basis.rates(model), case))
}

/// How long a load level of `model` takes in its worker (start, model load and every request).
pub fn load_level_estimate(model: &ModelSize, level: &LoadLevel, basis: &Basis) -> Duration {
    duration(load_level_s(model, &basis.rates(model), level))
}
