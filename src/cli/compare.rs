//! Command-line syntax of `compare`.

use clap::Args;
use std::path::PathBuf;

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
