//! One definition of time to first token in `bench` and `load`: from the request's start (the timed region's
//! start in `bench`, the arrival in `load`) to the end of the prefill decode that yields the first output
//! token's logits.

mod common;
use common::*;
use serde_json::Value;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

fn read(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn bench_pg_and_load_at_concurrency_1_measure_the_same_ttft() {
    let dir = tempfile::tempdir().unwrap();
    // wide enough that prefill takes a few milliseconds, so timer and scheduling noise stay small beside it
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let (prompt, gen) = (64, 8);
    let bench_out = dir.path().join("bench.json");
    let o = tokenmeter(
        &[
            "bench",
            "-m",
            model.to_str().unwrap(),
            "-t",
            "1",
            "-p",
            "0",
            "-n",
            "0",
            "--pg",
            &format!("{prompt},{gen}"),
            "-r",
            "20",
            "--out",
            bench_out.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let load_out = dir.path().join("load.json");
    let o = tokenmeter(
        &[
            "load",
            "-m",
            model.to_str().unwrap(),
            "-t",
            "1",
            "-c",
            "1",
            "--input-tokens",
            &prompt.to_string(),
            "--output-tokens",
            &gen.to_string(),
            "--requests",
            "20",
            "--out",
            load_out.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));

    let bench = read(&bench_out);
    let cases = bench["cases"].as_array().unwrap();
    let pg = cases
        .iter()
        .find(|c| c["n_prompt"] == prompt && c["n_gen"] == gen)
        .expect("the pg case");
    // bench: the end of prompt processing, not the first generated token
    let bench_ttft: Vec<f64> = pg["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["prompt_ns"].as_f64().unwrap() / 1e6)
        .collect();
    let first_gen: Vec<f64> = pg["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["gen_token_ns"][0].as_f64().unwrap() / 1e6)
        .collect();
    let reported = pg["ttft_ms"]["max"].as_f64().unwrap();
    let want = bench_ttft.iter().copied().fold(0.0, f64::max);
    assert!(
        (reported - want).abs() <= want * 2e-3,
        "bench ttft_ms.max {reported} is the largest prompt_ns {want}"
    );
    assert!(
        first_gen.iter().zip(&bench_ttft).all(|(g, p)| g > p),
        "the first generated token comes after the prompt's"
    );

    // load: the first token's time after arrival
    let load = read(&load_out);
    let level = &load["load"]["levels"][0];
    let load_ttft: Vec<f64> = level["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["token_ns"][0].as_f64().unwrap() - r["arrival_ns"].as_f64().unwrap()) / 1e6)
        .collect();
    let reported = level["ttft_ms"]["max"].as_f64().unwrap();
    let want = load_ttft.iter().copied().fold(0.0, f64::max);
    assert!(
        (reported - want).abs() <= want * 2e-3,
        "load ttft_ms.max {reported} vs {want}"
    );

    // the same work measured the same way agrees within the noise of this machine
    let (b, l) = (median(bench_ttft), median(load_ttft));
    let ratio = l / b;
    assert!(
        (0.6..=1.67).contains(&ratio),
        "median TTFT: bench {b:.3} ms, load {l:.3} ms (ratio {ratio:.2})"
    );
}
