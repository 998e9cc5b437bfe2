//! Preflight: before `bench` or `load` loads a model, every case is checked against what the llama.cpp this
//! binary links would abort on, reject or silently change, and against the memory that is free. A case that
//! fails is refused with exit 2 and one line naming the flags and values (or the estimate and what is free).
//! The rules and the estimate are pure functions over plain inputs; reading the model's header and measuring
//! free memory happen once, in [`bench`] and [`load`].

pub mod memory;

pub use memory::{
    describe, estimate, kv_cells, shortfall, ContextShape, Estimate, FreeMemory, GpuFree,
    HostFacts, ModelFacts, Need, TensorFacts, PROCESS_BASE_BYTES,
};

use crate::engine::BuildInfo;
use crate::exit::InputError;
use crate::gguf::read_model_info;
use crate::runner::load::{Arrivals, Lengths};
use crate::runner::options::EngineOptions;
use crate::runner::setup::Setup;
use crate::runner::sweep::bench::BenchOptions;
use crate::runner::sweep::load::LoadOptions;
use crate::runner::Case;
use gguf_rs_lib::reader::{GGUFFileReader, GGUFReaderConfig};
use std::io::BufReader;
use std::path::Path;

/// llama.cpp's most sequences per context (llama-cparams.h, `LLAMA_MAX_SEQ`).
pub const LLAMA_MAX_SEQ: u64 = 256;

/// Most positions a sequence can hold: `llama_pos` is an `int32_t` (llama.h).
pub const MAX_POSITIONS: u64 = i32::MAX as u64;

/// Overrides the free RAM preflight compares estimates with, in bytes. A hook for tests and for hosts whose
/// available-memory figure is wrong (containers); read only by [`measure_free`].
pub const FREE_MEMORY_ENV: &str = "TOKENMETER_FREE_MEMORY_BYTES";

/// Overrides the free memory of every GPU device, in bytes, as [`FREE_MEMORY_ENV`] does for RAM.
pub const FREE_GPU_MEMORY_ENV: &str = "TOKENMETER_FREE_GPU_MEMORY_BYTES";

/// One case as the rules see it: the values llama.cpp will get, and how the user named them.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFacts {
    /// The case's name in messages: `pp512 @ d4096`, `c=16`.
    pub label: String,
    pub n_batch: u64,
    pub n_ubatch: u64,
    /// Sequences of the context and the flag that set them; `None`: one sequence (`bench`).
    pub slots: Option<(u64, String)>,
    /// Positions one sequence needs and the flags they add up from, e.g. `-d 4096 + -p 512 + -n 128`.
    pub positions: u64,
    pub positions_named: String,
    pub context: ContextShape,
}

/// Why a case is refused; `forceable` ones run anyway under `--force`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: String,
    pub forceable: bool,
}

fn hard(reason: String) -> Option<Refusal> {
    Some(Refusal {
        reason,
        forceable: false,
    })
}

/// llama-context.cpp, `llama_context::llama_context`: `n_seq_max > LLAMA_MAX_SEQ` throws "n_seq_max must be <=
/// 256", which reaches tokenmeter as a context that could not be created.
pub fn too_many_sequences(c: &CaseFacts) -> Option<Refusal> {
    let (n, flag) = c.slots.as_ref()?;
    if *n <= LLAMA_MAX_SEQ {
        return None;
    }
    hard(format!(
        "{flag} {n} is above llama.cpp's {LLAMA_MAX_SEQ} sequences per context (LLAMA_MAX_SEQ)"
    ))
}

/// llama-context.cpp, `llama_context::output_reserve`, which the constructor calls with `n_seq_max`: it reserves
/// `max(n_outputs, n_seq_max)` logits rows and aborts with `GGML_ASSERT(n_outputs_max <= cparams.n_outputs_max)`
/// when that exceeds the batch (`n_outputs_max` is `n_batch`, itself capped at `n_ctx`). Every sequence in a load
/// level also puts one token with logits into each batch (runner/load.rs), so slots above the batch cannot fit.
pub fn sequences_above_batch(c: &CaseFacts) -> Option<Refusal> {
    let (n, flag) = c.slots.as_ref()?;
    let n_batch = c.n_batch.min(c.context.n_ctx);
    if *n <= n_batch {
        return None;
    }
    hard(format!(
        "{flag} {n} is above the batch size -b/--batch-size {}: llama.cpp keeps one logits row per sequence \
         within the batch and aborts (GGML_ASSERT n_outputs_max <= cparams.n_outputs_max); use -b {n} or more",
        c.n_batch
    ))
}

/// llama-context.cpp, `llama_context::llama_context`: `n_ubatch = min(n_batch, n_ubatch)`, silently; the result
/// would record a physical batch that never ran.
pub fn ubatch_above_batch(c: &CaseFacts) -> Option<Refusal> {
    if c.n_ubatch <= c.n_batch {
        return None;
    }
    hard(format!(
        "--ubatch-size {} is above -b/--batch-size {}: llama.cpp would silently lower it to {}",
        c.n_ubatch, c.n_batch, c.n_batch
    ))
}

fn quantized(cache_type: &str) -> bool {
    memory::cache_type_size(cache_type).is_some_and(|(_, block)| block > 1)
}

/// llama-context.cpp, `llama_init_from_model`: a quantized V cache with flash attention disabled is rejected
/// ("quantized V cache requires flash_attn to be enabled").
pub fn quantized_v_without_flash_attn(c: &CaseFacts) -> Option<Refusal> {
    if !(quantized(&c.context.type_v) && c.context.flash_attn == 0) {
        return None;
    }
    hard(format!(
        "--cache-type-v {} needs flash attention, but --flash-attn is off: llama.cpp refuses the context",
        c.context.type_v
    ))
}

/// llama-context.cpp, `llama_init_from_model`: with flash attention, a quantized K or V cache whose block size
/// does not divide the head size is rejected; without it, llama-kv-cache.cpp `llama_kv_cache::get_k` views K
/// per head with `ggml_row_size`, whose `ne % block == 0` is only a debug assert (wrong strides in release).
pub fn cache_block_vs_head(c: &CaseFacts, m: &ModelFacts) -> Option<Refusal> {
    for (flag, ty, head) in [
        ("--cache-type-k", &c.context.type_k, m.head_dim_k),
        ("--cache-type-v", &c.context.type_v, m.head_dim_v),
    ] {
        let block = memory::cache_type_size(ty).map_or(1, |(_, b)| b);
        if block > 1 && head % block != 0 {
            return hard(format!(
                "{flag} {ty} stores blocks of {block} values, which do not divide the model's head size {head}: \
                 llama.cpp cannot lay out the cache (use f16, bf16 or f32)"
            ));
        }
    }
    None
}

/// llama.h: positions are `int32_t` (`llama_pos`) and `n_ctx` a `uint32_t`; a context beyond them wraps.
pub fn positions_overflow(c: &CaseFacts) -> Option<Refusal> {
    let total = c.context.n_ctx.max(c.positions);
    if !(c.positions > MAX_POSITIONS || total > MAX_POSITIONS) {
        return None;
    }
    hard(format!(
        "{} = {} positions per sequence ({} in the context) exceed llama.cpp's {MAX_POSITIONS} (llama_pos is int32)",
        c.positions_named, c.positions, c.context.n_ctx
    ))
}

/// llama-context.cpp, `llama_context::llama_context`: a sequence's context above the model's trained context
/// only draws the warning "n_ctx_seq > n_ctx_train -- possible training context overflow"; positions past it
/// were never trained, so the case is refused unless forced.
pub fn beyond_trained_context(c: &CaseFacts, n_ctx_train: Option<u64>) -> Option<Refusal> {
    let train = n_ctx_train.filter(|&t| t > 0)?;
    if c.positions <= train {
        return None;
    }
    Some(Refusal {
        reason: format!(
            "{} = {} positions per sequence exceed the model's trained context of {train} \
             (llama.cpp warns of a training context overflow); --force to run it anyway",
            c.positions_named, c.positions
        ),
        forceable: true,
    })
}

/// Every rule a case breaks, in the order they are reported.
pub fn refusals(c: &CaseFacts, m: Option<&ModelFacts>, n_ctx_train: Option<u64>) -> Vec<Refusal> {
    let mut out: Vec<Refusal> = [
        too_many_sequences(c),
        sequences_above_batch(c),
        ubatch_above_batch(c),
        quantized_v_without_flash_attn(c),
        m.and_then(|m| cache_block_vs_head(c, m)),
        positions_overflow(c),
        beyond_trained_context(c, n_ctx_train),
    ]
    .into_iter()
    .flatten()
    .collect();
    out.sort_by_key(|r| r.forceable);
    out
}

/// The first refusal that `force` does not lift, as the one-line error.
pub fn verdict(c: &CaseFacts, refusals: &[Refusal], force: bool) -> Result<(), InputError> {
    match refusals.iter().find(|r| !(force && r.forceable)) {
        Some(r) => Err(InputError(format!("case {}: {}", c.label, r.reason))),
        None => Ok(()),
    }
}

/// The memory check: the case's estimate against what is free, refused unless forced.
pub fn memory_verdict(
    c: &CaseFacts,
    e: &Estimate,
    free: &FreeMemory,
    force: bool,
) -> Result<(), InputError> {
    match shortfall(e, free) {
        Some(why) if !force => Err(InputError(format!(
            "case {}: {why}; --force to try anyway",
            c.label
        ))),
        _ => Ok(()),
    }
}

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

/// The model's hyperparameters and tensor table from its GGUF header (`None` when the architecture's keys
/// are missing: then only the rules that need no shape apply), and its trained context.
pub fn model_facts(path: &Path) -> anyhow::Result<(Option<ModelFacts>, Option<u64>)> {
    let info = read_model_info(path)?;
    let arch = info.architecture.clone().unwrap_or_default();
    let key = |suffix: &str| {
        info.metadata
            .get(&format!("{arch}.{suffix}"))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let reader = GGUFFileReader::with_config(
        BufReader::new(std::fs::File::open(path)?),
        GGUFReaderConfig {
            validate_integrity: false,
            ..Default::default()
        },
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let tensors: Vec<TensorFacts> = reader
        .tensor_infos()
        .iter()
        .map(|t| TensorFacts {
            name: t.name().to_string(),
            type_name: t.tensor_type().name().to_string(),
            bytes: t.expected_data_size(),
            dims: t.shape().dims().to_vec(),
        })
        .collect();
    let facts = (|| {
        let n_embd = info.embedding_length?;
        let n_head = key("attention.head_count").filter(|&h| h > 0)?;
        let n_head_kv = key("attention.head_count_kv").unwrap_or(n_head);
        let head = n_embd / n_head;
        Some(ModelFacts {
            n_layer: info.block_count?,
            n_embd,
            n_head,
            n_head_kv,
            head_dim_k: key("attention.key_length").unwrap_or(head),
            head_dim_v: key("attention.value_length").unwrap_or(head),
            n_ff: key("feed_forward_length").unwrap_or(4 * n_embd),
            n_vocab: info.vocab_size?,
            tensors: tensors.clone(),
        })
    })();
    Ok((facts, info.context_length))
}

/// Free RAM (`TOKENMETER_FREE_MEMORY_BYTES`, else what the system calls available) and, when `gpus`, the free
/// memory of each GPU device as llama.cpp's backend reports it (`TOKENMETER_FREE_GPU_MEMORY_BYTES` overrides it).
pub fn measure_free(build: &BuildInfo, gpus: bool) -> Result<FreeMemory, InputError> {
    let bytes_of = |var: &str| -> Result<Option<u64>, InputError> {
        match std::env::var(var) {
            Ok(s) => Ok(Some(s.trim().parse::<u64>().map_err(|_| {
                InputError(format!("{var}: '{s}' is not a number of bytes"))
            })?)),
            Err(_) => Ok(None),
        }
    };
    let ram_bytes = match bytes_of(FREE_MEMORY_ENV)? {
        Some(b) => Some(b),
        None => crate::telemetry::bandwidth::available_memory_bytes(),
    };
    let gpu_override = bytes_of(FREE_GPU_MEMORY_ENV)?;
    let gpus = if gpus {
        build
            .gpu_devices()
            .filter_map(|d| {
                // A backend that cannot tell reports 0 of 0: unknown, not full.
                let reported = d.memory_free_bytes.filter(|_| d.memory_total_bytes > 0);
                Some(GpuFree {
                    name: format!("{} ({})", d.name, d.description),
                    free_bytes: gpu_override.or(reported)?,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(FreeMemory { ram_bytes, gpus })
}

fn host_facts(setup: &Setup) -> HostFacts {
    host_facts_of(&setup.host, &setup.build)
}

/// What the memory estimate needs of the host and the build: whether the CPU backend repacks, and whether the
/// build has a GPU device.
pub fn host_facts_of(
    host: &crate::results::HostInfo,
    build: &crate::engine::BuildInfo,
) -> HostFacts {
    HostFacts {
        cpu_repacks: host.cpu_features.iter().any(|f| f == "AVX2"),
        has_gpu: build.gpu_offload_supported && build.gpu_devices().next().is_some(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(n_batch: u32, n_ubatch: u32) -> EngineOptions {
        EngineOptions {
            n_threads: Some(1),
            n_gpu_layers: 0,
            n_batch,
            n_ubatch,
            flash_attn: -1,
            no_kv_offload: false,
            type_k: "f16".into(),
            type_v: "f16".into(),
            use_mmap: true,
            repack: true,
        }
    }

    fn level(concurrency: u32, e: &EngineOptions) -> CaseFacts {
        load_case(
            &Arrivals::Closed { concurrency },
            &Lengths::Fixed(32),
            &Lengths::Fixed(8),
            e,
        )
    }

    /// The `tiny` synth shape: 2 layers, 64 wide, 4 heads of 16, 2 KV heads, trained on 2048 positions.
    fn tiny() -> ModelFacts {
        ModelFacts {
            n_layer: 2,
            n_embd: 64,
            n_head: 4,
            n_head_kv: 2,
            head_dim_k: 16,
            head_dim_v: 16,
            n_ff: 128,
            n_vocab: 512,
            tensors: Vec::new(),
        }
    }

    fn reasons(c: &CaseFacts) -> Vec<String> {
        refusals(c, Some(&tiny()), Some(2048))
            .into_iter()
            .map(|r| r.reason)
            .collect()
    }

    #[test]
    fn concurrency_above_the_batch_size_is_refused_naming_both_flags() {
        let c = level(16, &engine(8, 8));
        let err = verdict(&c, &refusals(&c, Some(&tiny()), Some(2048)), true).unwrap_err();
        assert_eq!(
            err.0,
            "case c=16: -c/--concurrency 16 is above the batch size -b/--batch-size 8: llama.cpp keeps one \
             logits row per sequence within the batch and aborts (GGML_ASSERT n_outputs_max <= \
             cparams.n_outputs_max); use -b 16 or more"
        );
        assert!(reasons(&level(8, &engine(8, 8))).is_empty());
    }

    #[test]
    fn open_loop_slots_above_llama_max_seq_are_refused_as_parallel() {
        let c = load_case(
            &Arrivals::Open {
                rate_per_s: 2.0,
                slots: 300,
            },
            &Lengths::Fixed(32),
            &Lengths::Fixed(8),
            &engine(2048, 512),
        );
        let r = reasons(&c);
        assert_eq!(
            r[0],
            "--parallel 300 is above llama.cpp's 256 sequences per context (LLAMA_MAX_SEQ)"
        );
        assert!(reasons(&level(256, &engine(2048, 512))).is_empty());
    }

    #[test]
    fn ubatch_above_batch_is_refused_as_llama_cpp_would_lower_it() {
        let r = reasons(&level(1, &engine(256, 512)));
        assert_eq!(
            r,
            ["--ubatch-size 512 is above -b/--batch-size 256: llama.cpp would silently lower it to 256"]
        );
    }

    #[test]
    fn quantized_v_cache_needs_flash_attention_on_or_auto() {
        let mut e = engine(2048, 512);
        e.type_v = "q8_0".into();
        e.flash_attn = 0;
        let head_32 = ModelFacts {
            head_dim_k: 32,
            head_dim_v: 32,
            ..tiny()
        };
        let off = refusals(&level(1, &e), Some(&head_32), None);
        assert_eq!(off.len(), 1);
        assert!(off[0]
            .reason
            .starts_with("--cache-type-v q8_0 needs flash attention"));
        e.flash_attn = -1;
        assert!(refusals(&level(1, &e), Some(&head_32), None).is_empty());
    }

    #[test]
    fn a_cache_block_that_does_not_divide_the_head_size_is_refused() {
        let mut e = engine(2048, 512);
        e.type_k = "q4_0".into();
        let r = reasons(&level(1, &e));
        assert_eq!(
            r,
            ["--cache-type-k q4_0 stores blocks of 32 values, which do not divide the model's head size 16: \
              llama.cpp cannot lay out the cache (use f16, bf16 or f32)"]
        );
        // without the model's shape the rule cannot be checked
        assert!(refusals(&level(1, &e), None, None).is_empty());
    }

    #[test]
    fn positions_beyond_int32_are_refused() {
        let mut c = level(1, &engine(2048, 512));
        c.positions = 3_000_000_000;
        c.context.n_ctx = 3_000_000_000;
        let r = reasons(&c);
        assert!(r[0].contains("3000000000 positions per sequence"), "{r:?}");
        assert!(r[0].contains("llama_pos is int32"), "{r:?}");
    }

    #[test]
    fn beyond_the_trained_context_is_refused_unless_forced() {
        let c = load_case(
            &Arrivals::Closed { concurrency: 1 },
            &Lengths::Fixed(2000),
            &Lengths::Fixed(100),
            &engine(2048, 512),
        );
        let r = refusals(&c, Some(&tiny()), Some(2048));
        assert_eq!(r.len(), 1);
        assert!(r[0].forceable);
        assert_eq!(
            verdict(&c, &r, false).unwrap_err().0,
            "case c=1: --input-tokens 2000 + --output-tokens 100 = 2100 positions per sequence exceed the \
             model's trained context of 2048 (llama.cpp warns of a training context overflow); --force to run \
             it anyway"
        );
        assert!(verdict(&c, &r, true).is_ok());
    }

    #[test]
    fn hard_refusals_come_before_forceable_ones() {
        let c = load_case(
            &Arrivals::Closed { concurrency: 16 },
            &Lengths::Fixed(4000),
            &Lengths::Fixed(8),
            &engine(8, 8),
        );
        let r = refusals(&c, Some(&tiny()), Some(2048));
        assert_eq!(r.len(), 2);
        assert!(!r[0].forceable && r[1].forceable);
        assert!(verdict(&c, &r, true).is_err());
    }

    #[test]
    fn a_case_that_does_not_fit_is_refused_with_the_estimate_and_what_is_free() {
        let c = level(1, &engine(2048, 512));
        let e = Estimate {
            ram: Need {
                weights_bytes: 1 << 30,
                kv_bytes: 512 << 20,
                compute_bytes: 256 << 20,
                process_bytes: 14 << 20,
            },
            vram: None,
        };
        let free = FreeMemory {
            ram_bytes: Some(1 << 30),
            gpus: Vec::new(),
        };
        assert_eq!(
            memory_verdict(&c, &e, &free, false).unwrap_err().0,
            "case c=1: needs ~1.76 GiB (weights 1.00 GiB + KV 512.0 MiB + compute 256.0 MiB + process \
             14.0 MiB), 1.00 GiB free; --force to try anyway"
        );
        assert!(memory_verdict(&c, &e, &free, true).is_ok());
        let unknown = FreeMemory {
            ram_bytes: None,
            gpus: Vec::new(),
        };
        assert!(memory_verdict(&c, &e, &unknown, false).is_ok());
    }
}
