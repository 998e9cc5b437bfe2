//! The checkpoint beside a result file, `<result>.partial.jsonl`: a header line naming the run (schema version,
//! every parameter that changes a figure, the models' sha256, the build and the host, tokenmeter's version), then
//! every finished unit (a case, a level, or a failure) as one JSON line, synced to disk before the next unit
//! starts, so a killed run loses at most the unit in flight.
//!
//! - Only one run uses a checkpoint: it is locked (`flock`) while the run lives, and a new run never replaces
//!   one an unfinished run left.
//! - `--resume <result>` refuses a checkpoint whose header differs from the run's in any key, naming each; its
//!   lines are checked as a result file's records are (time order), a corrupt or half-written one skipped with a
//!   warning.
//! - Disk space for the next lines is reserved ahead (twice the longest line, at least [`RESERVE_MIN_BYTES`]),
//!   so a full disk stops the run before a unit is measured, never while its line is written: every unit measured
//!   is in the checkpoint.
//!
//! It is removed once the whole result file is written.

use crate::results::load::LevelRecord;
use crate::results::{CaseRecord, FailedCase, ToolInfo, Warning, SCHEMA_VERSION};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// The least disk space kept reserved beyond the checkpoint's last line.
pub const RESERVE_MIN_BYTES: u64 = 256 * 1024;

/// The first line of a checkpoint: which run its units belong to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The result schema the unit lines follow.
    pub schema_version: u32,
    pub tokenmeter: ToolInfo,
    /// `bench` or `load`.
    pub kind: String,
    pub started_at: DateTime<Utc>,
    /// Every parameter that changes a figure, the models (path and sha256), the build and the host: a resumed run
    /// must match it key for key.
    pub identity: serde_json::Value,
}

impl Header {
    pub fn new(kind: &str, identity: serde_json::Value) -> Header {
        Header {
            schema_version: SCHEMA_VERSION,
            tokenmeter: ToolInfo::current(),
            kind: kind.to_string(),
            started_at: Utc::now(),
            identity,
        }
    }

    /// What a resumed run must share with the run that wrote the checkpoint.
    fn compared(&self) -> serde_json::Value {
        serde_json::json!({
            "schema_version": self.schema_version,
            "tokenmeter": self.tokenmeter,
            "kind": self.kind,
            "identity": self.identity,
        })
    }
}

/// One line of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
pub enum Entry {
    Header(Box<Header>),
    Case(Box<CaseRecord>),
    Level(Box<LevelRecord>),
    Failed(FailedCase),
}

/// Why a checkpoint could not be used or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: in use by another tokenmeter run (one run per result file)")]
    InUse { path: PathBuf },
    #[error(
        "{path}: an unfinished run's checkpoint is here: finish it with --resume {result}, or remove it to start over"
    )]
    Unfinished { path: PathBuf, result: PathBuf },
    #[error("--resume {result}: no checkpoint at {path} (the run finished, or never started)")]
    Missing { path: PathBuf, result: PathBuf },
    #[error("--resume {result}: {path}: {why}")]
    Unreadable {
        path: PathBuf,
        result: PathBuf,
        why: String,
    },
    #[error("--resume {result}: this run is not the one {path} holds: {}", differences.join("; "))]
    Mismatch {
        path: PathBuf,
        result: PathBuf,
        differences: Vec<String>,
    },
    #[error("{path}: cannot write the checkpoint: {what}")]
    Write { path: PathBuf, what: String },
}

impl CheckpointError {
    /// The user's to fix (another run, a leftover or wrong file): exit 2. Otherwise an I/O error.
    pub fn is_input(&self) -> bool {
        !matches!(self, CheckpointError::Write { .. })
    }
}

/// An open, locked checkpoint, appended to as units finish.
pub struct Checkpoint {
    path: PathBuf,
    file: File,
    /// The file's length: where the next line starts.
    len: u64,
    /// Disk space is reserved up to here (beyond `len`).
    reserved_to: u64,
    longest_line: u64,
}

/// `results/x.json` → `results/x.json.partial.jsonl`.
pub fn path_for(result: &Path) -> PathBuf {
    let mut name = result.as_os_str().to_owned();
    name.push(".partial.jsonl");
    PathBuf::from(name)
}

fn write_error(path: &Path, e: impl std::fmt::Display) -> CheckpointError {
    CheckpointError::Write {
        path: path.to_path_buf(),
        what: e.to_string(),
    }
}

/// Takes the run's lock on `file`; `false` when another process holds it.
fn lock(file: &File) -> std::io::Result<bool> {
    // SAFETY: flock on a descriptor this `File` owns for the duration of the call.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EWOULDBLOCK) => Ok(false),
        _ => Err(e),
    }
}

/// Whether some running process holds the checkpoint at `path`.
pub fn in_use(path: &Path) -> bool {
    File::open(path)
        .and_then(|f| lock(&f))
        .is_ok_and(|locked| !locked)
}

impl Checkpoint {
    /// Starts the checkpoint of a new run writing `result`: refuses one that another run holds or that an
    /// unfinished run left.
    pub fn create(result: &Path, header: &Header) -> Result<Checkpoint, CheckpointError> {
        let path = path_for(result);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| write_error(&path, e))?;
        }
        let file = match OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(if in_use(&path) {
                    CheckpointError::InUse { path }
                } else {
                    CheckpointError::Unfinished {
                        path,
                        result: result.to_path_buf(),
                    }
                })
            }
            Err(e) => return Err(write_error(&path, e)),
        };
        if !lock(&file).map_err(|e| write_error(&path, e))? {
            return Err(CheckpointError::InUse { path });
        }
        let mut c = Checkpoint {
            path,
            file,
            len: 0,
            reserved_to: 0,
            longest_line: 0,
        };
        c.append(&Entry::Header(Box::new(header.clone())))?;
        Ok(c)
    }

    /// Reopens the checkpoint of `result` for `--resume`: its header must match `header` key for key; returns the
    /// units it holds (each checked) and a warning for each line that does not read.
    pub fn resume(
        result: &Path,
        header: &Header,
    ) -> Result<(Checkpoint, Vec<Entry>, Vec<Warning>), CheckpointError> {
        let path = path_for(result);
        let unreadable = |why: String| CheckpointError::Unreadable {
            path: path.clone(),
            result: result.to_path_buf(),
            why,
        };
        let file = match OpenOptions::new().read(true).append(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(CheckpointError::Missing {
                    path,
                    result: result.to_path_buf(),
                })
            }
            Err(e) => return Err(unreadable(e.to_string())),
        };
        if !lock(&file).map_err(|e| unreadable(e.to_string()))? {
            return Err(CheckpointError::InUse { path });
        }
        let text = std::fs::read_to_string(&path).map_err(|e| unreadable(e.to_string()))?;
        let (first, entries, warnings) = parse(&text, &path);
        let written = first.ok_or_else(|| {
            unreadable(
                "its first line is not a header (written by an older tokenmeter?): whether it is this run \
                 cannot be told"
                    .into(),
            )
        })?;
        let differences = differences(&written.compared(), &header.compared());
        if !differences.is_empty() {
            return Err(CheckpointError::Mismatch {
                path,
                result: result.to_path_buf(),
                differences,
            });
        }
        let len = text.len() as u64;
        let mut c = Checkpoint {
            path,
            file,
            len,
            reserved_to: len,
            longest_line: text.lines().map(|l| l.len() as u64 + 1).max().unwrap_or(0),
        };
        if !text.is_empty() && !text.ends_with('\n') {
            // a half-written last line ends here, so the next entry starts on a line of its own
            c.write_line(b"\n")?;
        }
        c.reserve()?;
        Ok((c, entries, warnings))
    }

    /// Appends `entry`, syncs it to disk and keeps space reserved for the next lines. An error stops the run:
    /// with space reserved ahead, it is the next unit that would not fit, never this one.
    pub fn append(&mut self, entry: &Entry) -> Result<(), CheckpointError> {
        let mut line = serde_json::to_vec(entry).expect("checkpoint entry serializes");
        line.push(b'\n');
        self.longest_line = self.longest_line.max(line.len() as u64);
        self.write_line(&line)?;
        self.reserve()
    }

    fn write_line(&mut self, line: &[u8]) -> Result<(), CheckpointError> {
        let written = self
            .file
            .write_all(line)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // What did land of the line is cut off, so the file stays whole lines.
            let _ = self.file.set_len(self.len);
            return Err(write_error(&self.path, e));
        }
        self.len += line.len() as u64;
        Ok(())
    }

    /// Reserves disk space beyond the last line for twice the longest line so far (and at least
    /// [`RESERVE_MIN_BYTES`]). A file system that cannot reserve (no `fallocate`) is written without.
    fn reserve(&mut self) -> Result<(), CheckpointError> {
        let want = self.len + (2 * self.longest_line).max(RESERVE_MIN_BYTES);
        if self.reserved_to >= want {
            return Ok(());
        }
        // SAFETY: fallocate on a descriptor this `File` owns; KEEP_SIZE leaves the file's length as it is.
        let r = unsafe {
            libc::fallocate(
                self.file.as_raw_fd(),
                libc::FALLOC_FL_KEEP_SIZE,
                self.len as libc::off_t,
                (want - self.len) as libc::off_t,
            )
        };
        if r == 0 {
            self.reserved_to = want;
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => {
                self.reserved_to = want;
                Ok(())
            }
            _ => Err(write_error(
                &self.path,
                format!("{e}: no room for the next unit's line, so the run stops here"),
            )),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the checkpoint: the result file now holds everything.
    pub fn remove(self) -> std::io::Result<()> {
        let path = self.path.clone();
        drop(self);
        std::fs::remove_file(path)
    }
}

/// The header and the unit entries of a checkpoint's text, and a warning for each line that does not read or
/// whose times go backwards.
pub fn parse(text: &str, path: &Path) -> (Option<Header>, Vec<Entry>, Vec<Warning>) {
    let mut header = None;
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let skipped = |message: String| Warning::CheckpointLineSkipped {
            file: path.display().to_string(),
            line: i + 1,
            message,
        };
        match serde_json::from_str::<Entry>(line) {
            Ok(Entry::Header(h)) if i == 0 => header = Some(*h),
            Ok(Entry::Header(_)) => warnings.push(skipped("a second header".into())),
            Ok(e) => match time_order_problem(&e) {
                Some(why) => warnings.push(skipped(why)),
                None => entries.push(e),
            },
            Err(e) => warnings.push(skipped(e.to_string())),
        }
    }
    (header, entries, warnings)
}

fn time_order_problem(e: &Entry) -> Option<String> {
    match e {
        Entry::Case(c) => c.time_order_problem(),
        Entry::Level(l) => l.time_order_problem(),
        Entry::Header(_) | Entry::Failed(_) => None,
    }
}

/// Flattens a JSON value into `key.path[i] → value` pairs.
fn flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        Value::Array(items) => {
            out.insert(format!("{prefix}.len"), items.len().to_string());
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// Each key whose value differs between the checkpoint's header (`then`) and the run's (`now`), as `key: A in
/// the checkpoint, B now`.
pub fn differences(then: &serde_json::Value, now: &serde_json::Value) -> Vec<String> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten("", then, &mut a);
    flatten("", now, &mut b);
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "absent".into());
            format!(
                "{k}: {} in the checkpoint, {} now",
                show(a.get(k)),
                show(b.get(k))
            )
        })
        .collect()
}

#[cfg(test)]
#[path = "checkpoint_tests.rs"]
mod tests;
