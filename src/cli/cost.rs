//! Command-line syntax of `cost`, `prices`, `decide` and `report`: the commands that price result files.

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Which configuration entries price a result (shared by `cost`, `decide` and `report`).
#[derive(Args)]
pub struct PricingArgs {
    /// Configuration (default: ./models.toml)
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// More [[cloud]] entries, e.g. written by `prices import` (repeatable)
    #[arg(long = "prices")]
    pub prices: Vec<PathBuf>,
    /// [[hardware]] name (default: the one matching the result's devices, else the first)
    #[arg(long)]
    pub hardware: Option<String>,
    /// [[workload]] name (default: the first)
    #[arg(long)]
    pub workload: Option<String>,
    /// [[cloud]] model or provider/model (repeatable; default: all; the first is the reference)
    #[arg(long = "cloud")]
    pub clouds: Vec<String>,
    /// Price a `load` result whose request lengths or SLO differ from the workload's (the report says so)
    #[arg(long)]
    pub allow_shape_mismatch: bool,
    /// Use cases whose numerics gate failed (their speed comes from a wrong computation; the output says so)
    #[arg(long)]
    pub allow_wrong_numerics: bool,
}

/// Which configuration entries to use and, in a result of several models, which model (`cost` and `decide`).
#[derive(Args)]
pub struct SelectionArgs {
    #[command(flatten)]
    pub pricing: PricingArgs,
    /// With several models in the result file: which one (part of its path)
    #[arg(long)]
    pub model: Option<String>,
}

#[derive(Args)]
pub struct CostArgs {
    /// Result file written by `bench` or `load`
    #[arg(long)]
    pub result: PathBuf,
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Add the hybrid plans: a simulated year with N local devices and cloud overflow, and tiered routing
    #[arg(long)]
    pub hybrid: bool,
    /// Seed of the hybrid simulation's noise
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output: md or json
    #[arg(short = 'o', long = "output", default_value = "md")]
    pub output: String,
}

#[derive(Args)]
pub struct PricesArgs {
    #[command(subcommand)]
    pub command: PricesCommand,
}

#[derive(Subcommand)]
pub enum PricesCommand {
    /// Convert LiteLLM's model_prices_and_context_window.json into [[cloud]] entries (USD per 1M tokens)
    Import(ImportArgs),
}

#[derive(Args)]
pub struct ImportArgs {
    /// LiteLLM price file (JSON)
    pub file: PathBuf,
    /// Write the TOML here instead of stdout
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Keep entries whose name or provider contains this text (case-insensitive)
    #[arg(long)]
    pub filter: Option<String>,
}

#[derive(Args)]
pub struct DecideArgs {
    /// public, internal, regulated, critical
    #[arg(long)]
    pub data_sensitivity: Option<String>,
    /// batch, interactive, real-time, embedded
    #[arg(long)]
    pub latency: Option<String>,
    /// sporadic, steady-low, steady-high, spiky, growing (default: derived from the workload)
    #[arg(long = "volume")]
    pub volume_pattern: Option<String>,
    /// frontier, good-enough, specialized, simple
    #[arg(long)]
    pub capability: Option<String>,
    /// cloud-cheaper, local-cheaper (default: computed from --result)
    #[arg(long)]
    pub cost: Option<String>,
    /// none, basic, intermediate, advanced
    #[arg(long)]
    pub team: Option<String>,
    /// Result file: measured cost and latency
    #[arg(long)]
    pub result: Option<PathBuf>,
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Output: md or json
    #[arg(short = 'o', long = "output", default_value = "md")]
    pub output: String,
}

#[derive(Args)]
pub struct ReportArgs {
    /// Result files of `bench` and `load`, or directories searched recursively for *.json result files;
    /// NAME=PATH names the machine of PATH's results (instead of its host, CPU and accelerators)
    #[arg(required = true, value_name = "RESULT_OR_DIR")]
    pub inputs: Vec<PathBuf>,
    /// Output file: NAME.html (one self-contained page) or NAME.md (markdown); default: markdown on standard output
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// Ratios against this machine: its number in the comparison (1 = the first) or part of its name
    #[arg(long)]
    pub relative_to: Option<String>,
    /// How each machine's rows are priced (`--hardware` names one entry for every machine; without it, per
    /// machine, the one matching its devices)
    #[command(flatten)]
    pub pricing: PricingArgs,
}
