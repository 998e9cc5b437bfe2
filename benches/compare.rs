//! Criterion benchmarks of `compare` itself: joining and judging 100 bench cases (Welch on their repetitions)
//! and 100 load levels (request bootstrap of rates and latency percentiles, 2000 resamples), built from the
//! committed reference results.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::path::Path;
use tokenmeter::analysis::compare::{compare, Input, Options, Source};
use tokenmeter::results::{read_result, ResultFile};

fn reference(path: &str) -> ResultFile {
    read_result(&Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect("reference result reads")
}

/// `file` with its bench cases repeated until there are `n`, each copy with its own thread count.
fn many_cases(mut file: ResultFile, n: usize) -> ResultFile {
    let one = file.cases.clone();
    file.cases = (0..n)
        .map(|i| {
            let mut c = one[i % one.len()].clone();
            c.n_threads = 1 + (i / one.len()) as u32;
            c
        })
        .collect();
    file
}

/// `file` with its load levels repeated until there are `n`, each copy at its own concurrency.
fn many_levels(mut file: ResultFile, n: usize) -> ResultFile {
    let sweep = file.load.as_mut().expect("a load result");
    let one = sweep.levels.clone();
    sweep.levels = (0..n)
        .map(|i| {
            let mut l = one[i % one.len()].clone();
            l.summary.concurrency = Some(1 + i as u32);
            l.summary.rate = None;
            l
        })
        .collect();
    file
}

fn sources(file: ResultFile) -> Vec<Source> {
    vec![Source {
        path: "bench.json".into(),
        input: Input::Result(Box::new(file)),
    }]
}

fn judging(c: &mut Criterion) {
    let opts = Options::default();
    let bench_base = sources(many_cases(
        reference("results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0/tokenmeter-round1.result.json"),
        100,
    ));
    let bench_new = sources(many_cases(
        reference("results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0/tokenmeter-round2.result.json"),
        100,
    ));
    c.bench_function("compare 100 bench cases", |b| {
        b.iter(|| compare(black_box(&bench_base), black_box(&bench_new), &opts).unwrap())
    });
    let load = many_levels(
        reference("results/reference/slo-goodput-qwen2.5-0.5b-q4_0/load.json"),
        100,
    );
    let (load_base, load_new) = (sources(load.clone()), sources(load));
    let mut group = c.benchmark_group("compare");
    group.sample_size(10);
    group.bench_function("100 load levels (2000 resamples)", |b| {
        b.iter(|| compare(black_box(&load_base), black_box(&load_new), &opts).unwrap())
    });
    group.finish();
}

criterion_group!(benches, judging);
criterion_main!(benches);
