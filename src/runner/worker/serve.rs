//! The worker's side: reads one request from stdin, runs it, and writes its replies, one JSON object per line, to
//! the reply pipe its parent gave it (never to stdout or stderr, which llama.cpp and ggml print to). Every job
//! replies at least once per unit of work (the model loaded, the numerics gate, the warm-up, each repetition, and
//! every few hundred milliseconds of a load level), which is what the parent's stall limit watches.

use super::{
    offload_of, BenchDone, Job, LoadDone, ModelFacts, Reply, Request, ABORT_ENV, BAD_REPLY_ENV,
    HANG_ENV, NOISE_ENV, REPLY_FD, REPLY_FD_ENV,
};
use crate::analysis::energy::process_of;
use crate::engine::{self, ContextParams, EngineError, ModelParams};
use crate::results::record::{Kernels, Numerics};
use crate::runner::load::{run_level, LevelSpec};
use crate::runner::numerics::{self as gate, Reference};
use crate::runner::probe::{self, CrashPoint, EngineConfig};
use crate::runner::{run_case, Case, Meter};
use crate::telemetry::{ProcessSensor, Sensor};
use chrono::Utc;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// How often a load level reports its progress: often enough for a live progress bar and far inside any stall
/// limit.
const LOAD_PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// What the noise hook writes to stdout: a line that reads as a final reply, one that reads as progress, bytes
/// that are not UTF-8, and a reply left unfinished.
const NOISE_STDOUT: &[u8] =
    b"noise on stdout\n{\"reply\":\"error\",\"message\":\"noise on stdout\"}\n\
{\"reply\":\"progress\",\"done\":999}\n\xff\xfe\x00 not utf-8\n{\"reply\":\"bench\",\"model\":";

/// What the noise hook writes to stderr.
const NOISE_STDERR: &[u8] =
    b"noise on stderr\n{\"reply\":\"error\",\"message\":\"noise on stderr\"}\n\
{\"reply\":\"loaded\",\"weight_buffers_mib\":";

/// The final reply the bad-reply hook sends in place of the real one.
const BAD_REPLY: &[u8] = b"{\"reply\":\"bench\",\"samples\":[garbled\n";

/// Whether the test hook `var` names this job (its value is a substring of `label`).
fn hooked(var: &str, label: &str) -> bool {
    std::env::var(var).is_ok_and(|v| !v.is_empty() && label.contains(&v))
}

/// Where this worker's replies go.
struct Outbox {
    pipe: File,
    /// The job's label, for the hang hook.
    label: String,
}

impl Outbox {
    fn send(&mut self, r: &Reply) {
        let mut line = serde_json::to_vec(r).expect("reply serializes");
        line.push(b'\n');
        // The parent reading the pipe is gone when this fails; there is no one left to tell.
        let _ = self.pipe.write_all(&line);
        if matches!(r, Reply::Loaded { .. }) && hooked(HANG_ENV, &self.label) {
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
    }

    fn progress(&mut self, done: u64) {
        self.send(&Reply::Progress { done });
    }
}

/// The reply pipe the parent gave this process, at the descriptor `REPLY_FD_ENV` names.
fn reply_pipe() -> anyhow::Result<File> {
    let named = std::env::var(REPLY_FD_ENV).map_err(|_| {
        anyhow::anyhow!(
            "{REPLY_FD_ENV} is not set: `tokenmeter worker` is started by tokenmeter itself"
        )
    })?;
    let fd: i32 = named
        .parse()
        .ok()
        .filter(|&fd| fd == REPLY_FD)
        .ok_or_else(|| anyhow::anyhow!("{REPLY_FD_ENV}={named}: expected {REPLY_FD}"))?;
    // SAFETY: fcntl with F_GETFD only reads the flags of a descriptor number and touches no memory of ours.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        anyhow::bail!("{REPLY_FD_ENV}={fd}: no such open descriptor");
    }
    // SAFETY: the parent opened this descriptor for us as the reply pipe's write end; nothing else in this process
    // uses or closes it, and it is taken once, here. Marking it close-on-exec touches no memory.
    unsafe {
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        Ok(File::from_raw_fd(fd))
    }
}

/// The noise hook: garbage on stdout and stderr.
fn make_noise() {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(NOISE_STDOUT).and_then(|()| out.flush());
    let _ = std::io::stderr().write_all(NOISE_STDERR);
}

/// The worker's side: reads one request from stdin, runs it, writes the replies to the reply pipe. It dies with
/// its parent, so a parent killed with `kill -9` leaves no worker computing for no one.
pub fn serve() -> anyhow::Result<()> {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    }
    let pipe = reply_pipe()?;
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let req: Request = serde_json::from_str(&text)?;
    // A parent that died before the death signal was armed left us to another parent.
    if std::os::unix::process::parent_id() != req.parent_pid {
        anyhow::bail!("the parent process {} is gone", req.parent_pid);
    }
    if hooked(ABORT_ENV, &req.label) {
        std::process::abort();
    }
    if hooked(NOISE_ENV, &req.label) {
        make_noise();
    }
    let mut out = Outbox {
        pipe,
        label: req.label.clone(),
    };
    let reply = run(&req, &mut out).unwrap_or_else(|e| Reply::Error {
        message: e.to_string(),
    });
    if hooked(BAD_REPLY_ENV, &req.label) {
        let _ = out.pipe.write_all(BAD_REPLY);
        return Ok(());
    }
    out.send(&reply);
    Ok(())
}

fn run(req: &Request, out: &mut Outbox) -> Result<Reply, EngineError> {
    let interval = req
        .sample_interval_ns
        .map(|ns| Duration::from_nanos(ns.max(1)));
    match &req.job {
        Job::BenchCase { case, reference } => {
            bench_case(req, case, reference.as_deref(), interval, out)
        }
        Job::Probe { model_path, config } => {
            let report = probe::run(model_path, config, req.verbose, |stage| match stage {
                probe::Stage::Loaded(buffers) => out.send(&Reply::Loaded {
                    weight_buffers_mib: buffers.clone(),
                }),
                probe::Stage::Decoded(numerics) => out.send(&Reply::Decoded {
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
            let model = engine::load_model(model_path, *params, req.verbose)?;
            loaded(out, &model, params, context, &req.label, *kernels);
            let numerics = gate::check_file(&model, context, *kernels, reference, &req.label);
            Ok(Reply::Gate {
                numerics,
                weight_buffers_mib: model.weight_buffers_mib.clone(),
                offloaded: offload_of(&model),
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
        } => load_level(req, model_path, params, context, spec, interval, out),
    }
}

/// The worker's own CPU use and memory, read every `interval` (no sensor at all without one).
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
    out: &mut Outbox,
    model: &engine::Model,
    params: &ModelParams,
    context: &ContextParams,
    label: &str,
    kernels: Kernels,
) {
    out.send(&Reply::Loaded {
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
    out: &mut Outbox,
) -> Result<Reply, EngineError> {
    let model = engine::load_model(&case.model_path, case.model, req.verbose)?;
    let kernels = Kernels::of(&case.test);
    loaded(out, &model, &case.model, &case.context, &req.label, kernels);
    let numerics = match reference {
        None => Numerics::not_verified("--no-verify"),
        Some(path) => {
            let n = gate::check_file(&model, &case.context, kernels, path, &req.label);
            out.progress(0);
            n
        }
    };
    let mut meter = own_process_meter(interval);
    // The worker is never interrupted from inside: the parent kills it when the case must end now.
    let never = AtomicBool::new(false);
    let run = run_case(&model, case, &mut meter, &never, |done| {
        out.progress(u64::from(done))
    })?;
    Ok(Reply::Bench(Box::new(BenchDone {
        model: ModelFacts::of(&model),
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
    out: &mut Outbox,
) -> Result<Reply, EngineError> {
    let model = engine::load_model(model_path, *params, req.verbose)?;
    loaded(
        out,
        &model,
        params,
        context,
        &req.label,
        Kernels::BatchAndDecode,
    );
    let mut session = engine::new_session(&model, context)?;
    let mut meter = own_process_meter(interval);
    let (origin, origin_mono_ns) = crate::clock::now();
    meter.start(origin);
    // The worker is never interrupted from inside: the parent kills it when the level must end now.
    let never = AtomicBool::new(false);
    let mut last = Instant::now();
    let level = run_level(&mut session, spec, model.n_vocab, origin, &never, |p| {
        if last.elapsed() >= LOAD_PROGRESS_EVERY {
            last = Instant::now();
            out.progress(p.completed as u64);
        }
    });
    let windows = meter.stop();
    let level = level?;
    Ok(Reply::Load(Box::new(LoadDone {
        model: ModelFacts::of(&model),
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
