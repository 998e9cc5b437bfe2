//! Command-line syntax of `plan` and `fleet`: a sweep's shards, the files that run them, and their status.

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `tokenmeter plan SWEEP`.
#[derive(Args)]
#[command(after_help = "\
Examples:
  tokenmeter plan fleet-example
  tokenmeter plan fleet-example --per model -o json
  tokenmeter plan fleet-example --emit slurm --results-dir /shared/results --out tokenmeter-array.sbatch
  tokenmeter plan fleet-example --emit kubernetes --image registry.example/tokenmeter:cuda \\
      --gpu-product NVIDIA-H100-80GB-HBM3 --out job.yaml")]
pub struct PlanArgs {
    /// A [[sweep]] of models.toml
    pub sweep: String,
    /// Configuration file (default: ./models.toml when present)
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// What the shards share out: case or model [default: the sweep's `per`, else case]
    #[arg(long = "per", value_name = "case|model")]
    pub per: Option<String>,
    /// Fewer shards than units (units are dealt round-robin) [default: one per unit]
    #[arg(long = "shards", value_name = "N")]
    pub shards: Option<u32>,
    /// Estimate with this [[hardware]] entry's memory bandwidth instead of this host's
    #[arg(long = "hardware")]
    pub hardware: Option<String>,
    /// Output: md or json
    #[arg(short = 'o', long = "output", default_value = "md")]
    pub output: String,
    /// Write the file that runs the shards: slurm (a job-array script) or kubernetes (an Indexed Job manifest)
    #[arg(long = "emit", value_name = "slurm|kubernetes")]
    pub emit: Option<String>,
    /// Write the plan or the emitted file here instead of standard output
    #[arg(long = "out")]
    pub out: Option<PathBuf>,
    /// With --emit: the run's name, its results' sub-directory [default: <sweep>-<UTC date-time>]
    #[arg(long = "run-id", value_name = "ID")]
    pub run_id: Option<String>,
    /// With --emit: shards running at once [default: all]
    #[arg(long = "max-parallel", value_name = "K")]
    pub max_parallel: Option<u32>,
    /// With --emit: GPUs per shard; 0 (Slurm) leaves out --gres, for CPU nodes
    #[arg(long = "gpus", default_value_t = 1)]
    pub gpus: u32,
    /// With --emit slurm: the tokenmeter binary on shared storage [default: this one]
    #[arg(long = "binary")]
    pub binary: Option<PathBuf>,
    /// With --emit slurm: the shared results directory
    #[arg(long = "results-dir", default_value = "results")]
    pub results_dir: PathBuf,
    /// With --emit kubernetes: the image built from the Dockerfile
    #[arg(long = "image", default_value = "tokenmeter:cuda")]
    pub image: String,
    /// With --emit kubernetes: the nodes' nvidia.com/gpu.product label
    #[arg(long = "gpu-product", default_value = "NVIDIA-H100-80GB-HBM3")]
    pub gpu_product: String,
}

#[derive(Args)]
pub struct FleetArgs {
    #[command(subcommand)]
    pub command: FleetCommand,
}

#[derive(Subcommand)]
pub enum FleetCommand {
    /// Which shards of a run are done, failed or missing (exit 1 unless all are done)
    Status(FleetStatusArgs),
}

#[derive(Args)]
pub struct FleetStatusArgs {
    /// The run's directory (<results-dir>/<run-id>)
    pub dir: PathBuf,
    /// The shard count [default: the one the run's files record]
    #[arg(long = "shards", value_name = "N")]
    pub shards: Option<u32>,
    /// Take the shard count from this [[sweep]]'s plan
    #[arg(long = "sweep", value_name = "NAME", conflicts_with = "shards")]
    pub sweep: Option<String>,
    /// With --sweep: the configuration file
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// With --sweep: the unit the run was sharded by [default: the sweep's]
    #[arg(long = "per", value_name = "case|model")]
    pub per: Option<String>,
}
