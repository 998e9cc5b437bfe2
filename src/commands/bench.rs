//! `tokenmeter bench`: llama-bench's tests as a sweep of the runner (`runner::sweep::bench`), and its table (or
//! CSV/JSON) for stdout.

pub use crate::runner::sweep::bench::{grid, BenchOptions, BenchOutcome};

use crate::report::Format;

/// Runs the bench sweep `opts` describes.
pub fn run(opts: &BenchOptions) -> anyhow::Result<BenchOutcome> {
    crate::runner::sweep::bench::run(opts)
}

/// The cases of `outcome` as `format` prints them.
pub fn render(outcome: &BenchOutcome, format: Format) -> String {
    format.exporter().render(&outcome.result.cases)
}
