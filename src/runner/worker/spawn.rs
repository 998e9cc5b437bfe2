//! Starting a worker process: its request on its stdin, a pipe of its own for its replies at a known descriptor
//! (`REPLY_FD`, named in its environment), and its stdout and stderr together into one tail of last lines. A
//! reader thread per pipe keeps both drained, so a worker never blocks on a full pipe whatever it prints.

use super::{REPLY_FD, REPLY_FD_ENV};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Lines of the worker's stdout and stderr kept for a failed unit's reason.
pub const STDERR_TAIL_LINES: usize = 12;

/// Characters kept of each line in the tail: enough for any message llama.cpp prints, bounded for a worker that
/// prints a megabyte without a newline.
const TAIL_LINE_CHARS: usize = 1000;

/// One line read from a pipe, without its newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Line {
    pub bytes: Vec<u8>,
    /// Whether a newline ended it; the last line of a pipe closed mid-write has none.
    pub finished: bool,
}

/// Hands each line of `r` to `each` until the end of `r`, a read error, or `each` returns false. Bytes that are
/// not UTF-8 are passed on as they are.
pub(super) fn read_lines(r: impl Read, mut each: impl FnMut(Line) -> bool) {
    let mut r = BufReader::new(r);
    loop {
        let mut bytes = Vec::new();
        match r.read_until(b'\n', &mut bytes) {
            Ok(0) => return,
            Ok(_) => {
                let finished = bytes.last() == Some(&b'\n');
                if finished {
                    bytes.pop();
                }
                if !each(Line { bytes, finished }) {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// A pipe whose two ends close on exec: `(read, write)`.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given, which has room for exactly two.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nothing else in this process.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A worker just started, with its pipes being read.
pub(super) struct Started {
    pub child: Child,
    /// Lines from the reply pipe; disconnected once the worker (and anything it started) closed it.
    pub replies: Receiver<Line>,
    tail: Arc<Mutex<VecDeque<String>>>,
    /// Disconnected once the worker's stdout and stderr are closed and read to their end.
    tail_done: Receiver<()>,
}

impl Started {
    /// The worker's last lines on stdout and stderr, once both are read to their end or `wait` has passed.
    pub fn tail(&self, wait: Duration) -> Vec<String> {
        // Either outcome (closed, or still held open by something the worker started) leaves the tail as read.
        let _ = self.tail_done.recv_timeout(wait);
        self.tail
            .lock()
            .expect("tail lock")
            .iter()
            .cloned()
            .collect()
    }
}

/// Runs `cmd` in a new process group with `request` on its stdin, its replies on a pipe of their own at
/// descriptor `REPLY_FD`, and its stdout and stderr into the tail (each line also on this process's stderr with
/// `echo`).
pub(super) fn start(mut cmd: Command, request: Vec<u8>, echo: bool) -> io::Result<Started> {
    let (reply_r, reply_w) = pipe()?;
    let (out_r, out_w) = pipe()?;
    let reply_fd = reply_w.as_raw_fd();
    cmd.env(REPLY_FD_ENV, REPLY_FD.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::from(out_w.try_clone()?))
        .stderr(Stdio::from(out_w))
        .process_group(0);
    // SAFETY: the closure runs in the child between fork and exec. It calls only dup2 and fcntl, both
    // async-signal-safe, allocates nothing and takes no lock. dup2 leaves the new descriptor open across exec;
    // a pipe end that already is REPLY_FD has its close-on-exec flag cleared instead.
    unsafe {
        cmd.pre_exec(move || {
            let r = if reply_fd == REPLY_FD {
                libc::fcntl(REPLY_FD, libc::F_SETFD, 0)
            } else {
                libc::dup2(reply_fd, REPLY_FD)
            };
            if r == -1 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        });
    }
    let mut child = cmd.spawn()?;
    // The write ends now live in the child alone (the command holds them until dropped): the pipes reach their
    // end when the worker closes them.
    drop(cmd);
    drop(reply_w);

    let mut stdin = child.stdin.take().expect("piped stdin");
    std::thread::spawn(move || {
        // A worker that died at once shows up as its exit status.
        let _ = stdin.write_all(&request);
    });
    let (tx, replies) = mpsc::channel();
    std::thread::spawn(move || read_lines(File::from(reply_r), |line| tx.send(line).is_ok()));
    let tail: Arc<Mutex<VecDeque<String>>> = Arc::default();
    let (done, tail_done) = mpsc::channel::<()>();
    let kept = tail.clone();
    std::thread::spawn(move || {
        let _done = done;
        read_lines(File::from(out_r), |line| {
            let text = String::from_utf8_lossy(&line.bytes);
            if echo {
                eprintln!("{text}");
            }
            let mut t = kept.lock().expect("tail lock");
            if t.len() == STDERR_TAIL_LINES {
                t.pop_front();
            }
            t.push_back(text.chars().take(TAIL_LINE_CHARS).collect());
            true
        });
    });
    Ok(Started {
        child,
        replies,
        tail,
        tail_done,
    })
}
