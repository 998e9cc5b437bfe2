//! Temporary files and directories that never outlive a run. A run's own are named after its process
//! (`tokenmeter-<purpose>-<pid>-…` in the system's temporary directory, `.tokenmeter-tmp-<pid>-…` beside a result
//! being written) and removed when it ends, a signal included; those a process killed with SIGKILL left behind
//! are found by their dead process id and removed when the next run starts.

use crate::fsutil::TEMP_PREFIX;
use std::path::Path;

/// The prefix of a run's temporary directories in the system's temporary directory.
const DIR_PREFIX: &str = "tokenmeter-";

/// A temporary directory for `purpose` (`numerics`), removed when dropped.
pub fn temp_dir(purpose: &str) -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(&format!("{DIR_PREFIX}{purpose}-{}-", std::process::id()))
        .tempdir()
}

/// Whether a process `pid` is running.
fn alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 sends nothing; it only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The process id in a temporary name `<prefix><purpose>-<pid>-<random>` (`purpose` empty for files beside a
/// result), when the name is one of ours.
fn owner(name: &str, prefix: &str, with_purpose: bool) -> Option<i32> {
    let rest = name.strip_prefix(prefix)?;
    let mut parts = rest.split('-');
    if with_purpose {
        parts.next()?;
    }
    parts.next()?.parse().ok().filter(|&p| p > 0)
}

/// Removes what dead tokenmeter processes left in `dir`: temporary directories (`tokenmeter-<purpose>-<pid>-…`)
/// and files (`.tokenmeter-tmp-<pid>-…`). Returns what was removed. A missing or unreadable directory holds
/// nothing to remove.
pub fn remove_stale(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let (pid, is_dir) = match owner(&name, TEMP_PREFIX, false) {
            Some(p) => (p, false),
            None => match owner(&name, DIR_PREFIX, true) {
                Some(p) => (p, true),
                None => continue,
            },
        };
        if alive(pid) {
            continue;
        }
        let path = e.path();
        let gone = if is_dir {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        if gone.is_ok() {
            removed.push(path);
        }
    }
    removed
}

/// Removes what dead runs left in the system's temporary directory and in `results_dir`.
pub fn remove_stale_of_runs(results_dir: &Path) -> Vec<std::path::PathBuf> {
    let mut removed = remove_stale(&std::env::temp_dir());
    removed.extend(remove_stale(results_dir));
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_dead_process_left_is_removed_and_a_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        // A process id no process has: above the kernel's largest.
        let dead = 4_194_304 + 17;
        let me = std::process::id();
        let stale_dir = dir.path().join(format!("tokenmeter-numerics-{dead}-abc"));
        std::fs::create_dir(&stale_dir).unwrap();
        std::fs::write(stale_dir.join("reference-0.json"), "{}").unwrap();
        let stale_file = dir.path().join(format!(".tokenmeter-tmp-{dead}-xyz"));
        std::fs::write(&stale_file, "partial").unwrap();
        let live = dir.path().join(format!(".tokenmeter-tmp-{me}-xyz"));
        std::fs::write(&live, "being written").unwrap();
        let other = dir.path().join("tokenmeter-notes.txt");
        std::fs::write(&other, "not ours").unwrap();
        let mut removed = remove_stale(dir.path());
        removed.sort();
        let mut expected = vec![stale_file, stale_dir];
        expected.sort();
        assert_eq!(removed, expected);
        assert!(live.exists() && other.exists());
    }

    #[test]
    fn a_temporary_directory_names_its_process() {
        let d = temp_dir("numerics").unwrap();
        let name = d.path().file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(
            owner(&name, DIR_PREFIX, true),
            Some(std::process::id() as i32)
        );
    }
}
