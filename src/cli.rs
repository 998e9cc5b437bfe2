//! Command-line syntax (clap derive). Converted into the commands' options structs in `main`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "tokenmeter",
    version,
    about = "Measure local LLM inference through llama.cpp and compare its cost with cloud APIs",
    after_help = tokenmeter::exit::TABLE
)]
pub struct Cli {
    /// Show llama.cpp's own log
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Write a GGUF model of a published shape with seeded random weights (no download)
    Synth(SynthArgs),
    /// Validate a GGUF file and show its architecture, size, types and metadata
    Inspect(InspectArgs),
    /// Benchmark prompt processing and generation (llama-bench's tests)
    Bench(Box<BenchArgs>),
    /// Serve simulated requests with continuous batching: latency percentiles and throughput per load level
    Load(Box<LoadArgs>),
    /// Local cost per 1M tokens, monthly cost against cloud APIs, break-even, sensitivity and hybrid plans
    Cost(Box<crate::cli_cost::CostArgs>),
    /// Cloud price files: `prices import` converts LiteLLM's price file into [[cloud]] entries
    Prices(crate::cli_cost::PricesArgs),
    /// Local, cloud or a hybrid pattern: the six-dimension decision, one line per dimension
    Decide(Box<crate::cli_cost::DecideArgs>),
    /// Judge two sets of results: per case the ratio, its confidence interval and a verdict (exit 1 when slower)
    Compare(Box<CompareArgs>),
    /// Write a result file in another tool's format: Bencher (bmf), github-action-benchmark (gab) or llama-bench's
    /// record (llama-bench-jsonl, llama-bench-csv)
    Export(ExportArgs),
    /// Profile this machine in one command: the model shapes that fit its memory, bench, a load sweep and long
    /// context within a time budget, every result file and the report in one directory
    Profile(Box<ProfileArgs>),
    /// Merge result files from any number of machines into one page: the comparison, charts, provenance and the
    /// cost model's assumptions (HTML with inline SVG, or markdown)
    Report(Box<crate::cli_cost::ReportArgs>),
    /// A [[sweep]]'s shards (one per case or per model) with an estimate of each one's wall time; `--emit slurm`
    /// or `--emit kubernetes` writes the job-array script or Indexed Job manifest that runs them
    Plan(Box<PlanArgs>),
    /// A fleet run's shards: `fleet status RUN_DIR` lists which are done, failed or missing
    Fleet(FleetArgs),
    /// Runs one case for a parent `bench` or `load` (a request on stdin, replies on stdout)
    #[command(hide = true)]
    Worker,
}

#[derive(Args)]
pub struct SynthArgs {
    /// Model shape: tiny, small, qwen2.5-0.5b, llama-3.2-1b, llama-3.1-8b, qwen2.5-7b, llama-3.1-70b
    #[arg(long)]
    pub shape: String,
    /// Weight type: f16, q8_0, q4_0
    #[arg(long = "type", default_value = "q4_0")]
    pub weight_type: String,
    /// Seed of the random weights (same arguments and seed give a byte-identical file)
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output file
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Print the file size and parameter count without writing
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long)]
    pub layers: Option<u64>,
    #[arg(long)]
    pub embd: Option<u64>,
    #[arg(long)]
    pub heads: Option<u64>,
    #[arg(long)]
    pub kv_heads: Option<u64>,
    #[arg(long)]
    pub ff: Option<u64>,
    #[arg(long)]
    pub vocab: Option<u64>,
    #[arg(long)]
    pub ctx: Option<u64>,
}

#[derive(Args)]
pub struct InspectArgs {
    pub file: PathBuf,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ExportArgs {
    /// Result file of `bench` or `load`
    pub result: PathBuf,
    /// bmf: Bencher Metric Format; gab: github-action-benchmark's customBiggerIsBetter and customSmallerIsBetter
    /// (two files: needs --out PATH and writes PATH's stem + -bigger.json and + -smaller.json); llama-bench-jsonl,
    /// llama-bench-csv: llama-bench's record per case of a `bench` result
    #[arg(long)]
    pub format: String,
    /// Output file (default: standard output)
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args)]
pub struct BenchArgs {
    /// Model file or [[model]] name from models.toml (repeatable); none: the embedded default model
    #[arg(short = 'm', long = "model")]
    pub models: Vec<String>,
    /// Configuration file (default: ./models.toml when present)
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Prompt lengths to process (pp tests); 0 skips
    #[arg(
        short = 'p',
        long = "n-prompt",
        value_delimiter = ',',
        default_value = "512"
    )]
    pub n_prompt: Vec<u32>,
    /// Numbers of tokens to generate (tg tests); 0 skips
    #[arg(
        short = 'n',
        long = "n-gen",
        value_delimiter = ',',
        default_value = "128"
    )]
    pub n_gen: Vec<u32>,
    /// Prompt then generation, as PROMPT,GEN (repeatable)
    #[arg(long = "pg", value_name = "PROMPT,GEN", num_args = 1)]
    pub pg: Vec<String>,
    /// Context depths (tokens already in the KV cache before the test)
    #[arg(
        short = 'd',
        long = "n-depth",
        value_delimiter = ',',
        default_value = "0"
    )]
    pub n_depth: Vec<u32>,
    /// Repetitions per case (fixed count; see --target-ci for adaptive repetitions)
    #[arg(short = 'r', long = "repetitions", default_value_t = 5)]
    pub repetitions: u32,
    /// Repeat until the 95% confidence interval of the mean t/s is within this (e.g. 2%)
    #[arg(long = "target-ci")]
    pub target_ci: Option<String>,
    /// With --target-ci: fewest repetitions
    #[arg(long = "min-runs", default_value_t = 3)]
    pub min_runs: u32,
    /// With --target-ci: most repetitions
    #[arg(long = "max-runs", default_value_t = 30)]
    pub max_runs: u32,
    /// With --target-ci: stop repeating a case after this long (e.g. 60s, 5m)
    #[arg(long = "max-time")]
    pub max_time: Option<String>,
    /// Threads (default: physical cores)
    #[arg(short = 't', long = "threads", value_delimiter = ',')]
    pub threads: Option<Vec<u32>>,
    /// Layers to offload to the GPU; -1: all
    #[arg(
        long = "n-gpu-layers",
        visible_alias = "ngl",
        value_delimiter = ',',
        default_value = "-1",
        allow_negative_numbers = true
    )]
    pub n_gpu_layers: Vec<i32>,
    /// llama.cpp's extra buffer types for the weights (repacked, AMX), 0 or 1 (list, as llama-bench's)
    #[arg(long = "repack", value_delimiter = ',', default_value = "1")]
    pub repack: Vec<u8>,
    /// Logical batch size
    #[arg(
        short = 'b',
        long = "batch-size",
        value_delimiter = ',',
        default_value = "2048"
    )]
    pub batch_size: Vec<u32>,
    /// Physical batch size
    #[arg(
        long = "ubatch-size",
        visible_alias = "ub",
        value_delimiter = ',',
        default_value = "512"
    )]
    pub ubatch_size: Vec<u32>,
    /// Flash attention: on, off or auto (also 1, 0, -1) (list)
    #[arg(
        long = "flash-attn",
        visible_alias = "fa",
        value_delimiter = ',',
        default_value = "auto",
        allow_hyphen_values = true
    )]
    pub flash_attn: Vec<String>,
    /// Keep the KV cache in host memory, 0 or 1 (list)
    #[arg(
        long = "no-kv-offload",
        visible_alias = "nkvo",
        value_delimiter = ',',
        default_value = "0"
    )]
    pub no_kv_offload: Vec<u8>,
    /// KV cache type for K
    #[arg(
        long = "cache-type-k",
        visible_alias = "ctk",
        value_delimiter = ',',
        default_value = "f16"
    )]
    pub cache_type_k: Vec<String>,
    /// KV cache type for V
    #[arg(
        long = "cache-type-v",
        visible_alias = "ctv",
        value_delimiter = ',',
        default_value = "f16"
    )]
    pub cache_type_v: Vec<String>,
    /// Memory-map the model, 0 or 1
    #[arg(long = "mmap", default_value_t = 1)]
    pub mmap: u8,
    /// Warm-up runs per case before the repetitions
    #[arg(long = "warmup", default_value_t = 1)]
    pub warmup: u32,
    /// Skip the warm-up run (same as --warmup 0)
    #[arg(long = "no-warmup")]
    pub no_warmup: bool,
    /// Seed of the random token ids
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    #[command(flatten)]
    pub sweep: SweepArgs,
    #[command(flatten)]
    pub baseline: BaselineArgs,
    #[command(flatten)]
    pub shard: ShardArgs,
    /// Output format on stdout: md, csv, json, jsonl
    #[arg(short = 'o', long = "output", default_value = "md")]
    pub output: String,
    /// Result file (default: results/<date>-<host>-<model>.json)
    #[arg(long = "out")]
    pub out: Option<PathBuf>,
    /// Directory for result files
    #[arg(long = "results-dir", default_value = "results")]
    pub results_dir: PathBuf,
    /// Run cases that preflight refuses for memory or for exceeding the model's trained context
    #[arg(long = "force")]
    pub force: bool,
}

#[derive(Args)]
pub struct LoadArgs {
    /// Model file or [[model]] name from models.toml; none: the embedded default model
    #[arg(short = 'm', long = "model")]
    pub model: Option<String>,
    /// Configuration file (default: ./models.toml when present)
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Closed loop: requests kept in flight, one level per value (default 1,2,4,8)
    #[arg(short = 'c', long = "concurrency", value_delimiter = ',')]
    pub concurrency: Vec<u32>,
    /// Open loop: Poisson arrival rates in requests/s, one level per value
    #[arg(long = "rate", value_delimiter = ',')]
    pub rate: Vec<f64>,
    /// Open loop: parallel sequence slots serving the arrivals
    #[arg(long = "parallel")]
    pub parallel: Option<u32>,
    /// Prompt tokens per request: N, a range A..B or a list A,B,C [default: the workload's, else 128]
    #[arg(long = "input-tokens")]
    pub input_tokens: Option<String>,
    /// Output tokens per request: N, a range A..B or a list A,B,C [default: the workload's, else 128]
    #[arg(long = "output-tokens")]
    pub output_tokens: Option<String>,
    /// A [[workload]] of models.toml: its request lengths (a {min, max} distribution becomes a range, else the
    /// mean) and its SLO, where --input-tokens, --output-tokens or --slo do not say otherwise
    #[arg(long = "workload")]
    pub workload: Option<String>,
    /// Requests per level (default: four per slot unless --duration is given)
    #[arg(long = "requests")]
    pub requests: Option<u32>,
    /// Length of each level (e.g. 30s, 2m); requests still running then are reported as not completed
    #[arg(long = "duration")]
    pub duration: Option<String>,
    /// Latency objective, e.g. ttft_p95=500ms,itl_p95=50ms [default: the workload's, else none]
    #[arg(long = "slo")]
    pub slo: Option<String>,
    /// Stop adding levels after one that misses the SLO or whose goodput (output t/s without an SLO) is not 5%
    /// above the best lower level's; the levels must rise (e.g. -c 1,2,4,8,16,32)
    #[arg(long = "until-saturated")]
    pub until_saturated: bool,
    /// Start a closed loop's requests together, as llama-batched-bench does, instead of staggered: no warm-up or
    /// cool-down is left out of the figures
    #[arg(long = "burst")]
    pub burst: bool,
    /// Threads (default: physical cores)
    #[arg(short = 't', long = "threads")]
    pub threads: Option<u32>,
    /// Layers to offload to the GPU; -1: all
    #[arg(long = "n-gpu-layers", visible_alias = "ngl", default_value_t = -1, allow_negative_numbers = true)]
    pub n_gpu_layers: i32,
    /// llama.cpp's extra buffer types for the weights (repacked, AMX), 0 or 1
    #[arg(long = "repack", default_value_t = 1)]
    pub repack: u8,
    /// Logical batch size
    #[arg(short = 'b', long = "batch-size", default_value_t = 2048)]
    pub batch_size: u32,
    /// Physical batch size
    #[arg(long = "ubatch-size", visible_alias = "ub", default_value_t = 512)]
    pub ubatch_size: u32,
    /// Flash attention: on, off or auto
    #[arg(
        long = "flash-attn",
        visible_alias = "fa",
        default_value = "auto",
        allow_hyphen_values = true
    )]
    pub flash_attn: String,
    /// Keep the KV cache in host memory, 0 or 1
    #[arg(long = "no-kv-offload", visible_alias = "nkvo", default_value_t = 0)]
    pub no_kv_offload: u8,
    /// KV cache type for K
    #[arg(long = "cache-type-k", visible_alias = "ctk", default_value = "f16")]
    pub cache_type_k: String,
    /// KV cache type for V
    #[arg(long = "cache-type-v", visible_alias = "ctv", default_value = "f16")]
    pub cache_type_v: String,
    /// Memory-map the model, 0 or 1
    #[arg(long = "mmap", default_value_t = 1)]
    pub mmap: u8,
    /// Seed of request lengths, arrivals and token ids
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    #[command(flatten)]
    pub sweep: SweepArgs,
    #[command(flatten)]
    pub baseline: BaselineArgs,
    #[command(flatten)]
    pub shard: ShardArgs,
    /// Output format on stdout: md, csv, json, jsonl
    #[arg(short = 'o', long = "output", default_value = "md")]
    pub output: String,
    /// Result file (default: results/<date>-<host>-<model>-load.json)
    #[arg(long = "out")]
    pub out: Option<PathBuf>,
    /// Directory for result files
    #[arg(long = "results-dir", default_value = "results")]
    pub results_dir: PathBuf,
    /// Run cases that preflight refuses for memory or for exceeding the model's trained context
    #[arg(long = "force")]
    pub force: bool,
}

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
    pub pricing: crate::cli_cost::PricingArgs,
}

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

/// `tokenmeter compare BASE NEW`, `compare --baseline NAME NEW`, or `compare --interleave … -- bench ARGS`.
#[derive(Args)]
#[command(after_help = "\
Each side is a tokenmeter result file, a directory of them (searched; runs of the same case pool their \
repetitions), a baseline name saved with --save-baseline, or llama-bench's -o json|jsonl|csv output.

Bench cases join on llama-bench's key properties (model, n_threads, n_gpu_layers, n_batch, n_ubatch, type_k, \
type_v, flash_attn, n_prompt, n_gen, n_depth); load levels on model, arrivals and request lengths.

A case is slower or faster only when the whole confidence interval of new/base lies beyond --noise. Two runs made \
at different times also differ by whatever the machine's speed did in between, which their repetitions do not \
show, so the run is the unit: separate runs gate only with two or more runs (files) per side, each run one sample; \
with one run per side the within-run interval is shown and does not gate. On a shared machine use --interleave, \
which runs both sides alternately and tests the ratio round by round.

One figure gates per case: t/s for bench, goodput for load (output t/s without an SLO); --fail-on adds others. \
Holm's correction over all gated figures keeps the chance of any false alarm at --alpha.

Exit codes: 0 no regression, 1 a gated figure slower (or changed, with --fail-on any-change), 2 bad input.

Examples:
  tokenmeter compare results/old.json results/new.json
  tokenmeter compare --baseline main results/new.json -o json
  tokenmeter compare llama-bench.json results/new.json
  tokenmeter compare --interleave --rounds 10 --base-exe ./old/tokenmeter -- bench -m m.gguf -p 64 -n 32 -r 3 -t 2
  tokenmeter compare --interleave --base-args '-t 2' --new-args '-t 1' -- bench -m m.gguf -p 64 -r 3")]
pub struct CompareArgs {
    /// BASE and NEW (with --baseline, only NEW)
    #[arg(value_name = "BASE NEW")]
    pub sides: Vec<String>,
    /// Compare NEW with this saved baseline
    #[arg(long)]
    pub baseline: Option<String>,
    /// Where baselines are kept
    #[arg(long = "baseline-dir", default_value = "results/baselines")]
    pub baseline_dir: PathBuf,
    /// Output: md or json
    #[arg(short = 'o', long = "output", default_value = "md")]
    pub output: String,
    /// Write the report here instead of standard output
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// 1 − the confidence level of the intervals
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Changes smaller than this are not counted (2% or 0.02)
    #[arg(long, default_value = "2%")]
    pub noise: String,
    /// What exits with code 1: slower or any-change, and figures to gate besides each kind's primary one,
    /// comma-separated (e.g. slower,ttft_p99,J/token)
    #[arg(long = "fail-on", default_value = "slower")]
    pub fail_on: String,
    /// Join keys to leave out, comma-separated (e.g. n_threads to compare -t 2 with -t 1)
    #[arg(long, value_delimiter = ',')]
    pub ignore: Vec<String>,
    /// Join cases of different models (the same as --ignore model)
    #[arg(long = "ignore-model")]
    pub ignore_model: bool,
    /// Compare cases whose numerics gate failed (their speed comes from a wrong computation; the output says so)
    #[arg(long)]
    pub allow_wrong_numerics: bool,
    /// The sides are interleaved rounds (directories with one file per round, paired in name order)
    #[arg(long)]
    pub paired: bool,
    /// Bootstrap resamples for load latency percentiles and rates
    #[arg(long, default_value_t = 2000)]
    pub resamples: usize,
    /// Seed of the bootstrap
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Measure both sides here, alternately, then compare them round by round
    #[arg(long)]
    pub interleave: bool,
    /// Rounds of --interleave run at least (each runs both sides once)
    #[arg(long, default_value_t = 20)]
    pub rounds: u32,
    /// Rounds of --interleave run at most: past --rounds, one more while a gated figure is underpowered
    /// (default: 3 × --rounds; --max-rounds equal to --rounds runs exactly --rounds)
    #[arg(long = "max-rounds")]
    pub max_rounds: Option<u32>,
    /// The tokenmeter the base side runs (default: this one)
    #[arg(long = "base-exe")]
    pub base_exe: Option<PathBuf>,
    /// The tokenmeter the new side runs (default: this one)
    #[arg(long = "new-exe")]
    pub new_exe: Option<PathBuf>,
    /// Arguments only the base side adds (shell words)
    #[arg(long = "base-args", default_value = "", allow_hyphen_values = true)]
    pub base_args: String,
    /// Arguments only the new side adds (shell words)
    #[arg(long = "new-args", default_value = "", allow_hyphen_values = true)]
    pub new_args: String,
    /// Where --interleave keeps each round's result files (default: results/compare-<time>)
    #[arg(long)]
    pub keep: Option<PathBuf>,
    /// The command both sides run under --interleave, after `--` (e.g. bench -m m.gguf -p 64)
    #[arg(last = true)]
    pub run: Vec<String>,
}
