//! `bench` end to end on a synthesized model: the result file, its raw samples and the printed formats.

mod common;
use common::*;
use serde_json::Value;

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

fn sample_sd(xs: &[f64]) -> f64 {
    let m = mean(xs);
    (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() as f64 - 1.0)).sqrt()
}

#[test]
fn synth_inspect_bench_result_file_figures_recompute_from_raw_samples() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let out = dir.path().join("r.json");
    let o = tokenmeter(
        &[
            "bench",
            "-m",
            model.to_str().unwrap(),
            "-p",
            "32",
            "-n",
            "16",
            "--pg",
            "16,8",
            "-d",
            "0,8",
            "-r",
            "3",
            "-t",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    for test in [
        "pp32",
        "tg16",
        "pp16+tg8",
        "pp32 @ d8",
        "tg16 @ d8",
        "pp16+tg8 @ d8",
    ] {
        assert!(
            table.contains(&format!("| {test} ")),
            "{test} missing from:\n{table}"
        );
    }

    let file: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(file["schema_version"], 6);
    assert_eq!(file["kind"], "bench");
    assert_eq!(file["interrupted"], false);
    assert!(file["host"]["cpu_logical_cpus"].as_u64().unwrap() >= 1);
    assert!(file["build"]["system_info"]
        .as_str()
        .unwrap()
        .contains("CPU"));
    assert_eq!(file["models"][0]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(file["parameters"]["stop_rule"]["max_runs"], 3);
    let cases = file["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    for c in cases {
        let samples = c["samples"].as_array().unwrap();
        assert_eq!(samples.len(), 3);
        let n_tokens = c["n_prompt"].as_u64().unwrap() + c["n_gen"].as_u64().unwrap();
        let ns: Vec<f64> = samples
            .iter()
            .map(|s| s["total_ns"].as_f64().unwrap())
            .collect();
        let ts: Vec<f64> = ns.iter().map(|ns| n_tokens as f64 * 1e9 / ns).collect();
        assert_eq!(c["samples_ns"].as_array().unwrap().len(), 3);
        assert!((c["avg_ts"].as_f64().unwrap() - mean(&ts)).abs() < 1e-9 * mean(&ts));
        assert!(
            (c["stddev_ts"].as_f64().unwrap() - sample_sd(&ts)).abs() < 1e-9 * mean(&ts).max(1.0)
        );
        assert_eq!(c["avg_ns"].as_f64().unwrap(), mean(&ns).round());
        // per-token timestamps: one per generated token, increasing, inside the timed region
        for s in samples {
            let stamps: Vec<u64> = s["gen_token_ns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap())
                .collect();
            assert_eq!(stamps.len() as u64, c["n_gen"].as_u64().unwrap());
            assert!(stamps.windows(2).all(|w| w[0] < w[1]));
            if let Some(last) = stamps.last() {
                assert!(*last <= s["total_ns"].as_u64().unwrap());
            }
            if c["n_prompt"].as_u64().unwrap() > 0 {
                assert!(s["prompt_ns"].as_u64().unwrap() <= s["total_ns"].as_u64().unwrap());
            } else {
                assert!(s["prompt_ns"].is_null());
            }
        }
    }
}

#[test]
fn json_output_uses_llama_bench_field_names() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q8_0", 1);
    let o = tokenmeter(
        &[
            "bench",
            "-m",
            model.to_str().unwrap(),
            "-p",
            "16",
            "-n",
            "4",
            "-r",
            "2",
            "-t",
            "1",
            "-o",
            "json",
            "--results-dir",
            "res",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).expect("stdout is only JSON");
    let records = v.as_array().unwrap();
    assert_eq!(records.len(), 2);
    for key in [
        "model_filename",
        "model_type",
        "model_size",
        "model_n_params",
        "n_threads",
        "n_gpu_layers",
        "n_batch",
        "n_ubatch",
        "n_prompt",
        "n_gen",
        "n_depth",
        "avg_ns",
        "stddev_ns",
        "avg_ts",
        "stddev_ts",
        "samples_ns",
        "samples_ts",
        "type_k",
        "type_v",
        "flash_attn",
        "test_time",
        "cpu_info",
        "backends",
    ] {
        assert!(records[0].get(key).is_some(), "missing {key}");
    }
    assert_eq!(records[0]["n_prompt"], 16);
    assert_eq!(records[1]["n_gen"], 4);
    assert_eq!(records[0]["n_threads"], 1);
    // the default result file went into --results-dir
    let written: Vec<_> = std::fs::read_dir(dir.path().join("res")).unwrap().collect();
    assert_eq!(written.len(), 1);

    let o = tokenmeter(
        &[
            "bench",
            "-m",
            model.to_str().unwrap(),
            "-p",
            "16",
            "-n",
            "0",
            "-r",
            "1",
            "-t",
            "1",
            "-o",
            "jsonl",
            "--results-dir",
            "res",
        ],
        dir.path(),
    );
    assert!(o.status.success());
    let lines: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0]["stddev_ts"].is_null(),
        "one repetition has no deviation"
    );

    let o = tokenmeter(
        &[
            "bench",
            "-m",
            model.to_str().unwrap(),
            "-p",
            "16",
            "-n",
            "0",
            "-r",
            "2",
            "-t",
            "1",
            "-o",
            "csv",
            "--results-dir",
            "res",
        ],
        dir.path(),
    );
    let csv = stdout(&o);
    assert!(
        csv.starts_with("build_commit,build_number,cpu_info"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 2);
}

fn adaptive_bench(
    dir: &std::path::Path,
    model: &std::path::Path,
    target: &str,
    min_runs: &str,
    max_runs: &str,
) -> Vec<Value> {
    let o = tokenmeter(
        &[
            "bench",
            "-m",
            model.to_str().unwrap(),
            "-p",
            "16",
            "-n",
            "8",
            "-t",
            "1",
            "--target-ci",
            target,
            "--min-runs",
            min_runs,
            "--max-runs",
            max_runs,
            "-o",
            "json",
            "--results-dir",
            "res",
        ],
        dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str::<Value>(&stdout(&o))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// 95% confidence interval half-width of the mean, relative to it (Student's t, n − 1 degrees of freedom).
fn ci95_rel(xs: &[f64]) -> f64 {
    // Student's t 0.975 quantiles for 1..=29 degrees of freedom (standard tables)
    const T975: [f64; 29] = [
        12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281, 2.2010,
        2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860, 2.0796, 2.0739,
        2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452,
    ];
    T975[xs.len() - 2] * sample_sd(xs) / (xs.len() as f64).sqrt() / mean(xs)
}

#[test]
fn adaptive_repetitions_stop_at_the_target_or_at_max_runs_and_say_which() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    // ±99% is met within 30 repetitions by any machine's timings, and said to be
    for c in adaptive_bench(dir.path(), &model, "99%", "3", "30") {
        assert_eq!(c["stop_reason"], "target_met", "{}", c["samples_ts"]);
        let reps = c["repetitions"].as_u64().unwrap();
        assert!((3..30).contains(&reps), "{reps}");
        assert_eq!(c["samples"].as_array().unwrap().len() as u64, reps);
        assert_eq!(c["target_ci95_rel"], 0.99);
        let rates: Vec<f64> = c["samples_ts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert!(
            ci95_rel(&rates) <= 0.99,
            "stopped only once the interval was within the target"
        );
        if reps > 3 {
            let fewer = &rates[..rates.len() - 1];
            assert!(ci95_rel(fewer) > 0.99, "and no later than that");
        }
    }
    // a target no real timing meets: runs to --max-runs and says the target was not met
    let cases = adaptive_bench(dir.path(), &model, "0.000001%", "2", "4");
    for c in &cases {
        assert_eq!(c["stop_reason"], "max_runs_target_not_met");
        assert_eq!(c["repetitions"], 4);
        assert_eq!(c["samples"].as_array().unwrap().len(), 4);
        let rates: Vec<f64> = c["samples_ts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        let ci = c["ci95_rel_half_width"].as_f64().unwrap();
        assert!(
            (ci - ci95_rel(&rates)).abs() <= 1e-4 * ci.max(1.0),
            "reported {ci}, recomputed {}",
            ci95_rel(&rates)
        );
    }
    // generation cases carry latency distributions with one ITL per token gap
    let tg = &cases[1];
    assert_eq!(tg["itl_ms"]["count"], 4 * 7);
    assert_eq!(tg["ttft_ms"]["count"], 4);
    assert!(tg["ttft_ms"]["max"].as_f64().unwrap() <= tg["e2e_ms"]["max"].as_f64().unwrap());
    // 4 samples are too few for p90 and above, and the JSON says so
    assert_eq!(
        tg["ttft_ms"]["low_sample_count"],
        serde_json::json!(["p90", "p95", "p99", "p999"])
    );
    assert_eq!(
        tg["itl_ms"]["low_sample_count"],
        serde_json::json!(["p99", "p999"])
    );
}

#[test]
fn models_are_named_from_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("models.toml"),
        "[[model]]\nname = \"tiny-q4\"\nsynth = { shape = \"tiny\", type = \"q4_0\", seed = 2 }\n",
    )
    .unwrap();
    let o = tokenmeter(
        &[
            "bench", "-m", "tiny-q4", "-p", "8", "-n", "0", "-r", "1", "-t", "1", "-o", "json",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v[0]["model_filename"]
        .as_str()
        .unwrap()
        .ends_with("tiny-q4_0-seed2.gguf"));
}

#[test]
fn a_wrong_configuration_value_names_file_and_line_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("models.toml"),
        "[[model]]\nname = \"x\"\nsynth = { shape = \"tiny\", type = 4 }\n",
    )
    .unwrap();
    let o = tokenmeter(&["bench", "-m", "x"], dir.path());
    assert_one_line_error(&o, "models.toml:3");
}

#[test]
fn bad_flag_values_are_rejected_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let m = model.to_str().unwrap();
    assert_one_line_error(
        &tokenmeter(&["bench", "-m", m, "--cache-type-k", "q9"], dir.path()),
        "q9",
    );
    assert_one_line_error(
        &tokenmeter(&["bench", "-m", m, "-o", "xml"], dir.path()),
        "xml",
    );
    assert_one_line_error(
        &tokenmeter(&["bench", "-m", m, "-b", "0"], dir.path()),
        "batch",
    );
    assert_one_line_error(
        &tokenmeter(&["bench", "-m", m, "--fa", "sometimes"], dir.path()),
        "flash",
    );
}

#[test]
fn a_second_ctrl_c_in_process_keeps_the_repetitions_done_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let out = dir.path().join("partial.json");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_tokenmeter"))
        .args([
            "bench",
            "-m",
            model.to_str().unwrap(),
            "-p",
            "64",
            "-n",
            "0",
            "-r",
            "100000000",
            "-t",
            "1",
            "--in-process",
        ])
        .args(["--out", out.to_str().unwrap()])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // past start-up (the machine's self-test, the numerics reference, the model's load) into the repetitions
    std::thread::sleep(std::time::Duration::from_millis(4000));
    // the first Ctrl-C would let the case finish; the second stops it after the current repetition
    for _ in 0..2 {
        let kill = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let o = child.wait_with_output().unwrap();
    assert_one_line_error_after_output(&o, 130, "interrupted by SIGINT");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(file["interrupted"], true);
    let case = &file["cases"][0];
    assert_eq!(case["complete"], false);
    assert_eq!(case["stop_reason"], "interrupted");
    assert!(
        !case["samples"].as_array().unwrap().is_empty(),
        "repetitions done before Ctrl-C are kept"
    );
}

/// Like `assert_one_line_error`, for runs that print their warnings and the result path before the error.
fn assert_one_line_error_after_output(o: &std::process::Output, code: i32, needle: &str) {
    assert_eq!(o.status.code(), Some(code), "stderr: {}", stderr(o));
    let err = stderr(o);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains(needle), "{err}");
}

#[test]
fn llama_bench_single_dash_spellings_set_the_same_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let o = tokenmeter(
        &[
            "bench",
            "-m",
            model.to_str().unwrap(),
            "-p",
            "16",
            "-n",
            "0",
            "-r",
            "1",
            "-ngl",
            "0",
            "-fa",
            "1",
            "-ctk",
            "bf16",
            "-ctv",
            "f32",
            "-ub",
            "256",
            "-o",
            "json",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let cases: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let c = &cases[0];
    assert_eq!(c["n_gpu_layers"], 0);
    assert_eq!(c["flash_attn"], 1);
    assert_eq!(c["type_k"], "bf16");
    assert_eq!(c["type_v"], "f32");
    assert_eq!(c["n_ubatch"], 256);
}
