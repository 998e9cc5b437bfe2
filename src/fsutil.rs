//! Atomic file creation: write into a temporary file beside the destination, then rename it into place, so a
//! reader never sees a partial file.

use std::io;
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

/// The prefix of a temporary file this process writes beside a destination: `.tokenmeter-tmp-<pid>-`, so that
/// one a killed process left is recognised as stale (`runner::cleanup`).
pub const TEMP_PREFIX: &str = ".tokenmeter-tmp-";

/// A temporary file in the directory `path` will live in (created if missing), named after this process.
pub fn temp_beside(path: &Path) -> io::Result<NamedTempFile> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    tempfile::Builder::new()
        .prefix(&format!("{TEMP_PREFIX}{}-", std::process::id()))
        .tempfile_in(&dir)
}

/// Flushes `tmp` to disk, gives it ordinary file permissions (0644) and renames it to `path`.
pub fn persist(tmp: NamedTempFile, path: &Path) -> io::Result<()> {
    tmp.as_file().sync_all()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut tmp = temp_beside(path)?;
    tmp.write_all(bytes)?;
    persist(tmp, path)
}

/// `s` as one part of a file name that reads the same on every file system: lower-case ASCII letters, digits,
/// `.` and `_`, with every run of other characters (`-` included) made one `-`, and no `-` at either end. Never
/// empty, `.` or `..`: those become `_`.
pub fn file_name_part(s: &str) -> String {
    file_name_part_or(s, "_")
}

/// [`file_name_part`], with `fallback` (itself made a file name part) in place of an empty, `.` or `..` result.
pub fn file_name_part_or(s: &str, fallback: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-');
    if matches!(out, "" | "." | "..") {
        if fallback == "_" {
            "_".into()
        } else {
            file_name_part_or(fallback, "_")
        }
    } else {
        out.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_name_part_is_lower_case_with_single_inner_dashes() {
        assert_eq!(file_name_part("gpu-node07"), "gpu-node07");
        assert_eq!(
            file_name_part("NVIDIA H100 80GB HBM3"),
            "nvidia-h100-80gb-hbm3"
        );
        assert_eq!(file_name_part("Llama-3.1-8B-Q4_K_M"), "llama-3.1-8b-q4_k_m");
        assert_eq!(file_name_part("--a / b--"), "a-b");
        assert_eq!(file_name_part("a---b"), "a-b");
        assert_eq!(file_name_part("node.example.org"), "node.example.org");
        assert_eq!(file_name_part("Grüße"), "gr-e");
    }

    #[test]
    fn a_file_name_part_never_leaves_its_directory_and_is_never_empty() {
        assert_eq!(file_name_part("../../etc/passwd"), "..-..-etc-passwd");
        assert_eq!(file_name_part("a/b\\c"), "a-b-c");
        for s in ["", "-", "///", ".", "..", " .. ", "日本"] {
            assert_eq!(file_name_part(s), "_", "{s:?}");
        }
        assert_eq!(file_name_part_or("", "cpu"), "cpu");
        assert_eq!(file_name_part_or("..", "Unknown Host"), "unknown-host");
        assert_eq!(file_name_part_or("", "/"), "_");
        assert_eq!(file_name_part_or("x", "cpu"), "x");
    }
}
