//! Command-line syntax of `cost`, `prices` and `decide` (clap derive), converted into the commands' options.

use clap::{Args, Subcommand};
use std::path::PathBuf;
use tokenmeter::commands::cost::{CostOptions, Selection};
use tokenmeter::commands::decide::DecideOptions;
use tokenmeter::commands::prices::ImportOptions;
use tokenmeter::commands::InputError;
use tokenmeter::config::decision::{self, DecisionTable};

/// Which configuration entries to use (shared by `cost` and `decide`).
#[derive(Args)]
pub struct SelectionArgs {
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
    /// With several models in the result file: which one (part of its path)
    #[arg(long)]
    pub model: Option<String>,
    /// Price a `load` result whose request lengths or SLO differ from the workload's (the report says so)
    #[arg(long)]
    pub allow_shape_mismatch: bool,
}

impl SelectionArgs {
    fn selection(self) -> Selection {
        Selection {
            config: self.config,
            prices: self.prices,
            hardware: self.hardware,
            workload: self.workload,
            clouds: self.clouds,
            model: self.model,
            allow_shape_mismatch: self.allow_shape_mismatch,
        }
    }
}

fn json_output(o: &str) -> Result<bool, InputError> {
    match o {
        "md" => Ok(false),
        "json" => Ok(true),
        _ => Err(InputError(format!(
            "-o/--output: unknown format '{o}' (expected md or json)"
        ))),
    }
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

impl CostArgs {
    pub fn options(self) -> Result<CostOptions, InputError> {
        Ok(CostOptions {
            json: json_output(&self.output)?,
            result: self.result,
            selection: self.selection.selection(),
            hybrid: self.hybrid,
            seed: self.seed,
        })
    }
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

impl ImportArgs {
    pub fn options(self) -> ImportOptions {
        ImportOptions {
            file: self.file,
            out: self.out,
            filter: self.filter,
        }
    }
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

fn choice<T: for<'de> serde::Deserialize<'de>>(
    flag: &str,
    v: &Option<String>,
    choices: &[&str],
) -> Result<Option<T>, InputError> {
    v.as_deref()
        .map(|s| decision::parse_choice(flag, s, choices).map_err(InputError))
        .transpose()
}

impl DecideArgs {
    pub fn options(self) -> Result<DecideOptions, InputError> {
        Ok(DecideOptions {
            flags: DecisionTable {
                data_sensitivity: choice(
                    "--data-sensitivity",
                    &self.data_sensitivity,
                    decision::DATA_SENSITIVITY_CHOICES,
                )?,
                latency: choice("--latency", &self.latency, decision::LATENCY_CHOICES)?,
                volume_pattern: choice(
                    "--volume",
                    &self.volume_pattern,
                    decision::VOLUME_PATTERN_CHOICES,
                )?,
                capability: choice(
                    "--capability",
                    &self.capability,
                    decision::CAPABILITY_CHOICES,
                )?,
                cost: choice("--cost", &self.cost, decision::COST_CHOICES)?,
                team: choice("--team", &self.team, decision::TEAM_CHOICES)?,
            },
            json: json_output(&self.output)?,
            result: self.result,
            selection: self.selection.selection(),
        })
    }
}
