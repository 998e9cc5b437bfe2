//! Attempts at a shard. An index may run more than once (a failure re-submitted, a job re-queued on this host or
//! another); each attempt writes its own file and none is removed. A host's first attempt is
//! `<host>-<device>-<I>of<N>.json`, its later ones `<host>-<device>-<I>of<N>.a2.json`, `.a3.json`, …, each with
//! its checkpoint `<file>.partial.jsonl` while it runs. [`attempt_path`] names a new attempt's file,
//! [`resumable`] the one a re-queued job on the same host continues, and [`choose`] which of an index's files
//! counts: the one `fleet status`, `report` and `compare` read.

use super::{Shard, ShardRun};
use crate::results::ResultFile;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

/// What a checkpoint's name adds to its result file's.
pub const CHECKPOINT_SUFFIX: &str = ".partial.jsonl";

/// `<file>.partial.jsonl`.
pub fn checkpoint_of(result: &Path) -> PathBuf {
    let mut name = result.as_os_str().to_owned();
    name.push(CHECKPOINT_SUFFIX);
    PathBuf::from(name)
}

/// What a shard file's name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptName {
    /// `<host>-<device>`.
    pub writer: String,
    pub shard: Shard,
    /// 1 for `…-<I>of<N>.json`, K for `…-<I>of<N>.aK.json`.
    pub attempt: u32,
    /// A checkpoint (`….json.partial.jsonl`), not a result file.
    pub checkpoint: bool,
}

/// Reads `<writer>-<I>of<N>[.aK].json[.partial.jsonl]`; `None` for any other name.
pub fn parse_name(name: &str) -> Option<AttemptName> {
    let (rest, checkpoint) = match name.strip_suffix(CHECKPOINT_SUFFIX) {
        Some(r) => (r, true),
        None => (name, false),
    };
    let stem = rest.strip_suffix(".json")?;
    let (writer, tail) = stem.rsplit_once('-')?;
    let (shard, attempt) = match tail.split_once('.') {
        None => (tail, 1),
        Some((shard, a)) => {
            let k = a.strip_prefix('a')?;
            if !k.bytes().all(|b| b.is_ascii_digit()) || k.starts_with('0') {
                return None;
            }
            match k.parse::<u32>().ok()? {
                k @ 2.. => (shard, k),
                _ => return None,
            }
        }
    };
    let (i, n) = shard.split_once("of")?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if writer.is_empty() || !digits(i) || !digits(n) {
        return None;
    }
    Some(AttemptName {
        writer: writer.to_string(),
        shard: Shard::new(i.parse().ok()?, n.parse().ok()?).ok()?,
        attempt,
        checkpoint,
    })
}

/// Attempt `k` of the shard whose first attempt is `first` (`….json`): `first` itself for 1, else `….aK.json`.
fn numbered(first: &Path, k: u32) -> PathBuf {
    if k <= 1 {
        return first.to_path_buf();
    }
    let name = first
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let stem = name.strip_suffix(".json").unwrap_or(name);
    first.with_file_name(format!("{stem}.a{k}.json"))
}

/// The attempts this host and device made at `run`'s shard whose result file or checkpoint is in the run
/// directory, by number, with the result path of each.
fn attempts_here(run: &ShardRun, first: &Path) -> Vec<(u32, PathBuf)> {
    let own = first.file_name().and_then(|n| parse_name(n.to_str()?));
    let (Some(own), Some(Ok(entries))) = (own, first.parent().map(std::fs::read_dir)) else {
        return Vec::new();
    };
    let mut found: Vec<(u32, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| parse_name(e.file_name().to_str()?))
        .filter(|a| a.writer == own.writer && a.shard == run.shard)
        .map(|a| (a.attempt, numbered(first, a.attempt)))
        .collect();
    found.sort();
    found.dedup();
    found
}

/// The result path a new attempt at `run`'s shard on this host writes:
/// `<results-dir>/<run-id>/<host>-<device>-<I>of<N>.json` when this host has made no attempt there yet, else
/// `….aK.json` with K one past its highest attempt. Never a path whose result file or checkpoint exists.
pub fn attempt_path(
    run: &ShardRun,
    results_dir: &Path,
    host: Option<&str>,
    device: &str,
) -> PathBuf {
    let first = run.result_path(results_dir, host, device);
    let mut k = attempts_here(run, &first).last().map_or(1, |(k, _)| k + 1);
    loop {
        let path = numbered(&first, k);
        if !path.exists() && !checkpoint_of(&path).exists() {
            return path;
        }
        k += 1;
    }
}

/// The result path of this host's newest attempt at `run`'s shard that left a checkpoint and no whole result
/// (its result file absent, unreadable, or not [`ShardFile::is_whole`]): the attempt a re-queued job on this
/// host resumes. `None` when there is none.
pub fn resumable(
    run: &ShardRun,
    results_dir: &Path,
    host: Option<&str>,
    device: &str,
) -> Option<PathBuf> {
    let first = run.result_path(results_dir, host, device);
    attempts_here(run, &first)
        .into_iter()
        .rev()
        .map(|(_, path)| path)
        .find(|path| {
            checkpoint_of(path).is_file()
                && !crate::results::read_result(path)
                    .ok()
                    .and_then(|r| ShardFile::of_result(path, &r))
                    .is_some_and(|f| f.is_whole())
        })
}

/// What one result file of a shard says about how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardFile {
    pub path: PathBuf,
    pub run: ShardRun,
    pub finished_at: DateTime<Utc>,
    pub interrupted: bool,
    /// Labels of the cases or levels that failed.
    pub failed: Vec<String>,
    /// Cases or levels measured.
    pub measured: usize,
}

impl ShardFile {
    /// The shard attempt `result` (read from `path`) records in `parameters.fleet`; `None` for a result file
    /// that is not a shard's.
    pub fn of_result(path: &Path, result: &ResultFile) -> Option<ShardFile> {
        let run =
            serde_json::from_value::<ShardRun>(result.parameters.get("fleet")?.clone()).ok()?;
        Some(ShardFile {
            path: path.to_path_buf(),
            run,
            finished_at: result.finished_at,
            interrupted: result.interrupted,
            failed: result.failed.iter().map(|f| f.label.clone()).collect(),
            measured: result.cases.len() + result.load.as_ref().map_or(0, |l| l.levels.len()),
        })
    }

    /// `None` when the attempt finished whole; else why not.
    pub fn problem(&self) -> Option<String> {
        if self.interrupted {
            Some("interrupted".into())
        } else if !self.failed.is_empty() {
            Some(format!(
                "{} failed: {}",
                self.failed.len(),
                self.failed.join(", ")
            ))
        } else if self.measured == 0 {
            Some("nothing measured".into())
        } else {
            None
        }
    }

    /// Not interrupted, no failed case or level, and something measured.
    pub fn is_whole(&self) -> bool {
        self.problem().is_none()
    }
}

/// Which of one shard index's attempts counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub run_id: String,
    pub shard: Shard,
    /// The position (in [`choose`]'s input) of the attempt that counts: the newest whole one by `finished_at`,
    /// else, with none whole, the newest one.
    pub counts: usize,
    /// Whether the attempt that counts is whole: the index is done.
    pub whole: bool,
    /// The positions of the index's other attempts, newest first.
    pub superseded: Vec<usize>,
}

/// One [`Choice`] per shard index (a run id, shard index and count) among `files`, in run id, count and index
/// order. Of two attempts that finished at the same instant, the one whose path sorts last is the newer.
pub fn choose(files: &[ShardFile]) -> Vec<Choice> {
    let mut order: Vec<usize> = (0..files.len()).collect();
    let key = |i: &usize| {
        let f = &files[*i];
        (&f.run.run_id, f.run.shard.count, f.run.shard.index)
    };
    // newest first within an index
    order.sort_by(|a, b| {
        key(a).cmp(&key(b)).then_with(|| {
            (files[*b].finished_at, &files[*b].path).cmp(&(files[*a].finished_at, &files[*a].path))
        })
    });
    let mut choices = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let end = start
            + order[start..]
                .iter()
                .take_while(|i| key(i) == key(&order[start]))
                .count();
        let group = &order[start..end];
        let counts = group
            .iter()
            .copied()
            .find(|&i| files[i].is_whole())
            .unwrap_or(group[0]);
        choices.push(Choice {
            run_id: files[counts].run.run_id.clone(),
            shard: files[counts].run.shard,
            counts,
            whole: files[counts].is_whole(),
            superseded: group.iter().copied().filter(|&i| i != counts).collect(),
        });
        start = end;
    }
    choices
}

/// Of result files read together (`None` for a file that is not a tokenmeter result), the positions of those
/// another attempt at the same shard supersedes, each with a line that names the file that counts instead.
pub fn superseded<'a>(
    files: impl IntoIterator<Item = (&'a Path, Option<&'a ResultFile>)>,
) -> Vec<(usize, String)> {
    let mut at = Vec::new();
    let mut shard_files = Vec::new();
    for (k, (path, result)) in files.into_iter().enumerate() {
        if let Some(f) = result.and_then(|r| ShardFile::of_result(path, r)) {
            at.push(k);
            shard_files.push(f);
        }
    }
    let mut out: Vec<(usize, String)> = choose(&shard_files)
        .into_iter()
        .flat_map(|c| {
            let counting = shard_files[c.counts].path.display().to_string();
            let what = format!("shard {} of run {}", c.shard, c.run_id);
            c.superseded
                .into_iter()
                .map(|i| {
                    (
                        at[i],
                        format!(
                            "{}: superseded by {counting}, the attempt at {what} that counts",
                            shard_files[i].path.display()
                        ),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests;
