//! `load` end to end on a synthesized model: continuous batching really batches, every request is accounted
//! for, and the per-request timestamps are consistent.

mod common;
use common::*;
use serde_json::Value;

fn run_load(dir: &std::path::Path, model: &std::path::Path, extra: &[&str]) -> Value {
    let out = dir.join(format!(
        "load-{}.json",
        extra.join("_").replace(['/', '=', ','], "-")
    ));
    let mut args = vec![
        "load",
        "-m",
        model.to_str().unwrap(),
        "-t",
        "2",
        "--input-tokens",
        "16",
    ];
    if !extra.contains(&"--output-tokens") {
        args.extend_from_slice(&["--output-tokens", "32"]);
    }
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--out", out.to_str().unwrap()]);
    let o = tokenmeter(&args, dir);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
}

fn levels(file: &Value) -> &Vec<Value> {
    file["load"]["levels"].as_array().unwrap()
}

#[test]
fn closed_loop_batches_and_accounts_for_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let file = run_load(
        dir.path(),
        &model,
        &["-c", "1,4", "--requests", "12", "--slo", "ttft_p95=10s"],
    );
    assert_eq!(file["kind"], "load");
    let lv = levels(&file);
    assert_eq!(lv.len(), 2);
    for l in lv {
        let requests = l["requests"].as_array().unwrap();
        assert_eq!(requests.len(), 12);
        assert_eq!(l["requests_started"], 12);
        assert_eq!(
            l["requests_completed"].as_u64().unwrap()
                + l["requests_not_completed"].as_u64().unwrap(),
            12
        );
        for r in requests {
            assert_eq!(r["completed"], true);
            let stamps: Vec<u64> = r["token_ns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap())
                .collect();
            assert_eq!(stamps.len(), 32, "exactly the requested output tokens");
            assert!(
                stamps.windows(2).all(|w| w[0] < w[1]),
                "monotonic token timestamps"
            );
            let arrival = r["arrival_ns"].as_u64().unwrap();
            let ttft = stamps[0] - arrival;
            let e2e = stamps[31] - arrival;
            assert!(ttft <= e2e);
            assert!(r["admitted_ns"].as_u64().unwrap() >= arrival);
        }
        for key in ["ttft_ms", "itl_ms", "e2e_ms"] {
            for p in ["p50", "p90", "p95", "p99", "p999", "min", "max", "mean"] {
                assert!(l[key][p].as_f64().is_some(), "{key}.{p}");
            }
        }
        assert_eq!(l["slo_met"], true);
    }
    let c1 = lv[0]["output_tokens_per_s"].as_f64().unwrap();
    let c4 = lv[1]["output_tokens_per_s"].as_f64().unwrap();
    assert!(
        c4 > 1.5 * c1,
        "concurrency 4 ({c4} t/s) should clearly beat 1 ({c1} t/s)"
    );
    let op = &file["load"]["operating_point"];
    assert_eq!(op["concurrency"], 4, "the faster level meets the loose SLO");
}

#[test]
fn open_loop_schedule_is_the_same_for_the_same_seed() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let a = run_load(
        dir.path(),
        &model,
        &[
            "--rate",
            "40",
            "--parallel",
            "4",
            "--requests",
            "10",
            "--seed",
            "5",
        ],
    );
    let b = run_load(
        dir.path(),
        &model,
        &[
            "--rate",
            "40",
            "--parallel",
            "4",
            "--requests",
            "10",
            "--seed",
            "5",
            "-o",
            "json",
        ],
    );
    let arrivals = |f: &Value| -> Vec<u64> {
        levels(f)[0]["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["arrival_ns"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(arrivals(&a).len(), 10);
    assert_eq!(arrivals(&a), arrivals(&b));
    assert_eq!(levels(&a)[0]["rate"], 40.0);
}

#[test]
fn a_level_cut_by_its_duration_reports_unfinished_requests() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let file = run_load(
        dir.path(),
        &model,
        &[
            "-c",
            "2",
            "--duration",
            "300ms",
            "--output-tokens",
            "100000",
        ],
    );
    let l = &levels(&file)[0];
    let requests = l["requests"].as_array().unwrap();
    assert!(!requests.is_empty());
    assert_eq!(
        l["requests_not_completed"].as_u64().unwrap() as usize,
        requests.iter().filter(|r| r["completed"] == false).count()
    );
    assert!(l["requests_not_completed"].as_u64().unwrap() >= 1);
    assert!(
        l["e2e_ms"]["p50"].is_null(),
        "no request finished, so no end-to-end latency"
    );
}

#[test]
fn json_output_has_one_record_per_level_with_the_documented_fields() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let o = tokenmeter(
        &[
            "load",
            "-m",
            model.to_str().unwrap(),
            "-c",
            "1,2",
            "--requests",
            "2",
            "--input-tokens",
            "8",
            "--output-tokens",
            "4",
            "-o",
            "jsonl",
            "--results-dir",
            "res",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let recs: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 2);
    for (r, c) in recs.iter().zip([1, 2]) {
        assert_eq!(r["concurrency"], c);
        for key in [
            "requests_completed",
            "output_tokens_per_s",
            "total_tokens_per_s",
            "ttft_ms",
            "itl_ms",
            "e2e_ms",
        ] {
            assert!(r.get(key).is_some(), "{key}");
        }
    }
}

#[test]
fn bad_load_arguments_are_rejected_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let m = model.to_str().unwrap();
    assert_one_line_error(
        &tokenmeter(&["load", "-m", m, "--slo", "ttft_p95=fast"], dir.path()),
        "--slo",
    );
    assert_one_line_error(
        &tokenmeter(&["load", "-m", m, "--input-tokens", "9..3"], dir.path()),
        "--input-tokens",
    );
    assert_one_line_error(
        &tokenmeter(&["load", "-m", m, "-c", "1", "--rate", "2"], dir.path()),
        "either",
    );
    assert_one_line_error(
        &tokenmeter(&["load", "-m", m, "--duration", "soon"], dir.path()),
        "--duration",
    );
}
