//! The rules and verdicts on load levels and bench cases built as the commands build them.

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
