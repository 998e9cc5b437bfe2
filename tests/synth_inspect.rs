//! `synth` and `inspect` on real files, including malformed ones.

mod common;
use common::*;
use std::io::Write;

#[test]
fn same_arguments_and_seed_give_byte_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let a = std::fs::read(synth_tiny(dir.path(), "a.gguf", "q4_0", 7)).unwrap();
    let b = std::fs::read(synth_tiny(dir.path(), "b.gguf", "q4_0", 7)).unwrap();
    let c = std::fs::read(synth_tiny(dir.path(), "c.gguf", "q4_0", 8)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn dry_run_predicts_the_written_size_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for ty in ["f16", "q8_0", "q4_0"] {
        let path = synth_tiny(dir.path(), &format!("m-{ty}.gguf"), ty, 1);
        let size = std::fs::metadata(&path).unwrap().len();
        let o = tokenmeter(
            &["synth", "--shape", "tiny", "--type", ty, "--dry-run"],
            dir.path(),
        );
        assert!(o.status.success());
        assert!(
            stdout(&o).contains(&format!("({size} bytes)")),
            "{ty}: {}",
            stdout(&o)
        );
    }
    let o = tokenmeter(
        &[
            "synth",
            "--shape",
            "llama-3.1-70b",
            "--type",
            "q4_0",
            "--dry-run",
        ],
        dir.path(),
    );
    assert!(o.status.success());
    assert!(stdout(&o).contains("70.55 B parameters"), "{}", stdout(&o));
}

#[test]
fn inspect_reports_what_synth_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let path = synth_tiny(dir.path(), "t.gguf", "q8_0", 3);
    let o = tokenmeter(&["inspect", path.to_str().unwrap(), "--json"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["architecture"], "llama");
    assert_eq!(v["block_count"], 2);
    assert_eq!(v["embedding_length"], 64);
    assert_eq!(v["vocab_size"], 512);
    assert_eq!(v["context_length"], 2048);
    assert_eq!(
        v["file_size_bytes"],
        std::fs::metadata(&path).unwrap().len()
    );
    assert_eq!(v["tensor_types"]["Q8_0"]["n_tensors"], 2 + 2 * 7);
    assert_eq!(v["tensor_types"]["F32"]["n_tensors"], 1 + 2 * 2);
    assert_eq!(v["metadata"]["tokenmeter.synth.seed"], "3");
    assert_eq!(v["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn overrides_change_the_shape() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.gguf");
    let o = tokenmeter(
        &[
            "synth",
            "--shape",
            "tiny",
            "--layers",
            "3",
            "--vocab",
            "300",
            "-o",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = tokenmeter(&["inspect", out.to_str().unwrap(), "--json"], dir.path());
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["block_count"], 3);
    assert_eq!(v["vocab_size"], 300);
}

#[test]
fn invalid_shape_override_is_rejected_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = tokenmeter(
        &["synth", "--shape", "tiny", "--heads", "3", "--dry-run"],
        dir.path(),
    );
    assert_one_line_error(&o, "heads");
    let o = tokenmeter(&["synth", "--shape", "gpt-9", "--dry-run"], dir.path());
    assert_one_line_error(&o, "gpt-9");
}

/// The malformed files every reader of models must reject: (file name, bytes, expected words).
pub fn malformed_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, &'static str)> {
    let good = std::fs::read(synth_tiny(dir, "good.gguf", "q4_0", 1)).unwrap();
    let mut out = Vec::new();
    let mut put = |name: &str, bytes: &[u8], words: &'static str| {
        let p = dir.join(name);
        std::fs::File::create(&p).unwrap().write_all(bytes).unwrap();
        out.push((p, words));
    };
    put("empty.gguf", &[], "empty");
    put(
        "text.gguf",
        b"this is not a model at all, just some text\n",
        "not a GGUF",
    );
    put("header-cut.gguf", &good[..100], "truncated");
    put("data-cut.gguf", &good[..good.len() - 1000], "truncated");
    out
}

#[test]
fn truncated_empty_and_foreign_files_are_rejected_by_inspect_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for (path, words) in malformed_files(dir.path()) {
        let o = tokenmeter(&["inspect", path.to_str().unwrap()], dir.path());
        assert_one_line_error(&o, words);
        assert_one_line_error(&o, path.file_name().unwrap().to_str().unwrap());
    }
}

#[test]
fn truncated_empty_and_foreign_files_are_rejected_by_bench_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for (path, words) in malformed_files(dir.path()) {
        let o = tokenmeter(
            &[
                "bench",
                "-m",
                path.to_str().unwrap(),
                "-p",
                "8",
                "-n",
                "0",
                "-r",
                "1",
            ],
            dir.path(),
        );
        assert_one_line_error(&o, words);
        assert_one_line_error(&o, path.file_name().unwrap().to_str().unwrap());
    }
}

#[test]
fn missing_model_name_is_rejected_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let o = tokenmeter(&["bench", "-m", "no-such-model"], dir.path());
    assert_one_line_error(&o, "no-such-model");
}
