//! `cost`, `prices import` and `decide` end to end through the real binary, on a fixture result file (the shape
//! `bench` writes: an RTX 4090 measuring pp512 at 8002 t/s and tg128 at 150 t/s) and a fixture configuration.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cost")
        .join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `cost` with the fixture configuration and result plus `args`, run in a fresh directory.
fn cost(args: &[&str]) -> (std::process::Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture("models.toml");
    let result = fixture("result-rtx4090.json");
    let mut all = vec!["cost", "--config", s(&config), "--result", s(&result)];
    all.extend_from_slice(args);
    (tokenmeter(&all, dir.path()), dir)
}

fn json(o: &std::process::Output) -> Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_str(&stdout(o)).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn cost_json_reproduces_the_monthly_figures_from_the_measured_throughput() {
    let (o, _d) = cost(&["--workload", "chat", "--cloud", "gpt-4o", "-o", "json"]);
    let r = json(&o);
    assert_eq!(
        r["hardware"], "gpu-box",
        "chosen by the result's device name"
    );
    assert_eq!(r["basis"], "single_stream_bench");
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("result-rtx4090.json")).unwrap())
            .unwrap();
    let pp = file["cases"][0]["avg_ts"].as_f64().unwrap();
    let tg = file["cases"][1]["avg_ts"].as_f64().unwrap();
    // One request: 800 prompt tokens, then 200 generated, one at a time.
    let seconds = 800.0 / pp + 200.0 / tg;
    assert!(close(
        r["device_seconds_per_request"].as_f64().unwrap(),
        seconds
    ));
    let days = 365.0 / 12.0;
    let busy_h = 30_000.0 * days * seconds / 3600.0;
    let kwh = (busy_h * 400.0 + (730.0 - busy_h) * 40.0 + 730.0 * 100.0) / 1000.0 * 1.4;
    let local = &r["local"];
    assert_eq!(local["devices"], 1);
    assert!(close(
        local["hardware_usd_per_month"].as_f64().unwrap(),
        3600.0 / 36.0
    ));
    assert!(close(local["energy_kwh_per_month"].as_f64().unwrap(), kwh));
    assert!(close(
        local["energy_usd_per_month"].as_f64().unwrap(),
        kwh * 0.15
    ));
    assert!(close(local["ops_usd_per_month"].as_f64().unwrap(), 200.0));
    let total = 100.0 + kwh * 0.15 + 200.0;
    assert!(close(local["total_usd_per_month"].as_f64().unwrap(), total));
    let cloud = 30_000.0 * days * (800.0 * 2.5 + 200.0 * 10.0) / 1e6;
    let c = &r["clouds"][0];
    assert!(close(c["cloud_usd_per_month"].as_f64().unwrap(), cloud));
    assert!(close(
        c["local_minus_cloud_usd_per_month"].as_f64().unwrap(),
        total - cloud
    ));
    // Purchase and 20 set-up hours up front, then the monthly saving of energy and operations against the cloud.
    let after = (3600.0 + 20.0 * 50.0) / (cloud - (kwh * 0.15 + 200.0));
    assert!(close(
        c["break_even"]["after_months"].as_f64().unwrap(),
        after
    ));
    assert_eq!(c["break_even"]["month"], 2);
    assert!(c["break_even_requests_per_day"].as_f64().unwrap() < 30_000.0);
    // Every money field names its unit.
    for key in local.as_object().unwrap().keys() {
        assert!(!key.contains("cost") && !key.ends_with("_usd"), "{key}");
    }
}

#[test]
fn cost_report_prints_tables_with_units_and_the_assumptions_ledger() {
    let (o, _d) = cost(&["--cloud", "gpt-4o", "--cloud", "openai/gpt-4o-mini"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for needle in [
        "result: ", "(single-stream bench)",
        "note: no --hardware given: using 'gpu-box', whose devices match the result's 'NVIDIA GeForce RTX 4090'",
        "note: no --workload given: using the first [[workload]] entry, 'chat'",
        "| openai/gpt-4o ", "| openai/gpt-4o-mini ", "USD/month", "per 1M output tokens",
        "## Sensitivity: each input ±20%, against openai/gpt-4o",
        "## Assumptions", "| measured ", "cases[1] (tg128, 16 threads) avg_ts",
        "| assumption ", "board_power_w — the result holds no measured energy",
        "gpu-box).electricity_usd_per_kwh", "| default ",
        "ttft_p95",
    ] {
        assert!(out.contains(needle), "'{needle}' missing from:\n{out}");
    }
    assert!(
        !out.contains("## Hybrid"),
        "hybrid plans only with --hybrid"
    );
}

#[test]
fn local_never_breaks_even_on_a_tiny_workload() {
    let (o, _d) = cost(&["--workload", "tiny", "--cloud", "gpt-4o-mini", "-o", "json"]);
    let r = json(&o);
    assert_eq!(r["clouds"][0]["break_even"], Value::Null);
    let (o, _d) = cost(&["--workload", "tiny", "--cloud", "gpt-4o-mini"]);
    assert!(
        stdout(&o).contains("never (within 36 months)"),
        "{}",
        stdout(&o)
    );
}

/// One year of the `wave` workload on `gpu-box` with `n` devices and overflow to gpt-4o-mini, recomputed by hand:
/// 300,000 requests a day shaped 1 + cos(2π(h − 14)/24) with no noise, one device serving 3600 / (800 / pp +
/// 200 / tg) requests an hour, $100 a month of amortisation per device, $200 a month of operations, 400 W busy,
/// 40 W idle, 100 W host, PUE 1.4, $0.15/kWh, and the cloud at $0.15 / $0.60 per 1M tokens.
fn wave_year_usd(pp: f64, tg: f64, n: u32) -> f64 {
    let seconds = 800.0 / pp + 200.0 / tg;
    let capacity = n as f64 * 3600.0 / seconds;
    let cloud_per_request = (800.0 * 0.15 + 200.0 * 0.6) / 1e6;
    let fixed_per_hour = (n as f64 * 100.0 + if n > 0 { 200.0 } else { 0.0 }) / 730.0;
    (0..8760)
        .map(|h| {
            let phase = 2.0 * std::f64::consts::PI * ((h % 24) as f64 - 14.0) / 24.0;
            let requests = 300_000.0 / 24.0 * (1.0 + phase.cos());
            let served = requests.min(capacity);
            let busy = served * seconds / 3600.0;
            let wh = busy * 400.0 + (n as f64 - busy).max(0.0) * 40.0 + n as f64 * 100.0;
            fixed_per_hour + wh / 1000.0 * 1.4 * 0.15 + (requests - served) * cloud_per_request
        })
        .sum()
}

#[test]
fn the_hybrid_optimum_is_the_cheapest_of_every_device_count_recomputed_by_hand() {
    let (o, _d) = cost(&[
        "--hardware",
        "gpu-box",
        "--workload",
        "wave",
        "--cloud",
        "gpt-4o-mini",
        "--hybrid",
        "-o",
        "json",
    ]);
    let r = json(&o);
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("result-rtx4090.json")).unwrap())
            .unwrap();
    let rate = |k: usize| {
        let ns = file["cases"][k]["samples_ns"].as_array().unwrap();
        let tokens = [512.0, 128.0][k];
        ns.iter()
            .map(|x| tokens / (x.as_f64().unwrap() / 1e9))
            .sum::<f64>()
            / ns.len() as f64
    };
    let (pp, tg) = (rate(0), rate(1));
    let h = &r["hybrid"];
    // The busiest hour (25,000 requests) needs 10 devices.
    let all_local = (25_000.0 * (800.0 / pp + 200.0 / tg) / 3600.0_f64).ceil() as u64;
    assert_eq!(h["all_local_devices"], all_local);
    let by_hand: Vec<f64> = (0..=all_local as u32 + 2)
        .map(|n| wave_year_usd(pp, tg, n))
        .collect();
    let rows = h["rows"].as_array().unwrap();
    assert_eq!(rows.len() as u64, all_local + 1);
    for row in rows {
        let n = row["devices"].as_u64().unwrap() as usize;
        let simulated = row["total_usd_per_year"].as_f64().unwrap();
        assert!(
            (simulated - by_hand[n]).abs() <= 1e-9 * by_hand[n],
            "N = {n}: {simulated} vs {}",
            by_hand[n]
        );
    }
    let best = (0..by_hand.len())
        .min_by(|&a, &b| by_hand[a].total_cmp(&by_hand[b]))
        .unwrap();
    assert!(
        best > 0 && (best as u64) < all_local,
        "the optimum of this workload lies between all cloud and all local: {best}"
    );
    assert_eq!(h["optimal_devices"], best as u64);
    // Same seed, same plan.
    let (again, _d) = cost(&[
        "--hardware",
        "gpu-box",
        "--workload",
        "wave",
        "--cloud",
        "gpt-4o-mini",
        "--hybrid",
        "-o",
        "json",
    ]);
    assert_eq!(json(&again)["hybrid"], r["hybrid"]);
}

#[test]
fn hybrid_plans_come_with_the_tiered_split_and_the_seed() {
    let (o, _d) = cost(&["--cloud", "gpt-4o", "--hybrid", "--seed", "3", "-o", "json"]);
    let r = json(&o);
    assert_eq!(r["hybrid"]["hours"], 8760);
    assert_eq!(r["hybrid"]["shape"]["seed"], 3);
    assert_eq!(r["hybrid"]["rows"][0]["devices"], 0);
    assert_eq!(r["hybrid"]["rows"][0]["overflow_share_fraction"], 1.0);
    assert_eq!(r["tiered"]["simple_share_fraction"], 0.5);
}

#[test]
fn rented_hardware_without_electricity_reports_energy_as_included() {
    let (o, _d) = cost(&["--hardware", "gpu-rented", "--cloud", "gpt-4o"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("included in rent"), "{}", stdout(&o));
}

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
    let o = tokenmeter(
        &[
            "cost",
            "--config",
            s(&config),
            "--result",
            s(&result),
            "--hardware",
            "cpu-box",
            "--workload",
            "chat",
            "--allow-shape-mismatch",
            "-o",
            "json",
        ],
        dir.path(),
    );
    let r = json(&o);
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

/// The fixture's RTX 4090 run with energy read on the GPU, the CPU package and DRAM (see `energy_fixture` in
/// src/cost/measured.rs): pp512 at 8000 tokens/s with the GPU at 200 W, tg128 at 160 tokens/s at 300 W, 25 W idle.
fn energy_result() -> PathBuf {
    fixture("result-rtx4090-energy.json")
}

#[test]
fn a_bench_result_with_measured_prompt_and_generation_energy_gives_the_hand_computed_joules_per_request(
) {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture("models.toml");
    let result = energy_result();
    let o = tokenmeter(
        &[
            "cost",
            "--config",
            s(&config),
            "--result",
            s(&result),
            "--workload",
            "chat",
            "--cloud",
            "gpt-4o",
            "-o",
            "json",
        ],
        dir.path(),
    );
    let r = json(&o);
    assert_eq!(r["hardware"], "gpu-box");
    assert_eq!(r["work_device"], "gpu");
    // Prompt: 200 W × 0.128 s / 1024 tokens = 0.025 J/token; generation: 300 W × 1.6 s / 256 tokens = 1.875 J/token.
    // 800 × 0.025 + 200 × 1.875 = 395 J a request, on the GPU alone (not the CPU package or DRAM readings).
    let j_per_request = 800.0 * (200.0 * 0.128 / 1024.0) + 200.0 * (300.0 * 1.6 / 256.0);
    assert!(close(j_per_request, 395.0));
    assert!(close(
        r["serving_energy_j_per_request"].as_f64().unwrap(),
        395.0
    ));
    assert!(close(
        r["serving_energy_j_per_output_token"].as_f64().unwrap(),
        395.0 / 200.0
    ));
    assert_eq!(r["energy_measured"], true);
    assert_eq!(r["idle_measured"], true);
    // The month: busy energy of the requests, the measured 25 W GPU idle (not the configured 40 W) for the rest of
    // the hours, 100 W host throughout, × PUE 1.4.
    let days = 365.0 / 12.0;
    let requests = 30_000.0 * days;
    let busy_h = requests * (800.0 / 8000.0 + 200.0 / 160.0) / 3600.0;
    let kwh = (requests * 395.0 / 3600.0 + (730.0 - busy_h) * 25.0 + 730.0 * 100.0) / 1000.0 * 1.4;
    assert!(close(
        r["local"]["energy_kwh_per_month"].as_f64().unwrap(),
        kwh
    ));
    let sources: Vec<&str> = r["assumptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source_kind"] == "measured")
        .map(|e| e["source"].as_str().unwrap())
        .collect();
    for needle in [
        "cases[0].energy[0].prompt.j_per_token (NVIDIA GeForce RTX 4090 (GPU 0))",
        "cases[1].energy[0].generation.j_per_token (NVIDIA GeForce RTX 4090 (GPU 0))",
        "telemetry.idle[0].idle_power_w (NVIDIA GeForce RTX 4090 (GPU 0))",
    ] {
        assert!(
            sources.iter().any(|s| s.ends_with(needle)),
            "{needle} not in {sources:?}"
        );
    }
    assert!(!sources.iter().any(|s| s.contains("RAPL")), "{sources:?}");

    let o = tokenmeter(
        &[
            "cost",
            "--config",
            s(&config),
            "--result",
            s(&result),
            "--workload",
            "chat",
            "--cloud",
            "gpt-4o",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for needle in [
        "395.00 J/request (1.975 J/output token)",
        "measured (GPU): prompt and generation",
        "| idle power ",
        "idle power (not used: idle measured)",
    ] {
        assert!(out.contains(needle), "'{needle}' missing from:\n{out}");
    }
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

#[test]
fn a_batch_workload_is_priced_at_batch_prices_where_offered_and_says_which_applied() {
    let (o, _d) = cost(&[
        "--workload",
        "nightly",
        "--cloud",
        "gpt-4o",
        "--cloud",
        "gpt-4o-mini",
        "-o",
        "json",
    ]);
    let r = json(&o);
    let days = 365.0 / 12.0;
    let gpt4o = &r["clouds"][0];
    assert_eq!(gpt4o["price_applied"], "batch");
    assert_eq!(gpt4o["price_note"], Value::Null);
    // 30,000 requests a day × (800 × $1.25 + 200 × $5.00) per 1M tokens: the batch prices, not $2.50 / $10.00.
    let batch = 30_000.0 * days * (800.0 * 1.25 + 200.0 * 5.0) / 1e6;
    assert!(close(gpt4o["cloud_usd_per_month"].as_f64().unwrap(), batch));
    let mini = &r["clouds"][1];
    assert_eq!(mini["price_applied"], "standard");
    assert_eq!(
        mini["price_note"],
        "batch workload, but openai/gpt-4o-mini has no usd_per_1m_batch_input or usd_per_1m_batch_output: \
         standard prices applied"
    );
    let standard = 30_000.0 * days * (800.0 * 0.15 + 200.0 * 0.6) / 1e6;
    assert!(close(
        mini["cloud_usd_per_month"].as_f64().unwrap(),
        standard
    ));

    // Not batch work: the standard price, even where a batch price exists.
    let (o, _d) = cost(&["--workload", "chat", "--cloud", "gpt-4o", "-o", "json"]);
    assert_eq!(json(&o)["clouds"][0]["price_applied"], "standard");

    let (o, _d) = cost(&[
        "--workload",
        "nightly",
        "--cloud",
        "gpt-4o",
        "--cloud",
        "gpt-4o-mini",
    ]);
    let out = stdout(&o);
    for needle in [
        "| openai/gpt-4o      | batch    |",
        "| openai/gpt-4o-mini | standard |",
        "note: batch workload, but openai/gpt-4o-mini has no usd_per_1m_batch_input",
        "openai/gpt-4o batch input",
        "openai/gpt-4o input (not used: batch price applied)",
    ] {
        assert!(out.contains(needle), "'{needle}' missing from:\n{out}");
    }
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
