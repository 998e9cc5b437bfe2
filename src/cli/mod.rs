//! Command-line syntax (clap derive): the top-level parser and its commands here, each command's arguments in
//! the submodule named after it (`run` holds what `bench` and `load` share). Converted into the commands' options
//! structs by `options`; nothing past it sees these types.

mod bench;
mod compare;
mod cost;
mod export;
mod fleet;
mod gguf;
mod load;
mod profile;
mod run;

pub use bench::BenchArgs;
pub use compare::CompareArgs;
pub use cost::{
    CostArgs, DecideArgs, ImportArgs, PricesArgs, PricesCommand, PricingArgs, ReportArgs,
    SelectionArgs,
};
pub use export::ExportArgs;
pub use fleet::{FleetArgs, FleetCommand, FleetStatusArgs, PlanArgs};
pub use gguf::{InspectArgs, SynthArgs};
pub use load::LoadArgs;
pub use profile::ProfileArgs;
pub use run::{BaselineArgs, ShardArgs, SweepArgs, TelemetryArgs};

use clap::{Parser, Subcommand};

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
    Cost(Box<CostArgs>),
    /// Cloud price files: `prices import` converts LiteLLM's price file into [[cloud]] entries
    Prices(PricesArgs),
    /// Local, cloud or a hybrid pattern: the six-dimension decision, one line per dimension
    Decide(Box<DecideArgs>),
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
    Report(Box<ReportArgs>),
    /// A [[sweep]]'s shards (one per case or per model) with an estimate of each one's wall time; `--emit slurm`
    /// or `--emit kubernetes` writes the job-array script or Indexed Job manifest that runs them
    Plan(Box<PlanArgs>),
    /// A fleet run's shards: `fleet status RUN_DIR` lists which are done, failed or missing
    Fleet(FleetArgs),
    /// Runs one case for a parent `bench` or `load` (a request on stdin, replies on stdout)
    #[command(hide = true)]
    Worker,
}
