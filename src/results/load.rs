//! `load` results: per-level summaries derived from the raw per-request samples, the SLO check and the
//! operating point (the highest-throughput level that meets the SLO), which is what the cost model consumes.

use super::telemetry::ProcessContext;
use crate::runner::load::{Arrivals, Lengths, LevelRun, RequestSample};
use crate::stats::{Distribution, LatencyHistogram};
use crate::telemetry::EnergyRecord;
use serde::{Deserialize, Serialize};

pub use crate::slo::{parse_slo, SloTerm};

/// One level's figures (what `-o json` prints per level).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelSummary {
    pub concurrency: Option<u32>,
    pub rate: Option<f64>,
    pub slots: u32,
    pub requests_started: usize,
    pub requests_completed: usize,
    pub requests_not_completed: usize,
    pub duration_s: f64,
    pub requests_per_s: f64,
    pub output_tokens_per_s: f64,
    pub total_tokens_per_s: f64,
    pub ttft_ms: Distribution,
    pub itl_ms: Distribution,
    pub e2e_ms: Distribution,
    pub queue_ms: Distribution,
    /// Absent when no SLO was given.
    pub slo_met: Option<bool>,
    pub interrupted: bool,
}

/// A level as stored in the result file: its summary and every request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelRecord {
    #[serde(flatten)]
    pub summary: LevelSummary,
    pub input_tokens: Lengths,
    pub output_tokens: Lengths,
    pub seed: u64,
    pub prompt_tokens_processed: u64,
    pub requests: Vec<RequestSample>,
    /// Energy per device over the level, per output token (a record with `absent_reason` when nothing measured
    /// energy).
    #[serde(default)]
    pub energy: Vec<EnergyRecord>,
    /// This process's CPU use and peak resident memory over the level.
    #[serde(default)]
    pub process: Option<ProcessContext>,
}

/// The level `cost` uses: the highest output throughput that meets the SLO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoint {
    pub level_index: usize,
    pub concurrency: Option<u32>,
    pub rate: Option<f64>,
    pub requests_per_s: f64,
    pub output_tokens_per_s: f64,
    pub total_tokens_per_s: f64,
}

/// A whole `load` sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadSweep {
    pub model: String,
    pub slo: Vec<SloTerm>,
    pub levels: Vec<LevelRecord>,
    /// Absent when no SLO was given or no level met it.
    pub operating_point: Option<OperatingPoint>,
}

fn pick<'a>(s: &'a LevelSummary, metric: &str) -> &'a Distribution {
    match metric {
        "ttft" => &s.ttft_ms,
        "itl" => &s.itl_ms,
        "e2e" => &s.e2e_ms,
        _ => &s.queue_ms,
    }
}

/// Whether every term holds; a percentile that was not measured does not meet its objective.
pub fn slo_holds(s: &LevelSummary, slo: &[SloTerm]) -> bool {
    slo.iter().all(|t| {
        let d = &pick(s, &t.metric).ms;
        let v = match t.percentile.as_str() {
            "p50" => d.p50,
            "p90" => d.p90,
            "p95" => d.p95,
            "p99" => d.p99,
            _ => d.p999,
        };
        v.is_some_and(|v| v <= t.max_ms)
    })
}

/// Summarises one level from its raw requests.
pub fn summarize_level(run: &LevelRun, slo: &[SloTerm]) -> LevelRecord {
    let reqs = &run.requests;
    let completed = reqs.iter().filter(|r| r.completed).count();
    let ttft: LatencyHistogram = reqs.iter().filter_map(RequestSample::ttft_ns).collect();
    let e2e: LatencyHistogram = reqs.iter().filter_map(RequestSample::e2e_ns).collect();
    let queue: LatencyHistogram = reqs.iter().filter_map(RequestSample::queue_ns).collect();
    let itl: LatencyHistogram = reqs.iter().flat_map(|r| r.itl_ns()).collect();
    let seconds = run.duration_ns as f64 / 1e9;
    let output_tokens: u64 = reqs.iter().map(|r| r.token_ns.len() as u64).sum();
    let (concurrency, rate) = match run.spec.arrivals {
        Arrivals::Closed { concurrency } => (Some(concurrency), None),
        Arrivals::Open { rate_per_s, .. } => (None, Some(rate_per_s)),
    };
    let mut summary = LevelSummary {
        concurrency,
        rate,
        slots: run.spec.arrivals.slots(),
        requests_started: reqs.len(),
        requests_completed: completed,
        requests_not_completed: reqs.len() - completed,
        duration_s: seconds,
        requests_per_s: completed as f64 / seconds,
        output_tokens_per_s: output_tokens as f64 / seconds,
        total_tokens_per_s: (output_tokens + run.prompt_tokens_processed) as f64 / seconds,
        ttft_ms: (&ttft).into(),
        itl_ms: (&itl).into(),
        e2e_ms: (&e2e).into(),
        queue_ms: (&queue).into(),
        slo_met: None,
        interrupted: run.interrupted,
    };
    if !slo.is_empty() {
        summary.slo_met = Some(slo_holds(&summary, slo));
    }
    LevelRecord {
        summary,
        input_tokens: run.spec.input_tokens.clone(),
        output_tokens: run.spec.output_tokens.clone(),
        seed: run.spec.seed,
        prompt_tokens_processed: run.prompt_tokens_processed,
        requests: run.requests.clone(),
        energy: Vec::new(),
        process: None,
    }
}

/// The highest-output-throughput level whose SLO holds.
pub fn operating_point(levels: &[LevelRecord]) -> Option<OperatingPoint> {
    levels
        .iter()
        .enumerate()
        .filter(|(_, l)| l.summary.slo_met == Some(true))
        .max_by(|a, b| {
            a.1.summary
                .output_tokens_per_s
                .total_cmp(&b.1.summary.output_tokens_per_s)
        })
        .map(|(i, l)| OperatingPoint {
            level_index: i,
            concurrency: l.summary.concurrency,
            rate: l.summary.rate,
            requests_per_s: l.summary.requests_per_s,
            output_tokens_per_s: l.summary.output_tokens_per_s,
            total_tokens_per_s: l.summary.total_tokens_per_s,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::load::LevelSpec;

    fn request(arrival: u64, admitted: u64, tokens: &[u64], completed: bool) -> RequestSample {
        RequestSample {
            input_tokens: 4,
            output_tokens: tokens.len() as u32 + u32::from(!completed),
            arrival_ns: arrival,
            admitted_ns: Some(admitted),
            token_ns: tokens.to_vec(),
            completed,
        }
    }

    fn level(concurrency: u32, requests: Vec<RequestSample>, duration_ns: u64) -> LevelRun {
        LevelRun {
            spec: LevelSpec {
                arrivals: Arrivals::Closed { concurrency },
                input_tokens: Lengths::Fixed(4),
                output_tokens: Lengths::Fixed(3),
                requests: None,
                duration_ns: None,
                seed: 1,
            },
            requests,
            duration_ns,
            prompt_tokens_processed: 8,
            interrupted: false,
        }
    }

    #[test]
    fn slo_terms_parse_with_units() {
        let t = parse_slo("ttft_p95=500ms,itl_p99=0.05s,e2e_p50=800us").unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(
            (t[0].metric.as_str(), t[0].percentile.as_str(), t[0].max_ms),
            ("ttft", "p95", 500.0)
        );
        assert_eq!(t[1].max_ms, 50.0);
        assert_eq!(t[2].max_ms, 0.8);
        assert!(parse_slo("ttft_p95=500").is_err());
        assert!(parse_slo("speed_p95=1ms").is_err());
        assert!(parse_slo("ttft_p42=1ms").is_err());
    }

    #[test]
    fn level_figures_come_from_the_requests() {
        let ms = 1_000_000;
        let run = level(
            2,
            vec![
                request(0, 0, &[10 * ms, 20 * ms, 30 * ms], true),
                request(0, 5 * ms, &[40 * ms], false),
            ],
            1_000 * ms,
        );
        let r = summarize_level(&run, &parse_slo("ttft_p99=50ms").unwrap());
        let s = &r.summary;
        assert_eq!(
            (
                s.requests_started,
                s.requests_completed,
                s.requests_not_completed
            ),
            (2, 1, 1)
        );
        assert_eq!(s.output_tokens_per_s, 4.0);
        assert_eq!(s.total_tokens_per_s, 12.0);
        assert_eq!(s.requests_per_s, 1.0);
        assert_eq!(
            s.e2e_ms.ms.count, 1,
            "only completed requests have an end-to-end latency"
        );
        assert_eq!(s.itl_ms.ms.count, 2);
        assert_eq!(s.queue_ms.ms.max.map(|x| x.round()), Some(5.0));
        assert_eq!(s.slo_met, Some(true));
    }

    #[test]
    fn operating_point_is_the_fastest_level_meeting_the_slo() {
        let ms = 1_000_000;
        let slo = parse_slo("ttft_p95=15ms").unwrap();
        let fast_but_slow_ttft = summarize_level(
            &level(4, vec![request(0, 0, &[30 * ms, 31 * ms], true)], 10 * ms),
            &slo,
        );
        let ok = summarize_level(
            &level(2, vec![request(0, 0, &[10 * ms, 20 * ms], true)], 100 * ms),
            &slo,
        );
        let slower_ok = summarize_level(
            &level(1, vec![request(0, 0, &[10 * ms, 20 * ms], true)], 200 * ms),
            &slo,
        );
        let op = operating_point(&[slower_ok, ok, fast_but_slow_ttft]).unwrap();
        assert_eq!((op.level_index, op.concurrency), (1, Some(2)));
        assert_eq!(op.output_tokens_per_s, 20.0);
    }

    #[test]
    fn no_operating_point_without_a_level_meeting_the_slo() {
        let ms = 1_000_000;
        let slo = parse_slo("ttft_p95=1ms").unwrap();
        let l = summarize_level(
            &level(1, vec![request(0, 0, &[10 * ms], true)], 10 * ms),
            &slo,
        );
        assert_eq!(operating_point(&[l]), None);
    }
}
