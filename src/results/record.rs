//! The per-case record: llama-bench's JSON field names for what llama-bench has, then tokenmeter's own.

use super::telemetry::{CaseEnergy, ProcessContext, Roofline};
use crate::stats::{self, Distribution, LatencyHistogram, StopReason};
use serde::{Deserialize, Serialize};

/// What a case measures, in llama-bench's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Test {
    pub n_prompt: u32,
    pub n_gen: u32,
    pub n_depth: u32,
}

impl Test {
    /// llama-bench's test name: `pp512`, `tg128`, `pp512+tg128`, with ` @ d4096` at depth.
    pub fn name(&self) -> String {
        let base = match (self.n_prompt, self.n_gen) {
            (p, 0) => format!("pp{p}"),
            (0, g) => format!("tg{g}"),
            (p, g) => format!("pp{p}+tg{g}"),
        };
        if self.n_depth > 0 {
            format!("{base} @ d{}", self.n_depth)
        } else {
            base
        }
    }

    /// Tokens a repetition processes (prompt plus generated), the numerator of llama-bench's t/s.
    pub fn n_tokens(&self) -> u64 {
        self.n_prompt as u64 + self.n_gen as u64
    }
}

/// The raw measurements of one repetition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepSample {
    /// Wall time of prompt processing (absent for a generation-only test).
    pub prompt_ns: Option<u64>,
    /// Wall time of generation (absent for a prompt-only test).
    pub gen_ns: Option<u64>,
    /// Wall time of the whole timed region (llama-bench's sample).
    pub total_ns: u64,
    /// For each generated token, when its decode finished, in ns since the timed region began.
    pub gen_token_ns: Vec<u64>,
    /// When the timed region began, in ns since the case's measured window began (the sensors' clock).
    #[serde(default)]
    pub start_ns: Option<u64>,
}

impl RepSample {
    /// Time to first token: the end of prompt processing, or for a generation-only test the end of the first
    /// decode.
    pub fn ttft_ns(&self) -> Option<u64> {
        self.prompt_ns.or(self.gen_token_ns.first().copied())
    }

    /// When each output token was available: the end of prompt processing (when tokens are generated after
    /// it), then each generated token.
    pub fn output_token_ns(&self) -> impl Iterator<Item = u64> + '_ {
        let first = self.prompt_ns.filter(|_| !self.gen_token_ns.is_empty());
        first.into_iter().chain(self.gen_token_ns.iter().copied())
    }

    /// Gaps between consecutive output tokens, the first output token being the one prompt processing yields.
    pub fn itl_ns(&self) -> impl Iterator<Item = u64> + '_ {
        self.output_token_ns()
            .zip(self.output_token_ns().skip(1))
            .map(|(a, b)| b - a)
    }

    /// Whether the output tokens' times never go backwards (every gap is then a difference that cannot wrap).
    pub fn in_time_order(&self) -> bool {
        self.output_token_ns()
            .zip(self.output_token_ns().skip(1))
            .all(|(a, b)| a <= b)
    }
}

/// llama-bench's summary of a case, a pure function of the repetitions' samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub avg_ns: Option<u64>,
    pub stddev_ns: Option<u64>,
    /// Mean of the per-repetition rates (not total tokens over total time).
    pub avg_ts: Option<f64>,
    pub stddev_ts: Option<f64>,
    pub samples_ns: Vec<u64>,
    pub samples_ts: Vec<f64>,
    /// Coefficient of variation of `samples_ts`.
    pub cv_ts: Option<f64>,
    /// Half-width of the 95% confidence interval of `avg_ts`, relative to it.
    pub ci95_rel_half_width: Option<f64>,
    /// Time to first token per repetition, from the timed region's start to when the first output token is
    /// available: the end of prompt processing (whose last logits give it), or for a generation-only test the
    /// end of its first decode.
    pub ttft_ms: Distribution,
    /// Gaps between consecutive output tokens over every repetition; after a prompt, the first gap runs from the
    /// end of prompt processing to the first generated token.
    pub itl_ms: Distribution,
    /// The whole timed region per repetition.
    pub e2e_ms: Distribution,
}

pub fn summarize(test: &Test, samples: &[RepSample]) -> Summary {
    let samples_ns: Vec<u64> = samples.iter().map(|s| s.total_ns).collect();
    let samples_ts = stats::rates_per_s(test.n_tokens(), &samples_ns);
    let ns: Vec<f64> = samples_ns.iter().map(|&x| x as f64).collect();
    let ttft: LatencyHistogram = samples.iter().filter_map(RepSample::ttft_ns).collect();
    let itl: LatencyHistogram = samples.iter().flat_map(RepSample::itl_ns).collect();
    let e2e: LatencyHistogram = samples_ns.iter().copied().collect();
    Summary {
        ci95_rel_half_width: stats::mean_ci95_rel_half_width(&samples_ts),
        ttft_ms: (&ttft).into(),
        itl_ms: (&itl).into(),
        e2e_ms: (&e2e).into(),
        avg_ns: stats::mean(&ns).map(|x| x.round() as u64),
        stddev_ns: stats::stddev(&ns).map(|x| x.round() as u64),
        avg_ts: stats::mean(&samples_ts),
        stddev_ts: stats::stddev(&samples_ts),
        cv_ts: stats::cv(&samples_ts),
        samples_ns,
        samples_ts,
    }
}

/// What a result written before `repack` was recorded ran with: llama.cpp's default, extra buffer types on.
pub fn repack_default() -> bool {
    true
}

/// The numerics gate's verdict on a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumericsVerdict {
    Passed,
    Failed,
    /// Not checked: `--no-verify`, or the reference or the case's logits could not be computed (`reason`).
    NotVerified,
}

/// The numerics gate of one case: the logits of a fixed prompt under the case's engine configuration, against
/// those of the CPU reference (no extra buffer types, no offload) on the same weights, computed in the same run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Numerics {
    pub verdict: NumericsVerdict,
    /// Why the gate failed or did not run.
    #[serde(default)]
    pub reason: Option<String>,
    /// The reference's configuration, e.g. `CPU, repack 0, ngl 0, flash attention off, f16 KV, t=2`.
    #[serde(default)]
    pub reference: Option<String>,
    /// Indexes into the gate prompt of the compared positions (the first ones in one batch, the later ones
    /// decoded a token at a time).
    #[serde(default)]
    pub positions: Vec<u32>,
    #[serde(default)]
    pub distance: Option<stats::numerics::LogitsDistance>,
    /// The thresholds the verdict used.
    pub nmse_max: f64,
    pub kl_max: f64,
    /// Time the gate added to this case (loading excluded): its own logits and the comparison.
    #[serde(default)]
    pub gate_elapsed_ns: Option<u64>,
    /// Time the reference logits took, once per model and run (shared by its cases).
    #[serde(default)]
    pub reference_elapsed_ns: Option<u64>,
    /// The earlier case of the run whose gate this is (the same weights, buffers and kernels' options): its
    /// figures hold for this case, which spent no time on the gate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_as: Option<String>,
    /// Set when a test hook perturbed the logits (never in a real run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_hook: Option<String>,
    /// The kernel paths the gate ran: the case's own. Absent: both (as every result written before it).
    #[serde(default, skip_serializing_if = "Kernels::is_both")]
    pub kernels: Kernels,
}

/// The kernel paths of ggml a unit runs, and so what its self-test and numerics gate check: prompt batches
/// (matrix-matrix products) and single-token decodes (matrix-vector), or decodes alone (a generation test from
/// an empty context, `tg128`). A configuration whose batch kernels crash can still measure decodes.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Kernels {
    #[default]
    BatchAndDecode,
    Decode,
}

impl Kernels {
    /// What `test` runs: a generation test without prompt or depth decodes one token at a time only.
    pub fn of(test: &Test) -> Kernels {
        if test.n_prompt == 0 && test.n_depth == 0 {
            Kernels::Decode
        } else {
            Kernels::BatchAndDecode
        }
    }

    pub fn is_both(&self) -> bool {
        *self == Kernels::BatchAndDecode
    }

    pub fn describe(self) -> &'static str {
        match self {
            Kernels::BatchAndDecode => "prompt batches and decodes",
            Kernels::Decode => "decodes",
        }
    }
}

impl Numerics {
    pub fn not_verified(reason: impl Into<String>) -> Numerics {
        Numerics {
            verdict: NumericsVerdict::NotVerified,
            reason: Some(reason.into()),
            reference: None,
            positions: Vec::new(),
            distance: None,
            nmse_max: stats::numerics::NMSE_MAX,
            kl_max: stats::numerics::KL_MAX,
            gate_elapsed_ns: None,
            reference_elapsed_ns: None,
            same_as: None,
            test_hook: None,
            kernels: Kernels::BatchAndDecode,
        }
    }

    /// `ok`, `FAIL` or `—` (not verified), for a table cell.
    pub fn cell(&self) -> &'static str {
        match self.verdict {
            NumericsVerdict::Passed => "ok",
            NumericsVerdict::Failed => "FAIL",
            NumericsVerdict::NotVerified => "—",
        }
    }
}

/// The engine configuration a case asked for, when the self-test found it broken on this machine, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineFallback {
    /// The configuration asked for, e.g. `ngl=0 repack=1 t=2 fa=-1 k=f16 v=f16`.
    pub requested: String,
    pub requested_n_gpu_layers: i32,
    pub requested_repack: bool,
    /// What the self-test saw, e.g. `worker killed by signal 4 (SIGILL) in its first prompt batch (weights in
    /// AMX)`.
    pub reason: String,
    /// The configuration the case ran under instead, e.g. `ngl=-1 repack=1 t=2 fa=-1 k=f16 v=f16 amx=0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used: Option<String>,
}

/// The layers llama.cpp placed on GPU devices: `layers` of `of` (the repeating layers plus the output layer), as
/// its loader reports them (`load_tensors: offloaded 5/5 layers to GPU`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offload {
    pub layers: u32,
    pub of: u32,
}

impl Offload {
    /// `5/5`, for a table cell.
    pub fn cell(&self) -> String {
        format!("{}/{}", self.layers, self.of)
    }
}

/// One case as printed with `-o json|jsonl` and stored in the result file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseRecord {
    pub build_commit: String,
    /// llama.cpp's build number; absent for the vendored source tree, which carries none.
    pub build_number: Option<u64>,
    pub cpu_info: String,
    pub gpu_info: String,
    pub backends: String,
    pub model_filename: String,
    pub model_type: String,
    pub model_size: u64,
    pub model_n_params: u64,
    pub n_batch: u32,
    pub n_ubatch: u32,
    pub n_threads: u32,
    pub type_k: String,
    pub type_v: String,
    pub n_gpu_layers: i32,
    pub no_kv_offload: bool,
    /// -1 auto, 0 off, 1 on (llama-bench's integer).
    pub flash_attn: i8,
    pub use_mmap: bool,
    pub embeddings: bool,
    pub n_prompt: u32,
    pub n_gen: u32,
    pub n_depth: u32,
    pub test_time: String,
    #[serde(flatten)]
    pub summary: Summary,
    // tokenmeter's own fields
    /// llama-bench's test name (`pp512`, `tg128`, `pp512+tg128 @ d4096`).
    pub test: String,
    pub model_sha256: Option<String>,
    pub n_ctx: u32,
    /// Repetitions done (the length of `samples`).
    pub repetitions: u32,
    pub stop_reason: StopReason,
    /// `--target-ci` as a fraction, when repetitions were adaptive.
    pub target_ci95_rel: Option<f64>,
    pub warmup_runs: u32,
    pub seed: u64,
    /// False when the run stopped before all repetitions of this case finished.
    pub complete: bool,
    /// Energy per device: the whole measured window, prompt processing and generation (a record with
    /// `absent_reason` when nothing measured energy).
    #[serde(default)]
    pub energy: Vec<CaseEnergy>,
    /// This process's CPU use and peak resident memory over the repetitions.
    #[serde(default)]
    pub process: Option<ProcessContext>,
    /// Generation's share of the memory-bandwidth limit (generation-only cases).
    #[serde(default)]
    pub roofline: Option<Roofline>,
    /// llama-bench's `repack`: whether llama.cpp's extra buffer types (repacked or AMX weights) were allowed.
    #[serde(default = "crate::results::record::repack_default")]
    pub repack: bool,
    /// The buffers llama.cpp put the weights in, by buffer type (`CPU_REPACK`, `CPU_Mapped`, `AMX`, `CUDA0`…),
    /// in MiB, from its loader's report; empty for a result written before it was recorded.
    #[serde(default)]
    pub weight_buffers_mib: std::collections::BTreeMap<String, f64>,
    /// The layers on GPU devices; absent for a result written before it was recorded.
    #[serde(default)]
    pub offloaded: Option<Offload>,
    /// The numerics gate: this configuration's logits against the CPU reference's on the same weights.
    #[serde(default)]
    pub numerics: Option<Numerics>,
    /// True when the numerics gate failed: the speed of this case comes from a wrong computation.
    #[serde(default)]
    pub numerics_failed: bool,
    /// Set when the machine's self-test found the requested configuration broken and this case ran another.
    #[serde(default)]
    pub engine_fallback: Option<EngineFallback>,
    /// The time limits the case's worker ran under (absent in-process).
    #[serde(default)]
    pub limits: Option<UnitLimits>,
    /// Raw per-repetition samples; every figure above is recomputed from these.
    pub samples: Vec<RepSample>,
}

/// The time limits a unit's worker ran under: the unit's expected run time they derive from (absent when there
/// was none), the timeout and the stall limit (a worker that sends no reply for that long is stopped).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UnitLimits {
    pub estimate_s: Option<f64>,
    pub timeout_s: f64,
    pub stall_s: f64,
}

impl CaseRecord {
    /// Why the case's times cannot be latencies: a repetition whose token times go backwards (`samples[r]`), or
    /// `None`.
    pub fn time_order_problem(&self) -> Option<String> {
        self.samples.iter().position(|s| !s.in_time_order()).map(|r| {
            format!(
                "samples[{r}]: token times go backwards (prompt_ns then gen_token_ns must not decrease)"
            )
        })
    }

    /// Mean t/s of a case that finished with a positive finite rate; `None` for an incomplete or empty one.
    pub fn usable_ts(&self) -> Option<f64> {
        self.summary
            .avg_ts
            .filter(|v| self.complete && v.is_finite() && *v > 0.0)
    }

    pub fn test(&self) -> Test {
        Test {
            n_prompt: self.n_prompt,
            n_gen: self.n_gen,
            n_depth: self.n_depth,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(total_ns: u64) -> RepSample {
        RepSample {
            prompt_ns: Some(total_ns),
            gen_ns: None,
            total_ns,
            gen_token_ns: vec![],
            start_ns: None,
        }
    }

    #[test]
    fn avg_ts_is_the_mean_of_per_repetition_rates() {
        let t = Test {
            n_prompt: 100,
            n_gen: 0,
            n_depth: 0,
        };
        let s = summarize(&t, &[rep(1_000_000_000), rep(500_000_000)]);
        // 100 t/s and 200 t/s: mean 150, not 200 tokens / 1.5 s
        assert_eq!(s.avg_ts, Some(150.0));
        assert_eq!(s.avg_ns, Some(750_000_000));
        assert_eq!(s.samples_ts, vec![100.0, 200.0]);
    }

    #[test]
    fn ttft_is_the_end_of_prompt_processing_when_there_is_a_prompt() {
        let ms = 1_000_000;
        let pg = RepSample {
            prompt_ns: Some(40 * ms),
            gen_ns: Some(30 * ms),
            total_ns: 70 * ms,
            gen_token_ns: vec![50 * ms, 60 * ms, 70 * ms],
            start_ns: None,
        };
        let tg = RepSample {
            prompt_ns: None,
            gen_ns: Some(30 * ms),
            total_ns: 30 * ms,
            gen_token_ns: vec![10 * ms, 20 * ms, 30 * ms],
            start_ns: None,
        };
        let t = |n_prompt| Test {
            n_prompt,
            n_gen: 3,
            n_depth: 0,
        };
        let whole = |x: Option<f64>| x.map(f64::round);
        let s = summarize(&t(8), &[pg]);
        assert_eq!(whole(s.ttft_ms.ms.max), Some(40.0));
        // prompt end → first generated token is the first gap
        assert_eq!((s.itl_ms.ms.count, whole(s.itl_ms.ms.max)), (3, Some(10.0)));
        let s = summarize(&t(0), &[tg]);
        assert_eq!(whole(s.ttft_ms.ms.max), Some(10.0));
        assert_eq!(s.itl_ms.ms.count, 2);
    }

    #[test]
    fn one_repetition_has_no_deviation() {
        let t = Test {
            n_prompt: 0,
            n_gen: 10,
            n_depth: 0,
        };
        let s = summarize(&t, &[rep(1_000_000_000)]);
        assert_eq!(s.stddev_ts, None);
        assert_eq!(s.stddev_ns, None);
    }
}
