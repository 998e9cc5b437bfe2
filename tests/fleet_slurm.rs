//! A real Slurm: a single-node cluster started per test (scripts/slurm/local-cluster.sh: munged, slurmctld and
//! slurmd under a temporary directory, stopped at the end) runs the job-array script `plan --emit slurm` writes:
//! - a 3-shard sweep on the tiny model, then `fleet status` and `report` over the run, and a re-submitted index
//!   that adds an attempt's file beside its first one (nothing replaced or deleted; `fleet status` says which
//!   counts);
//! - a load sweep cut by its job's time limit (Slurm's SIGTERM mid-level), which saves its finished levels and
//!   exits 143, then the index re-submitted, which resumes the checkpoint and completes each level once.
//!
//! Where Slurm cannot start (not installed, not root), a test says so on stderr and passes; `.ci/run` installs
//! slurm-wlm and munge so that they run.

mod common;

use common::{stderr, stdout, synth_tiny};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm/local-cluster.sh")
}

/// Stops the cluster when the test ends, whether it passed or not.
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").arg(&self.dir).status();
    }
}

fn start(dir: &Path) -> Result<Cluster, String> {
    let o = Command::new(script())
        .arg("start")
        .arg(dir)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script().display()))?;
    if !o.status.success() {
        // Whatever started is stopped.
        let _ = Command::new(script()).arg("stop").arg(dir).status();
        return Err(format!(
            "exit {:?}: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).trim()
        ));
    }
    Ok(Cluster {
        dir: dir.to_path_buf(),
        conf: PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()),
    })
}

/// The cluster, or `None` after a `SKIPPED` line naming `test` and why.
fn cluster_or_skip(test: &str, dir: &Path) -> Option<Cluster> {
    match start(dir) {
        Ok(c) => Some(c),
        Err(why) => {
            // Written to the process's stderr, not through eprintln!, so that the test harness does not
            // capture it: a skipped test must be seen.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: no single-node Slurm cluster could start on this machine ({why}); install \
                 slurm-wlm and munge and run as root (.ci/run does)"
            );
            None
        }
    }
}

fn slurm(cluster: &Cluster, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(args[0]);
    c.args(&args[1..])
        .current_dir(cwd)
        .env("SLURM_CONF", &cluster.conf);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap_or_else(|e| panic!("{}: {e}", args[0]))
}

/// Submits `sbatch` with `args` before the script from `cwd` (where the job's output goes); returns the job id.
fn submit(
    cluster: &Cluster,
    cwd: &Path,
    sbatch: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> String {
    let mut argv = vec!["sbatch", "--parsable"];
    argv.extend(args);
    argv.push(sbatch.to_str().unwrap());
    let o = slurm(cluster, cwd, &argv, env);
    assert!(o.status.success(), "{argv:?}: {}", stderr(&o));
    stdout(&o).trim().to_string()
}

/// Waits until the job has left the queue, at most `limit`.
fn wait(cluster: &Cluster, cwd: &Path, job: &str, limit: Duration) {
    let until = Instant::now() + limit;
    loop {
        let o = slurm(
            cluster,
            cwd,
            &["squeue", "-h", "-j", job, "-o", "%i %T"],
            &[],
        );
        if stdout(&o).trim().is_empty() {
            return;
        }
        assert!(
            Instant::now() < until,
            "job {job} still queued after {limit:?}: {}",
            stdout(&o)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `JobState` and `ExitCode` of a finished job, as `scontrol show job` gives them (Slurm keeps a finished job's
/// record for MinJobAge, 300 s by default; this cluster has no accounting database for `sacct`).
fn job_end(cluster: &Cluster, cwd: &Path, job: &str) -> (String, String) {
    let o = slurm(cluster, cwd, &["scontrol", "-o", "show", "job", job], &[]);
    assert!(
        o.status.success(),
        "scontrol show job {job}: {}",
        stderr(&o)
    );
    let text = stdout(&o);
    let field = |key: &str| {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in: {text}"))
            .to_string()
    };
    (field("JobState="), field("ExitCode="))
}

fn tokenmeter(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tokenmeter"))
        .args(args)
        .current_dir(cwd)
        .env("TOKENMETER_CACHE_DIR", cwd.join("cache"))
        .output()
        .expect("tokenmeter runs")
}

/// `plan SWEEP --emit slurm` of `config` (CPU nodes, run id `run_id`, results under `results`), written to `out`.
fn emit(root: &Path, config: &Path, sweep: &str, extra: &[&str], results: &Path, out: &Path) {
    let mut args = vec![
        "plan",
        sweep,
        "--config",
        config.to_str().unwrap(),
        "--emit",
        "slurm",
        "--gpus",
        "0",
        "--run-id",
        "slurm-test",
        "--results-dir",
        results.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    let o = tokenmeter(&args, root);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(out).unwrap();
    assert!(!text.contains("--gres"), "a CPU node has no GPU to ask for");
}

/// The shared directory (configuration `toml` beside models/tiny.gguf); returns the configuration's path.
fn shared_config(root: &Path, toml: &str) -> PathBuf {
    let shared = root.join("shared");
    std::fs::create_dir_all(shared.join("models")).unwrap();
    synth_tiny(&shared.join("models"), "tiny.gguf", "q4_0", 1);
    std::fs::write(shared.join("models.toml"), toml).unwrap();
    shared.join("models.toml")
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn mtimes(dir: &Path) -> Vec<(String, SystemTime)> {
    names(dir)
        .into_iter()
        .map(|n| {
            let t = std::fs::metadata(dir.join(&n)).unwrap().modified().unwrap();
            (n, t)
        })
        .collect()
}

/// `fleet status DIR`'s output, which must succeed (every shard done); the jobs' logs in `logs` otherwise.
fn status_done(root: &Path, run_dir: &Path, logs: &Path) -> String {
    let o = tokenmeter(&["fleet", "status", run_dir.to_str().unwrap()], root);
    let logs: Vec<String> = std::fs::read_dir(logs)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect();
    assert!(
        o.status.success(),
        "{}\n{}\njob logs:\n{}",
        stdout(&o),
        stderr(&o),
        logs.join("\n")
    );
    stdout(&o)
}

#[test]
fn a_slurm_job_array_runs_every_shard_and_a_resubmitted_index_adds_an_attempt() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let Some(cluster) = cluster_or_skip("a_slurm_job_array_runs_every_shard…", &root.join("slurm"))
    else {
        return;
    };
    let config = shared_config(
        root,
        "[[model]]\nname = \"tiny\"\npath = \"models/tiny.gguf\"\n\n[[sweep]]\nname = \"slurm-three\"\n\
         models = [\"tiny\"]\nn_prompt = [16, 32]\nn_gen = [8]\nrepetitions = 2\n",
    );
    let results = root.join("shared/results");
    let sbatch = root.join("tokenmeter-array.sbatch");
    emit(root, &config, "slurm-three", &[], &results, &sbatch);
    let text = std::fs::read_to_string(&sbatch).unwrap();
    assert!(text.contains("#SBATCH --array=0-2%3\n"), "{text}");

    let submit_dir = root.join("submit");
    std::fs::create_dir_all(&submit_dir).unwrap();
    let env = [
        ("TOKENMETER_ARGS", "--telemetry off"),
        ("TMPDIR", root.to_str().unwrap()),
    ];
    let job = submit(&cluster, &submit_dir, &sbatch, &[], &env);
    wait(&cluster, &submit_dir, &job, Duration::from_secs(180));

    let run_dir = results.join("slurm-test");
    let out = status_done(root, &run_dir, &submit_dir);
    assert!(out.contains("3 done, 0 failed, 0 missing"), "{out}");
    let o = tokenmeter(&["report", run_dir.to_str().unwrap()], root);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("3 result file(s)"), "{}", stdout(&o));

    // Index 1 again, as after a failure: a new attempt's file beside the first, which stays; the others are not
    // touched. The newer whole attempt counts.
    let before = mtimes(&run_dir);
    let first = before[1].0.clone();
    let writer = first.strip_suffix("-1of3.json").expect("shard 1's file");
    let job = submit(&cluster, &submit_dir, &sbatch, &["--array=1"], &env);
    wait(&cluster, &submit_dir, &job, Duration::from_secs(180));
    let after = mtimes(&run_dir);
    let again = format!("{writer}-1of3.a2.json");
    assert_eq!(
        after.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        [
            format!("{writer}-0of3.json"),
            again.clone(),
            first.clone(),
            format!("{writer}-2of3.json")
        ],
        "{after:?}"
    );
    for (name, t) in &before {
        let t1 = after.iter().find(|(n, _)| n == name).map(|(_, t)| t);
        assert_eq!(t1, Some(t), "{name} was touched");
    }
    let out = status_done(root, &run_dir, &submit_dir);
    assert!(out.contains("3 done, 0 failed, 0 missing"), "{out}");
    assert!(
        out.contains(&format!("| 1 | done | {again} | {first} |  |\n")),
        "{out}"
    );
    let o = tokenmeter(&["report", run_dir.to_str().unwrap()], root);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("3 result file(s)"), "{}", stdout(&o));
}

/// The levels of a sweep whose job is cut: each runs `LEVEL_S` seconds (`load --duration`, wall-clock bound
/// whatever the machine's speed), `LEVELS` of them, longer together than Slurm takes to cut the job.
const LEVELS: usize = 20;
const LEVEL_S: u64 = 5;

/// Slurm's smallest time limit, 1 minute, is enforced by slurmctld's time-limit check, which runs every 30 s:
/// the job is cut 60 to 90 s after it starts. The sweep lasts at least LEVELS × LEVEL_S = 100 s, so the cut
/// always falls in it. KillWait and OverTimeLimit keep Slurm's defaults (30 s, 0): tokenmeter saves within a
/// second of SIGTERM, long before the SIGKILL.
fn cut_sweep_toml() -> String {
    let rates: Vec<String> = (1..=LEVELS).map(|r| r.to_string()).collect();
    format!(
        "[[model]]\nname = \"tiny\"\npath = \"models/tiny.gguf\"\n\n[[sweep]]\nname = \"slurm-cut\"\n\
         command = \"load\"\nmodels = [\"tiny\"]\nrate = [{}]\ninput_tokens = \"8\"\noutput_tokens = \"8\"\n",
        rates.join(", ")
    )
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The rates of a result file's levels, in order.
fn rates(file: &Value) -> Vec<u64> {
    file["load"]["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rate"].as_f64().unwrap() as u64)
        .collect()
}

/// Asserts that no process runs from a job's node-local copy under `tmpdir` (waiting a few seconds for any to
/// end), and that the jobs left nothing in `tmpdir`.
fn nothing_left(tmpdir: &Path) {
    let copy = format!("{}/tokenmeter-", tmpdir.display());
    let running = || -> Vec<String> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| c.contains(&copy))
            .collect()
    };
    let until = Instant::now() + Duration::from_secs(10);
    while !running().is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(running(), Vec::<String>::new(), "processes left behind");
    assert_eq!(names(tmpdir), Vec::<String>::new(), "files left in TMPDIR");
}

/// The first attempt, cut by its time limit: what it leaves. Returns its result file.
fn check_cut(
    cluster: &Cluster,
    submit_dir: &Path,
    job: &str,
    run_dir: &Path,
    tmpdir: &Path,
) -> Value {
    let (state, exit) = job_end(cluster, submit_dir, job);
    let log = std::fs::read_to_string(submit_dir.join(format!("tokenmeter-{job}_0.out"))).unwrap();
    assert_eq!(state, "TIMEOUT", "{log}");
    assert!(log.contains("DUE TO TIME LIMIT"), "{log}");
    assert!(
        log.contains("SIGTERM: stopping the unit in flight, then saving"),
        "{log}"
    );
    // The script waits for tokenmeter and exits with its status: 143, not killed by the signal itself (0:15).
    assert_eq!(exit, "143:0", "{log}");

    let files = names(run_dir);
    assert_eq!(files.len(), 2, "{files:?}");
    let result = run_dir.join(&files[0]);
    assert!(files[0].ends_with("-0of1.json"), "{files:?}");
    assert_eq!(files[1], format!("{}.partial.jsonl", files[0]));
    let cut = read_json(&result);
    assert_eq!(cut["interrupted"], true);
    // The levels finished before the signal, in order; the one it stopped is neither measured nor failed.
    let done = rates(&cut);
    assert!(!done.is_empty() && done.len() < LEVELS, "{done:?}\n{log}");
    assert_eq!(done, (1..=done.len() as u64).collect::<Vec<_>>());
    assert_eq!(cut["failed"], serde_json::json!([]), "{log}");
    assert!(cut["load"]["levels"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["interrupted"] == false));
    // The checkpoint holds the same levels.
    let checkpoint = std::fs::read_to_string(run_dir.join(&files[1])).unwrap();
    let saved: Vec<u64> = checkpoint
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["entry"] == "level")
        .map(|e| e["rate"].as_f64().unwrap() as u64)
        .collect();
    assert_eq!(saved, done);
    nothing_left(tmpdir);
    cut
}

#[test]
fn a_job_cut_by_its_time_limit_saves_its_levels_and_the_resubmitted_index_resumes_them() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let Some(cluster) = cluster_or_skip(
        "a_job_cut_by_its_time_limit_saves_its_levels…",
        &root.join("slurm"),
    ) else {
        return;
    };
    let config = shared_config(root, &cut_sweep_toml());
    let results = root.join("shared/results");
    let sbatch = root.join("tokenmeter-array.sbatch");
    emit(
        root,
        &config,
        "slurm-cut",
        &["--shards", "1"],
        &results,
        &sbatch,
    );
    let submit_dir = root.join("submit");
    let tmpdir = root.join("tmp");
    std::fs::create_dir_all(&submit_dir).unwrap();
    std::fs::create_dir_all(&tmpdir).unwrap();
    let args = format!("--telemetry off --idle 0 --duration {LEVEL_S}s");
    let env = [
        ("TOKENMETER_ARGS", args.as_str()),
        ("TMPDIR", tmpdir.to_str().unwrap()),
    ];
    let run_dir = results.join("slurm-test");

    let job = submit(&cluster, &submit_dir, &sbatch, &["--time=1"], &env);
    wait(&cluster, &submit_dir, &job, Duration::from_secs(240));
    let cut = check_cut(&cluster, &submit_dir, &job, &run_dir, &tmpdir);
    let file = names(&run_dir)[0].clone();

    // The same index again, with the script's own time limit: `--resume auto` continues this host's attempt.
    let job = submit(&cluster, &submit_dir, &sbatch, &["--array=0"], &env);
    wait(&cluster, &submit_dir, &job, Duration::from_secs(240));
    let log = std::fs::read_to_string(submit_dir.join(format!("tokenmeter-{job}_0.out"))).unwrap();
    assert_eq!(
        job_end(&cluster, &submit_dir, &job),
        ("COMPLETED".to_string(), "0:0".to_string()),
        "{log}"
    );
    // The attempt's file, now whole; its checkpoint is gone and no other attempt began.
    assert_eq!(names(&run_dir), [file.clone()], "{log}");
    let whole = read_json(&run_dir.join(&file));
    assert_eq!(whole["interrupted"], false);
    assert_eq!(whole["failed"], serde_json::json!([]));
    assert_eq!(
        rates(&whole),
        (1..=LEVELS as u64).collect::<Vec<_>>(),
        "each level once"
    );
    // The levels measured before the cut are kept as they were, requests and all.
    let kept = cut["load"]["levels"].as_array().unwrap();
    assert_eq!(
        &whole["load"]["levels"].as_array().unwrap()[..kept.len()],
        &kept[..]
    );
    nothing_left(&tmpdir);
    let out = status_done(root, &run_dir, &submit_dir);
    assert!(out.contains("1 done, 0 failed, 0 missing"), "{out}");
    assert!(
        out.contains(&format!("| 0 | done | {file} | — |  |\n")),
        "{out}"
    );
}
