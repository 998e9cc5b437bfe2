//! `--save-baseline`: a whole run's result file is also kept as `<baseline-dir>/NAME.json`, replacing an older one
//! atomically; bad names are refused before anything runs; a run that is not whole is not saved as a baseline.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

fn bench(dir: &Path, model: &Path, n_prompt: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "bench",
        "-m",
        model.to_str().unwrap(),
        "-p",
        n_prompt,
        "-n",
        "4",
        "-r",
        "2",
        "-t",
        "1",
        "--idle",
        "0",
    ];
    args.extend_from_slice(extra);
    tokenmeter(&args, dir)
}

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

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn save_baseline_keeps_the_result_file_under_the_default_directory() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let out = dir.path().join("r.json");
    let o = bench(
        dir.path(),
        &model,
        "8",
        &["--out", out.to_str().unwrap(), "--save-baseline", "ci-tiny"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let saved = dir.path().join("results/baselines/ci-tiny.json");
    assert!(
        stderr(&o).contains("baseline: results/baselines/ci-tiny.json"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read(&saved).unwrap(),
        std::fs::read(&out).unwrap(),
        "the baseline is the result file"
    );
    assert_eq!(tests_of(&read(&saved)), ["pp8", "tg4"]);
}

#[test]
fn saving_again_replaces_the_baseline_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let baselines = dir.path().join("bl");
    let save = [
        "--baseline-dir",
        baselines.to_str().unwrap(),
        "--save-baseline",
        "main",
    ];
    let o = bench(dir.path(), &model, "8", &save);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        tests_of(&read(&baselines.join("main.json"))),
        ["pp8", "tg4"]
    );

    let o = bench(dir.path(), &model, "16", &save);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        tests_of(&read(&baselines.join("main.json"))),
        ["pp16", "tg4"]
    );
    assert_eq!(entries(&baselines), ["main.json"]);
}

#[test]
fn bad_baseline_names_are_refused_with_exit_2_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    for name in ["", "a/b", "../up", ".hidden", "a\\b"] {
        let o = bench(dir.path(), &model, "8", &["--save-baseline", name]);
        assert_one_line_error(&o, "--save-baseline");
    }
    let o = tokenmeter(
        &[
            "load",
            "-m",
            model.to_str().unwrap(),
            "--save-baseline",
            "x/y",
        ],
        dir.path(),
    );
    assert_one_line_error(&o, "--save-baseline");
    assert!(!dir.path().join("results").exists(), "nothing ran");
}

#[test]
fn a_run_with_a_failed_case_keeps_its_result_but_is_not_saved_as_the_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("tiny-long.gguf");
    let o = tokenmeter(
        &[
            "synth",
            "--shape",
            "tiny",
            "--ctx",
            "131072",
            "-o",
            long.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("r.json");
    let o = tokenmeter(
        &[
            "bench",
            "-m",
            long.to_str().unwrap(),
            "-t",
            "1",
            "-r",
            "2",
            "-p",
            "0",
            "-n",
            "100000,4",
            "--idle",
            "0",
            "--case-timeout",
            "1s",
            "--out",
            out.to_str().unwrap(),
            "--save-baseline",
            "main",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(tests_of(&read(&out)), ["tg4"]);
    let refused: Vec<String> = stderr(&o)
        .lines()
        .filter(|l| l.contains("baseline 'main' not saved"))
        .map(str::to_string)
        .collect();
    assert_eq!(refused.len(), 1, "{}", stderr(&o));
    assert!(refused[0].starts_with("warning: "), "{}", refused[0]);
    assert!(refused[0].contains("failed"), "{}", refused[0]);
    assert!(!dir.path().join("results/baselines").exists());
}

#[test]
fn load_saves_its_result_as_a_baseline_too() {
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
            "1",
            "--requests",
            "2",
            "--input-tokens",
            "8",
            "--output-tokens",
            "4",
            "--idle",
            "0",
            "--out",
            out.to_str().unwrap(),
            "--save-baseline",
            "serve",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let saved = dir.path().join("results/baselines/serve.json");
    assert_eq!(std::fs::read(&saved).unwrap(), std::fs::read(&out).unwrap());
    assert_eq!(read(&saved)["kind"], "load");
}
