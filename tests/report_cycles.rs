//! `report` over a directory tree whose symbolic links loop back: each directory and result file is read once,
//! and the link that loops is named among the files left out.

mod common;

use common::{stderr, stdout, tokenmeter};
use std::path::Path;

fn repo(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

#[cfg(unix)]
#[test]
fn a_symlink_to_a_parent_directory_is_read_once_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let sub = runs.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::copy(
        repo("results/reference/telemetry-cpu-qwen2.5-0.5b-q4_0/bench.json"),
        runs.join("bench.json"),
    )
    .unwrap();
    std::fs::copy(
        repo("results/reference/telemetry-cpu-qwen2.5-0.5b-q4_0/load.json"),
        sub.join("load.json"),
    )
    .unwrap();
    std::os::unix::fs::symlink("..", sub.join("parent")).unwrap();

    let o = tokenmeter(&["report", "runs"], tmp.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = stdout(&o);
    let read: Vec<&str> = page.lines().filter(|l| l.starts_with("- read: ")).collect();
    assert_eq!(read.len(), 2, "{page}");
    assert!(page.contains("2 result file(s)"), "{page}");
    let left_out: Vec<&str> = page
        .lines()
        .filter(|l| l.starts_with("- left out: "))
        .collect();
    let canonical = std::fs::canonicalize(&runs).unwrap();
    assert_eq!(
        left_out,
        [format!(
            "- left out: runs/sub/parent: the directory {} again (a symbolic link cycle or a second link to it; \
             read once)",
            canonical.display()
        )],
        "{page}"
    );
}
