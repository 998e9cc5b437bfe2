//! Command-line syntax of `synth` and `inspect`: writing and reading GGUF files.

use clap::Args;
use std::path::PathBuf;

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
