//! `plan`'s estimate of a shard's wall time, from the model's size and the case's token counts.
//!
//! A repetition of `pp` prompt tokens and `tg` generated ones takes about
//!
//! ```text
//!   pp × (weight bytes / (prompt rate per thread × threads) + per-token overhead)
//! + tg × (weight bytes / (bandwidth × roofline fraction) + per-step overhead)
//! ```
//!
//! where "weight bytes" are the bytes of weights one token reads. Prompt processing is compute-bound and its
//! matrix products scale with the weights (quantized weights cost in proportion to their bytes, so bytes stand
//! in for operations); generation is memory-bound: each token reads the weights once. A case adds a worker
//! start and a model load (file size over a page-cache read rate); a shard adds one process start and hashes
//! each of its model files once. The
//! bandwidth is this host's cached measurement (`bandwidth/<host>.json` in the cache directory), a
//! `[[hardware]]` entry's, or a default. The constants were measured on a 2-thread AMD EPYC virtual machine
//! (28 GB/s, CPU backend) on 2026-11-26 with the `tiny` and `small` synthesized shapes in q4_0; see
//! results/reference/fleet-plan-cpu/ for the check against measured shard times. Not counted: synthesizing a
//! model the cache lacks, a first bandwidth measurement on a new host, the idle-power measurement a host with an
//! energy sensor makes (`--idle`, 10 s by default), and other programs sharing the machine.

use serde::Serialize;

/// A shard's process start, configuration and provenance (measured: a whole `tiny` pp128 shard takes 0.02-0.03 s,
/// of which 5 ms are prompt processing).
pub const SHARD_START_S: f64 = 0.01;
/// A case's worker process start, before its model loads.
pub const CASE_START_S: f64 = 0.01;
/// Rate at which a case's worker maps and loads a cached model file (page cache, CPU backend).
pub const MODEL_LOAD_BYTES_PER_S: f64 = 2.0e9;
/// Rate at which a shard hashes each of its model files once for the result's provenance (SHA-256, one thread;
/// measured: a `small` shard spends about 0.1 s on its 33 MB file).
pub const MODEL_HASH_BYTES_PER_S: f64 = 0.35e9;
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

/// What the estimate needs of a model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ModelSize {
    pub file_size_bytes: u64,
    pub n_params: u64,
    pub weights_read_per_token_bytes: u64,
}

/// The host the estimate is for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    pub bandwidth_gb_per_s: f64,
    /// Where the bandwidth came from (`measured on HOST`, `[[hardware]] NAME`, `assumed`).
    pub bandwidth_source: String,
    pub threads: u32,
}

impl Calibration {
    fn prompt_token_s(&self, m: &ModelSize) -> f64 {
        m.weights_read_per_token_bytes as f64
            / (PROMPT_WEIGHT_BYTES_PER_S_PER_THREAD * self.threads.max(1) as f64)
            + PROMPT_TOKEN_S
    }

    fn decode_step_s(&self, m: &ModelSize) -> f64 {
        m.weights_read_per_token_bytes as f64
            / (self.bandwidth_gb_per_s * 1e9 * GEN_ROOFLINE_FRACTION)
            + DECODE_STEP_S
    }

    /// Once per model a shard runs: hashing its file.
    pub fn model_hash_s(&self, m: &ModelSize) -> f64 {
        m.file_size_bytes as f64 / MODEL_HASH_BYTES_PER_S
    }

    fn case_start_s(&self, m: &ModelSize) -> f64 {
        CASE_START_S + m.file_size_bytes as f64 / MODEL_LOAD_BYTES_PER_S
    }

    /// A bench case: `runs` runs (warm-up included) of `n_depth` context tokens, `n_prompt` prompt tokens and
    /// `n_gen` generated ones.
    pub fn bench_case_s(
        &self,
        m: &ModelSize,
        n_prompt: u32,
        n_gen: u32,
        n_depth: u32,
        runs: u32,
    ) -> f64 {
        let per_run = (n_prompt + n_depth) as f64 * self.prompt_token_s(m)
            + n_gen as f64 * self.decode_step_s(m);
        self.case_start_s(m) + runs as f64 * per_run
    }

    /// A load level: `requests` requests of `input` prompt and `output` generated tokens (means) through `slots`
    /// sequences decoded together (one step reads the weights once for every busy slot; its compute grows with
    /// them).
    pub fn load_level_s(
        &self,
        m: &ModelSize,
        requests: u32,
        input: f64,
        output: f64,
        slots: u32,
    ) -> f64 {
        let slots = slots.max(1);
        let waves = (requests as f64 / slots as f64).ceil();
        let step_s = self.decode_step_s(m)
            + slots as f64 * DECODE_SEQUENCE_PROMPT_TOKENS * self.prompt_token_s(m);
        self.case_start_s(m)
            + requests as f64 * input * self.prompt_token_s(m)
            + waves * output * step_s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> ModelSize {
        ModelSize {
            file_size_bytes: 33_282_784,
            n_params: 57_000_000,
            weights_read_per_token_bytes: 30_000_000,
        }
    }

    fn host() -> Calibration {
        Calibration {
            bandwidth_gb_per_s: 28.0,
            bandwidth_source: "measured".into(),
            threads: 2,
        }
    }

    #[test]
    fn a_generation_case_is_weight_bytes_over_bandwidth_per_token() {
        let c = host();
        // 4 runs × 64 tokens × (30 MB / (28 GB/s × 0.8) + 80 µs) + start (10 ms + 33 MB / 2 GB/s).
        let expected = 4.0 * 64.0 * (30e6 / 22.4e9 + 80e-6) + 0.01 + 33_282_784.0 / 2e9;
        assert!((c.bench_case_s(&small(), 0, 64, 0, 4) - expected).abs() < 1e-9);
    }

    #[test]
    fn a_prompt_case_is_weight_bytes_over_the_threads_rate() {
        let c = host();
        // 2 runs × 256 tokens × (30 MB / (2 × 40 GB/s) + 9 µs) + start.
        let expected = 2.0 * 256.0 * (30e6 / 80e9 + 9e-6) + 0.01 + 33_282_784.0 / 2e9;
        assert!((c.bench_case_s(&small(), 256, 0, 0, 2) - expected).abs() < 1e-9);
    }

    #[test]
    fn more_slots_serve_the_same_requests_in_fewer_steps() {
        let c = host();
        let one = c.load_level_s(&small(), 8, 32.0, 32.0, 1);
        let four = c.load_level_s(&small(), 8, 32.0, 32.0, 4);
        assert!(four < one, "{four} !< {one}");
    }
}
