//! What continuous batching buys: aggregate output tokens/s at concurrency 4 against concurrency 1 on the same
//! model and context, levels alternating 1, 4, 1, 4, … in one process so that drift of the machine's speed hits
//! both alike. Prints each pair's ratio, the median and the best-of comparison against the 1.3× target.
//!
//! `cargo bench --bench batching [-- ROUNDS]` (default 5 rounds of 12 requests, 16 prompt and 32 output tokens).
//! The model is deep and narrow (32 layers of width 64, f16, 2.5 MB), synthesized into a temporary directory: its
//! arithmetic and weight reads are tiny on any CPU and in any cache, so a decode call's time is its fixed cost,
//! which a batch of four pays once for four tokens.

use std::sync::atomic::AtomicBool;
use std::time::Instant;
use tokenmeter::engine::{self, ContextParams, ModelParams};
use tokenmeter::gguf::{synth, Shape, ShapeOverrides, SynthSpec, WeightType};
use tokenmeter::runner::load::{run_level, Arrivals, Lengths, LevelSpec};

/// The speed-up the batching path is expected to show on this model.
const TARGET_RATIO: f64 = 1.3;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a positional number is ours.
    let rounds = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<u32>().ok())
        .unwrap_or(5)
        .max(1);
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("deep-narrow-f16.gguf");
    let overrides = ShapeOverrides {
        n_layer: Some(32),
        n_embd: Some(64),
        n_head: Some(2),
        n_head_kv: Some(1),
        n_ff: Some(128),
        n_vocab: Some(512),
        n_ctx: None,
    };
    let spec = SynthSpec {
        shape: Shape::from_preset("tiny", &overrides).expect("tiny shape"),
        weight_type: WeightType::F16,
        seed: 1,
    };
    synth::write(&spec, &path).expect("synthesize the model");
    let model = engine::load_model(
        &path,
        ModelParams {
            n_gpu_layers: -1,
            use_mmap: true,
            repack: true,
            // The first load of this process: ggml's AMX tile kernels, which crash in prompt batches on some
            // hosts, stay out; the weights go to CPU_REPACK (docs/hardware.md).
            no_amx: true,
        },
        false,
    )
    .expect("load the model");
    let stop = AtomicBool::new(false);
    let level = |concurrency: u32| -> f64 {
        let params = ContextParams {
            n_ctx: concurrency * 48,
            n_batch: 2048,
            n_ubatch: 512,
            n_threads: 2,
            flash_attn: -1,
            offload_kqv: true,
            type_k: "f16".into(),
            type_v: "f16".into(),
            n_seq_max: concurrency,
        };
        let mut session = engine::new_session(&model, &params).expect("context");
        let spec = LevelSpec {
            arrivals: Arrivals::Closed { concurrency },
            input_tokens: Lengths::Fixed(16),
            output_tokens: Lengths::Fixed(32),
            requests: Some(12),
            duration_ns: None,
            drain_ns: None,
            seed: 1,
            burst: false,
            pattern: None,
        };
        let run = run_level(
            &mut session,
            &spec,
            model.n_vocab,
            Instant::now(),
            &stop,
            |_| {},
        )
        .expect("level runs");
        let tokens: usize = run.requests.iter().map(|r| r.token_ns.len()).sum();
        tokens as f64 / (run.duration_ns as f64 / 1e9)
    };
    let mut ratios = Vec::new();
    let (mut best1, mut best4) = (0.0f64, 0.0f64);
    for round in 1..=rounds {
        let c1 = level(1);
        let c4 = level(4);
        best1 = best1.max(c1);
        best4 = best4.max(c4);
        ratios.push(c4 / c1);
        println!(
            "round {round}: c=1 {c1:.0} t/s, c=4 {c4:.0} t/s, ratio {:.2}",
            c4 / c1
        );
    }
    let m = median(&mut ratios);
    let best = best4 / best1;
    println!(
        "median ratio {m:.2}; best c=4 over best c=1 {best:.2} (target ≥ {TARGET_RATIO}): {}",
        if best >= TARGET_RATIO {
            "met"
        } else {
            "NOT met"
        }
    );
}
