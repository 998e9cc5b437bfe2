//! `fleet status`: from the result files a run's directory holds, which shards are done, which failed and which
//! are missing, so that a user knows what to re-submit.

use super::ShardRun;
use std::fmt::Write;
use std::path::PathBuf;

/// What one result file of a shard says about how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardFile {
    pub path: PathBuf,
    pub run: ShardRun,
    pub interrupted: bool,
    /// Labels of the cases or levels that failed.
    pub failed: Vec<String>,
    /// Cases or levels measured.
    pub measured: usize,
}

impl ShardFile {
    /// `None` when the shard finished whole; else why not.
    fn problem(&self) -> Option<String> {
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
}

#[derive(Debug, Clone, PartialEq)]
pub enum ShardState {
    Done,
    /// A result file that is not whole, or only a checkpoint (killed, or still running).
    Failed(String),
    Missing,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ShardRow {
    pub index: u32,
    pub state: ShardState,
    pub files: Vec<PathBuf>,
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

/// One row per shard index below `count`: done when a file of that index is whole; failed when its files are not
/// (or only a checkpoint, `partials`, is there); missing otherwise. Files of another count are ignored.
pub fn classify(count: u32, files: &[ShardFile], partials: &[(u32, PathBuf)]) -> Vec<ShardRow> {
    (0..count)
        .map(|index| {
            let mine: Vec<&ShardFile> = files
                .iter()
                .filter(|f| f.run.shard.index == index && f.run.shard.count == count)
                .collect();
            let checkpoints: Vec<&PathBuf> = partials
                .iter()
                .filter(|(i, _)| *i == index)
                .map(|(_, p)| p)
                .collect();
            let state = if mine.iter().any(|f| f.problem().is_none()) {
                ShardState::Done
            } else if let Some(f) = mine.first() {
                ShardState::Failed(f.problem().expect("not whole"))
            } else if !checkpoints.is_empty() {
                ShardState::Failed("only a checkpoint: killed, or still running".into())
            } else {
                ShardState::Missing
            };
            let mut paths: Vec<PathBuf> = mine.iter().map(|f| f.path.clone()).collect();
            paths.extend(checkpoints.into_iter().cloned());
            ShardRow {
                index,
                state,
                files: paths,
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

/// The table, the counts, and how to re-submit what is not done.
pub fn render(rows: &[ShardRow], header: &str) -> String {
    let mut out = format!("{header}\n\n| shard | state | file | note |\n|---:|---|---|---|\n");
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
        let files: Vec<String> = r
            .files
            .iter()
            .map(|p| {
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect();
        let file = if files.is_empty() {
            crate::report::ABSENT.to_string()
        } else {
            files.join(", ")
        };
        let _ = writeln!(out, "| {} | {state} | {file} | {note} |", r.index);
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
    use crate::fleet::Shard;

    fn file(index: u32, count: u32, name: &str, failed: &[&str]) -> ShardFile {
        ShardFile {
            path: PathBuf::from(name),
            run: ShardRun {
                sweep: Some("s".into()),
                run_id: "r".into(),
                shard: Shard { index, count },
                per: None,
            },
            interrupted: false,
            failed: failed.iter().map(|s| s.to_string()).collect(),
            measured: 2,
        }
    }

    #[test]
    fn shards_are_done_failed_or_missing() {
        let files = [
            file(0, 4, "a-cpu-0of4.json", &[]),
            file(1, 4, "a-cpu-1of4.json", &["tg32"]),
            file(3, 4, "b-cpu-3of4.json", &["pp64"]),
            file(3, 4, "a-cpu-3of4.json", &[]),
        ];
        let rows = classify(4, &files, &[]);
        let states: Vec<&ShardState> = rows.iter().map(|r| &r.state).collect();
        assert_eq!(
            states,
            [
                &ShardState::Done,
                &ShardState::Failed("1 failed: tg32".into()),
                &ShardState::Missing,
                &ShardState::Done,
            ]
        );
        assert_eq!(to_resubmit(&rows), [1, 2]);
        let text = render(&rows, "run r");
        assert!(text.contains("2 done, 1 failed, 1 missing"), "{text}");
        assert!(text.contains("sbatch --array=1,2 "), "{text}");
    }

    #[test]
    fn a_checkpoint_alone_is_a_failed_shard() {
        let rows = classify(
            1,
            &[],
            &[(0, PathBuf::from("a-cpu-0of1.json.partial.jsonl"))],
        );
        assert!(matches!(rows[0].state, ShardState::Failed(_)));
    }

    #[test]
    fn files_of_two_shardings_are_refused() {
        let e = count_of(&[file(0, 2, "x", &[]), file(0, 3, "y", &[])]).unwrap_err();
        assert!(e.contains("shard 0/2") && e.contains("shard 0/3"), "{e}");
        assert_eq!(count_of(&[file(1, 2, "x", &[])]).unwrap(), Some(2));
    }
}
