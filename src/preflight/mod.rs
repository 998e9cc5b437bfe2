//! Preflight: before `bench` or `load` loads a model, every case is checked against what the llama.cpp this
//! binary links would abort on, reject or silently change, and against the memory that is free. A case that
//! fails is refused with exit 2 and one line naming the flags and values (or the estimate and what is free).
//! The rules (`rules`) and the estimate (`memory`) are pure functions over plain inputs; reading the model's
//! header and measuring free memory (`facts`) happen once, in [`bench`] and [`load`], which this module owns with
//! the facts of a bench case and of a load level.

mod facts;
pub mod memory;
mod rules;
#[cfg(test)]
mod tests;

pub use facts::{host_facts_of, measure_free, model_facts, FREE_GPU_MEMORY_ENV, FREE_MEMORY_ENV};
pub use memory::{
    describe, estimate, kv_cells, shortfall, ContextShape, Estimate, FreeMemory, GpuFree,
    HostFacts, ModelFacts, Need, TensorFacts, PROCESS_BASE_BYTES,
};
pub use rules::{
    beyond_trained_context, cache_block_vs_head, memory_verdict, positions_overflow,
    quantized_v_without_flash_attn, refusals, sequences_above_batch, too_many_sequences,
    ubatch_above_batch, verdict, CaseFacts, Refusal, LLAMA_MAX_SEQ, MAX_POSITIONS,
};

use crate::runner::load::{Arrivals, Lengths};
use crate::runner::options::EngineOptions;
use crate::runner::setup::Setup;
use crate::runner::sweep::bench::BenchOptions;
use crate::runner::sweep::load::LoadOptions;
use crate::runner::Case;
use std::path::Path;

/// A bench case's facts: one sequence of `depth + prompt + gen` positions, ubatches of the prompt (the depth is
/// filled the same way).
pub fn bench_case(case: &Case) -> CaseFacts {
    let t = &case.test;
    let ctx = &case.context;
    let positions = t.n_depth as u64 + t.n_prompt as u64 + t.n_gen as u64;
    let n_batch_eff = (ctx.n_batch as u64).min(positions.max(1));
    let n_ubatch_eff = (ctx.n_ubatch as u64).min(n_batch_eff);
    let prompt = t.n_depth as u64 + t.n_prompt as u64;
    CaseFacts {
        label: t.name(),
        n_batch: ctx.n_batch as u64,
        n_ubatch: ctx.n_ubatch as u64,
        slots: None,
        positions,
        positions_named: format!("-d {} + -p {} + -n {}", t.n_depth, t.n_prompt, t.n_gen),
        context: ContextShape {
            n_ctx: positions,
            n_seq_max: 1,
            ubatch_tokens: n_ubatch_eff.min(prompt.max(1)),
            ubatch_outputs: 1,
            n_ubatch: n_ubatch_eff,
            flash_attn: ctx.flash_attn,
            type_k: ctx.type_k.clone(),
            type_v: ctx.type_v.clone(),
            offload_kqv: ctx.offload_kqv,
            n_gpu_layers: case.model.n_gpu_layers,
            use_mmap: case.model.use_mmap,
        },
    }
}

/// Tokens of the load generator's untimed warm-up decode (runner/load.rs).
const LOAD_WARMUP_TOKENS: u64 = 16;

/// A load level's facts: `slots` sequences of `input + output` positions each, in one context.
pub fn load_case(a: &Arrivals, input: &Lengths, output: &Lengths, e: &EngineOptions) -> CaseFacts {
    let (label, flag) = match a {
        Arrivals::Closed { concurrency } => (format!("c={concurrency}"), "-c/--concurrency"),
        Arrivals::Open { rate_per_s, .. } => (format!("rate={rate_per_s}/s"), "--parallel"),
    };
    let slots = a.slots().max(1) as u64;
    let positions = input.max() as u64 + output.max() as u64;
    let n_ctx = slots * positions;
    let n_batch_eff = (e.n_batch as u64).min(n_ctx.max(1));
    let n_ubatch_eff = (e.n_ubatch as u64).min(n_batch_eff);
    let ubatch_tokens = n_ubatch_eff.min((slots * input.max() as u64).max(LOAD_WARMUP_TOKENS));
    CaseFacts {
        label,
        n_batch: e.n_batch as u64,
        n_ubatch: e.n_ubatch as u64,
        slots: Some((slots, flag.to_string())),
        positions,
        positions_named: format!(
            "--input-tokens {} + --output-tokens {}",
            input.max(),
            output.max()
        ),
        context: ContextShape {
            n_ctx,
            n_seq_max: slots,
            ubatch_tokens,
            ubatch_outputs: slots.min(ubatch_tokens),
            n_ubatch: n_ubatch_eff,
            flash_attn: e.flash_attn,
            type_k: e.type_k.clone(),
            type_v: e.type_v.clone(),
            offload_kqv: !e.no_kv_offload,
            n_gpu_layers: e.n_gpu_layers,
            use_mmap: e.use_mmap,
        },
    }
}

fn host_facts(setup: &Setup) -> HostFacts {
    host_facts_of(&setup.host, &setup.build)
}

/// Checks every case of one model: the rules, then the memory estimate against `free`.
fn check_model(
    cases: &[CaseFacts],
    path: &Path,
    host: &HostFacts,
    free: &FreeMemory,
    force: bool,
    verbose: bool,
) -> anyhow::Result<()> {
    let (facts, n_ctx_train) = model_facts(path)?;
    if verbose {
        let mut free_text = vec![format!(
            "RAM {}",
            free.ram_bytes.map_or("unknown".to_string(), memory::size)
        )];
        free_text.extend(
            free.gpus
                .iter()
                .map(|g| format!("{} {}", g.name, memory::size(g.free_bytes))),
        );
        eprintln!("preflight: free memory: {}", free_text.join(", "));
    }
    for c in cases {
        verdict(c, &refusals(c, facts.as_ref(), n_ctx_train), force)?;
        let Some(m) = &facts else { continue };
        let e = estimate(m, &c.context, host);
        if verbose {
            eprintln!(
                "preflight: {} case {}: {} [{} bytes RAM]",
                path.display(),
                c.label,
                describe(&e),
                e.ram.total_bytes()
            );
        }
        memory_verdict(c, &e, free, force)?;
    }
    Ok(())
}

/// `bench`'s preflight over its expanded cases; nothing has been loaded yet.
pub fn bench(opts: &BenchOptions, cases: &[Case], setup: &Setup) -> anyhow::Result<()> {
    let (force, verbose) = (opts.force, opts.run.verbose);
    let host = host_facts(setup);
    let free = measure_free(&setup.build, host.has_gpu)?;
    for path in &setup.models {
        let facts: Vec<CaseFacts> = cases
            .iter()
            .filter(|c| &c.model_path == path)
            .map(bench_case)
            .collect();
        check_model(&facts, path, &host, &free, force, verbose)?;
    }
    Ok(())
}

/// `load`'s preflight over its levels; nothing has been loaded yet.
pub fn load(
    opts: &LoadOptions,
    levels: &[Arrivals],
    input: &Lengths,
    output: &Lengths,
    setup: &Setup,
) -> anyhow::Result<()> {
    let (engine, force, verbose) = (&opts.engine, opts.force, opts.run.verbose);
    let host = host_facts(setup);
    let free = measure_free(&setup.build, host.has_gpu)?;
    let facts: Vec<CaseFacts> = levels
        .iter()
        .map(|a| load_case(a, input, output, engine))
        .collect();
    check_model(&facts, &setup.models[0], &host, &free, force, verbose)
}
