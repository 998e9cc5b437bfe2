//! Sweeps across a fleet: `plan`, `--sweep --shard`, the result files' names and provenance, `fleet status`, and
//! the emitted Slurm script and Kubernetes manifest.

mod common;

use common::{assert_one_line_error, stderr, stdout, synth_tiny};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tokenmeter"));
    c.args(args)
        .current_dir(cwd)
        .env("TOKENMETER_CACHE_DIR", cwd.join("cache"))
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("SLURM_ARRAY_TASK_COUNT")
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("TOKENMETER_SHARD_COUNT")
        .env_remove("TOKENMETER_RUN_ID");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("tokenmeter runs")
}

/// A configuration with the tiny model (as a file, so no synthesis) and two sweeps.
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    std::fs::write(
        dir.path().join("models.toml"),
        r#"
[[model]]
name = "tiny"
path = "tiny.gguf"

[[model]]
name = "tiny-b"
path = "tiny.gguf"

[[sweep]]
name = "three"
models = ["tiny"]
n_prompt = [16, 32]
n_gen = [8]
repetitions = 1

[[sweep]]
name = "two-models"
models = ["tiny", "tiny-b"]
n_prompt = [16]
n_gen = [8]
repetitions = 1

[[sweep]]
name = "levels"
command = "load"
models = ["tiny", "tiny-b"]
concurrency = [1, 2]
input_tokens = "8"
output_tokens = "4"
requests = 4
"#,
    )
    .unwrap();
    dir
}

const QUIET: [&str; 4] = ["--telemetry", "off", "-o", "json"];

fn shard(dir: &Path, sweep: &str, s: &str, extra: &[&str]) -> Output {
    let mut args = vec!["bench", "--sweep", sweep, "--shard", s, "--run-id", "r1"];
    args.extend_from_slice(&QUIET);
    args.extend_from_slice(extra);
    run(&args, dir, &[])
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn plan_lists_one_shard_per_case_or_per_model_with_an_estimate() {
    let d = setup();
    let o = run(&["plan", "two-models", "-o", "json"], d.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let shards = p["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 4);
    let labels: Vec<&str> = shards
        .iter()
        .map(|s| s["cases"][0]["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["pp16", "tg8", "pp16", "tg8"]);
    assert!(shards
        .iter()
        .all(|s| s["estimate_s"].as_f64().unwrap() > 0.0));

    let o = run(&["plan", "two-models", "--per", "model"], d.path(), &[]);
    let text = stdout(&o);
    assert!(text.contains("2 shard(s), one per model"), "{text}");
    assert!(text.contains("| 1 | tiny-b | pp16, tg8 |"), "{text}");
}

#[test]
fn shards_write_one_file_each_under_the_run_id_and_status_counts_them() {
    let d = setup();
    for i in 0..3 {
        let o = shard(d.path(), "three", &format!("{i}/3"), &[]);
        assert!(o.status.success(), "shard {i}: {}", stderr(&o));
    }
    let run_dir = d.path().join("results/r1");
    let names = files(&run_dir);
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.iter().all(|n| n.contains("-cpu-")), "{names:?}");
    // Each file holds its own case and records the shard.
    let mut tests = Vec::new();
    for n in &names {
        let r = json(&run_dir.join(n));
        assert_eq!(r["parameters"]["fleet"]["shard"]["count"], 3);
        assert_eq!(r["parameters"]["fleet"]["sweep"], "three");
        assert_eq!(r["parameters"]["fleet"]["run_id"], "r1");
        tests.push(r["cases"][0]["test"].as_str().unwrap().to_string());
    }
    assert_eq!(tests, ["pp16", "pp32", "tg8"]);

    let o = run(&["fleet", "status", "results/r1"], d.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("3 done, 0 failed, 0 missing"),
        "{}",
        stdout(&o)
    );

    let o = run(&["report", "results/r1"], d.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("3 result file(s)"), "{}", stdout(&o));

    // A missing shard: exit 1, named for re-submission.
    std::fs::remove_file(run_dir.join(&names[1])).unwrap();
    let o = run(&["fleet", "status", "results/r1"], d.path(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("2 done, 0 failed, 1 missing"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("--array=1 "), "{}", stdout(&o));
}

#[test]
fn a_whole_attempt_counts_over_a_newer_failed_one_from_another_host_and_nothing_is_deleted() {
    let d = setup();
    for i in 0..3 {
        let o = shard(d.path(), "three", &format!("{i}/3"), &[]);
        assert!(o.status.success(), "shard {i}: {}", stderr(&o));
    }
    let run_dir = d.path().join("results/r1");
    let whole = files(&run_dir)
        .into_iter()
        .find(|n| n.ends_with("-1of3.json"))
        .unwrap();
    // Host A's attempt at shard 1: its case failed, and it finished after this host's whole one.
    let mut failed = json(&run_dir.join(&whole));
    failed["host"]["hostname"] = "host-a".into();
    failed["finished_at"] = "2099-01-01T00:00:00Z".into();
    failed["cases"] = serde_json::json!([]);
    failed["failed"] = serde_json::json!([{
        "label": "pp32",
        "parameters": {},
        "reason": "worker killed by signal 9",
        "stderr_tail": []
    }]);
    std::fs::write(
        run_dir.join("host-a-cpu-1of3.json"),
        serde_json::to_string_pretty(&failed).unwrap(),
    )
    .unwrap();
    let before = files(&run_dir);
    assert_eq!(before.len(), 4, "{before:?}");

    let o = run(&["fleet", "status", "results/r1"], d.path(), &[]);
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("3 done, 0 failed, 0 missing"), "{text}");
    assert!(
        text.contains(&format!(
            "| 1 | done | {whole} | host-a-cpu-1of3.json |  |\n"
        )),
        "{text}"
    );

    // `report` reads the three files that count and names the one left out.
    let o = run(&["report", "results/r1"], d.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = stdout(&o);
    assert!(page.contains("3 result file(s)"), "{page}");
    assert!(
        page.contains(&format!(
            "host-a-cpu-1of3.json: superseded by results/r1/{whole}, the attempt at shard 1/3 of run r1 that counts"
        )),
        "{page}"
    );

    // Running shard 1 again, as the emitted scripts do, removes nothing.
    let o = shard(d.path(), "three", "1/3", &["--resume", "auto"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!d.path().join("auto").exists());
    let after = files(&run_dir);
    for n in &before {
        assert!(after.contains(n), "{n} was removed: {after:?}");
    }
    assert_eq!(
        json(&run_dir.join("host-a-cpu-1of3.json"))["finished_at"],
        "2099-01-01T00:00:00Z"
    );
}

#[test]
fn with_only_failed_attempts_the_index_is_failed_and_every_attempt_is_listed() {
    let d = setup();
    let o = shard(d.path(), "three", "0/1", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let run_dir = d.path().join("results/r1");
    let mine = files(&run_dir).pop().unwrap();
    let mut r = json(&run_dir.join(&mine));
    r["interrupted"] = true.into();
    std::fs::write(run_dir.join(&mine), r.to_string()).unwrap();
    r["host"]["hostname"] = "host-b".into();
    r["interrupted"] = false.into();
    r["cases"] = serde_json::json!([]);
    std::fs::write(run_dir.join("host-b-cpu-0of1.a2.json"), r.to_string()).unwrap();

    let o = run(&["fleet", "status", "results/r1"], d.path(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("0 done, 1 failed, 0 missing"), "{text}");
    assert!(text.contains("--array=0 "), "{text}");
    let row = text.lines().find(|l| l.starts_with("| 0 |")).unwrap();
    assert!(row.contains(&format!("{mine} (interrupted)")), "{row}");
    assert!(
        row.contains("host-b-cpu-0of1.a2.json (nothing measured)"),
        "{row}"
    );
    assert_eq!(files(&run_dir).len(), 2);
}

#[test]
fn shard_auto_reads_the_slurm_and_kubernetes_indexes() {
    let d = setup();
    let mut args = vec!["bench", "--sweep", "three", "--shard", "auto"];
    args.extend_from_slice(&QUIET);
    let o = run(
        &args,
        d.path(),
        &[
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
            ("TOKENMETER_RUN_ID", "slurm-run"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let names = files(&d.path().join("results/slurm-run"));
    assert!(names[0].ends_with("-2of3.json"), "{names:?}");

    let o = run(
        &args,
        d.path(),
        &[
            ("JOB_COMPLETION_INDEX", "0"),
            ("TOKENMETER_SHARD_COUNT", "3"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // The run id defaults to the sweep's name.
    let names = files(&d.path().join("results/three"));
    assert!(names[0].ends_with("-0of3.json"), "{names:?}");

    let o = run(&args, d.path(), &[("JOB_COMPLETION_INDEX", "0")]);
    assert_one_line_error(&o, "TOKENMETER_SHARD_COUNT");
}

#[test]
fn per_model_shards_read_only_their_own_model() {
    let d = setup();
    let o = shard(d.path(), "two-models", "1/2", &["--per", "model"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = d.path().join("results/r1");
    let r = json(&dir.join(&files(&dir)[0]));
    assert_eq!(r["cases"].as_array().unwrap().len(), 2);
    assert_eq!(r["parameters"]["fleet"]["per"], "model");
}

#[test]
fn load_shards_take_their_levels() {
    let d = setup();
    let o = run(
        &[
            "load", "--sweep", "levels", "--shard", "3/4", "--run-id", "l",
        ]
        .into_iter()
        .chain(QUIET)
        .collect::<Vec<_>>(),
        d.path(),
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = d.path().join("results/l");
    let r = json(&dir.join(&files(&dir)[0]));
    let levels = r["load"]["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 1);
    assert_eq!(levels[0]["concurrency"], 2);
    // Two shards of four (model, level) units would mix the models: refused.
    let o = run(
        &["load", "--sweep", "levels", "--shard", "0/3"]
            .into_iter()
            .chain(QUIET)
            .collect::<Vec<_>>(),
        d.path(),
        &[],
    );
    assert_one_line_error(&o, "several models");
}

#[test]
fn bad_shards_and_sweeps_are_input_errors() {
    let d = setup();
    assert_one_line_error(&shard(d.path(), "three", "3/3", &[]), "not below");
    assert_one_line_error(&shard(d.path(), "three", "3/4", &[]), "holds no case");
    assert_one_line_error(
        &shard(d.path(), "nope", "0/1", &[]),
        "no [[sweep]] named 'nope'",
    );
    assert_one_line_error(
        &shard(d.path(), "levels", "0/1", &[]),
        "tokenmeter load --sweep levels",
    );
    assert_one_line_error(
        &run(&["plan", "three", "--shards", "4"], d.path(), &[]),
        "--shards 4",
    );
    assert_one_line_error(
        &run(&["bench", "-m", "tiny", "--resume", "auto"], d.path(), &[]),
        "--resume auto resumes a shard's checkpoint",
    );
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `plan fleet-example --emit KIND` with the committed files' paths.
fn emitted(kind: &str) -> String {
    let root = repo();
    let o = run(
        &[
            "plan",
            "fleet-example",
            "--config",
            root.join("models.toml").to_str().unwrap(),
            "--emit",
            kind,
            "--binary",
            "/shared/bin/tokenmeter",
            "--results-dir",
            "/shared/results",
            "--run-id",
            "fleet-example-1",
        ],
        &root,
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o).replace(
        root.join("models.toml").to_str().unwrap(),
        "/shared/tokenmeter/models.toml",
    )
}

#[test]
fn the_committed_slurm_script_is_what_plan_emits() {
    let committed =
        std::fs::read_to_string(repo().join("scripts/slurm/tokenmeter-array.sbatch")).unwrap();
    let text = emitted("slurm");
    assert_eq!(
        text, committed,
        "regenerate with the command in docs/plan.md"
    );
    assert!(text.contains("#SBATCH --array=0-3%4\n"));
    assert!(text.contains("#SBATCH --gres=gpu:1\n"));
    assert!(text.contains("--shard auto --resume auto "), "{text}");
    assert!(text.contains("#SBATCH --requeue\n"), "{text}");
}

#[test]
fn the_committed_kubernetes_manifest_is_what_plan_emits() {
    let committed =
        std::fs::read_to_string(repo().join("deploy/kubernetes/tokenmeter-indexed-job.yaml"))
            .unwrap();
    assert_eq!(emitted("kubernetes"), committed);
}

#[test]
fn the_kubernetes_manifest_has_the_job_apis_required_fields() {
    use serde::Deserialize;
    let text = emitted("kubernetes");
    let docs: Vec<serde_norway::Value> = serde_norway::Deserializer::from_str(&text)
        .map(|d| serde_norway::Value::deserialize(d).unwrap())
        .collect();
    assert_eq!(docs.len(), 2);
    let job = &docs[0];
    let s = |v: &serde_norway::Value| v.as_str().unwrap_or_default().to_string();
    assert_eq!(s(&job["apiVersion"]), "batch/v1");
    assert_eq!(s(&job["kind"]), "Job");
    assert!(!s(&job["metadata"]["name"]).is_empty());
    let spec = &job["spec"];
    assert_eq!(s(&spec["completionMode"]), "Indexed");
    assert_eq!(spec["completions"].as_u64(), Some(4));
    assert!(spec["parallelism"].as_u64().unwrap() >= 1);
    let pod = &spec["template"]["spec"];
    // A Job's pods must not restart in place: Never or OnFailure.
    assert!(["Never", "OnFailure"].contains(&s(&pod["restartPolicy"]).as_str()));
    assert!(!s(&pod["nodeSelector"]["nvidia.com/gpu.product"]).is_empty());
    let containers = pod["containers"].as_sequence().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    assert!(!s(&c["name"]).is_empty() && !s(&c["image"]).is_empty());
    assert_eq!(c["resources"]["limits"]["nvidia.com/gpu"].as_u64(), Some(1));
    let args: Vec<String> = c["args"].as_sequence().unwrap().iter().map(s).collect();
    assert!(
        args.windows(2).any(|w| w == ["--shard", "auto"]),
        "{args:?}"
    );
    assert!(
        args.windows(2).any(|w| w == ["--resume", "auto"]),
        "{args:?}"
    );
    let env = c["env"].as_sequence().unwrap();
    let count = env
        .iter()
        .find(|e| s(&e["name"]) == "TOKENMETER_SHARD_COUNT")
        .map(|e| s(&e["value"]))
        .unwrap();
    assert_eq!(count, "4", "the shard count equals spec.completions");
    // Every mount names a volume, and the results volume is a claim that is ReadWriteMany.
    let volumes = pod["volumes"].as_sequence().unwrap();
    for m in c["volumeMounts"].as_sequence().unwrap() {
        assert!(volumes.iter().any(|v| v["name"] == m["name"]), "{m:?}");
    }
    let results = volumes.iter().find(|v| s(&v["name"]) == "results").unwrap();
    let claim = s(&results["persistentVolumeClaim"]["claimName"]);
    let pvc = &docs[1];
    assert_eq!(s(&pvc["kind"]), "PersistentVolumeClaim");
    assert_eq!(s(&pvc["metadata"]["name"]), claim);
    assert_eq!(s(&pvc["spec"]["accessModes"][0]), "ReadWriteMany");
}

#[test]
fn status_of_a_run_nothing_has_written_to_takes_the_count_from_the_sweep() {
    let d = setup();
    std::fs::create_dir_all(d.path().join("results/empty")).unwrap();
    let o = run(&["fleet", "status", "results/empty"], d.path(), &[]);
    assert_one_line_error(&o, "--shards N");
    let o = run(
        &["fleet", "status", "results/empty", "--sweep", "three"],
        d.path(),
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("0 done, 0 failed, 3 missing"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("--array=0,1,2 "), "{}", stdout(&o));
}
