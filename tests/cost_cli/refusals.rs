//! `cost` refusing what it cannot price, with one line naming the file, key or entry: unknown names, bad prices,
//! another schema version and a result without generation cases.

use super::*;

#[test]
fn unknown_hardware_workload_or_cloud_names_the_file_and_the_known_entries() {
    let (o, _d) = cost(&["--hardware", "nope"]);
    assert_one_line_error(
        &o,
        "--hardware: no [[hardware]] named 'nope' (known: cpu-box, gpu-box, gpu-rented)",
    );
    let (o, _d) = cost(&["--workload", "nope"]);
    assert_one_line_error(
        &o,
        "models.toml: --workload: no [[workload]] named 'nope' (known: chat, tiny, nightly, wave, tiny-load)",
    );
    let (o, _d) = cost(&["--cloud", "gpt-5"]);
    assert_one_line_error(&o, "--cloud: no [[cloud]] entry 'gpt-5'");
    let (o, _d) = cost(&["-o", "xml"]);
    assert_one_line_error(&o, "-o/--output: unknown format 'xml'");
}

fn with_config(text: &str, args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, text).unwrap();
    let result = fixture("result-rtx4090.json");
    let mut all = vec!["cost", "--config", s(&config), "--result", s(&result)];
    all.extend_from_slice(args);
    tokenmeter(&all, dir.path())
}

#[test]
fn a_negative_or_missing_price_names_file_key_and_expectation() {
    let good = std::fs::read_to_string(fixture("models.toml")).unwrap();
    let o = with_config(
        &good.replace("usd_per_1m_input = 2.5", "usd_per_1m_input = -2.5"),
        &[],
    );
    assert_one_line_error(
        &o,
        "bad.toml: cloud[0] (openai/gpt-4o).usd_per_1m_input: expected a number ≥ 0 (USD per 1M tokens), got -2.5",
    );
    let o = with_config(&good.replace("usd_per_1m_output = 10.0\n", ""), &[]);
    assert_one_line_error(&o, "usd_per_1m_output");
    assert!(stderr(&o).contains("bad.toml:"), "{}", stderr(&o));
    let o = with_config(
        &good.replace("purchase_usd = 3600.0", "purchase_usd = -1.0"),
        &[],
    );
    assert_one_line_error(
        &o,
        "bad.toml: hardware[1] (gpu-box).purchase_usd: expected a number ≥ 0 (USD), got -1",
    );
}

#[test]
fn a_result_of_another_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("result-rtx4090.json")).unwrap();
    let other = dir.path().join("v99.json");
    std::fs::write(
        &other,
        text.replacen("\"schema_version\": 1", "\"schema_version\": 99", 1),
    )
    .unwrap();
    let config = fixture("models.toml");
    let o = tokenmeter(
        &["cost", "--config", s(&config), "--result", s(&other)],
        dir.path(),
    );
    assert_one_line_error(&o, "v99.json: schema_version 99 is not supported");
}

#[test]
fn a_result_without_generation_cases_says_what_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("result-rtx4090.json")).unwrap())
            .unwrap();
    v["cases"].as_array_mut().unwrap().truncate(1);
    let path = dir.path().join("pp-only.json");
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
    let config = fixture("models.toml");
    let o = tokenmeter(
        &["cost", "--config", s(&config), "--result", s(&path)],
        dir.path(),
    );
    assert_one_line_error(&o, "pp-only.json: cases: no complete generation (tg) case");
}
