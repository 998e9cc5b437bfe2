//! Assembling and writing the result file, so that whatever was measured is kept when a run fails or is stopped,
//! and, when asked and the run is whole, keeping it as a named baseline.

use super::checkpoint::Checkpoint;
use super::options::RunOptions;
use super::sensors as tm;
use super::setup::Setup;
use crate::results::baseline;
use crate::results::load::LoadSweep;
use crate::results::telemetry::Bandwidth;
use crate::results::{CaseRecord, FailedCase, ResultFile, ToolInfo, Warning, SCHEMA_VERSION};
use chrono::Utc;
use std::path::{Path, PathBuf};

/// What became of `--save-baseline`.
#[derive(Debug, Clone, PartialEq)]
pub enum BaselineOutcome {
    /// The result file was also written here.
    Saved(PathBuf),
    /// The run was not whole (interrupted, failed cases…); only its result file was written.
    Refused { name: String, reason: String },
}

impl std::fmt::Display for BaselineOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BaselineOutcome::Saved(path) => write!(f, "baseline: {}", path.display()),
            BaselineOutcome::Refused { name, reason } => write!(
                f,
                "baseline '{name}' not saved: {reason} (the result file is kept; rerun to save a baseline)"
            ),
        }
    }
}

/// A written result file and what became of `--save-baseline`.
pub struct Finished {
    pub result: ResultFile,
    pub baseline: Option<BaselineOutcome>,
}

/// What a run measured, ready to become its result file.
pub struct Measured {
    /// `bench` or `load`.
    pub kind: &'static str,
    pub parameters: serde_json::Value,
    pub cases: Vec<CaseRecord>,
    pub load: Option<LoadSweep>,
    pub bandwidth: Option<Bandwidth>,
    /// The run's own warnings, after the setup's.
    pub warnings: Vec<Warning>,
    /// Cases or levels whose worker ended without a result.
    pub failed: Vec<FailedCase>,
    /// The error that ended the run early, if one did.
    pub failure: Option<anyhow::Error>,
}

impl Measured {
    fn anything(&self) -> bool {
        !self.cases.is_empty()
            || !self.failed.is_empty()
            || self.load.as_ref().is_some_and(|l| !l.levels.is_empty())
    }
}

/// A sharded run's parameters carry the shard (`parameters.fleet`: sweep, run id, shard and unit), so that
/// `fleet status` reads the shard count from any of the run's files.
fn with_shard(
    mut parameters: serde_json::Value,
    shard: Option<&crate::fleet::ShardRun>,
) -> serde_json::Value {
    if let (Some(s), Some(map)) = (shard, parameters.as_object_mut()) {
        let mut s = s.clone();
        s.per = Some(s.unit());
        map.insert(
            "fleet".into(),
            serde_json::to_value(s).expect("a shard serializes"),
        );
    }
    parameters
}

/// Assembles the result file and writes it to `path` when anything was measured or nothing failed; a failure
/// is returned with the saved file named in its context. The checkpoint is removed once the result holds a
/// `whole` run with no failed unit; otherwise it stays for `--resume`, and a result that cannot be written names
/// it. With `--save-baseline`, a whole run's result is also saved as that baseline; one interrupted, with failed
/// cases or with nothing measured is not.
pub fn finish(
    setup: Setup,
    run: &RunOptions,
    measured: Measured,
    path: &Path,
    checkpoint: Option<Checkpoint>,
    whole: bool,
) -> anyhow::Result<Finished> {
    let anything = measured.anything();
    let failure = measured.failure;
    let complete = whole && failure.is_none() && measured.failed.is_empty();
    let Setup {
        started_at,
        host,
        build,
        entries,
        meter,
        mut warnings,
        ..
    } = setup;
    warnings.extend(measured.warnings);
    warnings.extend(tm::sensor_warnings(&meter));
    let result = ResultFile {
        schema_version: SCHEMA_VERSION,
        kind: measured.kind.into(),
        tokenmeter: ToolInfo::current(),
        command_line: run.command_line.clone(),
        started_at,
        finished_at: Utc::now(),
        interrupted: run.stopped(),
        interrupted_by: match run.signal.load(std::sync::atomic::Ordering::Relaxed) {
            0 => None,
            s => Some(super::signals::short_name(s).to_string()),
        },
        host,
        build,
        models: entries,
        parameters: with_shard(measured.parameters, run.shard.as_ref()),
        cases: measured.cases,
        load: measured.load,
        telemetry: Some(tm::info(&meter, measured.bandwidth)),
        failed: measured.failed,
        warnings,
    };
    if anything || failure.is_none() {
        if let Err(e) = result.write(path) {
            let kept = checkpoint.as_ref().map(|c| {
                format!(
                    "every unit measured is in {}; once there is room, `--resume {}` writes the result",
                    c.path().display(),
                    path.display()
                )
            });
            let e = anyhow::Error::new(e);
            return Err(match (kept, failure) {
                (Some(kept), Some(first)) => first.context(format!("{e}")).context(kept),
                (Some(kept), None) => e.context(kept),
                (None, Some(first)) => first.context(format!("{e}")),
                (None, None) => e,
            });
        }
    }
    if let Some(c) = checkpoint.filter(|_| complete) {
        let cp = c.path().to_path_buf();
        c.remove()
            .map_err(|e| crate::exit::StorageError::new(&cp, format!("cannot remove: {e}")))?;
    }
    match failure {
        Some(e) if anything => {
            Err(e.context(format!("what was measured is saved to {}", path.display())))
        }
        Some(e) => Err(e),
        None => {
            let baseline = match &run.save_baseline {
                None => None,
                Some(t) => Some(match baseline::unfit(&result) {
                    Some(reason) => BaselineOutcome::Refused {
                        name: t.name.clone(),
                        reason,
                    },
                    None => BaselineOutcome::Saved(
                        baseline::save(&result, &t.dir, &t.name).map_err(|e| {
                            anyhow::Error::new(e).context(format!(
                                "baseline '{}' not saved (the result is saved to {})",
                                t.name,
                                path.display()
                            ))
                        })?,
                    ),
                }),
            };
            Ok(Finished { result, baseline })
        }
    }
}
