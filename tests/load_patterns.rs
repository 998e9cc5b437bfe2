//! `load` with request patterns on a synthesized model, in-process: multi-turn sessions (`--turns`,
//! `--system-tokens`) and trace replay (`--trace`, tokenmeter's and Mooncake's formats, `--trace-speed`). Every
//! request states its session, turn or trace line and its reusable prefix; the level states the prefix reuse and,
//! for a trace, how late each request was issued. The same patterns over HTTP are in tests/http_load.rs.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

fn load(dir: &Path, name: &str, args: &[&str]) -> Value {
    let model = synth_tiny(dir, "tiny.gguf", "q4_0", 1);
    let out = dir.join(format!("{name}.json"));
    let mut all = vec![
        "load",
        "-m",
        model.to_str().unwrap(),
        "-t",
        "1",
        "--idle",
        "0s",
    ];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", out.to_str().unwrap()]);
    let o = tokenmeter(&all, dir);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
}

fn levels(file: &Value) -> &Vec<Value> {
    file["load"]["levels"].as_array().unwrap()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn multi_turn_sessions_grow_their_history_and_state_the_prefix_reuse() {
    let dir = tempfile::tempdir().unwrap();
    let file = load(
        dir.path(),
        "turns",
        &[
            "-c",
            "2",
            "--turns",
            "3",
            "--system-tokens",
            "16",
            "--input-tokens",
            "8",
            "--output-tokens",
            "4",
            "--requests",
            "9",
        ],
    );
    assert_eq!(
        file["parameters"]["pattern"],
        serde_json::json!({"multi_turn": {"turns": 3, "system_tokens": 16}})
    );
    let level = &levels(&file)[0];
    let requests = level["requests"].as_array().unwrap();
    // each request continues the session of the one whose end started it, turn by turn
    let mut by_session: std::collections::BTreeMap<String, Vec<&Value>> = Default::default();
    for r in requests {
        assert_eq!(r["completed"], true);
        let o = &r["origin"];
        by_session
            .entry(o["session"].as_str().unwrap().to_string())
            .or_default()
            .push(r);
    }
    assert!(
        by_session.len() >= 3,
        "9 requests of 3 turns: {by_session:?}"
    );
    let (mut reusable, mut prompt) = (0, 0);
    for (i, turns) in by_session.values().enumerate() {
        assert!(turns.len() <= 3);
        for (k, r) in turns.iter().enumerate() {
            assert_eq!(u(&r["origin"]["turn"]), k as u64);
            // the system prompt and a message; then the history, the stand-in answer (4) and a new message (8)
            assert_eq!(u(&r["input_tokens"]), 16 + 8 + k as u64 * 12, "{r}");
            let expected = match k {
                0 if i == 0 => 0,
                0 => 16,
                _ => u(&turns[k - 1]["input_tokens"]),
            };
            assert_eq!(u(&r["origin"]["reusable_prefix_tokens"]), expected, "{r}");
        }
    }
    let warmup = level["requests_warmup"].as_u64().unwrap_or(0) as usize;
    for r in &requests[warmup..] {
        reusable += u(&r["origin"]["reusable_prefix_tokens"]);
        prompt += u(&r["input_tokens"]);
    }
    let ratio = level["pattern"]["prefix_reuse_ratio"].as_f64().unwrap();
    assert!(
        (ratio - reusable as f64 / prompt as f64).abs() < 1e-12,
        "{ratio}"
    );
    assert!(ratio > 0.3, "{ratio}");
    assert!(level["pattern"].get("issue_late_ms").is_none());
    // in-process llama.cpp reuses no prefix: it processes every prompt token
    let all_prompt: u64 = requests.iter().map(|r| u(&r["input_tokens"])).sum();
    assert_eq!(u(&level["prompt_tokens_processed"]), all_prompt);
}

#[test]
fn a_trace_is_replayed_on_its_schedule_at_each_speed_with_its_lengths_and_shared_blocks() {
    let dir = tempfile::tempdir().unwrap();
    // five requests 40 ms apart; blocks of 8 tokens: the 2nd and 4th share the 1st's first block, the 3rd is of a
    // session the 5th extends
    let trace = dir.path().join("trace.jsonl");
    std::fs::write(
        &trace,
        [
            r#"{"arrival_ms": 100, "input_tokens": 24, "output_tokens": 3, "hash_ids": [1, 2, 3], "block_tokens": 8}"#,
            r#"{"arrival_ms": 140, "input_tokens": 20, "output_tokens": 5, "hash_ids": [1, 7]}"#,
            r#"{"arrival_ms": 180, "input_tokens": 12, "output_tokens": 2, "session": "u1"}"#,
            r#"{"arrival_ms": 220, "input_tokens": 16, "output_tokens": 4, "hash_ids": [1, 2]}"#,
            r#"{"arrival_ms": 260, "input_tokens": 30, "output_tokens": 2, "session": "u1"}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let file = load(
        dir.path(),
        "trace",
        &[
            "--trace",
            trace.to_str().unwrap(),
            "--trace-speed",
            "1,2",
            "--parallel",
            "4",
        ],
    );
    let p = &file["parameters"]["pattern"]["trace"];
    assert_eq!(p["format"], "tokenmeter");
    assert_eq!(p["requests"], 5);
    assert_eq!(p["block_tokens"], 8);
    assert_eq!(p["sha256"].as_str().unwrap().len(), 64);
    let ls = levels(&file);
    assert_eq!(ls.len(), 2);
    // the trace's own pace: 4 gaps over 160 ms = 25 requests/s, then twice that
    assert_eq!(ls[0]["rate"], 25.0);
    assert_eq!(ls[1]["rate"], 50.0);
    let inputs = [24, 20, 12, 16, 30];
    let outputs = [3, 5, 2, 4, 2];
    // reusable: block 1 (8) for the 2nd, blocks 1-2 (16, all of it) for the 4th, the session's 12 for the 5th
    let reusable = [0, 8, 0, 16, 12];
    for (level, speed) in ls.iter().zip([1.0, 2.0]) {
        let rs = level["requests"].as_array().unwrap();
        assert_eq!(rs.len(), 5);
        for (k, r) in rs.iter().enumerate() {
            assert_eq!(u(&r["input_tokens"]), inputs[k]);
            assert_eq!(u(&r["output_tokens"]), outputs[k]);
            assert_eq!(
                r["token_ns"].as_array().unwrap().len() as u32,
                outputs[k] as u32
            );
            let o = &r["origin"];
            assert_eq!(u(&o["trace_line"]), k as u64 + 1);
            assert_eq!(u(&o["reusable_prefix_tokens"]), reusable[k], "{r}");
            // the schedule: the trace's offsets at this speed; issued at or after it
            let scheduled = (k as f64 * 40.0 * 1e6 / speed).round() as u64;
            assert_eq!(u(&r["arrival_ns"]), scheduled);
            assert!(u(&o["issued_ns"]) >= scheduled);
        }
        let pattern = &level["pattern"];
        assert_eq!(pattern["sessions"], 1);
        let expected = 36.0 / 102.0;
        assert!(
            (pattern["prefix_reuse_ratio"].as_f64().unwrap() - expected).abs() < 1e-12,
            "{pattern}"
        );
        let late = &pattern["issue_late_ms"];
        assert_eq!(late["count"], 5, "{late}");
        assert!(late["max"].as_f64().unwrap() >= late["p50"].as_f64().unwrap());
    }
}

#[test]
fn a_mooncake_trace_is_imported_and_bad_pattern_flags_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("mooncake.jsonl");
    std::fs::write(
        &trace,
        concat!(
            r#"{"timestamp": 27482, "input_length": 40, "output_length": 3, "hash_ids": [46, 47]}"#,
            "\n",
            r#"{"timestamp": 27502, "input_length": 30, "output_length": 2, "hash_ids": [46]}"#,
            "\n"
        ),
    )
    .unwrap();
    let file = load(
        dir.path(),
        "mooncake",
        &["--trace", trace.to_str().unwrap(), "--parallel", "2"],
    );
    assert_eq!(file["parameters"]["pattern"]["trace"]["format"], "mooncake");
    assert_eq!(file["parameters"]["pattern"]["trace"]["block_tokens"], 512);
    let rs = levels(&file)[0]["requests"].as_array().unwrap();
    assert_eq!(rs.len(), 2);
    assert_eq!(u(&rs[1]["arrival_ns"]), 20_000_000);
    // its one block of 512 covers the whole 30-token prompt, which repeats the first prompt's start
    assert_eq!(u(&rs[1]["origin"]["reusable_prefix_tokens"]), 30);

    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let m = model.to_str().unwrap();
    let t = trace.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["load", "-m", m, "--trace", t, "-c", "2"],
            "--trace: the trace sets the arrivals",
        ),
        (
            vec!["load", "-m", m, "--turns", "3", "--rate", "2"],
            "--turns: multi-turn sessions run in a closed loop",
        ),
        (vec!["load", "-m", m, "--turns", "1"], "--turns: 1:"),
        (
            vec!["load", "-m", m, "--system-tokens", "8"],
            "--system-tokens: only with --turns N",
        ),
        (
            vec!["load", "-m", m, "--trace-speed", "2"],
            "--trace-speed: only with --trace FILE",
        ),
        (
            vec!["load", "-m", m, "--trace", t, "--trace-speed", "0"],
            "--trace-speed: 0 is not a positive factor",
        ),
        (
            vec!["load", "-m", m, "--trace", "missing.jsonl"],
            "--trace: missing.jsonl: cannot read",
        ),
    ] {
        assert_one_line_error(&tokenmeter(&args, dir.path()), needle);
    }
}
