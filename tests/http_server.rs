//! `load --endpoint` against a real llama.cpp `llama-server` (built by `scripts/build-llama-server.sh`, which
//! `.ci/run` runs before it runs these tests with `--ignored`), on a model this test synthesizes, side by side
//! with in-process `load` of the same model, lengths and slots. The server listens on 127.0.0.1 only, every
//! request is bounded (`--request-timeout`, request counts) and the server is killed when the test ends. Nothing
//! here asserts a speed: how far the two sides' figures agree is measured by `scripts/compare-llama-server.sh`.

mod common;
use common::*;
use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The llama-server binary: `$TOKENMETER_LLAMA_SERVER`, else the one the build script caches under target/.
fn server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("TOKENMETER_LLAMA_SERVER") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/llama-server/bin/llama-server");
    assert!(
        p.exists(),
        "{}: not built; run scripts/build-llama-server.sh",
        p.display()
    );
    p
}

/// A running llama-server, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts llama-server on `model` with `slots` slots on a free loopback port, and waits (at most 120 s) for its
/// `/health` to answer 200.
fn start(model: &Path, slots: u32, log: &Path) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(log).unwrap();
    let child = Command::new(server_binary())
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["-m", model.to_str().unwrap()])
        .args(["-np", &slots.to_string(), "-c", &(slots * 512).to_string()])
        .args(["-t", "2", "--no-webui"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("llama-server starts");
    let server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(120);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    loop {
        let health = agent
            .get(&format!("http://127.0.0.1:{port}/health"))
            .call()
            .map(|r| r.status().as_u16());
        if matches!(health, Ok(200)) {
            return server;
        }
        assert!(
            Instant::now() < deadline,
            "llama-server on port {port} did not become healthy in 120 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The lengths and levels both sides run.
const SHAPE: [&str; 8] = [
    "-c",
    "1,4",
    "--requests",
    "8",
    "--input-tokens",
    "32",
    "--output-tokens",
    "16",
];

#[test]
#[ignore = "needs llama-server: scripts/build-llama-server.sh (.ci/run builds it and runs this with --ignored)"]
fn llama_server_over_http_and_in_process_load_measure_the_same_requests() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let server = start(&model, 4, &dir.path().join("llama-server.log"));
    let endpoint = format!("http://127.0.0.1:{}/v1", server.port);
    let slo = ["--slo", "ttft_p95=30s,e2e_p95=60s"];
    let http_out = dir.path().join("http.json");
    let mut args = vec![
        "load",
        "--endpoint",
        &endpoint,
        "--api",
        "completions",
        "--prompt",
        "token-ids",
        "--request-timeout",
        "60s",
        "--idle",
        "0s",
        "--out",
        http_out.to_str().unwrap(),
    ];
    args.extend_from_slice(&SHAPE);
    args.extend_from_slice(&slo);
    let o = tokenmeter(&args, dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let http = read(&http_out);

    // the server's identity: its own llama.cpp build beside tokenmeter's
    let server_info = &http["load"]["server"];
    assert_eq!(server_info["props"]["total_slots"], 4, "{server_info}");
    let build_info = server_info["props"]["build_info"].as_str().unwrap();
    assert!(
        build_info.contains("pypi-llama-cpp-python-"),
        "{build_info}"
    );
    assert!(
        server_info["n_vocab"].as_u64().unwrap() > 256,
        "{server_info}"
    );
    assert!(
        http["build"].is_object(),
        "tokenmeter's own llama.cpp build"
    );

    let levels = http["load"]["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 2);
    for level in levels {
        for r in level["requests"].as_array().unwrap() {
            assert_eq!(r["completed"], true, "{r}");
            // exactly the asked prompt and output: the server counted what tokenmeter sent and generated past EOS
            assert_eq!(r["stream"]["usage_prompt_tokens"], 32, "{r}");
            assert_eq!(r["stream"]["usage_completion_tokens"], 16, "{r}");
            // and its own times for the prompt and the output (llama-server's timings)
            for t in ["server_prompt_ms", "server_decode_ms"] {
                assert!(r["stream"][t].as_f64().is_some_and(|ms| ms > 0.0), "{r}");
            }
            let t: Vec<u64> = r["token_ns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            assert_eq!(t.len(), 16);
            assert!(t.windows(2).all(|w| w[0] <= w[1]));
        }
        assert_eq!(level["http"]["failed"], serde_json::json!({}));
        // llama-server says how many prompt tokens its cache served (random ids: few or none)
        assert!(
            level["http"]["cached_prompt_tokens"].is_u64(),
            "{}",
            level["http"]
        );
        assert!(level["goodput_output_tokens_per_s"].as_f64().unwrap() > 0.0);
        assert!(level["ttft_ms"]["p50"].as_f64().unwrap() > 0.0);
    }
    assert!(
        http["load"]["operating_point"].is_object(),
        "{}",
        http["load"]
    );

    // in-process load of the same model, lengths and slots gives the same shape of result
    let local_out = dir.path().join("in-process.json");
    let mut args = vec![
        "load",
        "-m",
        model.to_str().unwrap(),
        "-t",
        "2",
        "--idle",
        "0s",
        "--out",
        local_out.to_str().unwrap(),
    ];
    args.extend_from_slice(&SHAPE);
    args.extend_from_slice(&slo);
    let o = tokenmeter(&args, dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let local = read(&local_out);
    let local_levels = local["load"]["levels"].as_array().unwrap();
    for (a, b) in local_levels.iter().zip(levels) {
        assert_eq!(a["concurrency"], b["concurrency"]);
        assert_eq!(
            a["requests"].as_array().unwrap().len(),
            b["requests"].as_array().unwrap().len()
        );
        assert_eq!(a["prompt_tokens_processed"], b["prompt_tokens_processed"]);
    }

    // and cost prices the server's operating point
    let r = cost_of_load(&http_out, dir.path());
    assert_eq!(r["basis"], "load_operating_point");

    // multi-turn sessions: the server's prefix cache serves what the sessions repeat
    let turns_out = dir.path().join("turns.json");
    let o = tokenmeter(
        &[
            "load",
            "--endpoint",
            &endpoint,
            "--api",
            "completions",
            "--prompt",
            "token-ids",
            "--idle",
            "0s",
            "-c",
            "2",
            "--turns",
            "3",
            "--system-tokens",
            "32",
            "--input-tokens",
            "16",
            "--output-tokens",
            "8",
            "--requests",
            "6",
            "--seed",
            "77",
            "--out",
            turns_out.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let turns = read(&turns_out);
    assert_eq!(turns["load"]["server"]["tokenize"], true);
    let level = &turns["load"]["levels"][0];
    assert!(level["pattern"]["prefix_reuse_ratio"].as_f64().unwrap() > 0.3);
    let cached = level["http"]["cached_prompt_tokens"].as_u64().unwrap();
    assert!(cached > 0, "{}", level["http"]);
    drop(server);
}
