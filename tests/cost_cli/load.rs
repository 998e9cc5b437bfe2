//! `cost` on a `load` result: capacity from its SLO operating point, and a result of another shape refused or, when
//! allowed, priced and said so.

use super::*;

#[test]
fn a_load_result_sets_capacity_from_its_slo_operating_point() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let result = dir.path().join("load.json");
    let o = tokenmeter(
        &[
            "load",
            "-m",
            s(&model),
            "-t",
            "1",
            "-c",
            "1,2",
            "--requests",
            "4",
            "--input-tokens",
            "16",
            "--output-tokens",
            "8",
            "--slo",
            "ttft_p95=10s",
            "--out",
            s(&result),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
    let op = file["load"]["operating_point"]["output_tokens_per_s"]
        .as_f64()
        .unwrap();
    let config = fixture("models.toml");
    let r = cost_of_load(&result, dir.path());
    assert_eq!(r["basis"], "load_operating_point");
    assert!(
        r["shape_mismatch"]
            .as_str()
            .unwrap()
            .contains("input tokens per request 16"),
        "{}",
        r["shape_mismatch"]
    );
    // 200 output tokens per request of the `chat` workload at the measured operating point.
    assert!(close(
        r["device_seconds_per_request"].as_f64().unwrap(),
        200.0 / op
    ));

    let no_slo = dir.path().join("no-slo.json");
    let o = tokenmeter(
        &[
            "load",
            "-m",
            s(&model),
            "-t",
            "1",
            "-c",
            "1",
            "--requests",
            "2",
            "--input-tokens",
            "16",
            "--output-tokens",
            "8",
            "--out",
            s(&no_slo),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_one_line_error(
        &tokenmeter(
            &["cost", "--config", s(&config), "--result", s(&no_slo)],
            dir.path(),
        ),
        "no-slo.json: load.operating_point: absent",
    );
}

/// `cost` on tests/golden/result-v2-load.json (a load run of 8 input and 4 output tokens per request, SLO
/// ttft_p95=1s) for `workload`, with `extra` arguments.
fn cost_of_golden_load(workload: &str, extra: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture("models.toml");
    let load = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/result-v2-load.json");
    let mut args = vec![
        "cost",
        "--config",
        s(&config),
        "--result",
        s(&load),
        "--hardware",
        "cpu-box",
        "--workload",
        workload,
        "--cloud",
        "gpt-4o",
    ];
    args.extend_from_slice(extra);
    tokenmeter(&args, dir.path())
}

#[test]
fn a_load_result_of_another_shape_is_refused_with_exit_2_naming_both() {
    let o = cost_of_golden_load("chat", &[]);
    assert_one_line_error(
        &o,
        "result-v2-load.json: the load run does not match workload 'chat' (lengths within ±25%, the same SLO \
         objectives, none looser): input tokens per request 8 (",
    );
    let err = stderr(&o);
    for needle in [
        "load.levels[1].input_tokens) vs 800 (",
        "models.toml: workload[0] (chat))",
        "output tokens per request 4 (",
        "SLO ttft_p95≤1000ms (",
        "load.slo) vs ttft_p95≤1000ms,e2e_p95≤10000ms (",
        "not checked: e2e_p95",
        "or pass --allow-shape-mismatch",
    ] {
        assert!(err.contains(needle), "'{needle}' not in: {err}");
    }
    assert!(!err.contains("  "), "{err}");

    // The workload the run measured is priced without a word.
    let o = cost_of_golden_load("tiny-load", &["-o", "json"]);
    assert_eq!(json(&o)["shape_mismatch"], Value::Null);
}

#[test]
fn allow_shape_mismatch_prices_it_and_says_so_at_the_top() {
    let o = cost_of_golden_load("chat", &["--allow-shape-mismatch", "-o", "json"]);
    let r = json(&o);
    assert!(
        r["shape_mismatch"]
            .as_str()
            .unwrap()
            .starts_with("the load run does not match workload 'chat'"),
        "{}",
        r["shape_mismatch"]
    );
    let text = stdout(&o);
    let first_key = text.lines().nth(1).unwrap();
    assert!(
        first_key.starts_with("  \"shape_mismatch\": \"the load run does not match"),
        "the first field: {text}"
    );
    let o = cost_of_golden_load("chat", &["--allow-shape-mismatch"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    assert!(lines[0].starts_with("# Cost of "), "{out}");
    assert!(
        lines[1].starts_with(
            "**shape mismatch, priced anyway (--allow-shape-mismatch):** the load run does not"
        ),
        "{out}"
    );
}
