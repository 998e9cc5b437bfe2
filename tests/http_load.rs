//! `load --endpoint` end to end against a fake OpenAI-compatible server on 127.0.0.1 (`http_load/fake.rs`, port 0)
//! that streams server-sent events on a script: normal streams, a chunk carrying two tokens, a 500,
//! a stall past the request timeout, a reset, a malformed stream. Every socket has a read timeout and every run
//! of the binary is bounded by its flags (request counts, `--request-timeout`); nothing asserts a speed.

mod common;
use common::*;
use serde_json::Value;
#[path = "http_load/fake.rs"]
mod fake;
use fake::{serve, Act};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::Ordering;

/// `tokenmeter load --endpoint http://<addr>/v1 <args> --out <dir>/<name>.json` with `env` set.
fn load(
    dir: &Path,
    addr: &str,
    name: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Output, Value) {
    let out = dir.join(format!("{name}.json"));
    let endpoint = format!("http://{addr}/v1");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenmeter"));
    cmd.args(["load", "--endpoint", &endpoint, "--idle", "0s"])
        .args(args)
        .args(["--out", out.to_str().unwrap()])
        .current_dir(dir)
        .env("TOKENMETER_CACHE_DIR", dir.join("cache"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("tokenmeter runs");
    let file = std::fs::read_to_string(&out)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or(Value::Null);
    (o, file)
}

fn levels(file: &Value) -> &Vec<Value> {
    file["load"]["levels"].as_array().unwrap()
}

fn times(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap())
        .collect()
}

#[test]
fn a_server_over_http_gives_levels_with_token_times_goodput_and_an_operating_point_that_cost_prices(
) {
    let dir = tempfile::tempdir().unwrap();
    let (addr, seen) = serve(|_| Act::Stream);
    let (o, file) = load(
        dir.path(),
        &addr,
        "http",
        &[
            "-c",
            "1,2",
            "--requests",
            "4",
            "--input-tokens",
            "8",
            "--output-tokens",
            "5",
            "--slo",
            "ttft_p95=10s,e2e_p95=30s",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // c=1 measures 4 requests; c=2 adds the one of its staggered start
    assert_eq!(seen.completions.load(Ordering::SeqCst), 4 + 5);
    assert!(seen.max_in_flight.load(Ordering::SeqCst) <= 2);
    assert!(seen.authorization.lock().unwrap().is_empty());
    let server = &file["load"]["server"];
    assert_eq!(server["served_model"], "fake-model");
    assert_eq!(server["models"], serde_json::json!(["fake-model"]));
    assert_eq!(server["server_header"], "fake-openai/1.0");
    assert_eq!(server["version"]["version"], "9.9.9");
    assert_eq!(server["props"], Value::Null);
    assert_eq!(server["on_this_machine"], true);
    assert_eq!(server["endpoint"], format!("http://{addr}/v1"));
    assert_eq!(file["load"]["model"], "fake-model");
    assert_eq!(file["models"], serde_json::json!([]));
    let ls = levels(&file);
    assert_eq!(ls.len(), 2);
    for (level, n) in ls.iter().zip([4, 5]) {
        let requests = level["requests"].as_array().unwrap();
        assert_eq!(requests.len(), n, "{}", level["concurrency"]);
        for r in requests {
            assert_eq!(r["completed"], true);
            assert_eq!(r["failure"], Value::Null);
            let t = times(&r["token_ns"]);
            assert_eq!(t.len(), 5);
            assert!(t.windows(2).all(|w| w[0] <= w[1]));
            let admitted = r["admitted_ns"].as_u64().unwrap();
            assert!(r["arrival_ns"].as_u64().unwrap() <= admitted && admitted <= t[0]);
            assert_eq!(
                r["stream"],
                serde_json::json!({"chunks": 5, "multi_token_chunks": 0, "usage_prompt_tokens": 11,
                    "usage_completion_tokens": 5})
            );
        }
        let http = &level["http"];
        assert_eq!(http["in_flight_cap"], level["concurrency"]);
        assert_eq!(http["failed"], serde_json::json!({}));
        assert_eq!(http["output_length_held"], n);
        assert_eq!(level["slo_met"], true);
        assert!(level["goodput_output_tokens_per_s"].as_f64().unwrap() > 0.0);
        assert!(level["itl_ms"]["count"].as_u64().unwrap() > 0);
        // the server counted 11 prompt tokens for each answered request
        assert_eq!(level["prompt_tokens_processed"], 11 * n as u64);
        // energy is the local sensors' (none here): absent with a reason, never 0
        assert!(
            level["energy"][0]["absent_reason"].is_string(),
            "{}",
            level["energy"]
        );
    }
    assert!(
        file["load"]["operating_point"]["goodput_output_tokens_per_s"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert_eq!(file["parameters"]["served_model"], "fake-model");
    assert_eq!(file["parameters"]["api"], "chat");

    let result = dir.path().join("http.json");
    let r = cost_of_load(&result, dir.path());
    assert_eq!(r["basis"], "load_operating_point");
}

#[test]
fn a_chunk_carrying_two_tokens_is_counted_and_its_tokens_share_its_time() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, _) = serve(|_| Act::TwoTokenChunk);
    let (o, file) = load(
        dir.path(),
        &addr,
        "two",
        &["-c", "1", "--requests", "2", "--output-tokens", "4"],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let level = &levels(&file)[0];
    for r in level["requests"].as_array().unwrap() {
        let t = times(&r["token_ns"]);
        assert_eq!(t.len(), 4, "the usage's 4 tokens, from 3 chunks");
        assert_eq!(
            t[1], t[2],
            "the two tokens of the second chunk share its arrival"
        );
        assert_eq!(r["stream"]["chunks"], 3);
        assert_eq!(r["stream"]["multi_token_chunks"], 1);
    }
    assert_eq!(level["http"]["multi_token_chunks"], 2);
    assert_eq!(level["http"]["chunks"], 6);
}

#[test]
fn without_a_usage_count_the_output_is_counted_by_the_servers_tokenizer() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, _) = serve(|_| Act::NoUsage);
    let (o, file) = load(
        dir.path(),
        &addr,
        "nousage",
        &["-c", "1", "--requests", "2", "--output-tokens", "4"],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(file["load"]["server"]["tokenize"], true);
    let level = &levels(&file)[0];
    for r in level["requests"].as_array().unwrap() {
        let s = &r["stream"];
        assert_eq!(s["usage_completion_tokens"], Value::Null, "{s}");
        assert_eq!(s["tokenized_completion_tokens"], 4, "{s}");
        // 3 chunks, the second of two tokens, as /tokenize counted the text
        assert_eq!(
            (&s["chunks"], &s["multi_token_chunks"]),
            (&3.into(), &1.into())
        );
        let t = times(&r["token_ns"]);
        assert_eq!(t.len(), 4);
        assert_eq!(t[1], t[2]);
    }
    assert_eq!(level["http"]["output_length_held"], 2);
}

#[test]
fn injected_faults_are_failed_requests_with_reasons_and_the_level_completes() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, _) = serve(|n| match n {
        1 => Act::Status500,
        3 => Act::Stall,
        5 => Act::Reset,
        7 => Act::Malformed,
        _ => Act::Stream,
    });
    let (o, file) = load(
        dir.path(),
        &addr,
        "faults",
        &[
            "-c",
            "1",
            "--requests",
            "9",
            "--output-tokens",
            "4",
            "--request-timeout",
            "1s",
            "--slo",
            "ttft_p99=10s",
        ],
        &[],
    );
    // failed requests are data: the level completes and the run exits 0
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let level = &levels(&file)[0];
    let requests = level["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 9);
    let kinds: Vec<Value> = requests
        .iter()
        .map(|r| r["failure"]["kind"].clone())
        .collect();
    let null = Value::Null;
    assert_eq!(
        kinds,
        [
            null.clone(),
            "http_status".into(),
            null.clone(),
            "timeout".into(),
            null.clone(),
            "connection".into(),
            null.clone(),
            "malformed_stream".into(),
            null,
        ]
    );
    assert_eq!(requests[1]["failure"]["status"], 500);
    assert!(requests[1]["failure"]["detail"]
        .as_str()
        .unwrap()
        .contains("overloaded"));
    for i in [1, 3, 5, 7] {
        assert_eq!(requests[i]["completed"], false, "request {i}");
    }
    assert_eq!(
        level["http"]["failed"],
        serde_json::json!({"connection": 1, "http_status": 1, "malformed_stream": 1, "timeout": 1})
    );
    assert_eq!(level["requests_completed"], 5);
    assert_eq!(level["requests_not_completed"], 4);
    // each failed request is a miss of the TTFT term, even those that had a first token
    let check = &level["slo_checks"][0];
    assert_eq!(
        (check["count"].as_u64(), check["unfinished"].as_u64()),
        (Some(9), Some(4))
    );
    assert_eq!(check["met"], false);
    assert_eq!(
        level["goodput_requests_per_s"].as_f64().map(|g| g > 0.0),
        Some(true)
    );
    let err = stderr(&o);
    assert!(
        err.contains("c=1: 4 request(s) failed (connection: 1, http_status: 1, malformed_stream: 1, timeout: 1)"),
        "{err}"
    );
}

#[test]
fn an_api_key_from_the_environment_is_sent_as_a_bearer_token_and_written_nowhere() {
    const KEY: &str = "sk-test-4f1b9c77e2";
    let dir = tempfile::tempdir().unwrap();
    let (addr, seen) = serve(|n| if n == 1 { Act::Status500 } else { Act::Stream });
    let (o, file) = load(
        dir.path(),
        &addr,
        "key",
        &[
            "-c",
            "1",
            "--requests",
            "3",
            "--output-tokens",
            "3",
            "--api-key-env",
            "TM_TEST_KEY",
        ],
        &[("TM_TEST_KEY", KEY)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let sent = seen.authorization.lock().unwrap().clone();
    // GET /v1/models, GET /version and the 3 completions (the /props answer is a 404)
    assert!(sent.len() >= 4, "{sent:?}");
    assert!(
        sent.iter().all(|a| a == &format!("Bearer {KEY}")),
        "{sent:?}"
    );
    // the server echoed the key in its 500: the recorded reason has it taken out
    let detail = levels(&file)[0]["requests"][1]["failure"]["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("[api key]"), "{detail}");
    assert_eq!(file["load"]["server"]["api_key_env"], "TM_TEST_KEY");
    assert_eq!(file["parameters"]["api_key_env"], "TM_TEST_KEY");
    assert!(!stdout(&o).contains(KEY) && !stderr(&o).contains(KEY));
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(KEY),
            "{} holds the key",
            entry.display()
        );
    }

    let (o, _) = load(
        dir.path(),
        &addr,
        "nokey",
        &["--api-key-env", "TM_UNSET_VAR"],
        &[],
    );
    assert_one_line_error(
        &o,
        "--api-key-env: the environment variable TM_UNSET_VAR is not set",
    );
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn an_open_loop_keeps_at_most_parallel_requests_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, seen) = serve(|_| Act::Stream);
    let (o, file) = load(
        dir.path(),
        &addr,
        "open",
        &[
            "--rate",
            "500",
            "--parallel",
            "2",
            "--requests",
            "6",
            "--output-tokens",
            "6",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(seen.max_in_flight.load(Ordering::SeqCst) <= 2);
    let level = &levels(&file)[0];
    assert_eq!(level["requests"].as_array().unwrap().len(), 6);
    assert_eq!(level["requests_completed"], 6);
    assert_eq!(level["http"]["in_flight_cap"], 2);
}

#[test]
fn a_server_that_answers_nothing_fails_the_level_and_the_run_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    // a port nothing listens on
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let (o, file) = load(
        dir.path(),
        &addr,
        "down",
        &[
            "-c",
            "2",
            "--requests",
            "4",
            "--served-model",
            "m",
            "--request-timeout",
            "2s",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let failed = &file["failed"][0];
    assert_eq!(failed["label"], "c=2");
    assert!(
        failed["reason"].as_str().unwrap().starts_with(&format!(
            "no request reached the server at http://{addr}/v1"
        )),
        "{failed}"
    );
    assert_eq!(file["load"]["server"]["models"], Value::Null);
}

#[test]
fn a_server_that_dies_mid_level_fails_that_level_and_the_next_and_the_sweep_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    // five requests streamed, then the server closes the sixth unanswered and stops listening
    let (addr, seen) = serve(|n| if n < 5 { Act::Stream } else { Act::Die });
    let (o, file) = load(
        dir.path(),
        &addr,
        "dies",
        &[
            "-c",
            "1,2",
            "--requests",
            "20",
            "--output-tokens",
            "4",
            "--request-timeout",
            "5s",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(seen.completions.load(Ordering::SeqCst) >= 6);
    let failed = file["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 2, "{file}");
    assert_eq!(failed[0]["label"], "c=1");
    let reason = failed[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(&format!(
            "the server at http://{addr}/v1 stopped answering: 3 requests in a row got no response after 5 completed"
        )),
        "{reason}"
    );
    // the sweep went on to the next level, which found no server
    assert_eq!(failed[1]["label"], "c=2");
    assert!(
        failed[1]["reason"]
            .as_str()
            .unwrap()
            .starts_with("no request reached the server"),
        "{failed:?}"
    );
    assert!(levels(&file).is_empty(), "{file}");
}

#[test]
fn token_id_prompts_go_to_the_completions_api_as_exactly_n_ids_below_the_stated_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, seen) = serve(|_| Act::Stream);
    let (o, file) = load(
        dir.path(),
        &addr,
        "ids",
        &[
            "-c",
            "2",
            "--requests",
            "4",
            "--input-tokens",
            "40",
            "--output-tokens",
            "3",
            "--api",
            "completions",
            "--prompt",
            "token-ids",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let prompts = seen.prompts.lock().unwrap().clone();
    assert!(prompts.len() >= 4, "{prompts:?}");
    for p in &prompts {
        let ids = p.as_array().unwrap();
        assert_eq!(ids.len(), 40, "{p}");
        assert!(ids.iter().all(|t| t.as_u64().unwrap() < 50), "{p}");
    }
    assert_ne!(prompts[0], prompts[1], "each request draws its own ids");
    assert_eq!(file["load"]["server"]["n_vocab"], 50);
    assert_eq!(file["parameters"]["prompt"], "token-ids");
    assert_eq!(levels(&file)[0]["requests_completed"], 4);
    // text is what a chat message carries
    let (o, _) = load(
        dir.path(),
        &addr,
        "chat-ids",
        &["--prompt", "token-ids", "--requests", "1"],
        &[],
    );
    assert_one_line_error(&o, "--prompt token-ids: only with --api completions");
}

#[test]
fn multi_turn_sessions_and_a_trace_send_prompts_that_repeat_their_stated_prefixes() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, seen) = serve(|_| Act::Stream);
    let ids = ["--api", "completions", "--prompt", "token-ids"];
    let mut args = vec![
        "-c",
        "2",
        "--turns",
        "3",
        "--system-tokens",
        "10",
        "--input-tokens",
        "6",
        "--output-tokens",
        "3",
        "--requests",
        "7",
    ];
    args.extend_from_slice(&ids);
    let (o, file) = load(dir.path(), &addr, "turns", &args, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let prompts: Vec<Vec<u64>> = seen
        .prompts
        .lock()
        .unwrap()
        .iter()
        .map(|p| {
            p.as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_u64().unwrap())
                .collect()
        })
        .collect();
    let level = &levels(&file)[0];
    let requests = level["requests"].as_array().unwrap();
    assert_eq!(prompts.len(), requests.len());
    // every prompt starts with the shared system prompt; a later turn's starts with some earlier prompt, as
    // its reusable prefix says
    for p in &prompts {
        assert_eq!(p[..10], prompts[0][..10]);
    }
    for r in requests {
        let n = r["input_tokens"].as_u64().unwrap() as usize;
        let reuse = r["origin"]["reusable_prefix_tokens"].as_u64().unwrap() as usize;
        let sent = prompts
            .iter()
            .find(|p| p.len() == n)
            .expect("a prompt of its length");
        if r["origin"]["turn"].as_u64().unwrap() > 0 {
            assert!(
                prompts
                    .iter()
                    .any(|q| q.len() == reuse && sent[..reuse] == q[..]),
                "{r}"
            );
        }
    }
    assert!(level["pattern"]["prefix_reuse_ratio"].as_f64().unwrap() > 0.0);

    // a trace over HTTP: its lengths, on its schedule, issue lateness stated
    let trace = dir.path().join("trace.jsonl");
    std::fs::write(
        &trace,
        concat!(
            r#"{"arrival_ms": 0, "input_tokens": 12, "output_tokens": 2, "session": "a"}"#,
            "\n",
            r#"{"arrival_ms": 30, "input_tokens": 20, "output_tokens": 3, "session": "a"}"#,
            "\n"
        ),
    )
    .unwrap();
    seen.prompts.lock().unwrap().clear();
    let mut args = vec!["--trace", trace.to_str().unwrap()];
    args.extend_from_slice(&ids);
    let (o, file) = load(dir.path(), &addr, "trace", &args, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let prompts = seen.prompts.lock().unwrap().clone();
    assert_eq!(prompts.len(), 2);
    let (a, b) = (
        prompts[0].as_array().unwrap(),
        prompts[1].as_array().unwrap(),
    );
    assert_eq!((a.len(), b.len()), (12, 20));
    assert_eq!(
        b[..12],
        a[..],
        "the session's second prompt extends its first"
    );
    let level = &levels(&file)[0];
    let rs = level["requests"].as_array().unwrap();
    assert_eq!(rs[1]["arrival_ns"], 30_000_000);
    assert_eq!(rs[1]["origin"]["reusable_prefix_tokens"], 12);
    assert_eq!(level["pattern"]["issue_late_ms"]["count"], 2);
}

/// A TLS server on 127.0.0.1 (port 0) with a fresh self-signed certificate for 127.0.0.1, in front of the plain
/// server at `plain`: each connection's one request is passed on and the answer streamed back (the fake server
/// closes each connection after its answer). Its address and the certificate's PEM.
fn tls_front(plain: String) -> (String, String) {
    use std::io::{BufRead, BufReader, Read, Write};
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let pem = cert.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.key_pair.serialize_der()).unwrap();
    // ring, the provider ureq's rustls is built with here (deprecated only for lacking post-quantum key exchange)
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let config = std::sync::Arc::new(
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let (config, plain) = (config.clone(), plain.clone());
            std::thread::spawn(move || {
                tcp.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                    .unwrap();
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                // the request: its head, then Content-Length bytes of body
                let mut reader = BufReader::new(&mut tls);
                let mut head = String::new();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    head.push_str(&line);
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0u8; length];
                reader.read_exact(&mut body).unwrap();
                let mut upstream = std::net::TcpStream::connect(&plain).unwrap();
                upstream.write_all(head.as_bytes()).unwrap();
                upstream.write_all(&body).unwrap();
                let mut buf = [0u8; 4096];
                while let Ok(n) = upstream.read(&mut buf) {
                    if n == 0 || tls.write_all(&buf[..n]).and_then(|_| tls.flush()).is_err() {
                        break;
                    }
                }
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    (addr, pem)
}

#[test]
fn an_https_endpoint_is_measured_when_its_certificate_is_trusted_and_refused_when_not() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, seen) = serve(|_| Act::Stream);
    let (addr, pem) = tls_front(plain);
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pem).unwrap();
    let endpoint = format!("https://{addr}/v1");
    let run = |name: &str, extra: &[&str]| {
        let out = dir.path().join(format!("{name}.json"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenmeter"));
        cmd.args(["load", "--endpoint", &endpoint, "--idle", "0s"])
            .args(["-c", "2", "--requests", "3", "--output-tokens", "4"])
            .args(["--request-timeout", "10s", "--out", out.to_str().unwrap()])
            .args(extra)
            .current_dir(dir.path())
            .env("TOKENMETER_CACHE_DIR", dir.path().join("cache"));
        let o = cmd.output().unwrap();
        let file = std::fs::read_to_string(&out)
            .map(|t| serde_json::from_str::<Value>(&t).unwrap())
            .unwrap_or(Value::Null);
        (o, file)
    };
    let (o, file) = run("trusted", &["--ca-cert", ca.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let level = &levels(&file)[0];
    assert_eq!(level["http"]["failed"], serde_json::json!({}), "{level}");
    let requests = level["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 4, "3 measured and 1 of the staggered start");
    assert!(requests.iter().all(|r| r["completed"] == true), "{level}");
    assert_eq!(
        file["load"]["server"]["models"],
        serde_json::json!(["fake-model"])
    );
    assert!(seen.completions.load(Ordering::SeqCst) >= 4);
    // without the certificate the web PKI's roots do not vouch for it: no request reaches the server
    let (o, file) = run("untrusted", &["--served-model", "fake-model"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let reason = file["failed"][0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("no request reached the server"),
        "{reason}"
    );
    assert!(
        reason.to_ascii_lowercase().contains("certificate"),
        "{reason}"
    );
    // a file with no certificate in it is refused before anything runs
    let (o, _) = run(
        "bad",
        &[
            "--ca-cert",
            dir.path().join("trusted.json").to_str().unwrap(),
        ],
    );
    assert_one_line_error(&o, "no PEM certificate");
}

#[test]
fn endpoint_flags_are_refused_without_an_endpoint_and_a_model_file_with_one() {
    let dir = tempfile::tempdir().unwrap();
    assert_one_line_error(
        &tokenmeter(&["load", "--served-model", "m"], dir.path()),
        "--served-model: only with --endpoint URL",
    );
    assert_one_line_error(
        &tokenmeter(&["load", "--endpoint", "ftp://x/v1"], dir.path()),
        "--endpoint: 'ftp://x/v1' is not an http:// or https:// URL",
    );
    let (addr, _) = serve(|_| Act::Stream);
    let (o, _) = load(dir.path(), &addr, "both", &["-m", "model.gguf"], &[]);
    assert_one_line_error(
        &o,
        "with --endpoint, name the server's model with --served-model",
    );
}
