//! A bench sweep's options and its cases: llama-bench's lists, checked, and their cartesian product (a shard's
//! share of it); and the machine's self-test of the engine configurations the cases use.

use crate::exit::InputError;
use crate::results::record::EngineFallback;
use crate::results::record::Kernels;
use crate::results::Warning;
use crate::runner::options::{at_least_one, cache_types, RunOptions};
use crate::runner::probe::EngineConfig;
use crate::runner::selftest::{self, Decision, SelfTestOptions};
use crate::runner::setup::Setup;
use crate::runner::{expand, BenchGrid, Case};
use crate::stats::StopRule;
use std::collections::HashMap;
use std::path::PathBuf;

pub struct BenchOptions {
    pub models: Vec<String>,
    pub n_prompt: Vec<u32>,
    pub n_gen: Vec<u32>,
    pub pg: Vec<(u32, u32)>,
    pub n_depth: Vec<u32>,
    /// Fixed repetitions (`-r`) or adaptive ones (`--target-ci`).
    pub stop_rule: StopRule,
    /// `None`: the physical core count.
    pub n_threads: Option<Vec<u32>>,
    pub n_gpu_layers: Vec<i32>,
    /// `--repack 0,1`: llama.cpp's extra buffer types for the weights.
    pub repack: Vec<bool>,
    pub n_batch: Vec<u32>,
    pub n_ubatch: Vec<u32>,
    /// llama.cpp's flash attention type: -1 auto, 0 off, 1 on.
    pub flash_attn: Vec<i8>,
    pub no_kv_offload: Vec<bool>,
    pub type_k: Vec<String>,
    pub type_v: Vec<String>,
    pub use_mmap: bool,
    pub warmup_runs: u32,
    pub seed: u64,
    pub run: RunOptions,
    /// Run cases that preflight would refuse for memory or the trained context.
    pub force: bool,
}

pub fn check(opts: &BenchOptions) -> Result<(), InputError> {
    at_least_one("-b/--batch-size", &opts.n_batch)?;
    at_least_one("--ubatch-size", &opts.n_ubatch)?;
    if let Some(t) = &opts.n_threads {
        at_least_one("-t/--threads", t)?;
    }
    let rule = &opts.stop_rule;
    if rule.max_runs == 0 || rule.min_runs > rule.max_runs {
        return Err(InputError(format!(
            "repetitions: need 1 <= --min-runs ({}) <= --max-runs ({})",
            rule.min_runs, rule.max_runs
        )));
    }
    if rule.target_rel_ci.is_some_and(|t| !(t > 0.0 && t < 1.0)) {
        return Err(InputError(
            "--target-ci: expected a percentage between 0% and 100%, e.g. 2%".into(),
        ));
    }
    cache_types("--cache-type-k", &opts.type_k)?;
    cache_types("--cache-type-v", &opts.type_v)?;
    let tests = opts.n_prompt.iter().chain(&opts.n_gen).any(|&x| x > 0)
        || opts.pg.iter().any(|(p, n)| p + n > 0);
    if !tests {
        return Err(InputError(
            "nothing to run: every -p, -n and --pg value is 0".into(),
        ));
    }
    Ok(())
}

/// The cases a shard owns, found before any model is resolved so that a shard reads, hashes and synthesizes only
/// its own models: indexes into the whole sweep's expansion, and the models they use.
pub struct Picked {
    /// Indexes of the shard's cases in the expansion over every model.
    cases: Vec<usize>,
    /// Cases per model (the expansion is model-major, the same block for each model).
    per_model: usize,
    /// The models the shard's cases use, as indexes into `opts.models`, in order.
    pub models: Vec<usize>,
}

impl Picked {
    /// The shard's cases out of the expansion over `self.models` only.
    pub fn of(&self, cases: &[Case]) -> Vec<Case> {
        self.cases
            .iter()
            .map(|&i| {
                let m = self
                    .models
                    .iter()
                    .position(|&u| u == i / self.per_model)
                    .expect("a picked model");
                cases[m * self.per_model + i % self.per_model].clone()
            })
            .collect()
    }
}

pub fn shard_cases(opts: &BenchOptions) -> Result<Option<Picked>, InputError> {
    let Some(shard) = &opts.run.shard else {
        return Ok(None);
    };
    // No -m: the embedded default model, one model.
    let names: Vec<PathBuf> = match opts.models.len() {
        0 => vec![PathBuf::new()],
        _ => opts.models.iter().map(PathBuf::from).collect(),
    };
    let n = expand(&grid(opts, names.clone(), 1)).len();
    let per_model = n / names.len();
    let cases = shard.select((0..n).collect(), |&i| i / per_model);
    if cases.is_empty() {
        return Err(empty_shard(shard, n, names.len()));
    }
    let mut models: Vec<usize> = cases.iter().map(|&i| i / per_model).collect();
    models.dedup();
    Ok(Some(Picked {
        cases,
        per_model,
        models,
    }))
}

fn empty_shard(shard: &crate::fleet::ShardRun, cases: usize, models: usize) -> InputError {
    InputError(format!(
        "--shard {}: this shard holds no case (the sweep has {cases} case(s) of {models} model(s), shared out per \
         {}); use fewer shards",
        shard.shard,
        shard.unit().name()
    ))
}

/// The lists the cases are the product of: `opts` with `models` resolved (`default_threads` where no -t is given).
pub fn grid(opts: &BenchOptions, models: Vec<PathBuf>, default_threads: u32) -> BenchGrid {
    BenchGrid {
        models,
        n_prompt: opts.n_prompt.clone(),
        n_gen: opts.n_gen.clone(),
        pg: opts.pg.clone(),
        n_depth: opts.n_depth.clone(),
        n_threads: opts
            .n_threads
            .clone()
            .unwrap_or_else(|| vec![default_threads]),
        n_gpu_layers: opts.n_gpu_layers.clone(),
        repack: opts.repack.clone(),
        n_batch: opts.n_batch.clone(),
        n_ubatch: opts.n_ubatch.clone(),
        flash_attn: opts.flash_attn.clone(),
        no_kv_offload: opts.no_kv_offload.clone(),
        type_k: opts.type_k.clone(),
        type_v: opts.type_v.clone(),
        use_mmap: opts.use_mmap,
        stop_rule: opts.stop_rule,
        warmup_runs: opts.warmup_runs,
        seed: opts.seed,
    }
}

/// What the self-test decided for a case: the fallback it runs under, or why it cannot run at all.
pub type CaseFallback = Result<EngineFallback, String>;

/// The machine's self-test of every engine configuration `cases` use: cases whose configuration fails run under
/// the fallback that passed (their record says what was asked and why); cases with no working configuration
/// are kept out of the run with the reason.
pub fn self_tested(
    mut cases: Vec<Case>,
    setup: &Setup,
    run: &RunOptions,
) -> anyhow::Result<(Vec<Case>, HashMap<usize, CaseFallback>, Vec<Warning>)> {
    let o = SelfTestOptions::of(run);
    let mut decisions: HashMap<(PathBuf, selftest::Need), Decision> = HashMap::new();
    let mut warnings = Vec::new();
    let need = |c: &Case| (EngineConfig::of(&c.model, &c.context), Kernels::of(&c.test));
    for (path, entry) in setup.models.iter().zip(&setup.entries) {
        let needs: Vec<selftest::Need> = cases
            .iter()
            .filter(|c| &c.model_path == path)
            .map(need)
            .collect();
        if needs.is_empty() {
            continue;
        }
        let weight_type = selftest::probe_weight_type(&entry.tensor_types);
        let (d, w) = selftest::self_test(&needs, weight_type, &setup.host, &setup.build, &o)?;
        warnings.extend(w);
        decisions.extend(d.into_iter().map(|(n, d)| ((path.clone(), n), d)));
    }
    let mut fallbacks = HashMap::new();
    for (i, case) in cases.iter_mut().enumerate() {
        let asked = EngineConfig::of(&case.model, &case.context);
        let Some(d) = decisions.get(&(case.model_path.clone(), need(case))) else {
            continue;
        };
        let Some(substitution) = d.substitution(&asked) else {
            continue;
        };
        if let Some(u) = &d.used {
            u.apply(&mut case.model, &mut case.context);
        }
        fallbacks.insert(i, substitution);
    }
    Ok((cases, fallbacks, warnings))
}
