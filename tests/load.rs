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
        "1",
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
fn a_duration_ends_arrivals_and_drains_what_arrived() {
    // A closed loop always has c requests in flight when its time is up: they are served to their end, so a
    // generous end-to-end objective is met when every request finishes well within it (cut at the window, the
    // two in flight would be unfinished and an E2E p99 over fewer than 100 requests would fail by construction).
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let file = run_load(
        dir.path(),
        &model,
        &[
            "-c",
            "2",
            "--duration",
            "1s",
            "--output-tokens",
            "24",
            "--slo",
            "e2e_p99=60s",
        ],
    );
    let sweep = &file["load"];
    let l = &levels(&file)[0];
    let requests = l["requests"].as_array().unwrap();
    assert!(requests.len() >= 4, "{}", requests.len());
    assert_eq!(l["requests_not_completed"], 0, "{l}");
    assert!(requests.iter().all(|r| r["completed"] == true));
    assert_eq!(l["slo_met"], true, "{}", l["slo_checks"]);
    assert!(!sweep["operating_point"].is_null());
    // the warm-up and the arrival window make the duration; the drain is what the last requests took after it
    let warmup = l["warmup_s"].as_f64().unwrap_or(0.0);
    let window = l["arrival_window_s"].as_f64().unwrap();
    assert!((warmup + window - 1.0).abs() < 1e-6, "{warmup} + {window}");
    let drain = l["drain_s"].as_f64().unwrap();
    let total = l["duration_s"].as_f64().unwrap();
    assert!(drain >= 0.0 && drain < 10.0, "{drain}");
    assert!((total - 1.0 - drain).abs() < 1e-6, "{total} = 1 + {drain}");
    // no request arrived after the window, and the rates are over it
    let window_ns = 1e9;
    assert!(requests
        .iter()
        .all(|r| r["arrival_ns"].as_f64().unwrap() < window_ns));
    let done = l["requests_completed"].as_f64().unwrap();
    assert!((l["requests_per_s"].as_f64().unwrap() - done / window).abs() < 1e-9);
}

#[test]
fn a_closed_loop_staggers_its_first_requests_and_measures_only_its_steady_window() {
    // c=4 with fixed lengths: started together, the four would be admitted, finish and be replaced together, one
    // 4-way prefill repeated. Staggered, completions and the admissions replacing them spread over a request.
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let file = run_load(
        dir.path(),
        &model,
        &["-c", "4", "--requests", "40", "--output-tokens", "16"],
    );
    // 40 measured requests after the three of the warm-up
    let l = &levels(&file)[0];
    let requests = l["requests"].as_array().unwrap();
    let ns = |r: &Value, k: &str| r[k].as_u64().unwrap();
    assert_eq!(requests.len(), 43, "every request is kept");
    // the warm-up: the first three arrived one after another before all four slots were in flight
    assert_eq!(l["requests_warmup"], 3, "{l}");
    assert_eq!(l["requests_started"], 40);
    let warmup_ns = (l["warmup_s"].as_f64().unwrap() * 1e9).round() as u64;
    let first: Vec<u64> = requests[..4].iter().map(|r| ns(r, "arrival_ns")).collect();
    assert!(first.windows(2).all(|w| w[0] < w[1]), "{first:?}");
    assert!(
        first[2] < warmup_ns && first[3].abs_diff(warmup_ns) <= 1,
        "{first:?} {warmup_ns}"
    );
    // steady: no two requests admitted by the same decode
    let steady = &requests[3..];
    let mut admitted: Vec<u64> = steady.iter().map(|r| ns(r, "admitted_ns")).collect();
    admitted.sort_unstable();
    admitted.dedup();
    assert!(
        admitted.len() * 10 >= steady.len() * 9,
        "{} distinct admissions of {} requests",
        admitted.len(),
        steady.len()
    );
    // the window ends where the first finished request went unreplaced: every request arrived before it
    let end = warmup_ns as f64 + l["arrival_window_s"].as_f64().unwrap() * 1e9;
    assert!(requests
        .iter()
        .all(|r| (ns(r, "arrival_ns") as f64) < end + 1.0));
    let window = l["arrival_window_s"].as_f64().unwrap();
    let done = l["requests_completed"].as_f64().unwrap();
    assert_eq!(done, 40.0);
    assert!((l["requests_per_s"].as_f64().unwrap() - done / window).abs() < 1e-9);

    // --burst: llama-batched-bench's pattern, all four at once and nothing left out
    let file = run_load(
        dir.path(),
        &model,
        &[
            "-c",
            "4",
            "--requests",
            "40",
            "--output-tokens",
            "16",
            "--burst",
        ],
    );
    let l = &levels(&file)[0];
    let requests = l["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 40);
    assert!(
        l["requests_warmup"].is_null() && l["warmup_s"].is_null(),
        "{l}"
    );
    assert!(requests[..4].iter().all(|r| ns(r, "arrival_ns") == 0));
    assert_eq!(file["parameters"]["burst"], true);
}

#[test]
fn requests_unfinished_after_the_drain_are_definite_misses() {
    // Requests far longer than the drain's bound (the largest SLO limit, at least 10 s): cut after it, not at
    // the window's end, and counted as not completed.
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let file = run_load(
        dir.path(),
        &model,
        &[
            "-c",
            "1",
            "--duration",
            "300ms",
            "--output-tokens",
            "100000",
            "--slo",
            "e2e_p99=2s",
            // past the model's trained context, which preflight refuses unless forced
            "--force",
        ],
    );
    let l = &levels(&file)[0];
    let requests = l["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 1, "one request arrived and never finished");
    assert_eq!(l["requests_not_completed"], 1);
    assert_eq!(l["arrival_window_s"].as_f64(), Some(0.3));
    let drain = l["drain_s"].as_f64().unwrap();
    assert!(
        (10.0..11.0).contains(&drain),
        "drained for the 10 s bound: {drain}"
    );
    // it kept producing tokens through the drain, and missed the end-to-end objective
    let last = requests[0]["token_ns"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_f64()
        .unwrap();
    assert!(last > 5e9, "{last}");
    assert_eq!(l["slo_met"], false);
    assert!(
        l["e2e_ms"]["p50"].is_null(),
        "no request finished, so no end-to-end latency"
    );
}

#[test]
fn an_overloaded_open_loop_level_misses_its_slo_and_is_not_the_operating_point() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    // 20 requests/s leave the one slot mostly idle; 5000/s queue far more than the slot serves within the SLO
    // (the queue then waits through the drain, however fast the machine)
    let file = run_load(
        dir.path(),
        &model,
        &[
            "--rate",
            "20,5000",
            "--parallel",
            "1",
            "--duration",
            "1s",
            "--output-tokens",
            "64",
            "--slo",
            "ttft_p95=2s",
        ],
    );
    let (calm, overloaded) = (&levels(&file)[0], &levels(&file)[1]);
    let requests = overloaded["requests"].as_array().unwrap();
    let unfinished = requests.iter().filter(|r| r["completed"] == false).count();
    let never_served = requests
        .iter()
        .filter(|r| r["token_ns"].as_array().unwrap().is_empty())
        .count();
    assert_eq!(
        overloaded["requests_not_completed"].as_u64().unwrap() as usize,
        unfinished
    );
    // the requests queued behind the slot waited longer than the objective, served in the drain or not
    assert!(
        overloaded["output_tokens_per_s"].as_f64() > calm["output_tokens_per_s"].as_f64(),
        "a saturated slot delivers more raw output than an idle one"
    );
    // the requests that never got a first token count as TTFT misses; p95 is beyond the limit or beyond anything
    // measured
    let check = &overloaded["slo_checks"][0];
    assert_eq!(check["objective"], "ttft_p95");
    assert_eq!(check["unfinished"].as_u64().unwrap() as usize, never_served);
    assert_eq!(check["count"].as_u64().unwrap() as usize, requests.len());
    assert!(
        check["value_ms"].is_null() || check["value_ms"].as_f64().unwrap() > 2000.0,
        "{check}"
    );
    assert_eq!(check["met"], false);
    assert_eq!(overloaded["slo_met"], false);
    // the TTFT distribution itself describes only the served requests
    assert_eq!(
        overloaded["ttft_ms"]["count"].as_u64().unwrap() as usize,
        requests.len() - never_served
    );
    let op = &file["load"]["operating_point"];
    assert_eq!(op["level_index"], 0, "{op}");
    assert_eq!(op["rate"], 20.0);
    assert_eq!(
        op["goodput_output_tokens_per_s"],
        calm["goodput_output_tokens_per_s"]
    );
    // requests still unfinished after the drain are warned about, naming the objective they missed
    let warnings = file["warnings"].as_array().unwrap();
    assert_eq!(
        unfinished > 0,
        warnings.iter().any(|w| w["kind"] == "unfinished_requests"
            && w["level"] == "rate=5000/s"
            && w["reason"]
                .as_str()
                .is_some_and(|r| r.contains("missed ttft_p95"))),
        "{warnings:?}"
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
        assert_eq!(r["requests_completed"], 2);
        assert_eq!(r["requests_not_completed"], 0);
        for key in [
            "requests_per_s",
            "output_tokens_per_s",
            "total_tokens_per_s",
            "duration_s",
        ] {
            assert!(
                r[key].as_f64().is_some_and(|x| x > 0.0),
                "{key}: {}",
                r[key]
            );
        }
        let out_ts = r["output_tokens_per_s"].as_f64().unwrap();
        // rates are over the measured window: after the warm-up, until the first request left unreplaced
        let secs = r["arrival_window_s"].as_f64().unwrap();
        assert!(
            (out_ts * secs - 8.0).abs() < 1e-6,
            "2 requests × 4 output tokens"
        );
        // without an SLO there is no goodput and no check
        assert!(r["goodput_output_tokens_per_s"].is_null());
        assert!(r["slo_met"].is_null());
        // each distribution: its count, percentiles that are numbers, and the ones too few samples flag
        for (key, n) in [
            ("ttft_ms", 2),
            ("itl_ms", 6),
            ("e2e_ms", 2),
            ("queue_ms", 2),
        ] {
            let d = &r[key];
            assert_eq!(d["count"], n, "{key}");
            for p in ["p50", "p90", "p95", "p99", "p999", "min", "max", "mean"] {
                assert!(
                    d[p].as_f64().is_some_and(|x| x > 0.0),
                    "{key}.{p}: {}",
                    d[p]
                );
            }
            assert!(d["p50"].as_f64() <= d["max"].as_f64());
            let low: Vec<&str> = d["low_sample_count"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap())
                .collect();
            // 2 and 6 samples: enough for p50 (2), too few for p90 (10) and above
            assert_eq!(low, ["p90", "p95", "p99", "p999"], "{key}");
            assert!(d["hdr_base64"].as_str().is_some_and(|s| !s.is_empty()));
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

#[test]
fn a_workload_supplies_request_lengths_and_the_slo_unless_flags_say_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let config = dir.path().join("models.toml");
    std::fs::write(
        &config,
        "[[workload]]\nname = \"chat\"\nrequests_per_day = 1000.0\n\
         input_tokens_per_request = { mean = 12.0, min = 8.0, max = 16.0 }\n\
         output_tokens_per_request = 6.0\nslo = [\"ttft_p95=10s,itl_p95=5s\"]\n",
    )
    .unwrap();
    let out = dir.path().join("w.json");
    let o = tokenmeter(
        &[
            "load",
            "-m",
            model.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--workload",
            "chat",
            "-t",
            "1",
            "-c",
            "2",
            "--requests",
            "6",
            "--out",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(file["parameters"]["workload"], "chat");
    let slo: Vec<String> = file["load"]["slo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}_{}",
                t["metric"].as_str().unwrap(),
                t["percentile"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(slo, ["ttft_p95", "itl_p95"]);
    for r in levels(&file)[0]["requests"].as_array().unwrap() {
        let input = r["input_tokens"].as_u64().unwrap();
        assert!(
            (8..=16).contains(&input),
            "input {input} within the workload's min..max"
        );
        assert_eq!(r["output_tokens"], 6, "the workload's mean output length");
    }
    assert_eq!(file["load"]["operating_point"]["concurrency"], 2);

    // A flag wins over the workload; an unknown workload is a one-line error.
    let with_flag = run_load(
        dir.path(),
        &model,
        &[
            "--config",
            config.to_str().unwrap(),
            "--workload",
            "chat",
            "-c",
            "1",
            "--requests",
            "2",
        ],
    );
    assert_eq!(levels(&with_flag)[0]["requests"][0]["output_tokens"], 32);
    assert_one_line_error(
        &tokenmeter(
            &[
                "load",
                "-m",
                model.to_str().unwrap(),
                "--config",
                config.to_str().unwrap(),
                "--workload",
                "batch",
            ],
            dir.path(),
        ),
        "--workload: no [[workload]] named 'batch'",
    );
}
