//! Criterion benchmark of `report`: reading 50 result files (bench and load runs of five machines, made from the
//! committed references), pricing each machine and model with the cost model and writing the HTML page. The
//! issue's bound: under one second.

use criterion::{criterion_group, criterion_main, Criterion};
use std::path::{Path, PathBuf};
use tokenmeter::commands::cost::Selection;
use tokenmeter::commands::report::{run, PageFormat, ReportOptions};

const REFERENCES: [&str; 4] = [
    "results/reference/telemetry-cpu-qwen2.5-0.5b-q4_0/bench.json",
    "results/reference/telemetry-cpu-qwen2.5-0.5b-q4_0/load.json",
    "results/reference/slo-goodput-qwen2.5-0.5b-q4_0/load.json",
    "results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0/tokenmeter-round1.result.json",
];

/// Writes 50 result files into `dir`: the references in turn, on five hosts, each run with its own start time.
fn fifty(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for i in 0..50 {
        let text = std::fs::read_to_string(root.join(REFERENCES[i % REFERENCES.len()])).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["host"]["hostname"] = format!("machine-{}", i % 5).into();
        v["started_at"] = format!("2026-11-20T10:00:{i:02}Z").into();
        std::fs::write(dir.join(format!("run-{i:02}.json")), v.to_string()).unwrap();
    }
}

fn report(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("results");
    std::fs::create_dir(&inputs).unwrap();
    fifty(&inputs);
    let opts = ReportOptions {
        inputs: vec![inputs],
        out: Some(dir.path().join("report.html")),
        format: PageFormat::Html,
        selection: Selection {
            config: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models.toml")),
            ..Selection::default()
        },
        relative_to: None,
        remarks: Vec::new(),
    };
    let mut group = c.benchmark_group("report");
    group.sample_size(10);
    group.bench_function("report of 50 result files (html)", |b| {
        b.iter(|| run(&opts).expect("the report is made"))
    });
    group.finish();
}

criterion_group!(benches, report);
criterion_main!(benches);
