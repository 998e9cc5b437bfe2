//! Command-line syntax of `bench`.

use super::{BaselineArgs, ShardArgs, SweepArgs, TelemetryArgs};
use clap::Args;
use std::path::PathBuf;

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
