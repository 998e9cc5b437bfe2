//! The rules: what the llama.cpp this binary links would abort on, reject or silently change, as pure functions
//! of one case's facts (and, for some, the model's shape and trained context), and the verdicts they give.

use super::memory::{self, shortfall, ContextShape, Estimate, FreeMemory, ModelFacts};
use crate::exit::InputError;

/// llama.cpp's most sequences per context (llama-cparams.h, `LLAMA_MAX_SEQ`).
pub const LLAMA_MAX_SEQ: u64 = 256;

/// Most positions a sequence can hold: `llama_pos` is an `int32_t` (llama.h).
pub const MAX_POSITIONS: u64 = i32::MAX as u64;

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
