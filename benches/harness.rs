//! Criterion benchmarks of tokenmeter's own overhead: summarising samples and planning synthesized models.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use tokenmeter::gguf::{synth, Shape, ShapeOverrides, SynthSpec, WeightType};
use tokenmeter::results::summarize;
use tokenmeter::runner::{RepSample, Test};

fn summary(c: &mut Criterion) {
    let test = Test {
        n_prompt: 512,
        n_gen: 128,
        n_depth: 0,
    };
    let samples: Vec<RepSample> = (0..100)
        .map(|i| RepSample {
            prompt_ns: Some(1_000_000 + i),
            gen_ns: Some(2_000_000 + i),
            total_ns: 3_000_000 + 2 * i,
            gen_token_ns: (0..128).map(|t| 1_000_000 + t * 15_000).collect(),
        })
        .collect();
    c.bench_function("summarize 100 repetitions", |b| {
        b.iter(|| summarize(black_box(&test), black_box(&samples)))
    });
}

fn planning(c: &mut Criterion) {
    let spec = SynthSpec {
        shape: Shape::from_preset("llama-3.1-8b", &ShapeOverrides::default()).unwrap(),
        weight_type: WeightType::Q4_0,
        seed: 1,
    };
    c.bench_function("plan llama-3.1-8b q4_0", |b| {
        b.iter(|| synth::plan(black_box(&spec)))
    });
    c.bench_function("vocabulary 128256", |b| {
        b.iter(|| synth::vocabulary(black_box(128_256)))
    });
}

criterion_group!(benches, summary, planning);
criterion_main!(benches);
