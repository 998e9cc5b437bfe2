//! What `bench` and `load` share: sensors, surviving failures, baselines and the fleet shard a run measures.

use super::{duration, unit};
use crate::cli::{BaselineArgs, ShardArgs, SweepArgs, TelemetryArgs};
use tokenmeter::commands::InputError;
use tokenmeter::fleet::{self, Shard, ShardRun};
use tokenmeter::runner::options::{BaselineTarget, RunOptions};
use tokenmeter::runner::sensors::TelemetryOptions;
use tokenmeter::runner::signals::StopFlags;

pub(super) fn telemetry_options(a: TelemetryArgs) -> Result<TelemetryOptions, InputError> {
    let enabled = match a.telemetry.as_str() {
        "on" => true,
        "off" => false,
        other => {
            return Err(InputError(format!(
                "--telemetry: expected on or off, got '{other}'"
            )))
        }
    };
    let idle = match a.idle.trim() {
        "0" => std::time::Duration::ZERO,
        s => duration("--idle", s)?,
    };
    Ok(TelemetryOptions {
        enabled,
        sample_interval: duration("--sample-interval", &a.sample_interval)?,
        idle,
        idle_from: a.idle_from,
        hardware: a.hardware,
        remeasure_bandwidth: a.remeasure_bandwidth,
    })
}

fn baseline_target(a: BaselineArgs) -> Result<Option<BaselineTarget>, InputError> {
    a.save_baseline
        .map(|name| {
            tokenmeter::results::baseline::validate_name(&name)
                .map_err(|e| InputError(format!("--save-baseline: {e}")))?;
            Ok(BaselineTarget {
                dir: a.baseline_dir,
                name,
            })
        })
        .transpose()
}

/// `--sweep`, `--shard`, `--per` and `--run-id`: the shard this run measures, if any (`--sweep` alone: the whole
/// sweep as shard 0/1).
pub(super) fn shard_run(a: ShardArgs) -> Result<Option<ShardRun>, InputError> {
    let per = unit("--per", a.per.as_deref())?;
    let shard = match a.shard.as_deref() {
        Some("auto") => Some(Shard::from_env(|k| std::env::var(k).ok()).map_err(InputError)?),
        Some(s) => Some(Shard::parse(s).map_err(|e| InputError(format!("--shard: {e}")))?),
        None if a.sweep.is_some() => Some(Shard { index: 0, count: 1 }),
        None => None,
    };
    let Some(shard) = shard else {
        if per.is_some() || a.run_id.is_some() {
            return Err(InputError(
                "--per and --run-id go with --shard or --sweep".into(),
            ));
        }
        return Ok(None);
    };
    let run_id = a
        .run_id
        .or_else(|| {
            std::env::var(fleet::RUN_ID_ENV)
                .ok()
                .filter(|s| !s.is_empty())
        })
        .or_else(|| a.sweep.clone())
        .unwrap_or_else(|| "shards".into());
    fleet::check_run_id(&run_id).map_err(|e| InputError(format!("--run-id: {e}")))?;
    Ok(Some(ShardRun {
        sweep: a.sweep,
        run_id,
        shard,
        per,
    }))
}

/// `run` with its shard. `--resume` names the result file to finish; `--resume auto` goes with a shard
/// (`--sweep`/`--shard`), whose run finds the file itself ([`fleet::RESUME_AUTO`]).
pub(super) fn sharded(
    mut run: RunOptions,
    shard: Option<ShardRun>,
) -> Result<RunOptions, InputError> {
    if run.resume.as_deref().and_then(|p| p.to_str()) == Some(fleet::RESUME_AUTO) {
        if shard.is_none() {
            return Err(InputError(
                "--resume auto resumes a shard's checkpoint: give --sweep or --shard with it, or name the \
                 result file to finish (./auto for a file named so)"
                    .into(),
            ));
        }
        run.resume = None;
        run.resume_auto = true;
    }
    run.shard = shard;
    Ok(run)
}

pub(super) fn run_options(
    config: Option<std::path::PathBuf>,
    telemetry: TelemetryArgs,
    (sweep, baseline): (SweepArgs, BaselineArgs),
    (out, results_dir): (Option<std::path::PathBuf>, std::path::PathBuf),
    verbose: bool,
    flags: StopFlags,
) -> Result<RunOptions, InputError> {
    if sweep.resume.is_some() && out.is_some() {
        return Err(InputError(
            "--resume writes the result file it names: give it or --out, not both".into(),
        ));
    }
    Ok(RunOptions {
        config,
        telemetry: telemetry_options(telemetry)?,
        out,
        results_dir,
        verbose,
        command_line: std::env::args().collect(),
        stop: flags.stop,
        stop_now: flags.stop_now,
        signal: flags.signal,
        in_process: sweep.in_process,
        case_timeout: sweep
            .case_timeout
            .as_deref()
            .map(|d| duration("--case-timeout", d))
            .transpose()?,
        stall_timeout: sweep
            .stall_timeout
            .as_deref()
            .map(|d| duration("--stall-timeout", d))
            .transpose()?,
        resume: sweep.resume,
        resume_auto: false,
        recheck: sweep.recheck,
        verify: !sweep.no_verify,
        save_baseline: baseline_target(baseline)?,
        phase: None,
        hard_deadline: None,
        shard: None,
    })
}
