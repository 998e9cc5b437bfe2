//! `tokenmeter load`: serving load levels as a sweep of the runner (`runner::sweep::load`), and its table (or
//! CSV/JSON) for stdout.

pub use crate::runner::sweep::load::{
    default_requests, drain_bound_ns, LevelGate, LoadOptions, LoadOutcome, PatternOptions,
    DEFAULT_OPEN_LOOP_SLOTS, DEFAULT_REQUEST_TOKENS,
};

use crate::report::Format;

/// Runs the load sweep `opts` describes.
pub fn run(opts: &LoadOptions) -> anyhow::Result<LoadOutcome> {
    crate::runner::sweep::load::run(opts)
}

/// The levels of `outcome` as `format` prints them.
pub fn render(outcome: &LoadOutcome, format: Format) -> String {
    let sweep = outcome.result.load.as_ref().expect("load writes a sweep");
    crate::report::load::render(format, sweep)
}
