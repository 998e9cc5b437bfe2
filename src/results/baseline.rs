//! Named baselines: a result file kept as `<dir>/<NAME>.json` for later runs to be compared with. This module owns
//! the name rules, the path a name resolves to, saving (atomically, over an older baseline of that name), listing,
//! and which results are fit to become one.

use super::file::{ResultFile, ResultFileError};
use std::path::{Path, PathBuf};

/// Where `--save-baseline` keeps baselines unless `--baseline-dir` says otherwise (relative to the working
/// directory, beside the default `results/` directory of result files).
pub const DEFAULT_DIR: &str = "results/baselines";

/// A name is one plain file stem: not empty, no path separator, no leading dot (no hidden files, no `..`).
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a baseline name must not be empty".into());
    }
    if name.contains('/') || name.contains('\\') {
        return Err(format!(
            "baseline name '{name}' must not contain a path separator"
        ));
    }
    if name.starts_with('.') {
        return Err(format!("baseline name '{name}' must not start with '.'"));
    }
    if name.chars().any(char::is_control) {
        return Err(format!(
            "baseline name {name:?} must not contain control characters"
        ));
    }
    Ok(())
}

/// `<dir>/<name>.json`, once `name` is valid.
pub fn baseline_path(dir: &Path, name: &str) -> Result<PathBuf, String> {
    validate_name(name)?;
    Ok(dir.join(format!("{name}.json")))
}

/// Writes `result` as the baseline `name` under `dir` (created if missing), replacing any older one atomically;
/// returns the baseline's path.
pub fn save(result: &ResultFile, dir: &Path, name: &str) -> Result<PathBuf, ResultFileError> {
    let path = baseline_path(dir, name).map_err(|what| ResultFileError::Io {
        path: dir.to_path_buf(),
        what,
    })?;
    result.write(&path)?;
    Ok(path)
}

/// The names of the baselines under `dir`, sorted; none when `dir` does not exist or cannot be read.
pub fn list(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let file_name = e.file_name().into_string().ok()?;
            let stem = file_name.strip_suffix(".json")?;
            validate_name(stem).ok()?;
            Some(stem.to_string())
        })
        .collect();
    names.sort();
    names
}

/// Why `result` must not become a baseline, if it must not: a run that was interrupted, had failed cases or
/// levels, left a case unfinished, or measured nothing would silently lower the bar later runs are held to.
pub fn unfit(result: &ResultFile) -> Option<String> {
    if result.interrupted {
        return Some("the run was interrupted".into());
    }
    if !result.failed.is_empty() {
        return Some(format!(
            "{} case(s) or level(s) failed",
            result.failed.len()
        ));
    }
    let unfinished = result.cases.iter().filter(|c| !c.complete).count();
    if unfinished > 0 {
        return Some(format!("{unfinished} case(s) did not finish"));
    }
    let levels = result.load.as_ref().map_or(0, |l| l.levels.len());
    if result.cases.is_empty() && levels == 0 {
        return Some("nothing was measured".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_valid() {
        for name in ["ci-tiny", "main_2026-11-25", "v1.2", "a"] {
            assert_eq!(validate_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn empty_separated_and_dotted_names_are_refused() {
        for name in ["", "a/b", "/abs", "a\\b", ".hidden", "..", ".", "x\ny"] {
            assert!(validate_name(name).is_err(), "{name:?} accepted");
        }
    }

    #[test]
    fn a_name_resolves_to_a_json_file_in_the_directory() {
        assert_eq!(
            baseline_path(Path::new("results/baselines"), "ci-tiny"),
            Ok(PathBuf::from("results/baselines/ci-tiny.json"))
        );
        assert!(baseline_path(Path::new("d"), "../x").is_err());
    }

    #[test]
    fn list_names_the_json_files_sorted_and_skips_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["b.json", "a.json", ".tmpXYZ", "notes.txt", ".hidden.json"] {
            std::fs::write(dir.path().join(f), "{}").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.json")).unwrap();
        assert_eq!(list(dir.path()), ["a", "b"]);
        assert!(list(&dir.path().join("missing")).is_empty());
    }
}
