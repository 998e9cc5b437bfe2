//! `profile`'s arguments into [`ProfileOptions`].

use super::cost::pricing;
use super::duration;
use super::run::telemetry_options;
use crate::cli::{ProfileArgs, TelemetryArgs};
use tokenmeter::commands::profile::ProfileOptions;
use tokenmeter::commands::InputError;
use tokenmeter::runner::options::RunOptions;
use tokenmeter::runner::signals::StopFlags;
use tokenmeter::runner::sweep::profile::ProfileOptions as SweepOptions;

pub fn profile(
    a: ProfileArgs,
    verbose: bool,
    stop: StopFlags,
) -> Result<ProfileOptions, InputError> {
    let telemetry = telemetry_options(TelemetryArgs {
        telemetry: a.telemetry,
        sample_interval: "50ms".into(),
        idle: a.idle,
        idle_from: None,
        hardware: None,
        remeasure_bandwidth: false,
    })?;
    let budget = a
        .budget
        .as_deref()
        .map(|b| duration("--budget", b))
        .transpose()?;
    if budget.is_some_and(|b| b.is_zero()) {
        return Err(InputError("--budget: must be longer than 0".into()));
    }
    let slo = a
        .slo
        .as_deref()
        .map(|s| {
            tokenmeter::results::slo::parse_slo(s).map_err(|e| InputError(format!("--slo: {e}")))
        })
        .transpose()?;
    Ok(ProfileOptions {
        sweep: SweepOptions {
            quick: a.quick,
            models: a.models,
            budget,
            out_dir: a.out_dir,
            slo,
            n_threads: a.threads,
            n_gpu_layers: a.n_gpu_layers,
            run: RunOptions {
                config: a.pricing.config.clone(),
                telemetry,
                out: None,
                results_dir: "results".into(),
                verbose,
                command_line: std::env::args().collect(),
                stop: stop.stop,
                stop_now: stop.stop_now,
                signal: stop.signal,
                in_process: a.in_process,
                case_timeout: None,
                stall_timeout: None,
                resume: None,
                resume_auto: false,
                recheck: false,
                verify: true,
                save_baseline: None,
                phase: None,
                hard_deadline: None,
                shard: None,
            },
        },
        selection: pricing(a.pricing, None),
    })
}
