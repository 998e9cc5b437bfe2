//! Signals as a scheduler sends them: SIGTERM (Slurm at a time limit, Kubernetes on eviction) and SIGHUP stop the
//! unit in flight at once; the run writes its result with the finished units and its checkpoint, leaves no worker
//! process and no temporary file, and exits 128 + the signal. `--resume` then measures each unit exactly once;
//! a resume whose parameters differ from the checkpoint's is refused naming the key.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a run stopped by SIGTERM may take to write its result and exit (README, "Signals").
const STOP_BOUND: Duration = Duration::from_secs(5);

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        Sandbox { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The tiny shape trained for a context long enough that one case runs for seconds.
    fn long_model(&self) -> PathBuf {
        let path = self.path().join("tiny-long.gguf");
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
            self.path(),
        );
        assert!(o.status.success(), "{}", stderr(&o));
        path
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tokenmeter"));
        c.args(args)
            .env("TOKENMETER_CACHE_DIR", self.path().join("cache"))
            .env("TMPDIR", self.path().join("tmp"))
            .current_dir(self.path());
        c
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.command(args).output().unwrap()
    }

    /// Processes whose environment names this sandbox's cache (the run and any worker it started).
    fn processes(&self) -> Vec<u32> {
        let marker = format!(
            "TOKENMETER_CACHE_DIR={}",
            self.path().join("cache").display()
        );
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == marker.as_bytes()))
                    && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                        .is_ok_and(|s| s.contains(") Z "))
            })
            .collect()
    }

    /// Temporary files and directories left in the run's TMPDIR and beside its result.
    fn leftovers(&self) -> Vec<String> {
        let names = |d: PathBuf| -> Vec<String> {
            std::fs::read_dir(d)
                .map(|r| {
                    r.flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut out = names(self.path().join("tmp"));
        out.extend(
            names(self.path().to_path_buf())
                .into_iter()
                .filter(|n| n.starts_with(".tokenmeter-tmp-")),
        );
        out
    }
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn checkpoint_of(result: &Path) -> PathBuf {
    PathBuf::from(format!("{}.partial.jsonl", result.display()))
}

/// Units in the checkpoint of `result` (its lines after the header).
fn units_in_checkpoint(result: &Path) -> usize {
    std::fs::read_to_string(checkpoint_of(result))
        .map(|t| t.lines().skip(1).filter(|l| !l.trim().is_empty()).count())
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

/// Sends `sig` to `child` and waits for it: its output and how long it took to exit after the signal.
fn stop(child: Child, sig: &str) -> (std::process::Output, Duration) {
    let t0 = Instant::now();
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let o = child.wait_with_output().unwrap();
    (o, t0.elapsed())
}

fn column(file: &Value, list: &str, field: &str) -> Vec<String> {
    file[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[field].to_string().trim_matches('"').to_string())
        .collect()
}

#[test]
fn bench_stopped_by_sigterm_keeps_its_finished_cases_leaves_nothing_behind_and_resumes_each_case_once(
) {
    let s = Sandbox::new();
    let model = s.long_model();
    let out = s.path().join("r.json");
    let args = [
        "bench",
        "-m",
        model.to_str().unwrap(),
        "-t",
        "1",
        "-p",
        "16",
        "-n",
        "8,6000,4",
        "-r",
        "2",
        "--idle",
        "0",
        "--out",
        out.to_str().unwrap(),
    ];
    let child = s.spawn(&args);
    // pp16 and tg8 done, tg6000 in flight
    wait_until("two cases in the checkpoint", || {
        units_in_checkpoint(&out) >= 2
    });
    std::thread::sleep(Duration::from_millis(300));
    let (o, took) = stop(child, "-TERM");
    assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
    assert!(took < STOP_BOUND, "exited {took:?} after SIGTERM");
    let err = stderr(&o);
    assert!(err.contains("error: interrupted by SIGTERM"), "{err}");
    let file = read(&out);
    assert_eq!(file["interrupted"], true);
    assert_eq!(file["interrupted_by"], "SIGTERM");
    assert_eq!(column(&file, "cases", "test"), ["pp16", "tg8"]);
    assert_eq!(
        file["failed"],
        serde_json::json!([]),
        "the case in flight is left out, not failed"
    );
    assert_eq!(units_in_checkpoint(&out), 2);
    assert_eq!(
        s.processes(),
        Vec::<u32>::new(),
        "no worker outlives the run"
    );
    assert_eq!(
        s.leftovers(),
        Vec::<String>::new(),
        "no temporary file outlives the run"
    );

    let args: Vec<&str> = args
        .iter()
        .map(|a| if *a == "--out" { "--resume" } else { a })
        .collect();
    let o = s.run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let file = read(&out);
    assert_eq!(file["interrupted"], false);
    assert_eq!(
        column(&file, "cases", "test"),
        ["pp16", "tg8", "tg6000", "tg4"]
    );
    assert!(
        !checkpoint_of(&out).exists(),
        "a whole result removes its checkpoint"
    );
}

#[test]
fn load_stopped_by_sigterm_keeps_its_finished_levels_and_resumes_each_level_once() {
    let s = Sandbox::new();
    let model = s.long_model();
    let out = s.path().join("l.json");
    let args = [
        "load",
        "-m",
        model.to_str().unwrap(),
        "-t",
        "1",
        "-c",
        "1,2,3",
        "--requests",
        "4",
        "--input-tokens",
        "16",
        "--output-tokens",
        "3000",
        "--idle",
        "0",
        "--out",
        out.to_str().unwrap(),
    ];
    let child = s.spawn(&args);
    wait_until("one level in the checkpoint", || {
        units_in_checkpoint(&out) >= 1
    });
    std::thread::sleep(Duration::from_millis(200));
    let (o, took) = stop(child, "-TERM");
    assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
    assert!(took < STOP_BOUND, "exited {took:?} after SIGTERM");
    let file = read(&out);
    assert_eq!(file["interrupted"], true);
    let levels = &file["load"]["levels"];
    assert_eq!(levels.as_array().unwrap().len(), 1, "{levels}");
    assert_eq!(levels[0]["concurrency"], 1);
    assert_eq!(file["failed"], serde_json::json!([]));
    assert_eq!(s.processes(), Vec::<u32>::new());
    assert_eq!(s.leftovers(), Vec::<String>::new());

    let args: Vec<&str> = args
        .iter()
        .map(|a| if *a == "--out" { "--resume" } else { a })
        .collect();
    let o = s.run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let file = read(&out);
    let concurrency: Vec<u64> = file["load"]["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["concurrency"].as_u64().unwrap())
        .collect();
    assert_eq!(concurrency, [1, 2, 3]);
}

#[test]
fn sighup_stops_the_case_in_flight_and_exits_129() {
    let s = Sandbox::new();
    let model = s.long_model();
    let out = s.path().join("r.json");
    let child = s.spawn(&[
        "bench",
        "-m",
        model.to_str().unwrap(),
        "-t",
        "1",
        "-p",
        "16",
        "-n",
        "6000",
        "-r",
        "2",
        "--idle",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    wait_until("pp16 in the checkpoint", || units_in_checkpoint(&out) >= 1);
    let (o, took) = stop(child, "-HUP");
    assert_eq!(o.status.code(), Some(129), "{}", stderr(&o));
    assert!(took < STOP_BOUND, "exited {took:?} after SIGHUP");
    assert_eq!(read(&out)["interrupted_by"], "SIGHUP");
    assert_eq!(s.processes(), Vec::<u32>::new());
}

#[test]
fn a_resume_with_another_repetition_count_or_model_file_is_refused_naming_the_key() {
    let s = Sandbox::new();
    let model = synth_tiny(s.path(), "tiny.gguf", "q4_0", 1);
    let out = s.path().join("r.json");
    let args = |reps: &'static str, flag: &'static str| -> Vec<String> {
        [
            "bench",
            "-m",
            model.to_str().unwrap(),
            "-t",
            "1",
            "-p",
            "16",
            "-n",
            "4",
            "-r",
            reps,
            "--idle",
            "0",
            flag,
            out.to_str().unwrap(),
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    // a failed case keeps the checkpoint for --resume
    let first = args("2", "--out");
    let o = s
        .command(&first.iter().map(String::as_str).collect::<Vec<_>>())
        .env("TOKENMETER_WORKER_ABORT", "tg4 ")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(units_in_checkpoint(&out), 2, "pp16 and tg4's failure");

    let other_reps = args("3", "--resume");
    let o = s.run(&other_reps.iter().map(String::as_str).collect::<Vec<_>>());
    assert_one_line_error(
        &o,
        "identity.parameters.stop_rule.max_runs: 2 in the checkpoint, 3 now",
    );

    let kept = std::fs::read(&model).unwrap();
    synth_tiny(s.path(), "tiny.gguf", "q4_0", 2);
    let same = args("2", "--resume");
    let o = s.run(&same.iter().map(String::as_str).collect::<Vec<_>>());
    assert_one_line_error(&o, "identity.models[0].sha256");

    std::fs::write(&model, kept).unwrap();
    let o = s.run(&same.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(column(&read(&out), "cases", "test"), ["pp16", "tg4"]);
}
