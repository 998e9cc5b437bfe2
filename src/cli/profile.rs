//! Command-line syntax of `profile`.

use clap::Args;
use std::path::PathBuf;

/// `tokenmeter profile`.
#[derive(Args)]
#[command(after_help = "\
Phases run in this order, each skipped when its estimate does not fit the time left: for each model, smallest \
first, bench pp512 and tg128 and then a load sweep (concurrency 1, 2, 4, … until goodput stops rising or the SLO \
is missed); then tg128 at depth 4096 for each. Estimates come from the rates measured so far; the summary \
(DIR/profile.md) and the report say what was skipped and why.

Without --models, the shapes llama-3.2-1b, llama-3.1-8b and llama-3.1-70b (q4_0) that fit the device's free \
memory (GPU memory when layers are offloaded, else RAM) are synthesized once into the cache and measured.

Ctrl-C finishes the case in flight, keeps every result file written so far and writes the report of them.

Examples:
  tokenmeter profile --quick
  tokenmeter profile -o results/profile-h100 --cloud gpt-4o-mini --hardware h100-server
  tokenmeter report results/profile-h100 results/profile-4090 -o compare.html")]
pub struct ProfileArgs {
    /// A few minutes: 3 repetitions and a 4-minute budget (unless --budget says otherwise)
    #[arg(long)]
    pub quick: bool,
    /// [[model]] names or GGUF files to profile (default: the shapes that fit)
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Time budget of the whole profile, e.g. 15m, 1h [default: 15m; with --quick 4m]
    #[arg(long)]
    pub budget: Option<String>,
    /// Directory for the result files, profile.md and report.html; must be new or empty
    /// [default: results/profile-<time>-<host>]
    #[arg(short = 'o', long = "out-dir", value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// The load sweep's latency objective [default: the workload's, else ttft_p95=2s,itl_p95=100ms]
    #[arg(long)]
    pub slo: Option<String>,
    /// Threads (default: physical cores)
    #[arg(short = 't', long = "threads")]
    pub threads: Option<u32>,
    /// Layers to offload to the GPU; -1: all
    #[arg(long = "n-gpu-layers", visible_alias = "ngl", default_value_t = -1, allow_negative_numbers = true)]
    pub n_gpu_layers: i32,
    /// Read sensors (NVML, RAPL, this process): on or off
    #[arg(long = "telemetry", default_value = "on")]
    pub telemetry: String,
    /// Idle-power measurement before the first phase when a sensor measures energy; 0 skips it
    #[arg(long = "idle", default_value = "10s")]
    pub idle: String,
    /// Run every case in this process instead of one worker process per case
    #[arg(long = "in-process")]
    pub in_process: bool,
    /// How the report prices the results; --workload also gives the load sweep its request lengths and SLO
    #[command(flatten)]
    pub pricing: super::PricingArgs,
}
