//! Benchmark cases and how flag lists expand into them.

use crate::engine::{ContextParams, ModelParams};
use crate::stats::StopRule;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub use crate::results::record::Test;

/// One benchmark case: a model file, the engine parameters and the test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub model_path: PathBuf,
    pub model: ModelParams,
    pub context: ContextParams,
    pub test: Test,
    pub stop_rule: StopRule,
    pub warmup_runs: u32,
    /// Seed of the random token ids fed to the model.
    pub seed: u64,
}

/// Every list given on the command line; the cases are their cartesian product.
#[derive(Debug, Clone, Serialize)]
pub struct BenchGrid {
    pub models: Vec<PathBuf>,
    pub n_prompt: Vec<u32>,
    pub n_gen: Vec<u32>,
    pub pg: Vec<(u32, u32)>,
    pub n_depth: Vec<u32>,
    pub n_threads: Vec<u32>,
    pub n_gpu_layers: Vec<i32>,
    /// llama-bench's `--repack`: llama.cpp's extra buffer types for the weights, on or off.
    pub repack: Vec<bool>,
    pub n_batch: Vec<u32>,
    pub n_ubatch: Vec<u32>,
    pub flash_attn: Vec<i8>,
    pub no_kv_offload: Vec<bool>,
    pub type_k: Vec<String>,
    pub type_v: Vec<String>,
    pub use_mmap: bool,
    pub stop_rule: StopRule,
    pub warmup_runs: u32,
    pub seed: u64,
}

/// Expands the grid in llama-bench's order: per model and parameter combination, the prompt tests, then the
/// generation tests, then the combined ones, each at every depth. Zero-length tests are skipped.
pub fn expand(g: &BenchGrid) -> Vec<Case> {
    let mut tests = Vec::new();
    for &d in &g.n_depth {
        tests.extend(g.n_prompt.iter().filter(|&&p| p > 0).map(|&p| Test {
            n_prompt: p,
            n_gen: 0,
            n_depth: d,
        }));
        tests.extend(g.n_gen.iter().filter(|&&n| n > 0).map(|&n| Test {
            n_prompt: 0,
            n_gen: n,
            n_depth: d,
        }));
        tests.extend(g.pg.iter().filter(|(p, n)| p + n > 0).map(|&(p, n)| Test {
            n_prompt: p,
            n_gen: n,
            n_depth: d,
        }));
    }
    let mut cases = Vec::new();
    for m in &g.models {
        for (&ngl, &repack) in g
            .n_gpu_layers
            .iter()
            .flat_map(|n| g.repack.iter().map(move |r| (n, r)))
        {
            for &nb in &g.n_batch {
                for &nub in &g.n_ubatch {
                    for tk in &g.type_k {
                        for tv in &g.type_v {
                            for &nkvo in &g.no_kv_offload {
                                for &fa in &g.flash_attn {
                                    for &nt in &g.n_threads {
                                        for t in &tests {
                                            cases.push(Case {
                                                model_path: m.clone(),
                                                model: ModelParams {
                                                    n_gpu_layers: ngl,
                                                    use_mmap: g.use_mmap,
                                                    repack,
                                                    no_amx: false,
                                                },
                                                context: ContextParams {
                                                    n_ctx: t.n_prompt + t.n_gen + t.n_depth,
                                                    n_batch: nb,
                                                    n_ubatch: nub,
                                                    n_threads: nt,
                                                    flash_attn: fa,
                                                    offload_kqv: !nkvo,
                                                    type_k: tk.clone(),
                                                    type_v: tv.clone(),
                                                    n_seq_max: 1,
                                                },
                                                test: *t,
                                                stop_rule: g.stop_rule,
                                                warmup_runs: g.warmup_runs,
                                                seed: g.seed,
                                            });
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> BenchGrid {
        BenchGrid {
            models: vec!["a.gguf".into(), "b.gguf".into()],
            n_prompt: vec![512, 0],
            n_gen: vec![128],
            pg: vec![(512, 128)],
            n_depth: vec![0, 4096],
            n_threads: vec![1, 2],
            n_gpu_layers: vec![-1],
            repack: vec![true],
            n_batch: vec![2048],
            n_ubatch: vec![512],
            flash_attn: vec![-1],
            no_kv_offload: vec![false],
            type_k: vec!["f16".into()],
            type_v: vec!["f16".into()],
            use_mmap: true,
            stop_rule: StopRule::fixed(5),
            warmup_runs: 1,
            seed: 1,
        }
    }

    #[test]
    fn lists_form_the_cartesian_product_without_empty_tests() {
        let cases = expand(&grid());
        // 2 models × 2 thread counts × (pp512, tg128, pp512+tg128) × 2 depths
        assert_eq!(cases.len(), 2 * 2 * 3 * 2);
        let names: Vec<String> = cases.iter().take(6).map(|c| c.test.name()).collect();
        assert_eq!(
            names,
            [
                "pp512",
                "tg128",
                "pp512+tg128",
                "pp512 @ d4096",
                "tg128 @ d4096",
                "pp512+tg128 @ d4096"
            ]
        );
    }

    #[test]
    fn context_holds_depth_prompt_and_generation() {
        let cases = expand(&grid());
        let c = cases
            .iter()
            .find(|c| c.test.name() == "pp512+tg128 @ d4096")
            .unwrap();
        assert_eq!(c.context.n_ctx, 4096 + 512 + 128);
    }

    #[test]
    fn repack_values_form_cases_of_their_own() {
        let mut g = grid();
        g.models.truncate(1);
        g.n_threads = vec![2];
        g.n_depth = vec![0];
        g.repack = vec![false, true];
        let cases = expand(&g);
        assert_eq!(cases.len(), 2 * 3);
        let repack: Vec<bool> = cases.iter().map(|c| c.model.repack).collect();
        assert_eq!(repack, [false, false, false, true, true, true]);
    }
}
