//! Helpers shared by the integration tests: run the real binary, synthesize tiny models.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn tokenmeter(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tokenmeter"))
        .args(args)
        .current_dir(cwd)
        .env("TOKENMETER_CACHE_DIR", cwd.join("cache"))
        .output()
        .expect("tokenmeter runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Synthesizes the `tiny` shape into `dir/name` and returns its path.
pub fn synth_tiny(dir: &Path, name: &str, weight_type: &str, seed: u64) -> PathBuf {
    let path = dir.join(name);
    let o = tokenmeter(
        &[
            "synth",
            "--shape",
            "tiny",
            "--type",
            weight_type,
            "--seed",
            &seed.to_string(),
            "-o",
            path.to_str().unwrap(),
        ],
        dir,
    );
    assert!(o.status.success(), "synth failed: {}", stderr(&o));
    path
}

/// Asserts the command failed with exit code 2 and exactly one line on stderr naming `needle`.
pub fn assert_one_line_error(o: &Output, needle: &str) {
    assert_eq!(o.status.code(), Some(2), "stderr: {}", stderr(o));
    let err = stderr(o);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(lines[0].contains(needle), "'{needle}' not in: {err}");
}

/// `tokenmeter cost -o json` of the load result at `result` on the cost fixture's `cpu-box` and `chat` workload
/// (`tests/fixtures/cost/models.toml`), shapes allowed to differ; its JSON, after asserting it succeeded.
pub fn cost_of_load(result: &Path, cwd: &Path) -> serde_json::Value {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cost/models.toml");
    let o = tokenmeter(
        &[
            "cost",
            "--config",
            config.to_str().unwrap(),
            "--result",
            result.to_str().unwrap(),
            "--hardware",
            "cpu-box",
            "--workload",
            "chat",
            "--allow-shape-mismatch",
            "-o",
            "json",
        ],
        cwd,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}
