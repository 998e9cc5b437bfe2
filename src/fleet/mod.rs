//! A sweep run across a fleet: which shard of N a machine runs (`--shard I/N`, or `auto` from the scheduler's
//! environment), which of the sweep's cases that shard owns, where its result file goes and what it records
//! about itself, so that `fleet status` can tell done, failed and missing shards apart. Pure: no engine, no
//! clock. An index's several attempts, and which one counts, live in `attempt`; the Slurm and Kubernetes files
//! in `emit`, the status in `status`; `plan`'s estimate of a shard's wall time in `crate::estimate`.

pub mod attempt;
pub mod emit;
pub mod status;

pub use crate::config::sweep::ShardUnit;
use crate::fsutil::file_name_part_or;
pub use attempt::{attempt_path, choose, resumable, Choice, ShardFile};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Environment variable that gives the shard count when `--shard auto` runs under a scheduler whose own count
/// cannot be trusted (a re-submitted Slurm index sees SLURM_ARRAY_TASK_COUNT=1) or has none (a Kubernetes
/// Indexed Job exposes its index, not `spec.completions`: the manifest sets this to the same number).
pub const SHARD_COUNT_ENV: &str = "TOKENMETER_SHARD_COUNT";
/// Environment variable naming the run (the results directory's sub-directory) when `--run-id` is not given.
pub const RUN_ID_ENV: &str = "TOKENMETER_RUN_ID";

/// `--resume auto`: a shard's run resumes this host's checkpoint of the shard ([`resumable`]) when there is one,
/// else starts a new attempt ([`attempt_path`]). What the emitted Slurm script and Kubernetes Job pass, so that a
/// re-queued index continues where it stopped.
pub const RESUME_AUTO: &str = "auto";

/// Shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 {
            return Err("the shard count must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "shard index {index} is not below the shard count {count} (indexes run from 0)"
            ));
        }
        Ok(Shard { index, count })
    }

    /// `I/N`.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("expected I/N (e.g. 0/4) or auto, got '{s}'"))?;
        let num = |x: &str| {
            x.trim()
                .parse::<u32>()
                .map_err(|_| format!("'{x}' in '{s}' is not a whole number"))
        };
        Shard::new(num(i)?, num(n)?)
    }

    /// The shard a scheduler started: Slurm's `SLURM_ARRAY_TASK_ID`, or a Kubernetes Indexed Job's
    /// `JOB_COMPLETION_INDEX`; the count from [`SHARD_COUNT_ENV`], else `SLURM_ARRAY_TASK_COUNT`.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let read = |name: &str| -> Result<Option<u32>, String> {
            match var(name) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse::<u32>()
                    .map(Some)
                    .map_err(|_| format!("{name}='{v}' is not a whole number")),
            }
        };
        let (index, source) = match (read("SLURM_ARRAY_TASK_ID")?, read("JOB_COMPLETION_INDEX")?) {
            (Some(i), _) => (i, "SLURM_ARRAY_TASK_ID"),
            (None, Some(i)) => (i, "JOB_COMPLETION_INDEX"),
            (None, None) => {
                return Err(
                    "--shard auto: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX (a \
                     Kubernetes Indexed Job) is set: give --shard I/N"
                        .into(),
                )
            }
        };
        let count = match read(SHARD_COUNT_ENV)? {
            Some(n) => n,
            None if source == "SLURM_ARRAY_TASK_ID" => read("SLURM_ARRAY_TASK_COUNT")?.ok_or_else(|| {
                format!("--shard auto: {SHARD_COUNT_ENV} and SLURM_ARRAY_TASK_COUNT are both unset")
            })?,
            None => {
                return Err(format!(
                    "--shard auto: {source} is set but {SHARD_COUNT_ENV} is not (set it to the Job's completions)"
                ))
            }
        };
        Shard::new(index, count).map_err(|e| format!("--shard auto ({source}): {e}"))
    }

    /// Whether unit `unit` (a case or a model, counted from 0 in the sweep's order) belongs to this shard: units
    /// are dealt round-robin, so with as many shards as units each shard holds one.
    pub fn owns(&self, unit: usize) -> bool {
        unit % self.count as usize == self.index as usize
    }
}

/// What a sharded run records in its result file (`parameters.fleet`) and what decides its file name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardRun {
    /// The `[[sweep]]` run, when the cases came from one (else from the flags).
    pub sweep: Option<String>,
    pub run_id: String,
    pub shard: Shard,
    /// `None` until the sweep's own default is known; [`ShardRun::unit`] reads it.
    pub per: Option<ShardUnit>,
}

impl ShardRun {
    pub fn unit(&self) -> ShardUnit {
        self.per.unwrap_or_default()
    }

    /// The items (cases or levels, in the sweep's order) this shard owns; `model_of` gives an item's model index.
    pub fn select<T>(&self, items: Vec<T>, model_of: impl Fn(&T) -> usize) -> Vec<T> {
        items
            .into_iter()
            .enumerate()
            .filter(|(i, item)| {
                self.shard.owns(match self.unit() {
                    ShardUnit::Case => *i,
                    ShardUnit::Model => model_of(item),
                })
            })
            .map(|(_, item)| item)
            .collect()
    }

    /// `<results-dir>/<run-id>/<host>-<device>-<I>of<N>.json`.
    pub fn result_path(&self, results_dir: &Path, host: Option<&str>, device: &str) -> PathBuf {
        results_dir.join(&self.run_id).join(format!(
            "{}-{}-{}",
            file_name_part_or(host.unwrap_or_default(), "host"),
            file_name_part_or(device, "cpu"),
            self.file_suffix()
        ))
    }

    /// `<I>of<N>.json`: what every file of this shard ends with, whichever host wrote it.
    pub fn file_suffix(&self) -> String {
        format!("{}of{}.json", self.shard.index, self.shard.count)
    }
}

/// The device a shard ran on, for its file name: the first accelerator's description, else `cpu`.
pub fn device_label<'a>(accelerators: impl IntoIterator<Item = &'a str>) -> String {
    file_name_part_or(accelerators.into_iter().next().unwrap_or_default(), "cpu")
}

/// Whether `name` is a run id that stays one directory: letters, digits, `-`, `_` and `.`, not starting with `.`.
pub fn check_run_id(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a run id (letters, digits, '-', '_' and '.', not starting with '.')"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn shard_parses_i_of_n_and_refuses_an_index_past_the_count() {
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
        assert!(Shard::parse("3/3").unwrap_err().contains("not below"));
        assert!(Shard::parse("1/0").unwrap_err().contains("at least 1"));
        assert!(Shard::parse("1").unwrap_err().contains("I/N"));
    }

    #[test]
    fn auto_reads_slurm_then_kubernetes() {
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        assert_eq!(
            Shard::from_env(slurm).unwrap(),
            Shard { index: 1, count: 4 }
        );
        // A re-submitted index sees a count of 1: the script's count wins.
        let resubmitted = env(&[
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "1"),
            (SHARD_COUNT_ENV, "3"),
        ]);
        assert_eq!(
            Shard::from_env(resubmitted).unwrap(),
            Shard { index: 2, count: 3 }
        );
        let k8s = env(&[("JOB_COMPLETION_INDEX", "0"), (SHARD_COUNT_ENV, "2")]);
        assert_eq!(Shard::from_env(k8s).unwrap(), Shard { index: 0, count: 2 });
        let no_count = env(&[("JOB_COMPLETION_INDEX", "0")]);
        assert!(Shard::from_env(no_count)
            .unwrap_err()
            .contains(SHARD_COUNT_ENV));
        assert!(Shard::from_env(env(&[]))
            .unwrap_err()
            .contains("SLURM_ARRAY_TASK_ID"));
    }

    #[test]
    fn units_are_dealt_round_robin_by_case_or_by_model() {
        let items: Vec<(usize, &str)> = vec![(0, "a"), (0, "b"), (1, "c"), (1, "d"), (2, "e")];
        let run = |index, count, per| ShardRun {
            sweep: None,
            run_id: "r".into(),
            shard: Shard { index, count },
            per: Some(per),
        };
        let names = |r: ShardRun| -> Vec<&str> {
            r.select(items.clone(), |i| i.0)
                .into_iter()
                .map(|i| i.1)
                .collect()
        };
        assert_eq!(names(run(1, 2, ShardUnit::Case)), ["b", "d"]);
        assert_eq!(names(run(1, 3, ShardUnit::Model)), ["c", "d"]);
        // For any shard count, the shards are disjoint and together hold every item exactly once; per model,
        // a model's items all land in one shard.
        for per in [ShardUnit::Case, ShardUnit::Model] {
            for count in 1..=6 {
                let shards: Vec<Vec<&str>> =
                    (0..count).map(|i| names(run(i, count, per))).collect();
                let mut all: Vec<&str> = shards.iter().flatten().copied().collect();
                all.sort_unstable();
                let mut expected: Vec<&str> = items.iter().map(|i| i.1).collect();
                expected.sort_unstable();
                assert_eq!(all, expected, "{per:?} over {count} shards: {shards:?}");
                if per == ShardUnit::Model {
                    for (model, _) in &items {
                        let holding = shards
                            .iter()
                            .filter(|s| {
                                s.iter()
                                    .any(|n| items.iter().any(|(m, i)| m == model && i == n))
                            })
                            .count();
                        assert_eq!(holding, 1, "model {model} over {count} shards: {shards:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn result_path_names_host_device_and_shard() {
        let r = ShardRun {
            sweep: Some("s".into()),
            run_id: "s-1".into(),
            shard: Shard { index: 2, count: 3 },
            per: None,
        };
        let dev = device_label(["NVIDIA H100 80GB HBM3"]);
        assert_eq!(
            r.result_path(Path::new("res"), Some("gpu-node07"), &dev),
            Path::new("res/s-1/gpu-node07-nvidia-h100-80gb-hbm3-2of3.json")
        );
        assert_eq!(device_label([]), "cpu");
    }

    #[test]
    fn run_ids_stay_one_directory() {
        assert!(check_run_id("fleet-20261126.1").is_ok());
        assert!(check_run_id("../x").is_err());
        assert!(check_run_id("a/b").is_err());
        assert!(check_run_id("").is_err());
    }
}
