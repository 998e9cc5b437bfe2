//! `decide`: one line per dimension and the recommendation, the measured cost and volume it uses, refusals, and a
//! `load` result of another shape.

use super::*;

#[test]
fn decide_prints_one_line_per_dimension_and_the_recommendation() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture("models.toml");
    let o = tokenmeter(
        &[
            "decide",
            "--config",
            s(&config),
            "--data-sensitivity",
            "internal",
            "--latency",
            "interactive",
            "--volume",
            "steady-high",
            "--capability",
            "good-enough",
            "--team",
            "advanced",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "{out}");
    assert!(
        lines[0].starts_with("1. data sensitivity") && lines[0].contains("internal (flag)"),
        "{out}"
    );
    assert!(lines[4].starts_with("5. cost"), "{out}");
    assert_eq!(lines[6], "recommendation: local");
}

#[test]
fn decide_uses_the_measured_cost_and_the_workloads_volume() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture("models.toml");
    let result = fixture("result-rtx4090.json");
    let o = tokenmeter(
        &[
            "decide",
            "--config",
            s(&config),
            "--result",
            s(&result),
            "--cloud",
            "gpt-4o",
            "--workload",
            "chat",
            "--data-sensitivity",
            "public",
            "--latency",
            "batch",
            "--volume",
            "steady-low",
            "--team",
            "intermediate",
            "-o",
            "json",
        ],
        dir.path(),
    );
    let d = json(&o);
    let cost = &d["lines"][4];
    assert_eq!(cost["answer"], "local-cheaper");
    assert!(
        cost["source"]
            .as_str()
            .unwrap()
            .starts_with("measured: local on gpu-box"),
        "{cost}"
    );
    assert_eq!(d["recommendation"]["kind"], "hybrid");
    assert_eq!(d["recommendation"]["pattern"], "fallback");
    assert!(d["lines"][1]["verdict"]
        .as_str()
        .unwrap()
        .contains("measured, single-stream: ttft_p95"));

    // Without --volume, the workload's numbers answer it.
    let o = tokenmeter(
        &[
            "decide",
            "--config",
            s(&config),
            "--workload",
            "chat",
            "--data-sensitivity",
            "public",
            "--latency",
            "batch",
            "--capability",
            "frontier",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("steady-high (workload chat:"), "{out}");
    assert!(out.contains("recommendation: hybrid: tiered"), "{out}");
}

#[test]
fn decide_without_a_needed_answer_or_with_a_bad_value_fails_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture("models.toml");
    let o = tokenmeter(
        &["decide", "--config", s(&config), "--latency", "batch"],
        dir.path(),
    );
    assert_one_line_error(&o, "decide: the data sensitivity dimension is needed");
    let o = tokenmeter(
        &["decide", "--config", s(&config), "--team", "expert"],
        dir.path(),
    );
    assert_one_line_error(
        &o,
        "--team: unknown value 'expert' (expected one of: none, basic, intermediate, advanced)",
    );
}

#[test]
fn decide_on_a_load_result_of_another_shape_is_refused_unless_allowed_and_then_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture("models.toml");
    let load = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/result-v2-load.json");
    let mut args = vec![
        "decide",
        "--config",
        s(&config),
        "--result",
        s(&load),
        "--hardware",
        "cpu-box",
        "--workload",
        "chat",
        "--cloud",
        "gpt-4o",
        "--data-sensitivity",
        "public",
        "--latency",
        "batch",
        "--volume",
        "steady-low",
        "--team",
        "intermediate",
    ];
    assert_one_line_error(
        &tokenmeter(&args, dir.path()),
        "the load run does not match workload 'chat'",
    );
    args.push("--allow-shape-mismatch");
    let o = tokenmeter(&args, dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(
            "(measured (a load run of another shape, --allow-shape-mismatch): local on cpu-box"
        ),
        "{out}"
    );
}
