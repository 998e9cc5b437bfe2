//! The checkpoint beside a result file, `<result>.partial.jsonl`: every finished case (or level, or failure) is
//! appended as one JSON line and synced to disk before the next one starts, so a killed run loses at most the
//! case in flight. `--resume <result>` reads it back, skipping a corrupt or half-written line with a warning, and
//! the run measures only what is not there yet. It is removed once the whole result file is written.

use crate::results::load::LevelRecord;
use crate::results::{CaseRecord, FailedCase, Warning};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One line of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
pub enum Entry {
    Case(Box<CaseRecord>),
    Level(Box<LevelRecord>),
    Failed(FailedCase),
}

/// An open checkpoint, appended to as cases finish.
pub struct Checkpoint {
    path: PathBuf,
    file: File,
}

/// `results/x.json` → `results/x.json.partial.jsonl`.
pub fn path_for(result: &Path) -> PathBuf {
    let mut name = result.as_os_str().to_owned();
    name.push(".partial.jsonl");
    PathBuf::from(name)
}

/// The entries of a checkpoint's text, and a warning for each line that does not read.
pub fn parse(text: &str, path: &Path) -> (Vec<Entry>, Vec<Warning>) {
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Entry>(line) {
            Ok(e) => entries.push(e),
            Err(e) => warnings.push(Warning::CheckpointLineSkipped {
                file: path.display().to_string(),
                line: i + 1,
                message: e.to_string(),
            }),
        }
    }
    (entries, warnings)
}

impl Checkpoint {
    /// Opens the checkpoint of `result`: with `resume`, returns what it already holds and appends after it;
    /// otherwise starts it empty.
    pub fn open(
        result: &Path,
        resume: bool,
    ) -> std::io::Result<(Checkpoint, Vec<Entry>, Vec<Warning>)> {
        let path = path_for(result);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let (entries, warnings) = if resume {
            match std::fs::read_to_string(&path) {
                Ok(text) => parse(&text, &path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Vec::new(), Vec::new()),
                Err(e) => return Err(e),
            }
        } else {
            (Vec::new(), Vec::new())
        };
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .truncate(false)
            .open(&path)?;
        if resume {
            // a half-written last line ends here, so the next entry starts on a line of its own
            file.write_all(b"\n")?;
        } else {
            file.set_len(0)?;
        }
        Ok((Checkpoint { path, file }, entries, warnings))
    }

    /// Appends `entry` and syncs it to disk.
    pub fn append(&mut self, entry: &Entry) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(entry).expect("checkpoint entry serializes");
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.file.sync_data()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the checkpoint: the result file now holds everything.
    pub fn remove(self) -> std::io::Result<()> {
        drop(self.file);
        std::fs::remove_file(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(label: &str) -> Entry {
        Entry::Failed(FailedCase {
            label: label.into(),
            parameters: serde_json::json!({"n_prompt": 16}),
            reason: "worker killed by signal 9".into(),
            stderr_tail: vec![],
        })
    }

    #[test]
    fn entries_survive_a_reopen_and_a_half_written_line_is_skipped_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let result = dir.path().join("r.json");
        let (mut c, old, _) = Checkpoint::open(&result, false).unwrap();
        assert!(old.is_empty());
        c.append(&failed("a")).unwrap();
        c.append(&failed("b")).unwrap();
        drop(c);
        // a write cut short by a kill
        let mut f = OpenOptions::new()
            .append(true)
            .open(path_for(&result))
            .unwrap();
        f.write_all(br#"{"entry":"failed","lab"#).unwrap();
        drop(f);
        let (mut c, old, warnings) = Checkpoint::open(&result, true).unwrap();
        assert_eq!(old, vec![failed("a"), failed("b")]);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].to_string().contains("line 3"),
            "{}",
            warnings[0]
        );
        c.append(&failed("c")).unwrap();
        drop(c);
        let (_, old, warnings) = Checkpoint::open(&result, true).unwrap();
        assert_eq!(old, vec![failed("a"), failed("b"), failed("c")]);
        assert_eq!(warnings.len(), 1, "the half line stays skipped");
    }

    #[test]
    fn a_new_run_starts_its_checkpoint_empty_and_removing_it_deletes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let result = dir.path().join("r.json");
        let (mut c, _, _) = Checkpoint::open(&result, false).unwrap();
        c.append(&failed("a")).unwrap();
        drop(c);
        let (c, old, _) = Checkpoint::open(&result, false).unwrap();
        assert!(old.is_empty());
        assert_eq!(std::fs::read_to_string(c.path()).unwrap(), "");
        c.remove().unwrap();
        assert!(!path_for(&result).exists());
        assert_eq!(
            path_for(Path::new("results/x.json")),
            PathBuf::from("results/x.json.partial.jsonl")
        );
    }
}
