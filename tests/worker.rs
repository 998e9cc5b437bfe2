//! A worker's replies cannot be corrupted or lost: noise on its stdout and stderr changes nothing, a reply that
//! cannot be read fails its case with the reply quoted, and a hung worker is killed at its stall limit; each
//! touches its own case alone and the sweep goes on.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fs::File;
use std::path::Path;
use std::process::{Command, Output, Stdio};
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

/// `bench` of pp16, tg4 and tg8 (two repetitions each) on a tiny model, with the test hook `hook` naming tg4.
fn bench(dir: &Path, hook: &str, extra: &[&str]) -> Command {
    let model = synth_tiny(dir, "tiny.gguf", "q4_0", 1);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenmeter"));
    cmd.args(["bench", "-m", model.to_str().unwrap(), "-t", "1", "-r", "2"])
        .args(["-p", "16", "-n", "4,8", "--idle", "0", "--telemetry", "off"])
        .args(["--out", dir.join("r.json").to_str().unwrap()])
        .args(extra)
        .env("TOKENMETER_CACHE_DIR", dir.join("cache"))
        .env(hook, "tg4 ")
        .current_dir(dir);
    cmd
}

fn run(mut cmd: Command) -> Output {
    cmd.output().unwrap()
}

#[test]
fn noise_on_a_workers_stdout_and_stderr_leaves_every_case_complete() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(bench(dir.path(), "TOKENMETER_WORKER_NOISE", &[]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        !stdout(&o).contains("noise on"),
        "a worker's output never reaches the tables"
    );
    let file = read(&dir.path().join("r.json"));
    assert_eq!(tests_of(&file), ["pp16", "tg4", "tg8"]);
    assert_eq!(file["failed"].as_array().map_or(0, Vec::len), 0);
    for c in file["cases"].as_array().unwrap() {
        assert_eq!(c["samples"].as_array().unwrap().len(), 2, "{}", c["test"]);
        assert_eq!(c["complete"], true, "{}", c["test"]);
    }
}

#[test]
fn a_final_reply_that_cannot_be_read_fails_its_case_quoting_it_and_the_others_complete() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(bench(dir.path(), "TOKENMETER_WORKER_BAD_REPLY", &[]));
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let file = read(&dir.path().join("r.json"));
    assert_eq!(tests_of(&file), ["pp16", "tg8"]);
    let failed = file["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["label"], "tiny.gguf tg4 t=1");
    let reason = failed[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "worker sent a reply that cannot be read: `{\"reply\":\"bench\",\"samples\":[garbled`"
        ),
        "{reason}"
    );
    assert!(!reason.contains('\n'), "{reason}");
}

/// The worker processes (`tokenmeter worker`) `pid`'s threads have started and not yet reaped.
fn workers_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .flat_map(|t| {
            std::fs::read_to_string(t.path().join("children"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok())
                .collect::<Vec<_>>()
        })
        .filter(|c| {
            std::fs::read(format!("/proc/{c}/cmdline"))
                .is_ok_and(|cmd| cmd.split(|&b| b == 0).any(|arg| arg == b"worker"))
        })
        .collect()
}

#[test]
fn a_hung_worker_is_killed_at_its_stall_limit_and_the_sweep_goes_on_with_no_worker_left() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = bench(
        dir.path(),
        "TOKENMETER_WORKER_HANG",
        &["--stall-timeout", "3s"],
    );
    // Files, not pipes: nothing here reads the run's output until it has ended.
    cmd.stdout(Stdio::from(File::create(dir.path().join("out")).unwrap()))
        .stderr(Stdio::from(File::create(dir.path().join("err")).unwrap()));
    let mut parent = cmd.spawn().unwrap();
    let pid = parent.id();
    let t0 = Instant::now();
    let (mut seen, mut most_at_once) = (BTreeSet::new(), 0);
    let status = loop {
        if let Some(s) = parent.try_wait().unwrap() {
            break s;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "the run hangs");
        let now = workers_of(pid);
        most_at_once = most_at_once.max(now.len());
        seen.extend(now);
        std::thread::sleep(Duration::from_millis(5));
    };
    let err = std::fs::read_to_string(dir.path().join("err")).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(seen.len() >= 2, "the workers were seen: {seen:?}");
    assert_eq!(
        most_at_once, 1,
        "the hung worker was gone before the next case's started"
    );
    for w in &seen {
        assert!(
            !Path::new(&format!("/proc/{w}")).exists(),
            "worker {w} survived the run"
        );
    }
    let file = read(&dir.path().join("r.json"));
    assert_eq!(tests_of(&file), ["pp16", "tg8"], "the case after it ran");
    let failed = file["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["label"], "tiny.gguf tg4 t=1");
    let reason = failed[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("made no progress for 3s (stall limit)"),
        "{reason}"
    );
}

#[test]
fn a_hung_worker_is_failed_by_the_default_limits_from_its_estimate_and_the_sweep_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let o = run(bench(dir.path(), "TOKENMETER_WORKER_HANG", &[]));
    let took = t0.elapsed();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let file = read(&dir.path().join("r.json"));
    assert_eq!(tests_of(&file), ["pp16", "tg8"], "the case after it ran");
    let failed = file["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["label"], "tiny.gguf tg4 t=1");
    // A tiny case is estimated at well under a second: the floors apply, a 2-minute timeout and a stall limit
    // of a quarter of it.
    let limits = &failed[0]["limits"];
    assert!(limits["estimate_s"].as_f64().unwrap() < 24.0, "{limits}");
    assert_eq!(limits["timeout_s"], 120.0);
    assert_eq!(limits["stall_s"], 30.0);
    let reason = failed[0]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("made no progress for 30s (stall limit)"),
        "{reason}"
    );
    assert!(
        took < Duration::from_secs(110),
        "the stall limit, not the timeout, ended it: {took:?}"
    );
    for c in file["cases"].as_array().unwrap() {
        assert_eq!(c["limits"]["timeout_s"], 120.0, "{}", c["test"]);
        assert!(
            c["limits"]["estimate_s"].as_f64().unwrap() > 0.0,
            "{}",
            c["test"]
        );
    }
}
