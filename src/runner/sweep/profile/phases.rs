//! The profile's phases, one after the other: their order, and for each its estimate from the rates known so
//! far, why it is skipped (the budget, rates its bench did not measure, the model's trained context), its run
//! options and deadlines, its bench or load sweep, and what it teaches the phases after it (the model's rates,
//! the idle baseline).

use super::budget::{allotment, bench_phase_secs, load_phase_secs, over_budget, phase_deadlines};
use super::fit::short_context;
use super::load::LoadPhase;
use super::models::Candidate;
use super::outcome::{phase_summary, PhaseRecord, Status};
use super::requests::{requests_too_long, RequestShape};
use super::ProfileOptions;
use crate::estimate::{LoadLevel, Rates};
use crate::preflight;
use crate::results::ResultFile;
use crate::runner::models;
use crate::runner::options::{EngineOptions, PhaseLabel, RunOptions};
use crate::runner::progress::short_duration;
use crate::runner::sensors::TelemetryOptions;
use crate::runner::sweep::load::default_requests;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bench,
    Load,
    Depth,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Bench => "bench pp512 tg128",
            Kind::Load => "load sweep",
            Kind::Depth => "bench tg128 @ d4096",
        }
    }

    fn file_suffix(self) -> &'static str {
        match self {
            Kind::Bench => "bench",
            Kind::Load => "load",
            Kind::Depth => "depth",
        }
    }
}

/// The phases in the order they run: each model's bench and then its load sweep, smallest model first, then the
/// long-context tests — so a short budget keeps whole pictures of the models it reaches.
pub fn phases(n_models: usize) -> Vec<(Kind, usize)> {
    let mut p: Vec<(Kind, usize)> = (0..n_models)
        .flat_map(|m| [(Kind::Bench, m), (Kind::Load, m)])
        .collect();
    p.extend((0..n_models).map(|m| (Kind::Depth, m)));
    p
}

/// What every phase runs with.
pub(super) struct Context<'a> {
    pub o: &'a ProfileOptions,
    /// The models that fit the device, smallest first.
    pub models: Vec<Candidate>,
    pub shape: RequestShape,
    /// `--workload`'s name, for the load sweeps.
    pub workload: Option<String>,
    pub engine: EngineOptions,
    pub host_facts: preflight::memory::HostFacts,
    pub free: preflight::memory::FreeMemory,
    pub dir: PathBuf,
    pub config_dir: PathBuf,
    /// The budget's end.
    pub deadline: Instant,
    pub budget: Duration,
    /// The calibration's rates of the smallest model.
    pub calibration: Option<Rates>,
}

impl Context<'_> {
    fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// What the phases learn as they run: each model's measured rates and file, and the telemetry options of the
/// phases to come (the first measured idle baseline, reused).
struct Learned {
    speeds: Vec<Option<Rates>>,
    paths: Vec<Option<PathBuf>>,
    idle_from: Option<PathBuf>,
    telemetry: TelemetryOptions,
}

/// A phase cleared to run.
struct Ready {
    path: PathBuf,
    repetitions: u32,
    /// A load phase whose levels run for this long each rather than for their requests (see
    /// [`super::budget::timed_levels`]).
    level_duration: Option<Duration>,
    started: Instant,
    /// When it must end, and when its worker is stopped if it has not.
    end: Instant,
    stop_at: Instant,
}

/// Runs every phase in order, each one that fits what is left of the budget.
pub(super) fn run_all(cx: &Context) -> Vec<PhaseRecord> {
    let plan = phases(cx.models.len());
    let mut learned = Learned {
        speeds: vec![None; cx.models.len()],
        paths: vec![None; cx.models.len()],
        idle_from: None,
        telemetry: cx.o.run.telemetry.clone(),
    };
    (0..plan.len())
        .map(|n| phase(cx, &mut learned, &plan, n))
        .collect()
}

fn phase(cx: &Context, learned: &mut Learned, plan: &[(Kind, usize)], n: usize) -> PhaseRecord {
    let (kind, m) = plan[n];
    let c = &cx.models[m];
    let mut record = PhaseRecord {
        kind,
        model: c.name.clone(),
        estimate_s: None,
        took_s: None,
        status: Status::Skipped(String::new()),
        result: None,
    };
    let ready = match ready(cx, learned, plan, n, &mut record) {
        Ok(ready) => ready,
        Err(status) => {
            record.status = status;
            return record;
        }
    };
    let out = cx.dir.join(format!(
        "{}-{}.json",
        crate::fsutil::file_name_part(&c.name),
        kind.file_suffix()
    ));
    let label = format!(
        "profile {}/{}: {} {}",
        n + 1,
        plan.len(),
        kind.label(),
        c.name
    );
    let run = run_options(cx, learned, &out, label.clone(), &ready);
    let model = ready.path.display().to_string();
    let outcome = match kind {
        Kind::Bench | Kind::Depth => super::bench::phase(
            cx.o,
            &cx.engine,
            kind,
            model,
            ready.repetitions,
            ready.end,
            run,
        ),
        Kind::Load => LoadPhase {
            o: cx.o,
            workload: cx.workload.clone(),
            shape: &cx.shape,
            engine: cx.o.engine(),
            levels: cx
                .shape
                .fitting_levels(&ready.path, &cx.engine, &cx.host_facts, &cx.free),
            model,
            size: c.size,
            phase_end: ready.end,
            level_duration: ready.level_duration,
        }
        .run(run),
    };
    record.took_s = Some(ready.started.elapsed().as_secs_f64());
    match outcome {
        Err(e) => record.status = failed(cx, &e),
        Ok(result) => {
            record.result = Some(out.clone());
            record.status = settle(cx, learned, kind, m, ready.repetitions, &out, &result);
            if let (Some(d), Status::Done { summary } | Status::CasesFailed { summary }) =
                (ready.level_duration, &mut record.status)
            {
                summary.push_str(&format!(
                    " (levels of {} each, not of their requests, to fit the time budget)",
                    short_duration(d)
                ));
            }
        }
    }
    eprintln!(
        "{label}: {}",
        match &record.status {
            Status::Done { summary } | Status::CasesFailed { summary } => summary.clone(),
            Status::Failed(w) => format!("failed: {w}"),
            Status::Skipped(w) => format!("skipped: {w}"),
            Status::Interrupted => "interrupted".into(),
        }
    );
    record
}

/// Clears phase `n` of `plan` to run, its estimate recorded, or says why it does not run.
fn ready(
    cx: &Context,
    learned: &mut Learned,
    plan: &[(Kind, usize)],
    n: usize,
    record: &mut PhaseRecord,
) -> Result<Ready, Status> {
    let (kind, m) = plan[n];
    if cx.o.run.stopped() {
        return Err(Status::Interrupted);
    }
    let allotted = allotment(plan, n, cx.left());
    let (repetitions, estimate_s) = estimate(cx, learned, kind, m, allotted);
    record.estimate_s = estimate_s;
    // Without the model's own bench rates, the nearest model's or the calibration's size the phase.
    if kind != Kind::Bench && estimate_s.is_none() {
        return Err(Status::Skipped(format!(
            "neither its {} nor the calibration measured the rates this phase needs",
            Kind::Bench.label()
        )));
    }
    let why_not = match estimate_s {
        Some(est) => over_budget(est, allotted),
        None if allotted.is_zero() => Some("the time budget is spent".into()),
        None => None,
    };
    // A load sweep whose levels do not fit by their requests runs timed levels: an operating point is what the
    // profile is for.
    let level_duration = match (kind, &why_not) {
        (Kind::Load, Some(_)) => super::budget::timed_levels(allotted),
        _ => None,
    };
    if let (Some(why), None) = (why_not, level_duration) {
        return Err(Status::Skipped(why));
    }
    if level_duration.is_some() {
        record.estimate_s = Some(allotted.as_secs_f64());
    }
    let started = Instant::now();
    let (end, stop_at) = phase_deadlines(started, allotted, cx.deadline, cx.budget);
    let path = match &learned.paths[m] {
        Some(p) => p.clone(),
        None => {
            let p = models::materialize(&cx.models[m].entry, &cx.config_dir, &cx.o.run.stop)
                .map_err(|e| failed(cx, &e))?;
            learned.paths[m] = Some(p.clone());
            p
        }
    };
    let trained = preflight::model_facts(&path).ok().and_then(|(_, n)| n);
    let unsuitable = match kind {
        Kind::Load => requests_too_long(cx.shape.longest, trained),
        Kind::Depth => short_context(trained),
        Kind::Bench => None,
    };
    if let Some(why) = unsuitable {
        return Err(Status::Skipped(why));
    }
    Ok(Ready {
        path,
        repetitions,
        level_duration,
        started,
        end,
        stop_at,
    })
}

/// The repetitions a phase of `kind` of model `m` runs, and its estimate from the rates known so far (the
/// model's own, else the nearest measured model's scaled to it, else the calibration's): a bench or depth test
/// runs fewer repetitions rather than none, the most from the profile's count down to 1 that fits `allotted`.
fn estimate(
    cx: &Context,
    learned: &Learned,
    kind: Kind,
    m: usize,
    allotted: Duration,
) -> (u32, Option<f64>) {
    let c = &cx.models[m];
    let speeds = &learned.speeds;
    let known = speeds[m]
        .or_else(|| {
            (0..cx.models.len())
                .filter_map(|k| speeds[k].map(|s| (k, s)))
                .min_by_key(|(k, _)| k.abs_diff(m))
                .map(|(k, s)| s.scaled(&cx.models[k].size, &c.size))
        })
        .or_else(|| {
            cx.calibration
                .map(|s| s.scaled(&cx.models[0].size, &c.size))
        });
    let c_now = Candidate {
        needs_synth: c.needs_synth && learned.paths[m].is_none(),
        ..c.clone()
    };
    let first_level = LoadLevel {
        requests: default_requests(1),
        input_tokens: cx.shape.input,
        output_tokens: cx.shape.output,
        slots: 1,
    };
    let estimate = |reps: u32| {
        known.map(|r| match kind {
            Kind::Load => load_phase_secs(&first_level, &r, &c_now),
            _ => bench_phase_secs(kind, reps + 1, &r, &c_now),
        })
    };
    let mut repetitions = cx.o.repetitions();
    if kind != Kind::Load {
        while repetitions > 1 && estimate(repetitions).is_some_and(|e| e > allotted.as_secs_f64()) {
            repetitions -= 1;
        }
    }
    (repetitions, estimate(repetitions))
}

/// The profile's run options with a phase's result file `out`, its progress label and its deadlines.
fn run_options(
    cx: &Context,
    learned: &Learned,
    out: &Path,
    label: String,
    ready: &Ready,
) -> RunOptions {
    let mut run = cx.o.run.clone();
    run.out = Some(out.to_path_buf());
    run.results_dir = cx.dir.clone();
    run.resume = None;
    run.save_baseline = None;
    run.phase = Some(PhaseLabel {
        text: label,
        deadline: Some(ready.end),
    });
    run.hard_deadline = Some(ready.stop_at);
    run.telemetry = learned.telemetry.clone();
    run
}

/// A phase that did not run to its result: interrupted when a stop was asked for, else failed with `e`.
fn failed(cx: &Context, e: &anyhow::Error) -> Status {
    if cx.o.run.stopped() {
        Status::Interrupted
    } else {
        Status::Failed(crate::text::one_line(&format!("{e:#}")))
    }
}

/// What became of a phase that wrote `result` to `out`, and what the phases after it learn from it: a bench's
/// rates of model `m`, and the first idle baseline measured.
fn settle(
    cx: &Context,
    learned: &mut Learned,
    kind: Kind,
    m: usize,
    repetitions: u32,
    out: &Path,
    result: &ResultFile,
) -> Status {
    let mut summary = phase_summary(kind, result, &cx.shape.slo_note);
    if kind != Kind::Load && repetitions < cx.o.repetitions() {
        summary += &format!(
            " ({repetitions} repetitions instead of {} to fit the time budget)",
            cx.o.repetitions()
        );
    }
    if kind == Kind::Bench {
        if let (Some(pp), Some(tg)) = super::bench::rates(result) {
            learned.speeds[m] = Rates::measured(pp, tg);
        }
    }
    if learned.idle_from.is_none()
        && result
            .telemetry
            .as_ref()
            .is_some_and(|t| !t.idle.is_empty())
    {
        learned.idle_from = Some(out.to_path_buf());
        learned.telemetry.idle_from = learned.idle_from.clone();
    }
    if result.interrupted {
        Status::Interrupted
    } else if !result.failed.is_empty() {
        Status::CasesFailed { summary }
    } else {
        Status::Done { summary }
    }
}
