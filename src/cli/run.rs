//! Command-line syntax that `bench` and `load` share: sensors, surviving failures, baselines and fleet shards.

use clap::Args;
use std::path::PathBuf;

/// How a sweep survives failures, shared by `bench` and `load`.
#[derive(Args)]
pub struct SweepArgs {
    /// Run every case in this process instead of one worker process per case (a crash then ends the run)
    #[arg(long = "in-process")]
    pub in_process: bool,
    /// Kill a case's worker after this long and record the case as failed (e.g. 10m)
    #[arg(long = "case-timeout")]
    pub case_timeout: Option<String>,
    /// Kill a case's worker that reports no progress for this long and record the case as failed (e.g. 2m)
    #[arg(long = "stall-timeout")]
    pub stall_timeout: Option<String>,
    /// Finish an interrupted or killed run: skip the cases RESULT's checkpoint (RESULT.partial.jsonl) holds and
    /// write RESULT
    #[arg(long = "resume", value_name = "RESULT")]
    pub resume: Option<PathBuf>,
    /// Run the machine's self-test again instead of using its cached outcome for this boot and build
    #[arg(long = "recheck")]
    pub recheck: bool,
    /// Skip the numerics gate (each case's logits against the CPU reference); recorded in the result
    #[arg(long = "no-verify")]
    pub no_verify: bool,
}

/// Running one shard of a sweep on a fleet, shared by `bench` and `load`.
#[derive(Args)]
pub struct ShardArgs {
    /// A [[sweep]] of models.toml: its models and settings replace the flags' (a key it leaves out keeps the
    /// flag's value); without --shard, the whole sweep
    #[arg(long = "sweep", value_name = "NAME")]
    pub sweep: Option<String>,
    /// Run shard I of N (0-based) of the cases, or `auto`: the index from SLURM_ARRAY_TASK_ID or
    /// JOB_COMPLETION_INDEX (Kubernetes Indexed Job), the count from TOKENMETER_SHARD_COUNT, else
    /// SLURM_ARRAY_TASK_COUNT. The result goes to <results-dir>/<run-id>/<host>-<device>-<I>of<N>.json
    #[arg(long = "shard", value_name = "I/N|auto")]
    pub shard: Option<String>,
    /// What the shards share out: case or model [default: the sweep's `per`, else case]
    #[arg(long = "per", value_name = "case|model")]
    pub per: Option<String>,
    /// The run's name, its results' sub-directory [default: $TOKENMETER_RUN_ID, else the sweep's name]
    #[arg(long = "run-id", value_name = "ID")]
    pub run_id: Option<String>,
}

/// Keeping a run's result as a named baseline, shared by `bench` and `load`.
#[derive(Args)]
pub struct BaselineArgs {
    /// Also keep the result file as the baseline NAME (<baseline-dir>/NAME.json), replacing an older one;
    /// refused when the run is interrupted or a case fails
    #[arg(long = "save-baseline", value_name = "NAME")]
    pub save_baseline: Option<String>,
    /// Directory of named baselines
    #[arg(long = "baseline-dir", value_name = "DIR", default_value = tokenmeter::results::baseline::DEFAULT_DIR)]
    pub baseline_dir: PathBuf,
}

/// Power, energy and memory-bandwidth options shared by `bench` and `load`.
#[derive(Args)]
pub struct TelemetryArgs {
    /// Read sensors (NVML, RAPL, this process): on or off
    #[arg(long = "telemetry", default_value = "on")]
    pub telemetry: String,
    /// Interval of background sensor readings
    #[arg(long = "sample-interval", default_value = "50ms")]
    pub sample_interval: String,
    /// Idle-power measurement before the cases when a sensor measures energy; 0 skips it
    #[arg(long = "idle", default_value = "10s")]
    pub idle: String,
    /// Reuse the idle baseline of an earlier result file instead of measuring one
    #[arg(long = "idle-from")]
    pub idle_from: Option<PathBuf>,
    /// A [[hardware]] entry of models.toml whose memory_bandwidth_gb_per_s overrides the measured bandwidth
    #[arg(long = "hardware")]
    pub hardware: Option<String>,
    /// Measure the CPU's memory bandwidth again instead of reusing this host's cached figure
    #[arg(long = "remeasure-bandwidth")]
    pub remeasure_bandwidth: bool,
}
