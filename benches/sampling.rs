//! What background sensor sampling costs in generation tokens/s: the same model and context generate with the
//! sensors reading every `DEFAULT_SAMPLE_INTERVAL` (on) and with no sensor (off), alternating round by round in
//! one process so that drift of the machine's speed hits both alike. Prints each pair's ratio and the median.
//!
//! `cargo bench --bench sampling [-- ROUNDS TOKENS]` (defaults: 15 rounds of 128 tokens each way). The model is
//! synthesized into a temporary directory (`small` shape, q4_0, the embedded default's).

use std::time::Instant;
use tokenmeter::engine::{self, ContextParams, ModelParams};
use tokenmeter::gguf::{synth, Shape, ShapeOverrides, SynthSpec, WeightType};
use tokenmeter::runner::{Meter, MeterOptions};
use tokenmeter::telemetry::DEFAULT_SAMPLE_INTERVAL;

fn meter(enabled: bool) -> Meter {
    Meter::open(&MeterOptions {
        enabled,
        sample_interval: DEFAULT_SAMPLE_INTERVAL,
        idle_from: None,
    })
}

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
    // `cargo bench` passes `--bench`; positional numbers are ours.
    let nums: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rounds = nums.first().copied().unwrap_or(15).max(1);
    let n_gen = nums.get(1).copied().unwrap_or(128).max(1);

    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("small-q4_0.gguf");
    let spec = SynthSpec {
        shape: Shape::from_preset("small", &ShapeOverrides::default()).expect("small shape"),
        weight_type: WeightType::Q4_0,
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
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    let mut session = engine::new_session(
        &model,
        &ContextParams {
            n_ctx: n_gen + 16,
            n_batch: 512,
            n_ubatch: 512,
            n_threads: threads,
            flash_attn: -1,
            offload_kqv: true,
            type_k: "f16".into(),
            type_v: "f16".into(),
            n_seq_max: 1,
        },
    )
    .expect("create a context");
    let tokens: Vec<i32> = (0..n_gen as i32)
        .map(|i| (i * 7919) % model.n_vocab)
        .collect();
    let mut stamps = vec![0u64; n_gen as usize];

    let mut on = meter(true);
    let mut off = meter(false);
    println!(
        "sensors with sampling on: {} (every {} ms); {} rounds of tg{n_gen}, {threads} threads",
        on.devices().join(", "),
        DEFAULT_SAMPLE_INTERVAL.as_millis(),
        rounds
    );
    let mut tg = |m: &mut Meter| -> f64 {
        session.clear();
        let t0 = Instant::now();
        m.start(t0);
        session
            .generate(&tokens, 0, t0, &mut stamps)
            .expect("generate");
        let elapsed = t0.elapsed();
        m.stop();
        n_gen as f64 / elapsed.as_secs_f64()
    };
    tg(&mut off); // warm-up
    let mut ratios = Vec::new();
    println!("round  off t/s   on t/s   on/off");
    for round in 0..rounds {
        // alternate which goes first, so neither always runs on a cooler machine
        let (a, b) = if round % 2 == 0 {
            let a = tg(&mut off);
            (a, tg(&mut on))
        } else {
            let b = tg(&mut on);
            (tg(&mut off), b)
        };
        ratios.push(b / a);
        println!("{round:>5}  {a:>7.1}  {b:>7.1}  {:>6.4}", b / a);
    }
    let m = median(&mut ratios);
    println!(
        "median on/off = {m:.4}: sampling costs {:.2}% of tokens/s",
        (1.0 - m) * 100.0
    );
}
