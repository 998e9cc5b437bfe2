//! One `bench` case or one `load` level in a child process of the same binary (`tokenmeter worker`, hidden), so
//! that a llama.cpp abort, a segfault, an out-of-memory kill or a case past `--case-timeout` ends that case, not
//! the sweep. The parent keeps the sensors, the progress bar and the result file; it writes the job as JSON on
//! the worker's stdin and reads replies, one JSON object per line, from its stdout. The worker states its
//! timestamps against an origin on the system-wide monotonic clock (`crate::clock`), so the parent places them
//! in its sensor windows. The worker runs in its own process group: Ctrl-C at a terminal reaches the parent
//! only, which decides whether the case in flight finishes (first Ctrl-C) or is killed (second).

use crate::analysis::energy::process_of;
use crate::engine::{self, ContextParams, EngineError, ModelParams};
use crate::results::load::RequestSample;
use crate::results::record::RepSample;
use crate::results::record::{Kernels, Numerics, Offload};
use crate::results::telemetry::ProcessContext;
use crate::runner::load::{run_level, LevelSpec};
use crate::runner::numerics::{self as gate, Reference};
use crate::runner::probe::{self, CrashPoint, EngineConfig, ProbeReport};
use crate::runner::{run_case, Case, Meter};
use crate::stats::StopReason;
use crate::telemetry::{ProcessSensor, Sensor};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lines of the worker's stderr kept for a failed case's reason.
pub const STDERR_TAIL_LINES: usize = 12;

/// Test hook: a worker whose job's label contains this variable's value aborts (SIGABRT) before running it, as
/// a llama.cpp assertion would.
pub const ABORT_ENV: &str = "TOKENMETER_WORKER_ABORT";

/// What a worker runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    BenchCase {
        case: Case,
        /// The CPU reference's logits for the numerics gate; `None` with `--no-verify`.
        #[serde(default)]
        reference: Option<std::path::PathBuf>,
    },
    /// The self-test of one engine configuration on a tiny model.
    Probe {
        model_path: std::path::PathBuf,
        config: EngineConfig,
    },
    /// The numerics gate of one engine configuration against a reference (a `load` sweep's).
    Gate {
        model_path: std::path::PathBuf,
        model: ModelParams,
        context: ContextParams,
        reference: std::path::PathBuf,
        #[serde(default)]
        kernels: Kernels,
    },
    /// Generation's compute ceiling: ggml's matrix-vector product on a cache-resident matrix.
    MatVec {
        weight_type: String,
        matrix_bytes: u64,
        threads: u32,
        repack: bool,
    },
    /// The numerics gate's reference logits of a model, written to `out`.
    Reference {
        model_path: std::path::PathBuf,
        use_mmap: bool,
        n_threads: u32,
        out: std::path::PathBuf,
    },
    LoadLevel {
        model_path: std::path::PathBuf,
        model: ModelParams,
        context: ContextParams,
        spec: LevelSpec,
    },
}

/// The job and how to run it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub job: Job,
    /// A human label (`pp512 t=2`, `c=4`), for progress and the abort hook.
    pub label: String,
    pub verbose: bool,
    /// Interval of the worker's own process readings (CPU %, peak memory); `None` with `--telemetry off`.
    pub sample_interval_ns: Option<u64>,
    /// The parent's process id: a worker whose parent is already gone exits at once.
    pub parent_pid: u32,
}

/// What llama.cpp says of the loaded model (the parent never loads it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFacts {
    pub desc: String,
    pub size_bytes: u64,
    pub n_params: u64,
    pub n_vocab: i32,
    /// The layers llama.cpp put on GPU devices (absent for a build without GPU offload).
    #[serde(default)]
    pub offloaded: Option<Offload>,
}

/// A finished `bench` case; `samples[].start_ns` are ns after `origin_mono_ns`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchDone {
    pub model: ModelFacts,
    pub started_at: DateTime<Utc>,
    pub samples: Vec<RepSample>,
    pub complete: bool,
    pub stop_reason: StopReason,
    pub origin_mono_ns: u64,
    pub process: Option<ProcessContext>,
    /// The buffers llama.cpp put the weights in (MiB by buffer type).
    #[serde(default)]
    pub weight_buffers_mib: BTreeMap<String, f64>,
    #[serde(default)]
    pub numerics: Option<Numerics>,
}

/// A finished `load` level; `start_ns` is ns after `origin_mono_ns`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadDone {
    pub model: ModelFacts,
    pub requests: Vec<RequestSample>,
    pub duration_ns: u64,
    #[serde(default)]
    pub window_ns: Option<u64>,
    #[serde(default)]
    pub warmup_ns: u64,
    pub prompt_tokens_processed: u64,
    pub interrupted: bool,
    pub start_ns: u64,
    pub origin_mono_ns: u64,
    pub process: Option<ProcessContext>,
}

/// One line of the worker's stdout.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// Repetitions (bench) or requests (load) done so far.
    Progress {
        done: u64,
    },
    /// The model is loaded, its weights in these buffers (sent before the first prompt batch, so that a crash
    /// after it names the kernels' buffer types).
    Loaded {
        weight_buffers_mib: BTreeMap<String, f64>,
    },
    Bench(Box<BenchDone>),
    Load(Box<LoadDone>),
    Probe(Box<ProbeReport>),
    /// The self-test's decodes alone are gated (sent before its first prompt batch, so that a crash in that
    /// batch still leaves the verdict on the decode kernels).
    Decoded {
        numerics: Numerics,
    },
    /// The reference logits are written.
    Reference {
        elapsed_ns: u64,
    },
    Gate {
        numerics: Numerics,
        weight_buffers_mib: BTreeMap<String, f64>,
        #[serde(default)]
        offloaded: Option<Offload>,
    },
    MatVec(crate::telemetry::compute::ComputeRate),
    /// llama.cpp refused the work (a decode failure, a context it could not create).
    Error {
        message: String,
    },
}

/// The layers `m`'s loader put on GPU devices.
pub fn offload_of(m: &engine::Model) -> Option<Offload> {
    m.offloaded_layers
        .map(|(layers, of)| Offload { layers, of })
}

fn facts(m: &engine::Model) -> ModelFacts {
    ModelFacts {
        desc: m.desc.clone(),
        size_bytes: m.size_bytes,
        n_params: m.n_params,
        n_vocab: m.n_vocab,
        offloaded: offload_of(m),
    }
}

fn send(out: &mut impl Write, r: &Reply) {
    let mut line = serde_json::to_vec(r).expect("reply serializes");
    line.push(b'\n');
    // The parent reading our stdout is gone when this fails; there is no one left to tell.
    let _ = out.write_all(&line).and_then(|()| out.flush());
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
    out: &mut impl Write,
    model: &engine::Model,
    params: &ModelParams,
    context: &ContextParams,
    label: &str,
    kernels: Kernels,
) {
    send(
        out,
        &Reply::Loaded {
            weight_buffers_mib: model.weight_buffers_mib.clone(),
        },
    );
    let label = format!("{} {label}", EngineConfig::of(params, context).label());
    probe::crash_hook(&label, CrashPoint::Start);
    if kernels == Kernels::BatchAndDecode {
        probe::crash_hook(&label, CrashPoint::Batch);
    }
}

fn run(req: &Request, out: &mut impl Write) -> Result<Reply, EngineError> {
    let interval = req
        .sample_interval_ns
        .map(|ns| Duration::from_nanos(ns.max(1)));
    // The worker is never interrupted from inside: the parent kills it when the case must end now.
    let never = AtomicBool::new(false);
    match &req.job {
        Job::BenchCase { case, reference } => {
            let model = engine::load_model(&case.model_path, case.model, req.verbose)?;
            let kernels = Kernels::of(&case.test);
            loaded(out, &model, &case.model, &case.context, &req.label, kernels);
            let numerics = match reference {
                None => Some(Numerics::not_verified("--no-verify")),
                Some(path) => Some(gate::check_file(
                    &model,
                    &case.context,
                    kernels,
                    path,
                    &req.label,
                )),
            };
            let mut meter = own_process_meter(interval);
            let run = run_case(&model, case, &mut meter, &never, |done| {
                send(
                    out,
                    &Reply::Progress {
                        done: u64::from(done),
                    },
                )
            })?;
            Ok(Reply::Bench(Box::new(BenchDone {
                model: facts(&model),
                started_at: run.started_at,
                samples: run.samples,
                complete: run.complete,
                stop_reason: run.stop_reason,
                origin_mono_ns: run.origin_mono_ns,
                process: process_of(&run.windows),
                weight_buffers_mib: model.weight_buffers_mib.clone(),
                numerics,
            })))
        }
        Job::Probe { model_path, config } => {
            let report = probe::run(model_path, config, req.verbose, |stage| match stage {
                probe::Stage::Loaded(buffers) => send(
                    out,
                    &Reply::Loaded {
                        weight_buffers_mib: buffers.clone(),
                    },
                ),
                probe::Stage::Decoded(numerics) => send(
                    out,
                    &Reply::Decoded {
                        numerics: numerics.clone(),
                    },
                ),
            })?;
            Ok(Reply::Probe(Box::new(report)))
        }
        Job::MatVec {
            weight_type,
            matrix_bytes,
            threads,
            repack,
        } => {
            let r = engine::matvec::measure(
                weight_type,
                *matrix_bytes,
                *threads,
                *repack,
                crate::telemetry::compute::PASSES,
                crate::telemetry::compute::MIN_PASS_S,
            )?;
            Ok(Reply::MatVec(crate::telemetry::compute::ComputeRate {
                gb_per_s: r.gb_per_s,
                min_gb_per_s: r.min_gb_per_s,
                max_gb_per_s: r.max_gb_per_s,
                passes: r.passes,
                matrix_bytes: r.matrix_bytes,
                buffer_type: r.buffer_type,
                measured_at: Utc::now(),
            }))
        }
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
        } => {
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
            let mut last = Instant::now();
            let level = run_level(&mut session, spec, model.n_vocab, origin, &never, |p| {
                if last.elapsed() >= Duration::from_millis(200) {
                    last = Instant::now();
                    send(
                        out,
                        &Reply::Progress {
                            done: p.completed as u64,
                        },
                    );
                }
            });
            let windows = meter.stop();
            let level = level?;
            Ok(Reply::Load(Box::new(LoadDone {
                model: facts(&model),
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
    }
}

/// The worker's side: reads one request from stdin, runs it, writes the replies to stdout. It dies with its
/// parent, so a parent killed with `kill -9` leaves no worker computing for no one.
pub fn serve() -> anyhow::Result<()> {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    }
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let req: Request = serde_json::from_str(&text)?;
    // A parent that died before the death signal was armed left us to another parent.
    if std::os::unix::process::parent_id() != req.parent_pid {
        anyhow::bail!("the parent process {} is gone", req.parent_pid);
    }
    if std::env::var(ABORT_ENV).is_ok_and(|v| !v.is_empty() && req.label.contains(&v)) {
        std::process::abort();
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let reply = match run(&req, &mut out) {
        Ok(r) => r,
        Err(e) => Reply::Error {
            message: e.to_string(),
        },
    };
    send(&mut out, &reply);
    Ok(())
}

/// Why a worker's case did not finish: its own error, a signal, an exit code, a timeout or an interruption, and
/// the last lines it wrote to stderr.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WorkerFailure {
    pub reason: String,
    pub stderr_tail: Vec<String>,
    /// The weights' buffers the worker reported before it failed.
    #[serde(skip)]
    pub loaded: Option<BTreeMap<String, f64>>,
    /// The last reply other than progress the worker sent before it failed (a self-test's `Decoded`).
    #[serde(skip)]
    pub last_reply: Option<Box<Reply>>,
}

impl std::fmt::Display for WorkerFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)?;
        if let Some(last) = self.stderr_tail.iter().rev().find(|l| !l.trim().is_empty()) {
            write!(f, " (last stderr line: {})", last.trim())?;
        }
        Ok(())
    }
}

fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGABRT => "SIGABRT, an abort such as a failed llama.cpp assertion",
        libc::SIGSEGV => "SIGSEGV, a segmentation fault",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => {
            "SIGILL, an illegal instruction: a kernel built for features this CPU or VM lacks"
        }
        libc::SIGKILL => "SIGKILL, e.g. the kernel's out-of-memory killer",
        libc::SIGTERM => "SIGTERM",
        _ => "",
    };
    if name.is_empty() {
        format!("signal {sig}")
    } else {
        format!("signal {sig} ({name})")
    }
}

/// `weights in AMX 22.3 MiB, CPU_Mapped 29.9 MiB`.
pub fn buffers_phrase(b: &BTreeMap<String, f64>) -> String {
    if b.is_empty() {
        return "weight buffers not reported".into();
    }
    let parts: Vec<String> = b.iter().map(|(k, v)| format!("{k} {v:.1} MiB")).collect();
    format!("weights in {}", parts.join(", "))
}

/// How the parent ends a worker early.
pub struct Limits<'a> {
    /// Set by a second Ctrl-C: kill the worker now.
    pub stop_now: &'a AtomicBool,
    /// `--case-timeout`.
    pub timeout: Option<Duration>,
    /// The end of the time a larger run (`profile`) gave this phase: a worker still running then is stopped.
    pub deadline: Option<Instant>,
}

/// The parent's side: runs `req` in a new worker process, passing progress to `on_progress`; the final reply, or
/// why there was none.
pub fn run_in_worker(
    req: &Request,
    limits: &Limits,
    mut on_progress: impl FnMut(u64),
) -> Result<Reply, WorkerFailure> {
    let fail = |reason: String| WorkerFailure {
        reason,
        ..WorkerFailure::default()
    };
    let exe =
        std::env::current_exe().map_err(|e| fail(format!("cannot find this executable: {e}")))?;
    let mut cmd = Command::new(exe);
    if req.verbose {
        cmd.arg("-v");
    }
    cmd.arg("worker")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| fail(format!("cannot start a worker process: {e}")))?;
    let job = serde_json::to_vec(req).expect("request serializes");
    if let Some(mut stdin) = child.stdin.take() {
        // A worker that died at once shows up below as its exit status.
        let _ = stdin.write_all(&job);
    }
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let tail: Arc<Mutex<VecDeque<String>>> = Arc::default();
    let stderr = child.stderr.take().expect("piped stderr");
    let (tail_w, verbose) = (tail.clone(), req.verbose);
    let tailer = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if verbose {
                eprintln!("{line}");
            }
            let mut t = tail_w.lock().expect("stderr tail lock");
            if t.len() == STDERR_TAIL_LINES {
                t.pop_front();
            }
            t.push_back(line);
        }
    });

    let started = Instant::now();
    let mut last: Option<Reply> = None;
    let mut loaded: Option<BTreeMap<String, f64>> = None;
    let mut ended_by_us: Option<String> = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => match serde_json::from_str::<Reply>(&line) {
                Ok(Reply::Progress { done }) => on_progress(done),
                Ok(Reply::Loaded { weight_buffers_mib }) => loaded = Some(weight_buffers_mib),
                Ok(r) => last = Some(r),
                Err(_) => {}
            },
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if ended_by_us.is_none() {
            let why = if limits.stop_now.load(Ordering::Relaxed) {
                Some("stopped by a second Ctrl-C".to_string())
            } else {
                limits
                    .timeout
                    .filter(|t| started.elapsed() > *t)
                    .map(|t| format!("ran past --case-timeout {}", humantime::format_duration(t)))
                    .or_else(|| {
                        limits.deadline.filter(|d| Instant::now() >= *d).map(|_| {
                            "ran past its phase's share of the profile's time budget".to_string()
                        })
                    })
            };
            if let Some(why) = why {
                // Killing a worker that has just exited fails harmlessly.
                let _ = child.kill();
                ended_by_us = Some(why);
            }
        }
    }
    let status = child.wait();
    let _ = reader.join();
    let _ = tailer.join();
    let stderr_tail: Vec<String> = tail
        .lock()
        .expect("stderr tail lock")
        .iter()
        .cloned()
        .collect();
    let partial = last.clone().map(Box::new);
    let with_tail = |reason: String| WorkerFailure {
        reason,
        stderr_tail: stderr_tail.clone(),
        loaded: loaded.clone(),
        last_reply: partial.clone(),
    };
    if let Some(why) = ended_by_us {
        return Err(with_tail(why));
    }
    match (last, status) {
        (Some(Reply::Error { message }), _) => Err(with_tail(message)),
        (Some(r), Ok(s)) if s.success() => Ok(r),
        (_, Ok(s)) => Err(with_tail(match (s.signal(), s.code()) {
            (Some(sig), _) => format!(
                "worker killed by {}{}",
                signal_name(sig),
                loaded
                    .as_ref()
                    .map(|b| format!(" after loading the model ({})", buffers_phrase(b)))
                    .unwrap_or_default()
            ),
            (None, Some(code)) => format!("worker exited with code {code}"),
            (None, None) => "worker ended without a status".to_string(),
        })),
        (_, Err(e)) => Err(with_tail(format!("cannot wait for the worker: {e}"))),
    }
}
