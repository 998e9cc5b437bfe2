//! `cost` on a bench result: the monthly figures recomputed from the measured throughput, the printed tables and
//! ledger, a workload too small to break even, rented hardware and batch prices.

use super::*;

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

#[test]
fn rented_hardware_without_electricity_reports_energy_as_included() {
    let (o, _d) = cost(&["--hardware", "gpu-rented", "--cloud", "gpt-4o"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("included in rent"), "{}", stdout(&o));
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
