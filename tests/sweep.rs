//! Sweeps that survive: each case runs in a worker process, so an abort, a kill or a timeout fails that case
//! alone; every finished case is checkpointed, and `--resume` finishes an interrupted run with each case once.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn tests_of(file: &Value) -> Vec<String> {
    file["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["test"].as_str().unwrap().to_string())
        .collect()
}

/// The tiny shape trained for a context long enough that one case can run for many seconds.
fn long_context_tiny(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("tiny-long.gguf");
    let o = tokenmeter(
        &[
            "synth",
            "--shape",
            "tiny",
            "--ctx",
            "131072",
            "-o",
            path.to_str().unwrap(),
        ],
        dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    path
}

fn spawn(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tokenmeter"))
        .args(args)
        .env("TOKENMETER_CACHE_DIR", dir.join("cache"))
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The worker processes `pid` has now.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Units in the checkpoint of `result` (its lines after the header).
fn checkpoint_lines(result: &Path) -> usize {
    let mut name = result.as_os_str().to_owned();
    name.push(".partial.jsonl");
    std::fs::read_to_string(name)
        .map(|t| {
            t.lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with(r#"{"entry":"header""#))
                .count()
        })
        .unwrap_or(0)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !done() {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn a_case_that_aborts_is_recorded_as_failed_and_the_cases_after_it_complete() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let out = dir.path().join("r.json");
    let o = Command::new(env!("CARGO_BIN_EXE_tokenmeter"))
        .args(["bench", "-m", model.to_str().unwrap(), "-t", "1", "-r", "2"])
        .args(["-p", "16", "-n", "4,8", "--idle", "0"])
        .args(["--out", out.to_str().unwrap()])
        .env("TOKENMETER_CACHE_DIR", dir.path().join("cache"))
        // the worker of the tg4 case aborts as a failed llama.cpp assertion would
        .env("TOKENMETER_WORKER_ABORT", "tg4 ")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("1 case(s) failed"), "{}", stderr(&o));
    let file = read(&out);
    assert_eq!(
        tests_of(&file),
        ["pp16", "tg8"],
        "the cases before and after it"
    );
    let failed = file["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert!(failed[0]["label"].as_str().unwrap().contains("tg4"));
    assert!(
        failed[0]["reason"].as_str().unwrap().contains("SIGABRT"),
        "{}",
        failed[0]["reason"]
    );
    assert_eq!(failed[0]["parameters"]["test"]["n_gen"], 4);
    assert!(file["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["kind"] == "case_failed"));
}

#[test]
fn a_worker_killed_mid_sweep_fails_its_case_and_the_sweep_finishes_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let model = long_context_tiny(dir.path());
    let out = dir.path().join("r.json");
    // pp16, then a long tg case, then tg4
    let child = spawn(
        dir.path(),
        &[
            "bench",
            "-m",
            model.to_str().unwrap(),
            "-t",
            "1",
            "-p",
            "16",
            "-n",
            "100000,4",
            "-r",
            "2",
            "--idle",
            "0",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let pid = child.id();
    wait_until("pp16 in the checkpoint", || checkpoint_lines(&out) >= 1);
    let mut worker = Vec::new();
    wait_until("the long case's worker", || {
        worker = children(pid);
        !worker.is_empty()
    });
    std::thread::sleep(Duration::from_millis(300));
    signal(worker[0], "-KILL");
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let file = read(&out);
    assert_eq!(tests_of(&file), ["pp16", "tg4"]);
    let failed = &file["failed"][0];
    assert!(failed["label"].as_str().unwrap().contains("tg100000"));
    assert!(
        failed["reason"].as_str().unwrap().contains("signal 9"),
        "{}",
        failed["reason"]
    );
}

#[test]
fn a_case_past_its_timeout_is_killed_and_recorded_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let model = long_context_tiny(dir.path());
    let out = dir.path().join("r.json");
    let o = Command::new(env!("CARGO_BIN_EXE_tokenmeter"))
        .args(["bench", "-m", model.to_str().unwrap(), "-t", "1", "-r", "2"])
        .args([
            "-p",
            "0",
            "-n",
            "100000,4",
            "--idle",
            "0",
            "--case-timeout",
            "1s",
        ])
        .args(["--out", out.to_str().unwrap()])
        .env("TOKENMETER_CACHE_DIR", dir.path().join("cache"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let file = read(&out);
    assert_eq!(tests_of(&file), ["tg4"]);
    assert!(file["failed"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("ran past its timeout of 1s"));
}

#[test]
fn an_interrupted_sweep_resumes_with_every_case_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let out = dir.path().join("r.json");
    let m = model.to_str().unwrap();
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "bench", "-m", m, "-t", "1", "-p", "16,32", "-n", "2000,4", "-r", "3", "--idle", "0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let first = args(&["--out", out.to_str().unwrap()]);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let child = spawn(dir.path(), &first);
    wait_until("two cases in the checkpoint", || {
        checkpoint_lines(&out) >= 2
    });
    signal(child.id(), "-INT");
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let interrupted = read(&out);
    assert_eq!(interrupted["interrupted"], true);
    let done_before = tests_of(&interrupted);
    assert!(
        done_before.len() >= 2 && done_before.len() < 4,
        "{done_before:?}"
    );
    assert!(
        interrupted["cases"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["complete"] == true),
        "the first Ctrl-C lets the case in flight finish"
    );
    // a line cut short by a kill is skipped with a warning
    let mut name = out.as_os_str().to_owned();
    name.push(".partial.jsonl");
    let mut text = std::fs::read_to_string(&name).unwrap();
    text.push_str("{\"entry\":\"case\",\"n_pro");
    std::fs::write(&name, text).unwrap();

    let second = args(&["--resume", out.to_str().unwrap()]);
    let second: Vec<&str> = second.iter().map(String::as_str).collect();
    let o = tokenmeter(&second, dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let file = read(&out);
    let mut tests = tests_of(&file);
    assert_eq!(tests.len(), 4, "{tests:?}");
    tests.sort();
    tests.dedup();
    assert_eq!(
        tests,
        ["pp16", "pp32", "tg2000", "tg4"],
        "each case exactly once"
    );
    // the cases measured before the interruption are the same records, samples and all
    for c in interrupted["cases"].as_array().unwrap() {
        let again = file["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["test"] == c["test"])
            .unwrap();
        assert_eq!(again["samples"], c["samples"]);
    }
    assert!(file["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["kind"] == "checkpoint_line_skipped"));
    assert!(
        !Path::new(&name).exists(),
        "the checkpoint goes once the result is whole"
    );
}

#[test]
fn a_load_level_runs_in_a_worker_on_the_sensors_clock() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let out = dir.path().join("l.json");
    let o = tokenmeter(
        &[
            "load",
            "-m",
            model.to_str().unwrap(),
            "-t",
            "1",
            "-c",
            "1,2",
            "--requests",
            "4",
            "--input-tokens",
            "8",
            "--output-tokens",
            "4",
            "--idle",
            "0",
            "--out",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let file = read(&out);
    for l in file["load"]["levels"].as_array().unwrap() {
        assert_eq!(l["requests_completed"], 4);
        // the level began after the parent's sensor window opened (worker start and model load come first)
        assert!(l["start_ns"].as_u64().unwrap() > 0);
        assert!(
            l["process"]["peak_rss_bytes"].as_u64().unwrap() > 0,
            "the worker's own memory"
        );
    }
}

#[test]
fn a_parent_killed_with_sigkill_loses_at_most_the_case_in_flight_and_takes_its_worker_along() {
    let dir = tempfile::tempdir().unwrap();
    let model = long_context_tiny(dir.path());
    let out = dir.path().join("r.json");
    let m = model.to_str().unwrap();
    let base = [
        "bench", "-m", m, "-t", "1", "-p", "16", "-n", "4000,4", "-r", "2", "--idle", "0",
    ];
    let mut first: Vec<&str> = base.to_vec();
    first.extend(["--out", out.to_str().unwrap()]);
    let child = spawn(dir.path(), &first);
    let pid = child.id();
    wait_until("pp16 in the checkpoint", || checkpoint_lines(&out) >= 1);
    let mut worker = Vec::new();
    wait_until("the long case's worker", || {
        worker = children(pid);
        !worker.is_empty()
    });
    signal(pid, "-KILL");
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), None, "killed by a signal");
    wait_until("the orphaned worker to die with its parent", || {
        !Path::new(&format!("/proc/{}", worker[0])).exists()
            || std::fs::read_to_string(format!("/proc/{}/stat", worker[0]))
                .is_ok_and(|s| s.contains(") Z "))
    });
    assert!(!out.exists(), "the result file is written only at the end");
    assert_eq!(checkpoint_lines(&out), 1, "pp16 survived in the checkpoint");

    // another run's parameters are refused, naming the key that differs
    let mut other: Vec<&str> = base.to_vec();
    other[8] = "4";
    other.extend(["--resume", out.to_str().unwrap()]);
    let o = tokenmeter(&other, dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("identity.parameters.n_gen.len: 2 in the checkpoint, 1 now"),
        "{err}"
    );
    assert_eq!(
        checkpoint_lines(&out),
        1,
        "a refused resume leaves the checkpoint"
    );

    // the same run resumes: pp16 kept, the other two measured
    let mut second: Vec<&str> = base.to_vec();
    second.extend(["--resume", out.to_str().unwrap()]);
    let o = tokenmeter(&second, dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(tests_of(&read(&out)), ["pp16", "tg4000", "tg4"]);
}
