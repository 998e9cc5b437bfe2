//! One unit of work (a `Job`) run in this process: a bench case, a load level, a numerics gate or reference, a
//! self-test probe or a matrix-vector probe. A worker process runs exactly one (`worker::serve`); a run with
//! `--in-process` runs every unit here, reusing a loaded model from one unit to the next. Either way the unit
//! reports through the same replies: what it loaded, its progress, and its result.

use super::worker::{offload_of, BenchDone, Job, LoadDone, ModelFacts, Reply, Request};
use crate::engine::{self, ContextParams, EngineError, Model, ModelParams};
use crate::results::record::{Kernels, Numerics};
use crate::runner::energy::process_of;
use crate::runner::load::{run_level, LevelSpec};
use crate::runner::numerics::{self as gate, Reference};
use crate::runner::probe::{self, CrashPoint, EngineConfig};
use crate::runner::{run_case, Case, Meter};
use crate::telemetry::{ProcessSensor, Sensor};
use chrono::Utc;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// How often a load level reports its progress: often enough for a live progress bar and far inside any stall
/// limit.
const LOAD_PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// The last model a unit loaded, kept for the next unit of the same file and parameters (in-process runs).
#[derive(Default)]
pub struct ModelCache {
    last: Option<(PathBuf, ModelParams, Model)>,
}

impl ModelCache {
    /// The model at `path` loaded with `params`: the one already loaded when it is the same, else a new load
    /// (the previous one is freed first).
    pub fn get(
        &mut self,
        path: &Path,
        params: ModelParams,
        verbose: bool,
    ) -> Result<&Model, EngineError> {
        let same = matches!(&self.last, Some((p, mp, _)) if p == path && *mp == params);
        if !same {
            self.last = None;
            let model = engine::load_model(path, params, verbose)?;
            self.last = Some((path.to_path_buf(), params, model));
        }
        Ok(&self.last.as_ref().expect("just loaded").2)
    }
}

/// Where a unit runs and reports.
pub struct Env<'a> {
    /// Each reply as it happens; the last is the result.
    pub send: &'a mut dyn FnMut(&Reply),
    /// Polled between repetitions and load iterations: the unit stops early when it is set (in-process; a worker
    /// is killed instead).
    pub stop_now: &'a AtomicBool,
    pub models: &'a mut ModelCache,
}

/// Runs `req`'s job, sending its replies through `env`; the final reply (an error as `Reply::Error` is the
/// caller's to make).
pub fn execute(req: &Request, env: &mut Env) -> Result<Reply, EngineError> {
    let interval = req
        .sample_interval_ns
        .map(|ns| Duration::from_nanos(ns.max(1)));
    match &req.job {
        Job::BenchCase { case, reference } => {
            bench_case(req, case, reference.as_deref(), interval, env)
        }
        Job::Probe { model_path, config } => {
            let report = probe::run(model_path, config, req.verbose, |stage| match stage {
                probe::Stage::Loaded(buffers) => (env.send)(&Reply::Loaded {
                    weight_buffers_mib: buffers.clone(),
                }),
                probe::Stage::Decoded(numerics) => (env.send)(&Reply::Decoded {
                    numerics: numerics.clone(),
                }),
            })?;
            Ok(Reply::Probe(Box::new(report)))
        }
        Job::MatVec {
            weight_type,
            matrix_bytes,
            threads,
            repack,
        } => matvec(weight_type, *matrix_bytes, *threads, *repack),
        Job::Gate {
            model_path,
            model: params,
            context,
            reference,
            kernels,
        } => {
            let model = env.models.get(model_path, *params, req.verbose)?;
            loaded(env.send, model, params, context, &req.label, *kernels);
            let numerics = gate::check_file(model, context, *kernels, reference, &req.label);
            Ok(Reply::Gate {
                numerics,
                weight_buffers_mib: model.weight_buffers_mib.clone(),
                offloaded: offload_of(model),
            })
        }
        Job::Reference {
            model_path,
            use_mmap,
            n_threads,
            out: file,
        } => {
            let r = Reference::compute(model_path, *use_mmap, *n_threads, req.verbose)?;
            r.write(file)
                .map_err(|e| EngineError::Backend(format!("{}: {e}", file.display())))?;
            Ok(Reply::Reference {
                elapsed_ns: r.elapsed_ns,
            })
        }
        Job::LoadLevel {
            model_path,
            model: params,
            context,
            spec,
        } => load_level(req, model_path, params, context, spec, interval, env),
    }
}

/// The unit's own CPU use and memory, read every `interval` (no sensor at all without one).
fn own_process_meter(interval: Option<Duration>) -> Meter {
    let sensors: Vec<Box<dyn Sensor>> = interval
        .and_then(|i| ProcessSensor::new(i).ok())
        .map(|s| vec![Box::new(s) as Box<dyn Sensor>])
        .unwrap_or_default();
    Meter::with_sensors(sensors, interval.unwrap_or(Duration::from_millis(50)))
}

/// Tells the parent where the weights went, then fires the crash hook for this configuration: before anything
/// runs, and, for a unit that runs prompt batches, before the first of them (nothing else runs in between).
fn loaded(
    send: &mut dyn FnMut(&Reply),
    model: &Model,
    params: &ModelParams,
    context: &ContextParams,
    label: &str,
    kernels: Kernels,
) {
    send(&Reply::Loaded {
        weight_buffers_mib: model.weight_buffers_mib.clone(),
    });
    let label = format!("{} {label}", EngineConfig::of(params, context).label());
    probe::crash_hook(&label, CrashPoint::Start);
    if kernels == Kernels::BatchAndDecode {
        probe::crash_hook(&label, CrashPoint::Batch);
    }
}

fn bench_case(
    req: &Request,
    case: &Case,
    reference: Option<&Path>,
    interval: Option<Duration>,
    env: &mut Env,
) -> Result<Reply, EngineError> {
    let model = env.models.get(&case.model_path, case.model, req.verbose)?;
    let kernels = Kernels::of(&case.test);
    loaded(
        env.send,
        model,
        &case.model,
        &case.context,
        &req.label,
        kernels,
    );
    let numerics = match reference {
        None => Numerics::not_verified("--no-verify"),
        Some(path) => {
            let n = gate::check_file(model, &case.context, kernels, path, &req.label);
            (env.send)(&Reply::Progress { done: 0 });
            n
        }
    };
    let mut meter = own_process_meter(interval);
    let send = &mut *env.send;
    let run = run_case(model, case, &mut meter, env.stop_now, |done| {
        send(&Reply::Progress {
            done: u64::from(done),
        })
    })?;
    Ok(Reply::Bench(Box::new(BenchDone {
        model: ModelFacts::of(model),
        started_at: run.started_at,
        samples: run.samples,
        complete: run.complete,
        stop_reason: run.stop_reason,
        origin_mono_ns: run.origin_mono_ns,
        process: process_of(&run.windows),
        weight_buffers_mib: model.weight_buffers_mib.clone(),
        numerics: Some(numerics),
    })))
}

fn matvec(
    weight_type: &str,
    matrix_bytes: u64,
    threads: u32,
    repack: bool,
) -> Result<Reply, EngineError> {
    use crate::telemetry::compute::{ComputeRate, MIN_PASS_S, PASSES};
    let r = engine::matvec::measure(
        weight_type,
        matrix_bytes,
        threads,
        repack,
        PASSES,
        MIN_PASS_S,
    )?;
    Ok(Reply::MatVec(ComputeRate {
        gb_per_s: r.gb_per_s,
        min_gb_per_s: r.min_gb_per_s,
        max_gb_per_s: r.max_gb_per_s,
        passes: r.passes,
        matrix_bytes: r.matrix_bytes,
        buffer_type: r.buffer_type,
        measured_at: Utc::now(),
    }))
}

fn load_level(
    req: &Request,
    model_path: &Path,
    params: &ModelParams,
    context: &ContextParams,
    spec: &LevelSpec,
    interval: Option<Duration>,
    env: &mut Env,
) -> Result<Reply, EngineError> {
    let model = env.models.get(model_path, *params, req.verbose)?;
    loaded(
        env.send,
        model,
        params,
        context,
        &req.label,
        Kernels::BatchAndDecode,
    );
    let mut session = engine::new_session(model, context)?;
    let mut meter = own_process_meter(interval);
    let (origin, origin_mono_ns) = crate::clock::now();
    meter.start(origin);
    let mut last = Instant::now();
    let send = &mut *env.send;
    let level = run_level(
        &mut session,
        spec,
        model.n_vocab,
        origin,
        env.stop_now,
        |p| {
            if last.elapsed() >= LOAD_PROGRESS_EVERY {
                last = Instant::now();
                send(&Reply::Progress {
                    done: p.completed as u64,
                });
            }
        },
    );
    let windows = meter.stop();
    let level = level?;
    Ok(Reply::Load(Box::new(LoadDone {
        model: ModelFacts::of(model),
        requests: level.requests,
        duration_ns: level.duration_ns,
        window_ns: level.window_ns,
        warmup_ns: level.warmup_ns,
        prompt_tokens_processed: level.prompt_tokens_processed,
        interrupted: level.interrupted,
        start_ns: level.start_ns,
        origin_mono_ns,
        process: process_of(&windows),
    })))
}
