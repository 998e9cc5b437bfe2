//! The machine's self-test, the part that runs inside a worker process: a tiny model under one engine
//! configuration, one prompt batch and a few single-token decodes, and the numerics gate against the CPU
//! reference on the same weights. A configuration whose kernels crash ends the worker, not the run; the parent
//! (`commands::probe`) reads that from the worker's exit and picks another configuration.

use super::numerics::{self, Reference};
use crate::engine::{self, ContextParams, EngineError, ModelParams};
use crate::results::record::Numerics;
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
        }
    }

    /// `ngl=99 repack=1 t=2 fa=-1 k=f16 v=f16`.
    pub fn label(&self) -> String {
        format!(
            "ngl={} repack={} t={} fa={} k={} v={}",
            self.n_gpu_layers,
            u8::from(self.repack),
            self.n_threads,
            self.flash_attn,
            self.type_k,
            self.type_v
        )
    }

    /// The configurations to try, fastest first, when this one fails: without extra buffer types, then also
    /// without offload, then the reference's kernels (no flash attention, f16 cache).
    pub fn fallbacks(&self) -> Vec<EngineConfig> {
        let no_repack = EngineConfig {
            repack: false,
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
        for c in [no_repack, on_cpu, reference] {
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
        }
    }

    /// Sets a case's engine parameters to this configuration.
    pub fn apply(&self, model: &mut ModelParams, context: &mut ContextParams) {
        model.n_gpu_layers = self.n_gpu_layers;
        model.repack = self.repack;
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
/// SIGSEGV, SIGBUS or SIGFPE) just before its first prompt batch, as a kernel the CPU cannot run would.
pub const CRASH_ENV: &str = "TOKENMETER_TEST_CRASH";

/// Raises `CRASH_ENV`'s signal when the hook is set for `label`.
pub fn crash_hook(label: &str) {
    let Ok(v) = std::env::var(CRASH_ENV) else {
        return;
    };
    let (sig, text) = v.split_once(':').unwrap_or((&v, ""));
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
    pub numerics: Numerics,
    pub elapsed_ns: u64,
}

/// Runs `config` on the model at `path` (a tiny one), calling `on_loaded` with the weights' buffers before the
/// first prompt batch, then the reference on the same file, and gates the one against the other.
pub fn run(
    path: &Path,
    config: &EngineConfig,
    verbose: bool,
    on_loaded: impl FnOnce(&BTreeMap<String, f64>),
) -> Result<ProbeReport, EngineError> {
    let t0 = Instant::now();
    let model = engine::load_model(path, config.model_params(true), verbose)?;
    on_loaded(&model.weight_buffers_mib);
    let label = config.label();
    crash_hook(&label);
    let g0 = Instant::now();
    let logits = numerics::gate_logits(&model, &config.context()).map_err(|e| e.to_string());
    let gate_ns = g0.elapsed().as_nanos() as u64;
    let reference = Reference::compute(path, true, config.n_threads, verbose)?;
    let numerics = numerics::verdict(&reference, logits, gate_ns, &label);
    Ok(ProbeReport {
        weight_buffers_mib: model.weight_buffers_mib.clone(),
        numerics,
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
        }
    }

    #[test]
    fn fallbacks_drop_repack_then_offload_then_the_fast_kernels() {
        let labels: Vec<String> = config().fallbacks().iter().map(|c| c.label()).collect();
        assert_eq!(
            labels,
            [
                "ngl=99 repack=0 t=2 fa=1 k=q8_0 v=q8_0",
                "ngl=0 repack=0 t=2 fa=1 k=q8_0 v=q8_0",
                "ngl=0 repack=0 t=2 fa=0 k=f16 v=f16",
            ]
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
        assert!(c.fallbacks().is_empty());
        let cpu_repack = EngineConfig {
            repack: true,
            ..c.clone()
        };
        assert_eq!(cpu_repack.fallbacks(), vec![c]);
    }
}
