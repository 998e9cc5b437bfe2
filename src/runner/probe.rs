//! The machine's self-test, the part that runs inside a worker process: a tiny model under one engine
//! configuration, its decodes alone, then one prompt batch and a few single-token decodes, each gated against
//! the CPU reference on the same weights. A configuration whose kernels crash ends the worker, not the run; the
//! parent (`commands::probe`) reads that from the worker's exit, and from the decodes' verdict sent before the
//! first batch, and picks another configuration where one is needed.

use super::numerics::{self, Reference};
use crate::engine::{self, ContextParams, EngineError, ModelParams};
use crate::results::record::{Kernels, Numerics};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// What selects ggml's kernels for a case: where the weights live (offload, extra buffer types), the threads
/// that run them, the attention kernel and the KV cache's types.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EngineConfig {
    pub n_gpu_layers: i32,
    pub repack: bool,
    pub n_threads: u32,
    pub flash_attn: i8,
    pub type_k: String,
    pub type_v: String,
    /// ggml's AMX buffer type left out of the extra ones (`amx=0`): the fallback for weights that went to AMX.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_amx: bool,
}

impl EngineConfig {
    pub fn of(model: &ModelParams, context: &ContextParams) -> EngineConfig {
        EngineConfig {
            n_gpu_layers: model.n_gpu_layers,
            repack: model.repack,
            n_threads: context.n_threads,
            flash_attn: context.flash_attn,
            type_k: context.type_k.clone(),
            type_v: context.type_v.clone(),
            no_amx: model.no_amx && model.repack,
        }
    }

    /// `ngl=99 repack=1 t=2 fa=-1 k=f16 v=f16`, and ` amx=0` when AMX is left out.
    pub fn label(&self) -> String {
        format!(
            "ngl={} repack={} t={} fa={} k={} v={}{}",
            self.n_gpu_layers,
            u8::from(self.repack),
            self.n_threads,
            self.flash_attn,
            self.type_k,
            self.type_v,
            if self.no_amx { " amx=0" } else { "" }
        )
    }

    /// The configurations to try, fastest first, when this one fails: where its weights went to AMX
    /// (`weights_in_amx`) and the run uses workers (`amx_separable`: the choice is made per process), the other
    /// extra buffer types without AMX; then without extra buffer types, then also without offload, then the
    /// reference's kernels (no flash attention, f16 cache).
    pub fn fallbacks(&self, weights_in_amx: bool, amx_separable: bool) -> Vec<EngineConfig> {
        let no_amx = (weights_in_amx && amx_separable && self.repack && !self.no_amx).then(|| {
            EngineConfig {
                no_amx: true,
                ..self.clone()
            }
        });
        let no_repack = EngineConfig {
            repack: false,
            no_amx: false,
            ..self.clone()
        };
        let on_cpu = EngineConfig {
            n_gpu_layers: 0,
            ..no_repack.clone()
        };
        let reference = EngineConfig {
            flash_attn: 0,
            type_k: "f16".into(),
            type_v: "f16".into(),
            ..on_cpu.clone()
        };
        let mut out: Vec<EngineConfig> = Vec::new();
        for c in no_amx.into_iter().chain([no_repack, on_cpu, reference]) {
            if c != *self && !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }

    pub fn model_params(&self, use_mmap: bool) -> ModelParams {
        ModelParams {
            n_gpu_layers: self.n_gpu_layers,
            use_mmap,
            repack: self.repack,
            no_amx: self.no_amx,
        }
    }

    /// Sets a case's engine parameters to this configuration.
    pub fn apply(&self, model: &mut ModelParams, context: &mut ContextParams) {
        model.n_gpu_layers = self.n_gpu_layers;
        model.repack = self.repack;
        model.no_amx = self.no_amx;
        context.n_threads = self.n_threads;
        context.flash_attn = self.flash_attn;
        context.type_k = self.type_k.clone();
        context.type_v = self.type_v.clone();
    }

    /// A context for the gate prompt under this configuration.
    pub fn context(&self) -> ContextParams {
        numerics::gate_context(&ContextParams {
            n_ctx: numerics::GATE_TOKENS as u32,
            n_batch: numerics::GATE_BATCH as u32,
            n_ubatch: numerics::GATE_BATCH as u32,
            n_threads: self.n_threads,
            flash_attn: self.flash_attn,
            offload_kqv: true,
            type_k: self.type_k.clone(),
            type_v: self.type_v.clone(),
            n_seq_max: 1,
        })
    }
}

/// Test hook: `SIGNAL:TEXT` (`SIGILL:repack=1`) makes a worker whose label contains TEXT raise SIGNAL (SIGILL,
/// SIGSEGV, SIGBUS or SIGFPE) once its model is loaded, before it computes anything, as a kernel the CPU cannot
/// run would; `SIGNAL@batch:TEXT` raises it just before the first prompt batch instead, so that decodes alone
/// still work (as ggml's AMX tile kernels, which only prompt batches use, crash on some hosts).
pub const CRASH_ENV: &str = "TOKENMETER_TEST_CRASH";

/// Where `crash_hook` is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// The model is loaded; nothing has run.
    Start,
    /// Just before the first prompt batch (of more than one token).
    Batch,
}

/// Raises `CRASH_ENV`'s signal when the hook is set for `label` at `at`.
pub fn crash_hook(label: &str, at: CrashPoint) {
    let Ok(v) = std::env::var(CRASH_ENV) else {
        return;
    };
    let (sig, text) = v.split_once(':').unwrap_or((&v, ""));
    let (sig, point) = match sig.split_once('@') {
        Some((sig, "batch")) => (sig, CrashPoint::Batch),
        Some(_) => return,
        None => (sig, CrashPoint::Start),
    };
    if point != at {
        return;
    }
    let sig = match sig.trim() {
        "SIGILL" => libc::SIGILL,
        "SIGSEGV" => libc::SIGSEGV,
        "SIGBUS" => libc::SIGBUS,
        "SIGFPE" => libc::SIGFPE,
        _ => return,
    };
    if label.contains(text) {
        // SAFETY: restores the default action so that the signal ends the process as a real fault would, then
        // raises it; no memory of ours is touched.
        unsafe {
            libc::signal(sig, libc::SIG_DFL);
            libc::raise(sig);
        }
    }
}

/// What a configuration did on the tiny model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub weight_buffers_mib: BTreeMap<String, f64>,
    /// The gate of prompt batches and decodes.
    pub numerics: Numerics,
    /// The gate of decodes alone.
    #[serde(default)]
    pub decode_numerics: Option<Numerics>,
    pub elapsed_ns: u64,
}

/// What the self-test has done so far, told to the parent as it happens.
pub enum Stage<'a> {
    /// The weights are loaded, in these buffers.
    Loaded(&'a BTreeMap<String, f64>),
    /// The decodes alone are gated; the prompt batch comes next.
    Decoded(&'a Numerics),
}

/// Runs `config` on the model at `path` (a tiny one) and gates it against the reference on the same file:
/// decodes alone first, then a prompt batch and decodes, telling `on_stage` each step before the next, so that
/// a crash in the prompt batch leaves the decodes' verdict with the parent.
pub fn run(
    path: &Path,
    config: &EngineConfig,
    verbose: bool,
    mut on_stage: impl FnMut(Stage),
) -> Result<ProbeReport, EngineError> {
    let t0 = Instant::now();
    let model = engine::load_model(path, config.model_params(true), verbose)?;
    on_stage(Stage::Loaded(&model.weight_buffers_mib));
    let label = config.label();
    crash_hook(&label, CrashPoint::Start);
    let reference = Reference::compute(path, true, config.n_threads, verbose)?;
    let gate = |kernels: Kernels| {
        let g0 = Instant::now();
        let logits =
            numerics::gate_logits(&model, &config.context(), kernels).map_err(|e| e.to_string());
        numerics::verdict(
            &reference,
            logits,
            g0.elapsed().as_nanos() as u64,
            &label,
            kernels,
        )
    };
    let decode_numerics = gate(Kernels::Decode);
    on_stage(Stage::Decoded(&decode_numerics));
    crash_hook(&label, CrashPoint::Batch);
    let numerics = gate(Kernels::BatchAndDecode);
    Ok(ProbeReport {
        weight_buffers_mib: model.weight_buffers_mib.clone(),
        numerics,
        decode_numerics: Some(decode_numerics),
        elapsed_ns: t0.elapsed().as_nanos() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> EngineConfig {
        EngineConfig {
            n_gpu_layers: 99,
            repack: true,
            n_threads: 2,
            flash_attn: 1,
            type_k: "q8_0".into(),
            type_v: "q8_0".into(),
            no_amx: false,
        }
    }

    fn labels(c: &[EngineConfig]) -> Vec<String> {
        c.iter().map(|c| c.label()).collect()
    }

    #[test]
    fn fallbacks_drop_repack_then_offload_then_the_fast_kernels() {
        assert_eq!(
            labels(&config().fallbacks(false, true)),
            [
                "ngl=99 repack=0 t=2 fa=1 k=q8_0 v=q8_0",
                "ngl=0 repack=0 t=2 fa=1 k=q8_0 v=q8_0",
                "ngl=0 repack=0 t=2 fa=0 k=f16 v=f16",
            ]
        );
    }

    #[test]
    fn weights_in_amx_fall_back_first_to_the_other_extra_buffer_types_in_workers_only() {
        let with_amx = config().fallbacks(true, true);
        assert_eq!(
            with_amx[0].label(),
            "ngl=99 repack=1 t=2 fa=1 k=q8_0 v=q8_0 amx=0"
        );
        assert!(with_amx[0].model_params(true).no_amx);
        assert_eq!(with_amx[1..], config().fallbacks(false, true)[..]);
        // In one process ggml's choice of buffer types is made once: no AMX-less variant to offer.
        assert_eq!(
            config().fallbacks(true, false),
            config().fallbacks(false, true)
        );
        // Without extra buffer types there is no AMX to leave out.
        let no_repack = EngineConfig {
            repack: false,
            ..config()
        };
        assert!(no_repack.fallbacks(true, true).iter().all(|c| !c.no_amx));
        // An AMX-less configuration that fails goes on without extra buffer types.
        assert_eq!(
            with_amx[0].fallbacks(true, true)[0].label(),
            "ngl=99 repack=0 t=2 fa=1 k=q8_0 v=q8_0"
        );
    }

    #[test]
    fn a_configuration_already_on_the_reference_kernels_has_no_fallback_to_itself() {
        let c = EngineConfig {
            n_gpu_layers: 0,
            repack: false,
            flash_attn: 0,
            type_k: "f16".into(),
            type_v: "f16".into(),
            ..config()
        };
        assert!(c.fallbacks(true, true).is_empty());
        let cpu_repack = EngineConfig {
            repack: true,
            ..c.clone()
        };
        assert_eq!(cpu_repack.fallbacks(false, true), vec![c]);
    }
}
