//! The profile's load phase: a closed-loop sweep of the levels that fit memory, rising until goodput stops
//! rising or the SLO is missed, with a gate that skips a level whose estimate (from the level before) does not
//! fit the time the phase has left.

use super::requests::RequestShape;
use super::{ProfileOptions, DEFAULT_REQUEST_TOKENS};
use crate::estimate::{self, MeasuredLevel, ModelSize};
use crate::results::load::LevelRecord;
use crate::results::ResultFile;
use crate::runner::load::{Arrivals, Lengths};
use crate::runner::options::{EngineOptions, RunOptions};
use crate::runner::sweep::load::{self, LoadOptions};
use std::time::{Duration, Instant};

/// The load phase as one sweep.
pub(super) struct LoadPhase<'a> {
    pub o: &'a ProfileOptions,
    /// `--workload`'s name: the sweep reads its request lengths and SLO itself.
    pub workload: Option<String>,
    pub shape: &'a RequestShape,
    pub engine: EngineOptions,
    /// The concurrency levels that fit memory.
    pub levels: Vec<u32>,
    pub model: String,
    pub size: ModelSize,
    /// A level that would end past this is not started.
    pub phase_end: Instant,
    /// Each level runs for this long (its arrivals stop then and the requests in flight drain) rather than
    /// for its requests.
    pub level_duration: Option<Duration>,
}

impl LoadPhase<'_> {
    pub fn run(self, run: RunOptions) -> anyhow::Result<ResultFile> {
        let o = self.o;
        let output = self.shape.output;
        let size = self.size;
        let gate_deadline = self.phase_end;
        let no_workload = self.workload.is_none();
        let level_duration = self.level_duration;
        load::run(&LoadOptions {
            model: Some(self.model),
            concurrency: self.levels,
            rates: Vec::new(),
            parallel: None,
            input_tokens: no_workload.then_some(Lengths::Fixed(DEFAULT_REQUEST_TOKENS)),
            output_tokens: no_workload.then_some(Lengths::Fixed(o.default_output_tokens())),
            workload: self.workload,
            requests: None,
            duration: level_duration,
            slo: self.shape.slo.clone(),
            engine: self.engine,
            seed: 1,
            run,
            force: false,
            until_saturated: true,
            burst: false,
            pattern: None,
            http: None,
            gate: Some(Box::new(move |a: &Arrivals, done: &[LevelRecord]| {
                let previous = done.last()?;
                let measured = MeasuredLevel {
                    output_tokens_per_s: previous.summary.output_tokens_per_s,
                    duration_s: previous.summary.duration_s,
                };
                let est = match level_duration {
                    // Its arrivals' time and a drain as long as the level before's.
                    Some(d) => {
                        let drain_s = previous.summary.drain_s.unwrap_or(0.0);
                        estimate::case_start_s(&size) + d.as_secs_f64() + drain_s
                    }
                    None => {
                        let requests = load::default_requests(a.slots());
                        estimate::next_load_level_s(&size, requests, output, &measured)
                    }
                };
                super::over_budget(est, gate_deadline.saturating_duration_since(Instant::now()))
            })),
        })
        .map(|l| l.result)
    }
}
