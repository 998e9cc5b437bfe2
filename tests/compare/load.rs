//! `load` levels joined on their arrivals and request lengths, each side's figures from its own requests.

use crate::compare_json;
use serde_json::Value;
use std::path::Path;
use tokenmeter::results::read_result;

#[test]
fn load_levels_join_on_arrivals_and_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let load = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("results/reference/slo-goodput-qwen2.5-0.5b-q4_0/load.json");
    let f = read_result(&load).unwrap();
    let base_levels = &f.load.as_ref().unwrap().levels;
    assert_eq!(base_levels.len(), 3, "rates 0.5, 2 and 8 per second");
    // The candidate: the levels in another order, rate 8 not run, rate 0.5 with other output lengths (so not the
    // same level), and rate 2 served twice as fast (every timestamp and its length halved).
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&load).unwrap()).unwrap();
    v["started_at"] = "2026-11-30T10:00:00Z".into();
    let levels = v["load"]["levels"].as_array_mut().unwrap();
    levels.truncate(2);
    levels.swap(0, 1);
    levels[1]["output_tokens"] = serde_json::json!({"fixed": 33});
    let half = |x: &mut Value| {
        if let Some(n) = x.as_u64() {
            *x = Value::from(n / 2);
        } else if let Some(f) = x.as_f64() {
            *x = Value::from(f / 2.0);
        }
    };
    half(&mut levels[0]["duration_s"]);
    for r in levels[0]["requests"].as_array_mut().unwrap() {
        half(&mut r["arrival_ns"]);
        half(&mut r["admitted_ns"]);
        for t in r["token_ns"].as_array_mut().unwrap() {
            half(t);
        }
    }
    v["load"]["operating_point"] = Value::Null;
    let candidate = dir.path().join("candidate.json");
    std::fs::write(&candidate, serde_json::to_string(&v).unwrap()).unwrap();
    let c = read_result(&candidate).unwrap();
    let cand_levels = &c.load.as_ref().unwrap().levels;

    let (code, out) = compare_json(
        &[load.to_str().unwrap(), candidate.to_str().unwrap()],
        dir.path(),
    );
    assert!(code == Some(0) || code == Some(1), "{out}");
    let joined = out["joined"].as_array().unwrap();
    assert_eq!(
        joined.len(),
        1,
        "only rate 2/s is in both with the same lengths: {out}"
    );
    let j = &joined[0];
    assert_eq!(j["kind"], "load");
    assert!(j["label"].as_str().unwrap().contains('2'), "{}", j["label"]);
    let names: Vec<&str> = j["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["metric"].as_str().unwrap())
        .collect();
    for want in ["goodput", "output t/s", "ttft_p50", "ttft_p95", "itl_p99"] {
        assert!(names.contains(&want), "{names:?}");
    }
    // each side's figure from its own file's level at rate 2/s
    let goodput = &j["metrics"][0];
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9 * b.max(1.0);
    let base = base_levels[1].summary.goodput_requests_per_s.unwrap();
    // the candidate's level as its raw requests give it (the file's stored summary was not edited)
    let l = &cand_levels[0];
    let new = tokenmeter::analysis::load::summarize_level(
        &tokenmeter::analysis::load::LevelSamples {
            arrivals: tokenmeter::results::load::Arrivals::Open {
                rate_per_s: 2.0,
                slots: l.summary.slots,
            },
            requests: &l.requests,
            duration_ns: (l.summary.duration_s * 1e9).round() as u64,
            window_ns: None,
            warmup_ns: 0,
            prompt_tokens_processed: l.prompt_tokens_processed,
            interrupted: false,
        },
        &c.load.as_ref().unwrap().slo,
    )
    .goodput_requests_per_s
    .unwrap();
    assert!(close(goodput["base"].as_f64().unwrap(), base), "{goodput}");
    assert!(close(goodput["new"].as_f64().unwrap(), new), "{goodput}");
    assert!(
        new > 1.5 * base,
        "twice as fast serves more per second: {new} vs {base}"
    );
    // a p99 from fewer than 100 requests is shown but not tested
    let p99 = j["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "ttft_p99")
        .unwrap();
    assert!(base_levels[1].requests.len() < 100);
    assert_eq!(p99["tested"], false);
}
