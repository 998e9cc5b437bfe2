//! One executor under every sweep. A run's units (`bench` cases, `load` levels) go through one loop that owns what
//! they share: running each unit in a worker process (or in this process with `--in-process`) under its limits,
//! the sensors' window around it, failures, the checkpoint and resume, stopping on a signal or a deadline, and
//! progress. A [`Sweep`] says only what its units are, how a unit becomes its record, which warnings a record
//! carries and when to add no more units.
//!
//! - A unit that fails (a crash, a timeout, an error llama.cpp returned) is recorded as failed with why, and the
//!   sweep goes on; one stopped by a signal is left out (the run is interrupted), never recorded as failed.
//! - A finished unit is appended to the checkpoint before the next one starts; a unit the checkpoint already holds
//!   (`--resume`) is taken from it, with the same warnings a fresh one gets.
//! - A checkpoint that cannot be written stops the run: what was measured is in the checkpoint, and the result is
//!   written when it can be.

use super::checkpoint::{Checkpoint, Entry};
use super::options::RunOptions;
use super::progress::progress_bar;
use super::unit::{self, Env, ModelCache};
use super::worker::{run_in_worker, EffectiveLimits, Job, Limits, Reply, Request, WorkerFailure};
use super::Meter;
use crate::results::record::UnitLimits;
use crate::results::{FailedCase, Warning};
use crate::telemetry::Window;
use indicatif::ProgressBar;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// What a sweep does next.
pub enum Next<U> {
    Run(U),
    /// Every unit is done.
    Done,
    /// No more units, for this reason (the levels saturated, a larger run's time budget): a whole run still.
    Stop(String),
}

/// How a unit ended without a record.
pub enum UnitError {
    /// This unit failed; the sweep goes on.
    Failed(WorkerFailure),
    /// A signal stopped the unit in flight: it is left out and the run ends.
    Interrupted,
    /// The run cannot go on (an in-process engine error).
    Fatal(anyhow::Error),
}

impl From<WorkerFailure> for UnitError {
    fn from(f: WorkerFailure) -> UnitError {
        UnitError::Failed(f)
    }
}

/// A failure of this unit alone, with `reason`.
pub fn failed(reason: impl Into<String>) -> UnitError {
    UnitError::Failed(WorkerFailure {
        reason: reason.into(),
        ..WorkerFailure::default()
    })
}

/// One kind of sweep: its units, and how each becomes a record.
pub trait Sweep {
    type Unit;
    type Record: Clone;
    /// The next unit, given the records so far (in the order they were run or resumed).
    fn next(&mut self, done: &[Self::Record]) -> Next<Self::Unit>;
    /// What identifies a unit across a resumed run; equal to the key of the record it produces.
    fn unit_key(&self, unit: &Self::Unit) -> String;
    fn record_key(&self, record: &Self::Record) -> String;
    /// `pp512 t=2`, `c=4`.
    fn label(&self, unit: &Self::Unit) -> String;
    /// The unit's parameters as a failed unit records them.
    fn parameters(&self, unit: &Self::Unit) -> serde_json::Value;
    fn run(&mut self, unit: &Self::Unit, ctx: &mut UnitCtx) -> Result<Self::Record, UnitError>;
    /// The warnings a record carries; the same for a record measured now and one taken from the checkpoint.
    fn warnings(&self, record: &Self::Record) -> Vec<Warning>;
    /// The checkpoint line of a whole record (`None`: the record is partial and not kept).
    fn entry(&self, record: &Self::Record) -> Option<Entry>;
    fn from_entry(&self, entry: Entry) -> Option<Self::Record>;
    /// Units in all, when known (the progress bar's length).
    fn len(&self) -> Option<u64>;
    /// What the units are called (`cases`, `levels`).
    fn units(&self) -> &'static str;
}

/// What a unit's run gets from the executor.
pub struct UnitCtx<'a> {
    pub run: &'a RunOptions,
    meter: &'a mut Meter,
    bar: &'a ProgressBar,
    models: &'a mut ModelCache,
    /// The limits of the last worker this unit ran (for a failed unit's record).
    last_limits: Option<UnitLimits>,
}

/// A unit's job run to its end.
pub struct Executed {
    pub reply: Reply,
    /// The sensors' windows over the unit.
    pub windows: Vec<Window>,
    /// Where the windows' clock starts, on the system-wide monotonic clock (`crate::clock`).
    pub window_mono_ns: u64,
    /// The limits its worker ran under (`None` in-process).
    pub limits: Option<UnitLimits>,
}

fn unit_limits(l: EffectiveLimits, estimate: Option<Duration>) -> UnitLimits {
    UnitLimits {
        estimate_s: estimate.map(|d| d.as_secs_f64()),
        timeout_s: l.timeout.as_secs_f64(),
        stall_s: l.stall.as_secs_f64(),
    }
}

impl UnitCtx<'_> {
    /// Shows `message` on the progress bar.
    pub fn show(&self, message: String) {
        self.bar.set_message(message);
    }

    /// Runs `job` in a worker (in this process with `--in-process`) while the sensors read; `estimate` sets the
    /// worker's default limits, `progress` turns a progress count into the bar's message.
    pub fn execute(
        &mut self,
        job: Job,
        label: &str,
        estimate: Option<Duration>,
        mut progress: impl FnMut(u64) -> String,
    ) -> Result<Executed, UnitError> {
        let run = self.run;
        let req = Request {
            job,
            label: label.to_string(),
            verbose: run.verbose,
            sample_interval_ns: run
                .telemetry
                .enabled
                .then_some(run.telemetry.sample_interval.as_nanos() as u64),
            parent_pid: std::process::id(),
        };
        let bar = self.bar;
        let (window_start, window_mono_ns) = crate::clock::now();
        self.meter.start(window_start);
        let (reply, limits) = if run.in_process {
            let mut send = |r: &Reply| {
                if let Reply::Progress { done } = r {
                    bar.set_message(progress(*done));
                }
            };
            let mut env = Env {
                send: &mut send,
                stop_now: &run.stop_now,
                models: self.models,
            };
            let reply = unit::execute(&req, &mut env).map_err(|e| UnitError::Fatal(e.into()));
            (reply, None)
        } else {
            let limits = Limits {
                stop_now: &run.stop_now,
                timeout: run.case_timeout,
                stall: run.stall_timeout,
                estimate,
                deadline: run.hard_deadline,
            };
            let effective = unit_limits(limits.effective(), estimate);
            self.last_limits = Some(effective);
            let reply = run_in_worker(&req, &limits, |done| bar.set_message(progress(done)));
            let reply = reply.map_err(|f| {
                if run.stop_now.load(Ordering::Relaxed) {
                    UnitError::Interrupted
                } else {
                    UnitError::Failed(f)
                }
            });
            (reply, Some(effective))
        };
        let windows = self.meter.stop();
        match reply? {
            Reply::Error { message } => Err(failed(message)),
            reply => Ok(Executed {
                reply,
                windows,
                window_mono_ns,
                limits,
            }),
        }
    }
}

/// A unit's work run in this process (`UnitCtx::run_here`), and the sensors' windows over it.
pub struct RanHere<T> {
    pub value: T,
    pub windows: Vec<Window>,
}

impl UnitCtx<'_> {
    /// Runs `work` in this process while the sensors read: a unit with nothing to isolate in a worker (a level
    /// sent to a server over HTTP). `work` gets the windows' start (its clock's origin), the flag a second
    /// Ctrl-C sets, and a function that shows a message on the progress bar.
    pub fn run_here<T>(
        &mut self,
        work: impl FnOnce(std::time::Instant, &std::sync::atomic::AtomicBool, &dyn Fn(String)) -> T,
    ) -> RanHere<T> {
        let (window_start, _) = crate::clock::now();
        self.meter.start(window_start);
        let bar = self.bar;
        let value = work(window_start, &self.run.stop_now, &|m| bar.set_message(m));
        RanHere {
            value,
            windows: self.meter.stop(),
        }
    }
}

/// What a sweep left: its records, failures and warnings, and how it ended.
pub struct Swept<R> {
    pub records: Vec<R>,
    pub failed: Vec<FailedCase>,
    pub warnings: Vec<Warning>,
    /// The error that ended the run early, if one did (the records before it are kept).
    pub failure: Option<anyhow::Error>,
    /// Why the sweep added no more units before its end, when it stopped early (saturation, a budget).
    pub stopped_early: Option<String>,
    /// The sweep ran to its end (every unit attempted, or stopped early by its own rule).
    pub whole: bool,
    pub checkpoint: Option<Checkpoint>,
}

impl<R> Swept<R> {
    /// Removes the checkpoint once the result holds everything: the sweep was whole and nothing failed.
    pub fn finished(self, result_written: bool) -> std::io::Result<()> {
        match self.checkpoint {
            Some(c) if result_written && self.whole && self.failed.is_empty() => c.remove(),
            _ => Ok(()),
        }
    }
}

/// Runs a sweep's units.
pub struct Executor<'a> {
    run: &'a RunOptions,
    checkpoint: Option<Checkpoint>,
    resumed: Vec<Entry>,
    warnings: Vec<Warning>,
}

impl<'a> Executor<'a> {
    /// An executor keeping `checkpoint` (with what it held and the warnings of reading it), if the run has one.
    pub fn new(
        run: &'a RunOptions,
        checkpoint: Option<(Checkpoint, Vec<Entry>, Vec<Warning>)>,
    ) -> Executor<'a> {
        let (checkpoint, resumed, warnings) = match checkpoint {
            Some((c, e, w)) => (Some(c), e, w),
            None => (None, Vec::new(), Vec::new()),
        };
        Executor {
            run,
            checkpoint,
            resumed,
            warnings,
        }
    }

    /// Runs `sweep` to its end, a signal, a deadline or an error, with `meter`'s sensors reading over each unit.
    pub fn run<S: Sweep>(mut self, sweep: &mut S, meter: &mut Meter) -> Swept<S::Record> {
        let run = self.run;
        let bar = progress_bar(sweep.len(), sweep.units(), run.phase.as_ref());
        let mut resumed: Vec<S::Record> = std::mem::take(&mut self.resumed)
            .into_iter()
            .filter_map(|e| sweep.from_entry(e))
            .collect();
        let mut models = ModelCache::default();
        let mut out = Swept {
            records: Vec::new(),
            failed: Vec::new(),
            warnings: std::mem::take(&mut self.warnings),
            failure: None,
            stopped_early: None,
            whole: false,
            checkpoint: None,
        };
        loop {
            if run.stopped() {
                break;
            }
            if run.past_deadline() {
                out.stopped_early = Some("the time a larger run gave this one ended".into());
                break;
            }
            let unit = match sweep.next(&out.records) {
                Next::Run(u) => u,
                Next::Done => {
                    out.whole = true;
                    break;
                }
                Next::Stop(why) => {
                    out.stopped_early = Some(why);
                    out.whole = true;
                    break;
                }
            };
            let key = sweep.unit_key(&unit);
            if let Some(i) = resumed.iter().position(|r| sweep.record_key(r) == key) {
                let r = resumed.swap_remove(i);
                out.warnings.extend(sweep.warnings(&r));
                out.records.push(r);
                bar.inc(1);
                continue;
            }
            let mut ctx = UnitCtx {
                run,
                meter,
                bar: &bar,
                models: &mut models,
                last_limits: None,
            };
            match sweep.run(&unit, &mut ctx) {
                Ok(r) => {
                    out.warnings.extend(sweep.warnings(&r));
                    let entry = sweep.entry(&r);
                    out.records.push(r);
                    if let Err(e) = self.keep(entry, out.records.len() + out.failed.len()) {
                        out.failure = Some(e);
                        break;
                    }
                }
                Err(UnitError::Failed(why)) => {
                    let f = FailedCase {
                        label: sweep.label(&unit),
                        parameters: sweep.parameters(&unit),
                        reason: why.to_string(),
                        stderr_tail: why.stderr_tail,
                        limits: ctx.last_limits,
                    };
                    out.warnings.push(Warning::CaseFailed {
                        label: f.label.clone(),
                        reason: f.reason.clone(),
                    });
                    out.failed.push(f.clone());
                    let units = out.records.len() + out.failed.len();
                    if let Err(e) = self.keep(Some(Entry::Failed(f)), units) {
                        out.failure = Some(e);
                        break;
                    }
                }
                Err(UnitError::Interrupted) => break,
                Err(UnitError::Fatal(e)) => {
                    out.failure = Some(e);
                    break;
                }
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        out.checkpoint = self.checkpoint.take();
        out
    }

    /// Appends `entry`, the `units`th unit done, to the checkpoint, if the run keeps one.
    fn keep(&mut self, entry: Option<Entry>, units: usize) -> anyhow::Result<()> {
        match (&mut self.checkpoint, entry) {
            (Some(c), Some(e)) => c.append(&e).map_err(|e| {
                anyhow::Error::new(e).context(format!(
                    "the run stops here; the {units} unit(s) done are in the checkpoint"
                ))
            }),
            _ => Ok(()),
        }
    }
}
