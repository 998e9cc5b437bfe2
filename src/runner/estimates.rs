//! Each unit's expected run time before it runs, from which its worker's timeout and stall limit derive
//! (`runner::worker::limits`): `crate::estimate`'s model of the work, on this host's cached (or `--hardware`'s)
//! memory bandwidth, with the rates the sweep's earlier units of the same model measured. An estimate errs long
//! where it knows little (no bandwidth measured: 20 GB/s, slower than any GPU), so a unit is not cut short by it.

use crate::estimate::{self, Basis, BenchCase, LoadLevel, MeasuredLevel, ModelSize};
use crate::results::load::LevelRecord;
use crate::results::{CaseRecord, ModelEntry};
use crate::runner::load::LevelSpec;
use crate::runner::setup::Setup;
use crate::runner::Case;
use std::collections::HashMap;
use std::time::Duration;

/// What the estimates of one sweep rest on.
#[derive(Debug, Clone, Default)]
pub struct Estimator {
    /// `--hardware`'s bandwidth, else this host's cached measurement; `None`: the estimate's default.
    bandwidth_gb_per_s: Option<f64>,
    /// Prompt-only and generation-only (no context) t/s measured so far, by model file (as recorded).
    measured: HashMap<String, (Option<f64>, Option<f64>)>,
}

/// The cached bandwidth measurement of this host, if one was made (no measurement is made here).
fn cached_bandwidth_gb_per_s(setup: &Setup) -> Option<f64> {
    let path = crate::telemetry::bandwidth::cache_path(
        &crate::runner::models::cache_dir(),
        setup.host.hostname.as_deref(),
    );
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str::<crate::telemetry::bandwidth::CachedBandwidth>(&text)
        .ok()
        .map(|c| c.bandwidth.gb_per_s)
}

impl Estimator {
    pub fn new(setup: &Setup) -> Estimator {
        Estimator {
            bandwidth_gb_per_s: setup
                .configured_bandwidth
                .as_ref()
                .map(|b| b.gb_per_s)
                .or_else(|| cached_bandwidth_gb_per_s(setup)),
            measured: HashMap::new(),
        }
    }

    /// Takes the rates of the finished cases: a prompt-only case's t/s is the model's prompt rate, a
    /// generation-only case's without context its generation rate (the latest of each).
    pub fn learn(&mut self, done: &[CaseRecord]) {
        for r in done.iter().filter(|r| r.complete && r.n_depth == 0) {
            let Some(tps) = r.summary.avg_ts.filter(|t| t.is_finite() && *t > 0.0) else {
                continue;
            };
            let rates = self.measured.entry(r.model_filename.clone()).or_default();
            match (r.n_prompt, r.n_gen) {
                (p, 0) if p > 0 => rates.0 = Some(tps),
                (0, g) if g > 0 => rates.1 = Some(tps),
                _ => {}
            }
        }
    }

    fn basis(&self, entry: &ModelEntry, threads: u32) -> Basis {
        let (pp, tg) = self.measured.get(&entry.path).copied().unwrap_or_default();
        Basis {
            threads,
            bandwidth_gb_per_s: self.bandwidth_gb_per_s,
            measured_pp_tps: pp,
            measured_tg_tps: tg,
        }
    }

    /// A bench case of the model `entry` records: its worker's start, model load, warm-up and its most
    /// repetitions.
    pub fn bench_case(&self, entry: &ModelEntry, case: &Case) -> Duration {
        let c = BenchCase {
            n_prompt: case.test.n_prompt,
            n_gen: case.test.n_gen,
            n_depth: case.test.n_depth,
            runs: case.warmup_runs + case.stop_rule.max_runs.max(1),
        };
        let threads = case.context.n_threads.max(1);
        estimate::bench_case_estimate(&ModelSize::of_entry(entry), &c, &self.basis(entry, threads))
    }

    /// A load level: a timed level its duration and drain bound; otherwise its requests, from the level before
    /// it when one was measured, else from the model's size and this host.
    pub fn load_level(
        &self,
        entry: &ModelEntry,
        spec: &LevelSpec,
        threads: u32,
        previous: Option<&MeasuredLevel>,
    ) -> Duration {
        let m = ModelSize::of_entry(entry);
        let start = Duration::from_secs_f64(estimate::case_start_s(&m));
        if let Some(d) = spec.duration_ns {
            return start + Duration::from_nanos(d.saturating_add(spec.drain_ns.unwrap_or(0)));
        }
        let requests = spec.requests.unwrap_or(1);
        let output_tokens = spec.output_tokens.mean();
        let s = match previous {
            Some(p) => estimate::next_load_level_s(&m, requests, output_tokens, p),
            None => estimate::load_level_s(
                &m,
                &self.basis(entry, threads).rates(&m),
                &LoadLevel {
                    requests,
                    input_tokens: spec.input_tokens.mean(),
                    output_tokens,
                    slots: spec.arrivals.slots(),
                },
            ),
        };
        Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX)
    }
}

/// What the next load level's estimate takes from the level before it.
pub fn measured_level(l: &LevelRecord) -> MeasuredLevel {
    MeasuredLevel {
        output_tokens_per_s: l.summary.output_tokens_per_s,
        duration_s: l.summary.duration_s,
    }
}
