//! Criterion benchmarks of tokenmeter's own overhead: summarising samples and planning synthesized models.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::sync::atomic::AtomicBool;
use tokenmeter::engine::{BatchDecoder, BatchToken, EngineError};
use tokenmeter::gguf::{synth, Shape, ShapeOverrides, SynthSpec, WeightType};
use tokenmeter::results::summarize;
use tokenmeter::runner::load::{run_level, Arrivals, Lengths, LevelSpec};
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
            start_ns: None,
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

/// A decoder that does no work: what remains is the load generator's own cost (scheduling, batch building,
/// timestamps, histogram recording).
struct NoWork {
    n_batch: usize,
}

impl BatchDecoder for NoWork {
    fn n_batch(&self) -> usize {
        self.n_batch
    }
    fn decode(&mut self, tokens: &[BatchToken]) -> Result<(), EngineError> {
        black_box(tokens);
        Ok(())
    }
    fn release(&mut self, seq: i32) {
        black_box(seq);
    }
}

fn load_harness(c: &mut Criterion) {
    let mut group = c.benchmark_group("load harness");
    for concurrency in [1u32, 8] {
        let spec = LevelSpec {
            arrivals: Arrivals::Closed { concurrency },
            input_tokens: Lengths::Fixed(16),
            output_tokens: Lengths::Fixed(64),
            requests: Some(16),
            duration_ns: None,
            drain_ns: None,
            seed: 1,
            burst: false,
            pattern: None,
        };
        // throughput in generated tokens: criterion then reports the harness cost per output token
        group.throughput(criterion::Throughput::Elements(16 * 64));
        group.bench_function(format!("c={concurrency}, 16 requests x 64 tokens"), |b| {
            let stop = AtomicBool::new(false);
            b.iter(|| {
                let mut d = NoWork { n_batch: 2048 };
                run_level(&mut d, &spec, 512, std::time::Instant::now(), &stop, |_| {}).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, summary, planning, load_harness);
criterion_main!(benches);
