//! Command-line syntax of `export`: a result file in another tool's format.

use clap::Args;
use std::path::PathBuf;

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
