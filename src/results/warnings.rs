//! Measurement problems found during a run: typed, stored in the result file and printed once at the end.

use serde::{Deserialize, Serialize};

/// Coefficient of variation above which a case is flagged as noisy.
pub const NOISY_CV: f64 = 0.05;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    /// The CPU has vector extensions that ggml was not compiled with: figures understate the hardware.
    BuildLacksCpuFeatures { features: Vec<String> },
    /// A case's repetitions vary more than `NOISY_CV`.
    NoisyCase {
        test: String,
        model: String,
        cv: f64,
    },
    /// The run was stopped before every case finished.
    Interrupted {
        cases_done: usize,
        cases_total: usize,
    },
    /// Units a run did not start because its time ran out (a phase of a larger run's budget).
    UnitsNotRun { units: usize, reason: String },
    /// A sensor could not be read for part of the run; its figures for that part are absent.
    Sensor { message: String },
    /// A device stopped answering during the run (NVML's GPU_IS_LOST): its energy is absent from the span it
    /// was lost in on, the measurements are kept, and the run exits 1.
    DeviceLost { device: String, reason: String },
    /// An energy figure of a case or level carries an integrity flag (throttling, disagreement, short window).
    Energy { at: String, message: String },
    /// A `load` level ended with requests that arrived but did not complete; the SLO check counts them as
    /// misses.
    UnfinishedRequests {
        level: String,
        requests_not_completed: usize,
        requests_started: usize,
        /// Why the level cannot be the operating point, when it cannot.
        reason: Option<String>,
    },
    /// An SLO term was checked against a percentile of fewer samples than it needs.
    LowSampleSlo {
        level: String,
        objective: String,
        count: u64,
    },
    /// A line of a checkpoint did not read (cut short by a kill, or corrupt); the case it held is measured again.
    CheckpointLineSkipped {
        file: String,
        line: usize,
        message: String,
    },
    /// A case or level did not finish; the result file's `failed` says why.
    CaseFailed { label: String, reason: String },
    /// The operating point is a level some of whose requests did not complete.
    OperatingPointUnfinished {
        level: String,
        requests_not_completed: usize,
    },
    /// A generation case read its weights faster than the memory-bandwidth figure allows: the figure understates
    /// the machine (measured while it was busy, or on another machine), so the roofline fraction is above 1.
    RooflineAboveBandwidth {
        test: String,
        fraction: f64,
        bandwidth_source: String,
    },
    /// The machine's self-test found an engine configuration broken (a crash, or logits the numerics gate
    /// refused) and the run used another.
    EngineFallback {
        requested: String,
        used: String,
        reason: String,
    },
    /// The self-test found no engine configuration that works for these cases; they were not run.
    NoWorkingConfiguration { requested: String, reason: String },
    /// A case's logits are not the CPU reference's: its speed comes from a wrong computation.
    NumericsFailed { case: String, detail: String },
    /// Requests of a level sent over HTTP failed (a status, a timeout, a reset, a malformed stream): not
    /// completed, and SLO misses; the level went on.
    RequestsFailed {
        level: String,
        failed: u64,
        /// `http_status: 2, timeout: 1`.
        reasons: String,
    },
    /// Completed requests over HTTP whose output had another length than asked for: the server ignored
    /// `ignore_eos`/`min_tokens` (or stopped early), so requests are shorter than the workload's.
    OutputLengthNotHeld { level: String, requests: u64 },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::BuildLacksCpuFeatures { features } => write!(
                f,
                "this CPU supports {} but ggml was built without: figures understate the hardware; \
                 build with RUSTFLAGS=\"-C target-cpu=native\" (the repository's default) or --features dynamic-backends",
                features.join(", ")
            ),
            Warning::NoisyCase { test, model, cv } => write!(
                f,
                "{model} {test}: repetitions vary by {:.1}% (coefficient of variation above {:.0}%); \
                 close other programs, pin threads or raise -r",
                cv * 100.0,
                NOISY_CV * 100.0
            ),
            Warning::Interrupted { cases_done, cases_total } => write!(
                f,
                "interrupted after {cases_done} of {cases_total} cases: the result file holds what was measured"
            ),
            Warning::UnitsNotRun { units, reason } => {
                write!(f, "{units} unit(s) not run: {reason}")
            }
            Warning::Sensor { message } => write!(f, "sensor: {message}"),
            Warning::DeviceLost { device, reason } => write!(
                f,
                "{device}: lost during the run ({reason}): its energy is absent from then on; the measurements \
                 are kept"
            ),
            Warning::RooflineAboveBandwidth {
                test,
                fraction,
                bandwidth_source,
            } => write!(
                f,
                "{test}: generation read weights at {:.0}% of the memory bandwidth figure ({bandwidth_source}): \
                 the figure understates this machine; measure it again with --remeasure-bandwidth on an idle \
                 machine, or give --hardware",
                fraction * 100.0
            ),
            Warning::Energy { at, message } => write!(f, "{at}: {message}"),
            Warning::UnfinishedRequests {
                level,
                requests_not_completed,
                requests_started,
                reason,
            } => {
                write!(
                    f,
                    "{level}: {requests_not_completed} of {requests_started} requests did not complete \
                     within the level; they count as SLO misses"
                )?;
                match reason {
                    Some(r) => write!(f, " (not the operating point: {r})"),
                    None => Ok(()),
                }
            }
            Warning::LowSampleSlo {
                level,
                objective,
                count,
            } => write!(
                f,
                "{level}: {objective} is checked against {count} samples, fewer than it needs: the check is \
                 against (close to) the largest sample; raise --requests"
            ),
            Warning::CheckpointLineSkipped {
                file,
                line,
                message,
            } => write!(
                f,
                "{file}: line {line} skipped ({message}); its case is measured again"
            ),
            Warning::CaseFailed { label, reason } => write!(f, "{label}: failed: {reason}"),
            Warning::EngineFallback {
                requested,
                used,
                reason,
            } => write!(
                f,
                "self-test: {requested} failed ({reason}); measured with {used} instead (README: Hardware that \
                 misbehaves)"
            ),
            Warning::NoWorkingConfiguration { requested, reason } => write!(
                f,
                "self-test: {requested} failed ({reason}) and so did every fallback; its cases were not run"
            ),
            Warning::NumericsFailed { case, detail } => write!(
                f,
                "{case}: numerics gate failed ({detail}): its speed comes from a wrong computation; compare, \
                 cost and report refuse it unless --allow-wrong-numerics"
            ),
            Warning::RequestsFailed {
                level,
                failed,
                reasons,
            } => write!(
                f,
                "{level}: {failed} request(s) failed ({reasons}); each counts as not completed and as a miss                  of every SLO term (load.levels[].requests[].failure says why)"
            ),
            Warning::OutputLengthNotHeld { level, requests } => write!(
                f,
                "{level}: {requests} completed request(s) had another output length than asked for: the server                  does not honour ignore_eos/min_tokens"
            ),
            Warning::OperatingPointUnfinished {
                level,
                requests_not_completed,
            } => write!(
                f,
                "operating point {level}: {requests_not_completed} of its requests did not complete (counted as \
                 SLO misses, and the SLO still held)"
            ),
        }
    }
}
