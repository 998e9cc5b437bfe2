//! The parent's side of a worker: starts it, reads its replies, ends it when a limit fires, and turns what it
//! saw into the worker's final reply or why there is none. A reply that cannot be read is a failure that quotes
//! it; a complete final reply is never discarded: once it has arrived no limit applies, the worker has
//! `EXIT_GRACE` to exit before it is killed, and the reply is returned either way.

use super::limits::Limits;
use super::spawn::{self, Line};
use super::Reply;
use crate::text::one_line;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

pub use super::spawn::STDERR_TAIL_LINES;

/// How long a worker that has sent its final reply may take to exit before it is killed: it only frees its
/// model and backend, which takes well under a second even for a GPU backend's teardown.
pub const EXIT_GRACE: Duration = Duration::from_secs(3);

/// How often the parent looks at the limits while no reply comes.
const TICK: Duration = Duration::from_millis(100);

/// The most replies taken from the pipe before the limits are looked at again (a worker flooding the pipe still
/// meets its limits).
const MAX_DRAIN: usize = 4096;

/// Characters of an unreadable reply a failure's reason quotes.
pub const QUOTE_CHARS: usize = 200;

/// Why a worker's unit did not finish: its own error, a signal, an exit code, a limit, an interruption or a reply
/// that could not be read, and the last lines it wrote to stdout and stderr.
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

/// `text` on one line, cut to `QUOTE_CHARS` characters.
fn quote(text: &str) -> String {
    let line = one_line(text);
    match line.char_indices().nth(QUOTE_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

/// The reply on one line of the reply pipe, or why it cannot be read, quoting it.
pub(super) fn read_reply(line: &Line) -> Result<Reply, String> {
    let text = String::from_utf8_lossy(&line.bytes);
    serde_json::from_str(&text).map_err(|e| {
        let what = if line.finished {
            "a reply that cannot be read"
        } else {
            "an unfinished reply"
        };
        format!("worker sent {what}: `{}` ({e})", quote(&text))
    })
}

/// How the parent paces its watch of a worker.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pacing {
    /// The longest wait for a reply before the limits are looked at again.
    pub tick: Duration,
    /// How long a worker may take to exit after its final reply, and how long its pipes may stay open after
    /// it exited.
    pub grace: Duration,
}

const PACING: Pacing = Pacing {
    tick: TICK,
    grace: EXIT_GRACE,
};

/// What the parent saw of a worker from its start to its exit.
#[derive(Debug, Default)]
pub(super) struct Watched {
    /// The reply that ended the job (the first; anything after it is ignored).
    pub final_reply: Option<Reply>,
    /// The last reply other than progress and `Loaded`.
    pub last: Option<Reply>,
    pub loaded: Option<BTreeMap<String, f64>>,
    /// Why the parent killed the worker: a limit, or a reply that could not be read.
    pub ended_by_us: Option<String>,
    /// A reply cut off by the end of the pipe, quoted.
    pub unfinished: Option<String>,
    /// A line that could not be read arrived: nothing after it is trusted.
    garbled: bool,
    pub status: Option<io::Result<ExitStatus>>,
}

impl Watched {
    /// Takes one line of the reply pipe; whether it was a reply.
    fn take(&mut self, line: Line, on_progress: &mut impl FnMut(u64)) -> bool {
        if self.final_reply.is_some() || self.garbled {
            return false;
        }
        let reply = match read_reply(&line) {
            Ok(r) => r,
            Err(why) if line.finished => {
                self.garbled = true;
                self.ended_by_us = Some(why);
                return false;
            }
            Err(why) => {
                self.unfinished = Some(why);
                return false;
            }
        };
        match reply {
            Reply::Progress { done } => on_progress(done),
            Reply::Loaded { weight_buffers_mib } => self.loaded = Some(weight_buffers_mib),
            r if r.is_final() => {
                self.last = Some(r.clone());
                self.final_reply = Some(r);
            }
            r => self.last = Some(r),
        }
        true
    }
}

/// What the reply pipe holds now.
enum Next {
    Line(Line),
    Idle,
    Closed,
}

fn next(replies: &Receiver<Line>, wait: Option<Duration>) -> Next {
    match wait {
        Some(w) => match replies.recv_timeout(w) {
            Ok(l) => Next::Line(l),
            Err(RecvTimeoutError::Timeout) => Next::Idle,
            Err(RecvTimeoutError::Disconnected) => Next::Closed,
        },
        None => match replies.try_recv() {
            Ok(l) => Next::Line(l),
            Err(TryRecvError::Empty) => Next::Idle,
            Err(TryRecvError::Disconnected) => Next::Closed,
        },
    }
}

/// Kills the worker and anything it started (its process group).
fn kill_group(child: &mut Child) {
    // SAFETY: kill(2) takes two integers and touches no memory of ours. The worker has not been reaped (no exit
    // status was seen), so its pid still names it and the process group it leads.
    let r = unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
    if r != 0 {
        // Not a group leader after all: the worker alone. Killing one that has just exited fails harmlessly.
        let _ = child.kill();
    }
}

/// Watches `child` until it has exited and closed its reply pipe (or `pacing.grace` after its exit): passes
/// progress to `on_progress` and kills it when a limit fires, when a reply cannot be read, or `pacing.grace`
/// after its final reply. The replies waiting on the pipe are taken before the limits are looked at, and a
/// complete final reply read even after a limit fired is kept.
pub(super) fn supervise(
    child: &mut Child,
    replies: &Receiver<Line>,
    limits: &Limits,
    pacing: Pacing,
    mut on_progress: impl FnMut(u64),
) -> Watched {
    let effective = limits.effective();
    let started = Instant::now();
    let mut heard = started;
    let mut seen = Watched::default();
    let (mut closed, mut killed) = (false, false);
    let (mut final_at, mut exited_at): (Option<Instant>, Option<Instant>) = (None, None);
    loop {
        if closed {
            std::thread::sleep(pacing.tick);
        }
        let mut wait = (!closed).then_some(pacing.tick);
        for _ in 0..MAX_DRAIN {
            if closed {
                break;
            }
            match next(replies, wait.take()) {
                Next::Line(line) => {
                    if seen.take(line, &mut on_progress) {
                        heard = Instant::now();
                    }
                }
                Next::Idle => break,
                Next::Closed => closed = true,
            }
        }
        let now = Instant::now();
        if seen.final_reply.is_some() && final_at.is_none() {
            final_at = Some(now);
        }
        if seen.status.is_none() {
            seen.status = child.try_wait().transpose();
            if seen.status.is_some() {
                exited_at = Some(now);
            }
        }
        if let Some(at) = exited_at {
            if closed || now.duration_since(at) >= pacing.grace {
                return seen;
            }
            continue;
        }
        if killed {
            continue;
        }
        let end = match final_at {
            Some(at) => {
                limits.stop_now.load(Ordering::Relaxed) || now.duration_since(at) >= pacing.grace
            }
            None => {
                if seen.ended_by_us.is_none() {
                    seen.ended_by_us = limits.fired(&effective, now - started, now - heard, now);
                }
                seen.ended_by_us.is_some()
            }
        };
        if end {
            kill_group(child);
            killed = true;
        }
    }
}

/// The final reply of a worker that was `seen`, or why there is none.
pub(super) fn verdict(seen: Watched, stderr_tail: Vec<String>) -> Result<Reply, WorkerFailure> {
    let failure = |reason: String| WorkerFailure {
        reason,
        stderr_tail,
        loaded: seen.loaded.clone(),
        last_reply: seen.last.clone().map(Box::new),
    };
    match seen.final_reply {
        Some(Reply::Error { message }) => return Err(failure(message)),
        Some(r) => return Ok(r),
        None => {}
    }
    if let Some(why) = seen.ended_by_us {
        return Err(failure(why));
    }
    let after_loading = || {
        seen.loaded
            .as_ref()
            .map(|b| format!(" after loading the model ({})", buffers_phrase(b)))
            .unwrap_or_default()
    };
    let reason = match seen.status {
        None => "worker ended without a status".to_string(),
        Some(Err(e)) => format!("cannot wait for the worker: {e}"),
        Some(Ok(s)) => match (s.signal(), s.code(), seen.unfinished) {
            (Some(sig), _, _) => {
                format!("worker killed by {}{}", signal_name(sig), after_loading())
            }
            (None, Some(0), Some(why)) => why,
            (None, Some(0), None) => "worker exited with code 0 without sending its result".into(),
            (None, Some(code), _) => format!("worker exited with code {code}"),
            (None, None, _) => "worker ended without a status".into(),
        },
    };
    Err(failure(reason))
}

/// The parent's side: runs `req` in a new worker process under `limits`, passing progress to `on_progress`; the
/// final reply, or why there was none.
pub fn run_in_worker(
    req: &super::Request,
    limits: &Limits,
    on_progress: impl FnMut(u64),
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
    cmd.arg("worker");
    let job = serde_json::to_vec(req).expect("request serializes");
    let mut worker = spawn::start(cmd, job, req.verbose)
        .map_err(|e| fail(format!("cannot start a worker process: {e}")))?;
    let seen = supervise(
        &mut worker.child,
        &worker.replies,
        limits,
        PACING,
        on_progress,
    );
    verdict(seen, worker.tail(PACING.grace))
}

#[cfg(test)]
mod tests;
