//! The worker's side: reads one request from stdin, runs it, and writes its replies, one JSON object per line, to
//! the reply pipe its parent gave it (never to stdout or stderr, which llama.cpp and ggml print to). Every job
//! replies at least once per unit of work (the model loaded, the numerics gate, the warm-up, each repetition, and
//! every few hundred milliseconds of a load level), which is what the parent's stall limit watches.

use super::{
    Reply, Request, ABORT_ENV, BAD_REPLY_ENV, HANG_ENV, NOISE_ENV, REPLY_FD, REPLY_FD_ENV,
};
use crate::runner::unit::{execute, Env, ModelCache};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

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
    let never = AtomicBool::new(false);
    let mut models = ModelCache::default();
    let reply = {
        let mut send = |r: &Reply| out.send(r);
        // The worker is never interrupted from inside: the parent kills it when the unit must end now.
        let mut env = Env {
            send: &mut send,
            stop_now: &never,
            models: &mut models,
        };
        execute(&req, &mut env).unwrap_or_else(|e| Reply::Error {
            message: e.to_string(),
        })
    };
    if hooked(BAD_REPLY_ENV, &req.label) {
        let _ = out.pipe.write_all(BAD_REPLY);
        return Ok(());
    }
    out.send(&reply);
    Ok(())
}
