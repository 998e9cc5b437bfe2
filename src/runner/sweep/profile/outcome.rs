//! What a profile leaves: each phase's record (its estimate, its time, what became of it, its result file) and
//! the profile's outcome around them, and the one line a phase's result is summed up in.

use super::bench::rates;
use super::phases::Kind;
use crate::results::ResultFile;
use std::path::PathBuf;
use std::time::Duration;

/// What became of one phase.
#[derive(Debug, Clone)]
pub enum Status {
    Done {
        summary: String,
    },
    /// Ran, but some cases or levels failed (the result file's `failed` says why).
    CasesFailed {
        summary: String,
    },
    Failed(String),
    Skipped(String),
    Interrupted,
}

#[derive(Debug, Clone)]
pub struct PhaseRecord {
    pub kind: Kind,
    pub model: String,
    pub estimate_s: Option<f64>,
    pub took_s: Option<f64>,
    pub status: Status,
    pub result: Option<PathBuf>,
}

pub struct ProfileOutcome {
    pub dir: PathBuf,
    pub device: String,
    pub budget: Duration,
    /// Wall time from the start to the end of the last phase: what the budget bounds.
    pub took: Duration,
    /// The calibration run's wall time (it includes the host's one-time measurements when they were not cached),
    /// or why it did not run.
    pub calibration: Result<Duration, String>,
    pub phases: Vec<PhaseRecord>,
    /// Models left out before any phase, each with why.
    pub models_left_out: Vec<String>,
    pub report: Option<PathBuf>,
    /// Why the report was not written.
    pub report_error: Option<String>,
    pub interrupted: bool,
}

impl ProfileOutcome {
    pub fn any_failed(&self) -> bool {
        self.phases
            .iter()
            .any(|p| matches!(p.status, Status::Failed(_) | Status::CasesFailed { .. }))
    }
}

/// One line of what a phase measured.
pub(super) fn phase_summary(kind: Kind, r: &ResultFile, slo_note: &str) -> String {
    let ts = |v: Option<f64>| {
        v.map_or_else(
            || crate::text::ABSENT.to_string(),
            |v| format!("{v:.2} t/s"),
        )
    };
    match kind {
        Kind::Bench => {
            let (pp, tg) = rates(r);
            format!("pp512 {}, tg128 {}", ts(pp), ts(tg))
        }
        Kind::Depth => format!("tg128 @ d4096 {}", ts(rates(r).1)),
        Kind::Load => {
            let Some(sweep) = &r.load else {
                return "no sweep".into();
            };
            let levels: Vec<String> = sweep
                .levels
                .iter()
                .filter_map(|l| l.summary.concurrency.map(|c| format!("c={c}")))
                .collect();
            let op = sweep.operating_point.as_ref().map_or_else(
                || format!("no level met the SLO ({slo_note})"),
                |op| {
                    format!(
                        "operating point c={} at {} goodput (SLO: {slo_note})",
                        op.concurrency.map_or_else(|| "?".into(), |c| c.to_string()),
                        ts(op.goodput_output_tokens_per_s)
                    )
                },
            );
            let stop = sweep
                .stopped_early
                .as_ref()
                .map(|s| format!("; stopped after {}: {}", s.after, s.reason))
                .unwrap_or_default();
            format!("levels {}; {op}{stop}", levels.join(", "))
        }
    }
}
