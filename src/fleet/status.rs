//! `fleet status`: from the result files a run's directory holds, which shards are done, which failed and which
//! are missing, so that a user knows what to re-submit.

pub use super::attempt::ShardFile;
use super::attempt::{choose, CHECKPOINT_SUFFIX};
use std::fmt::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub enum ShardState {
    /// An attempt is whole.
    Done,
    /// No attempt is whole (each listed with why), or only a checkpoint is there (killed, or still running).
    Failed(String),
    Missing,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ShardRow {
    pub index: u32,
    pub state: ShardState,
    /// The result file that counts ([`super::attempt::choose`]); `None` when the index has none.
    pub counts: Option<PathBuf>,
    /// The index's other result files, newest first.
    pub superseded: Vec<PathBuf>,
    /// Checkpoints with no result file beside them: attempts killed, or still running.
    pub checkpoints: Vec<PathBuf>,
}

/// The shard count every file agrees on; an error names two files that disagree.
pub fn count_of(files: &[ShardFile]) -> Result<Option<u32>, String> {
    let mut seen: Option<&ShardFile> = None;
    for f in files {
        match seen {
            Some(s) if s.run.shard.count != f.run.shard.count => {
                return Err(format!(
                    "{} is shard {} but {} is shard {}: one run directory holds one sharding (give --shards N)",
                    s.path.display(),
                    s.run.shard,
                    f.path.display(),
                    f.run.shard
                ))
            }
            _ => seen = Some(f),
        }
    }
    Ok(seen.map(|f| f.run.shard.count))
}

/// The name of `path`'s file.
fn name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// One row per shard index below `count`: done when an attempt at that index is whole (the newest whole one
/// counts); failed when none is (the newest counts, and every attempt is listed with why), or when only a
/// checkpoint (`partials`) is there; missing otherwise. Files of another count are ignored.
pub fn classify(count: u32, files: &[ShardFile], partials: &[(u32, PathBuf)]) -> Vec<ShardRow> {
    let files: Vec<ShardFile> = files
        .iter()
        .filter(|f| f.run.shard.count == count)
        .cloned()
        .collect();
    let choices = choose(&files);
    (0..count)
        .map(|index| {
            let choice = choices.iter().find(|c| c.shard.index == index);
            let checkpoints: Vec<PathBuf> = partials
                .iter()
                .filter(|(i, p)| {
                    let result = p.to_string_lossy();
                    let result = result.strip_suffix(CHECKPOINT_SUFFIX).unwrap_or(&result);
                    *i == index && !files.iter().any(|f| f.path == Path::new(result))
                })
                .map(|(_, p)| p.clone())
                .collect();
            let state = match choice {
                Some(c) if c.whole => ShardState::Done,
                Some(c) => {
                    let attempts = std::iter::once(c.counts)
                        .chain(c.superseded.iter().copied())
                        .map(|i| {
                            let why = files[i].problem().unwrap_or_default();
                            format!("{} ({why})", name(&files[i].path))
                        })
                        .chain(
                            checkpoints
                                .iter()
                                .map(|p| format!("{} (checkpoint only)", name(p))),
                        );
                    ShardState::Failed(format!(
                        "no whole attempt: {}",
                        attempts.collect::<Vec<_>>().join("; ")
                    ))
                }
                None if !checkpoints.is_empty() => {
                    ShardState::Failed("only a checkpoint: killed, or still running".into())
                }
                None => ShardState::Missing,
            };
            ShardRow {
                index,
                state,
                counts: choice.map(|c| files[c.counts].path.clone()),
                superseded: choice
                    .map(|c| {
                        c.superseded
                            .iter()
                            .map(|&i| files[i].path.clone())
                            .collect()
                    })
                    .unwrap_or_default(),
                checkpoints,
            }
        })
        .collect()
}

/// The shards to run again (failed or missing), in index order.
pub fn to_resubmit(rows: &[ShardRow]) -> Vec<u32> {
    rows.iter()
        .filter(|r| r.state != ShardState::Done)
        .map(|r| r.index)
        .collect()
}

/// File names, or `—` for none.
fn names(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        crate::report::ABSENT.to_string()
    } else {
        paths.iter().map(|p| name(p)).collect::<Vec<_>>().join(", ")
    }
}

/// The table (per shard: its state, the file that counts, the files it supersedes and checkpoints with no result
/// file), the counts, and how to re-submit what is not done.
pub fn render(rows: &[ShardRow], header: &str) -> String {
    let mut out = format!(
        "{header}\n\n| shard | state | counts | superseded | note |\n|---:|---|---|---|---|\n"
    );
    let (mut done, mut failed, mut missing) = (0, 0, 0);
    for r in rows {
        let (state, note) = match &r.state {
            ShardState::Done => {
                done += 1;
                ("done", String::new())
            }
            ShardState::Failed(why) => {
                failed += 1;
                ("failed", crate::text::one_line(why))
            }
            ShardState::Missing => {
                missing += 1;
                ("missing", String::new())
            }
        };
        let counts = names(r.counts.as_slice());
        let others: Vec<PathBuf> = r.superseded.iter().chain(&r.checkpoints).cloned().collect();
        let _ = writeln!(
            out,
            "| {} | {state} | {counts} | {} | {note} |",
            r.index,
            names(&others)
        );
    }
    let _ = writeln!(out, "\n{done} done, {failed} failed, {missing} missing");
    let again = to_resubmit(rows);
    if !again.is_empty() {
        let list: Vec<String> = again.iter().map(u32::to_string).collect();
        let _ = writeln!(
            out,
            "re-submit: sbatch --array={} tokenmeter-array.sbatch (Slurm); on Kubernetes, delete the Job's \
             failed pods or re-apply the Job",
            list.join(",")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::{Shard, ShardRun};

    /// An attempt at shard `index`/`count` that finished `minute` minutes into the day, with `failed` cases.
    fn file(index: u32, count: u32, name: &str, failed: &[&str], minute: u32) -> ShardFile {
        ShardFile {
            path: PathBuf::from(name),
            run: ShardRun {
                sweep: Some("s".into()),
                run_id: "r".into(),
                shard: Shard { index, count },
                per: None,
            },
            finished_at: format!("2026-11-26T00:{minute:02}:00Z").parse().unwrap(),
            interrupted: false,
            failed: failed.iter().map(|s| s.to_string()).collect(),
            measured: 2,
        }
    }

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn shards_are_done_failed_or_missing() {
        let files = [
            file(0, 4, "a-cpu-0of4.json", &[], 1),
            file(1, 4, "a-cpu-1of4.json", &["tg32"], 2),
            file(3, 4, "b-cpu-3of4.json", &["pp64"], 9),
            file(3, 4, "a-cpu-3of4.json", &[], 3),
        ];
        let rows = classify(4, &files, &[]);
        let states: Vec<&ShardState> = rows.iter().map(|r| &r.state).collect();
        assert_eq!(
            states,
            [
                &ShardState::Done,
                &ShardState::Failed("no whole attempt: a-cpu-1of4.json (1 failed: tg32)".into()),
                &ShardState::Missing,
                &ShardState::Done,
            ]
        );
        // The whole attempt counts over a newer failed one, which it supersedes.
        assert_eq!(rows[3].counts, Some(PathBuf::from("a-cpu-3of4.json")));
        assert_eq!(rows[3].superseded, paths(&["b-cpu-3of4.json"]));
        assert_eq!(rows[2].counts, None);
        assert_eq!(to_resubmit(&rows), [1, 2]);
        let text = render(&rows, "run r");
        assert!(
            text.contains("| 3 | done | a-cpu-3of4.json | b-cpu-3of4.json |  |\n"),
            "{text}"
        );
        assert!(text.contains("| 2 | missing | — | — |  |\n"), "{text}");
        assert!(text.contains("2 done, 1 failed, 1 missing"), "{text}");
        assert!(text.contains("sbatch --array=1,2 "), "{text}");
    }

    #[test]
    fn of_several_whole_attempts_the_newest_counts() {
        let files = [
            file(0, 1, "a-cpu-0of1.json", &[], 5),
            file(0, 1, "b-cpu-0of1.json", &[], 7),
            file(0, 1, "a-cpu-0of1.a2.json", &["pp16"], 8),
            file(0, 1, "c-cpu-0of1.json", &[], 6),
        ];
        let rows = classify(1, &files, &[]);
        assert_eq!(rows[0].state, ShardState::Done);
        assert_eq!(rows[0].counts, Some(PathBuf::from("b-cpu-0of1.json")));
        assert_eq!(
            rows[0].superseded,
            paths(&["a-cpu-0of1.a2.json", "c-cpu-0of1.json", "a-cpu-0of1.json"])
        );
        assert!(to_resubmit(&rows).is_empty());
    }

    #[test]
    fn with_no_whole_attempt_the_index_failed_and_every_attempt_is_listed() {
        let mut interrupted = file(0, 1, "b-cpu-0of1.json", &[], 9);
        interrupted.interrupted = true;
        let files = [file(0, 1, "a-cpu-0of1.json", &["tg8"], 4), interrupted];
        let partials = [
            (0, PathBuf::from("b-cpu-0of1.json.partial.jsonl")),
            (0, PathBuf::from("c-cpu-0of1.json.partial.jsonl")),
        ];
        let rows = classify(1, &files, &partials);
        assert_eq!(
            rows[0].state,
            ShardState::Failed(
                "no whole attempt: b-cpu-0of1.json (interrupted); a-cpu-0of1.json (1 failed: tg8); \
                 c-cpu-0of1.json.partial.jsonl (checkpoint only)"
                    .into()
            )
        );
        // The newest counts, for what it measured; the checkpoint beside its own result file is that attempt's.
        assert_eq!(rows[0].counts, Some(PathBuf::from("b-cpu-0of1.json")));
        assert_eq!(rows[0].superseded, paths(&["a-cpu-0of1.json"]));
        assert_eq!(
            rows[0].checkpoints,
            paths(&["c-cpu-0of1.json.partial.jsonl"])
        );
        assert_eq!(to_resubmit(&rows), [0]);
    }

    #[test]
    fn a_checkpoint_alone_is_a_failed_shard() {
        let rows = classify(
            1,
            &[],
            &[(0, PathBuf::from("a-cpu-0of1.json.partial.jsonl"))],
        );
        assert_eq!(
            rows[0].state,
            ShardState::Failed("only a checkpoint: killed, or still running".into())
        );
        assert_eq!(rows[0].counts, None);
        let text = render(&rows, "run r");
        assert!(
            text.contains("| 0 | failed | — | a-cpu-0of1.json.partial.jsonl | only a checkpoint"),
            "{text}"
        );
    }

    #[test]
    fn files_of_two_shardings_are_refused() {
        let e = count_of(&[file(0, 2, "x", &[], 0), file(0, 3, "y", &[], 0)]).unwrap_err();
        assert!(e.contains("shard 0/2") && e.contains("shard 0/3"), "{e}");
        assert_eq!(count_of(&[file(1, 2, "x", &[], 0)]).unwrap(), Some(2));
    }
}
