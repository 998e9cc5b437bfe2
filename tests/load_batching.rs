//! Continuous batching really batches: at concurrency 4 the requests' tokens come out of shared decode calls
//! (read from the raw token timestamps, so the check holds on any machine at any speed), every request is
//! accounted for, and the operating point is the level a recomputation from the stored figures picks. What
//! batching buys in tokens/s is a speed, measured by `cargo bench --bench batching`, not asserted here.

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
    let model = dir.path().join("mid.gguf");
    let o = tokenmeter(
        &[
            "synth",
            "--shape",
            "tiny",
            "--embd",
            "64",
            "--ff",
            "128",
            "--layers",
            "32",
            "--heads",
            "2",
            "--kv-heads",
            "1",
            "--vocab",
            "512",
            "--type",
            "f16",
            "-o",
            model.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let file = run_load(
        dir.path(),
        &model,
        &[
            "-c",
            "1,4,1,4,1,4",
            "--requests",
            "12",
            "--slo",
            "ttft_p95=10s",
        ],
    );
    assert_eq!(file["kind"], "load");
    let lv = levels(&file);
    assert_eq!(lv.len(), 6);
    for l in lv {
        let requests = l["requests"].as_array().unwrap();
        // 12 measured requests, after a closed loop's c - 1 of the warm-up
        let c = l["concurrency"].as_u64().unwrap() as usize;
        assert_eq!(requests.len(), 12 + c - 1);
        assert_eq!(l["requests_warmup"].as_u64().unwrap_or(0) as usize, c - 1);
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
    // Tokens produced by one decode call share its timestamp: one call per token alone, shared calls at 4.
    let decode_calls = |l: &Value| {
        let mut stamps: Vec<u64> = l["requests"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| {
                r["token_ns"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_u64().unwrap())
            })
            .collect();
        let tokens = stamps.len();
        stamps.sort_unstable();
        stamps.dedup();
        (stamps.len(), tokens)
    };
    for pair in lv.chunks(2) {
        let (calls, tokens) = decode_calls(&pair[0]);
        assert_eq!(calls, tokens, "concurrency 1 decodes one token per call");
        let (calls, tokens) = decode_calls(&pair[1]);
        assert!(
            calls * 2 < tokens,
            "concurrency 4 shares decode calls: {calls} calls for {tokens} tokens"
        );
    }

    // The operating point, recomputed: the highest goodput among the uninterrupted levels that met the SLO.
    let eligible: Vec<(usize, f64)> = lv
        .iter()
        .enumerate()
        .filter(|(_, l)| l["slo_met"] == true && l["interrupted"] == false)
        .map(|(i, l)| (i, l["goodput_output_tokens_per_s"].as_f64().unwrap()))
        .collect();
    let best = eligible
        .iter()
        .copied()
        .fold(None::<(usize, f64)>, |b, x| match b {
            Some(b) if b.1 >= x.1 => Some(b),
            _ => Some(x),
        })
        .unwrap();
    let op = &file["load"]["operating_point"];
    assert_eq!(op["level_index"], best.0, "{op}");
    assert_eq!(op["goodput_output_tokens_per_s"], best.1);
    assert_eq!(op["concurrency"], lv[best.0]["concurrency"]);
}
