//! The profile's bench sweeps: a bench phase (pp512 and tg128, or tg128 at depth 4096) and the calibration run
//! before any phase (one pp64 and tg16 run of the smallest model, whose rates the first estimates rest on), both
//! with the profile's engine settings, and the rates read back from a bench result.

use super::models::Candidate;
use super::phases::Kind;
use super::{ProfileOptions, DEPTH_TOKENS, GEN_TOKENS, PROMPT_TOKENS};
use crate::estimate::Rates;
use crate::results::ResultFile;
use crate::runner::models;
use crate::runner::options::{EngineOptions, PhaseLabel, RunOptions};
use crate::runner::progress::short_duration;
use crate::runner::sweep::bench::{self, BenchOptions};
use crate::stats::ci::StopRule;
use std::path::Path;
use std::time::{Duration, Instant};

/// No calibration run below this budget (the phases then run without estimates, each within its deadline); the
/// calibration is stopped after [`CALIBRATION_SHARE`] of the budget.
const CALIBRATION_MIN: Duration = Duration::from_secs(20);
const CALIBRATION_SHARE: f64 = 0.1;

/// The tests of one bench run.
struct BenchTests {
    n_prompt: Vec<u32>,
    n_gen: u32,
    n_depth: Vec<u32>,
    repetitions: u32,
    warmup_runs: u32,
    /// Each case's repetitions stop once this much measuring time has passed (after at least one).
    max_time: Option<Duration>,
}

/// A bench run of `model` with the profile's engine settings.
fn bench_options(
    o: &ProfileOptions,
    e: &EngineOptions,
    model: String,
    t: BenchTests,
    run: RunOptions,
) -> BenchOptions {
    BenchOptions {
        models: vec![model],
        n_prompt: t.n_prompt,
        n_gen: vec![t.n_gen],
        pg: Vec::new(),
        n_depth: t.n_depth,
        stop_rule: StopRule {
            max_time_ns: t.max_time.map(|d| d.as_nanos() as u64),
            ..StopRule::fixed(t.repetitions)
        },
        n_threads: o.n_threads.map(|t| vec![t]),
        n_gpu_layers: vec![o.n_gpu_layers],
        repack: vec![e.repack],
        n_batch: vec![e.n_batch],
        n_ubatch: vec![e.n_ubatch],
        flash_attn: vec![e.flash_attn],
        no_kv_offload: vec![e.no_kv_offload],
        type_k: vec![e.type_k.clone()],
        type_v: vec![e.type_v.clone()],
        use_mmap: e.use_mmap,
        warmup_runs: t.warmup_runs,
        seed: 1,
        run,
        force: false,
    }
}

/// Runs the bench phase `kind` (a bench or a depth test) of `model` with `repetitions` per case, ending by
/// `phase_end`.
pub(super) fn phase(
    o: &ProfileOptions,
    e: &EngineOptions,
    kind: Kind,
    model: String,
    repetitions: u32,
    phase_end: Instant,
    run: RunOptions,
) -> anyhow::Result<ResultFile> {
    let (n_prompt, n_depth) = if kind == Kind::Bench {
        (vec![PROMPT_TOKENS], vec![0])
    } else {
        (vec![0], vec![DEPTH_TOKENS])
    };
    let cases = (n_prompt.len() + 1) as f64;
    // Each case's repetitions stop at its share of the phase, less what loading and warming up take (a fifth
    // of it, when nothing better is known).
    let max_time = phase_end
        .saturating_duration_since(Instant::now())
        .mul_f64(0.8 / cases);
    let tests = BenchTests {
        n_prompt,
        n_gen: GEN_TOKENS,
        n_depth,
        repetitions,
        warmup_runs: 1,
        max_time: Some(max_time),
    };
    bench::run(&bench_options(o, e, model, tests, run)).map(|b| b.result)
}

/// The calibration's rates (`None` when it did not run or measured none), and its wall time or why it did not
/// run: none below [`CALIBRATION_MIN`] of budget, and it is stopped at [`CALIBRATION_SHARE`] of the budget
/// after `started`.
pub(super) fn calibration(
    o: &ProfileOptions,
    smallest: &Candidate,
    config_dir: &Path,
    e: &EngineOptions,
    started: Instant,
) -> (Option<Rates>, Result<Duration, String>) {
    let budget = o.budget();
    let calibration_start = Instant::now();
    let calibration = (budget >= CALIBRATION_MIN)
        .then(|| {
            let until = started + budget.mul_f64(CALIBRATION_SHARE);
            calibrate(o, smallest, config_dir, e, until)
        })
        .flatten();
    let took = if budget < CALIBRATION_MIN {
        Err(format!(
            "a budget under {}",
            short_duration(CALIBRATION_MIN)
        ))
    } else if calibration.is_none() {
        Err(format!(
            "did not measure rates in {}",
            short_duration(calibration_start.elapsed())
        ))
    } else {
        Ok(calibration_start.elapsed())
    };
    (calibration, took)
}

/// Rough rates of the smallest model before anything is planned: one run of pp64 and tg16, no warm-up, no
/// sensors, into a temporary directory (never part of the profile's results). `None` when it did not run.
fn calibrate(
    o: &ProfileOptions,
    smallest: &Candidate,
    config_dir: &Path,
    e: &EngineOptions,
    until: Instant,
) -> Option<Rates> {
    let path = models::materialize(&smallest.entry, config_dir, &o.run.stop).ok()?;
    let tmp = tempfile::tempdir().ok()?;
    let mut run = o.run.clone();
    run.out = Some(tmp.path().join("calibration.json"));
    run.results_dir = tmp.path().to_path_buf();
    run.resume = None;
    run.save_baseline = None;
    run.telemetry.enabled = false;
    run.telemetry.idle = Duration::ZERO;
    run.telemetry.idle_from = None;
    run.phase = Some(PhaseLabel {
        text: format!("profile: calibrating on {}", smallest.name),
        deadline: None,
    });
    run.hard_deadline = Some(until);
    // Its rates only size the phases: not a result, so no numerics gate (the phases gate their own).
    run.verify = false;
    let tests = BenchTests {
        n_prompt: vec![64],
        n_gen: 16,
        n_depth: vec![0],
        repetitions: 1,
        warmup_runs: 0,
        max_time: None,
    };
    let r = bench::run(&bench_options(o, e, path.display().to_string(), tests, run)).ok()?;
    match rates(&r.result) {
        (Some(pp_tps), Some(tg_tps)) => Rates::measured(pp_tps, tg_tps),
        _ => None,
    }
}

/// The pp512 and tg128 (or tg128 at depth) rates of a bench result.
pub(super) fn rates(r: &ResultFile) -> (Option<f64>, Option<f64>) {
    let rate = |f: &dyn Fn(&crate::results::CaseRecord) -> bool| {
        r.cases
            .iter()
            .filter(|c| f(c))
            .find_map(|c| c.summary.avg_ts)
    };
    (
        rate(&|c| c.n_prompt > 0 && c.n_gen == 0),
        rate(&|c| c.n_prompt == 0 && c.n_gen > 0),
    )
}
