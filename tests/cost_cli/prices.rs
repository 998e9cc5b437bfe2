//! `prices import`: cloud entries written for `cost`, filtered to stdout, and a malformed price file refused.

use super::*;

#[test]
fn prices_import_writes_cloud_entries_that_cost_can_use() {
    let dir = tempfile::tempdir().unwrap();
    let prices = fixture("litellm-prices.json");
    let out = dir.path().join("prices.toml");
    let o = tokenmeter(
        &["prices", "import", s(&prices), "--out", s(&out)],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("wrote 5 [[cloud]] entries"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("1 sample_spec, 2 not chat or completion, 1 without a non-zero"),
        "{}",
        stderr(&o)
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("sha256 "), "{text}");
    assert!(
        text.contains("model = \"gpt-3.5-turbo-instruct\""),
        "completion models are kept"
    );
    assert!(
        !text.contains("ollama"),
        "zero-priced local runtimes are not a cloud price"
    );
    assert!(text.contains("usd_per_1m_output = 10.0"), "{text}");

    let config = fixture("models.toml");
    let result = fixture("result-rtx4090.json");
    let o = tokenmeter(
        &[
            "cost",
            "--config",
            s(&config),
            "--prices",
            s(&out),
            "--result",
            s(&result),
            "--cloud",
            "claude-3-5-haiku-20241022",
            "-o",
            "json",
        ],
        dir.path(),
    );
    let r = json(&o);
    assert_eq!(r["clouds"][0]["provider"], "anthropic");
    assert!(r["assumptions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["source"].as_str().unwrap().contains(
            "prices.toml: cloud[0] (anthropic/claude-3-5-haiku-20241022).usd_per_1m_input"
        )));
}

#[test]
fn prices_import_filters_and_prints_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let prices = fixture("litellm-prices.json");
    let o = tokenmeter(
        &["prices", "import", s(&prices), "--filter", "Anthropic"],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(
        out.lines().filter(|l| *l == "[[cloud]]").count(),
        1,
        "{out}"
    );
    assert!(out.contains("usd_per_1m_cached_input = 0.08"), "{out}");
}

#[test]
fn a_malformed_price_file_names_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.json");
    std::fs::write(&bad, "{\"gpt-4o\": {\"mode\": \"chat\", ").unwrap();
    let o = tokenmeter(&["prices", "import", s(&bad)], dir.path());
    assert_one_line_error(&o, "broken.json: not a LiteLLM price file");
    let text = std::fs::read_to_string(fixture("litellm-prices.json"))
        .unwrap()
        .replace(
            "\"input_cost_per_token\": 1.5e-07",
            "\"input_cost_per_token\": \"0.15\"",
        );
    std::fs::write(&bad, text).unwrap();
    let o = tokenmeter(&["prices", "import", s(&bad)], dir.path());
    assert_one_line_error(
        &o,
        "broken.json: \"gpt-4o-mini\".input_cost_per_token: expected a number (USD per token)",
    );
    let o = tokenmeter(&["prices", "import", "missing.json"], dir.path());
    assert_one_line_error(&o, "missing.json: cannot read");
}
