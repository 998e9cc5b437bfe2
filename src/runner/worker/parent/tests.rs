use super::super::limits::Limits;
use super::super::spawn::{self, read_lines, Line};
use super::*;
use std::os::unix::process::CommandExt;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;

/// Fast enough for tests; the grace still leaves a process time to exit.
const FAST: Pacing = Pacing {
    tick: Duration::from_millis(10),
    grace: Duration::from_millis(200),
};

const HOUR: Duration = Duration::from_secs(3600);

fn line(s: &str) -> Line {
    Line {
        bytes: s.as_bytes().to_vec(),
        finished: true,
    }
}

fn limits(stop_now: &AtomicBool, timeout: Duration, stall: Duration) -> Limits<'_> {
    Limits {
        stop_now,
        timeout: Some(timeout),
        stall: Some(stall),
        estimate: None,
        deadline: None,
    }
}

/// A worker that never replies nor exits, in its own process group as a real worker is.
fn sleeper() -> Child {
    Command::new("sleep")
        .arg("1000")
        .process_group(0)
        .spawn()
        .unwrap()
}

/// A worker that exits at once with code 0.
fn quitter() -> Child {
    Command::new("true").spawn().unwrap()
}

fn killed(seen: &Watched) -> bool {
    matches!(&seen.status, Some(Ok(s)) if s.signal() == Some(libc::SIGKILL))
}

const FINAL: &str = r#"{"reply":"reference","elapsed_ns":7}"#;

#[test]
fn lines_are_split_at_newlines_and_the_last_one_may_be_unfinished() {
    let mut lines = Vec::new();
    read_lines(&b"one\n\n\xff two\n{\"reply\":"[..], |l| {
        lines.push(l);
        true
    });
    assert_eq!(
        lines,
        [
            line("one"),
            line(""),
            Line {
                bytes: b"\xff two".to_vec(),
                finished: true
            },
            Line {
                bytes: b"{\"reply\":".to_vec(),
                finished: false
            },
        ]
    );
}

#[test]
fn a_reply_line_reads_as_its_reply() {
    assert!(matches!(
        read_reply(&line(r#"{"reply":"progress","done":3}"#)),
        Ok(Reply::Progress { done: 3 })
    ));
    let unfinished_but_whole = Line {
        bytes: FINAL.into(),
        finished: false,
    };
    assert!(matches!(
        read_reply(&unfinished_but_whole),
        Ok(Reply::Reference { elapsed_ns: 7 })
    ));
}

#[test]
fn a_line_that_is_not_a_reply_is_quoted_on_one_line_and_cut_to_200_characters() {
    assert_eq!(
        read_reply(&line("{\"reply\":\"bench\",\"samples\":[garbled")).unwrap_err(),
        "worker sent a reply that cannot be read: `{\"reply\":\"bench\",\"samples\":[garbled` \
         (expected value at line 1 column 29)"
    );
    let long = format!("{}\t{}", "x".repeat(150), "y".repeat(150));
    let why = read_reply(&line(&long)).unwrap_err();
    let quoted = format!("`{}\\t{}…`", "x".repeat(150), "y".repeat(48));
    assert!(why.contains(&quoted), "{why}");
    let cut = Line {
        bytes: br#"{"reply":"refer"#.to_vec(),
        finished: false,
    };
    assert_eq!(
        read_reply(&cut).unwrap_err(),
        "worker sent an unfinished reply: `{\"reply\":\"refer` (EOF while parsing a string at line 1 \
         column 15)"
    );
}

#[test]
fn a_final_reply_waiting_when_every_limit_has_fired_is_kept_and_the_worker_killed_after_the_grace()
{
    let (tx, rx) = mpsc::channel();
    tx.send(line(r#"{"reply":"progress","done":1}"#)).unwrap();
    tx.send(line(FINAL)).unwrap();
    let never = AtomicBool::new(false);
    let l = Limits {
        deadline: Some(Instant::now()),
        ..limits(&never, Duration::ZERO, Duration::ZERO)
    };
    let mut child = sleeper();
    let started = Instant::now();
    let seen = supervise(&mut child, &rx, &l, FAST, |_| {});
    assert!(started.elapsed() >= FAST.grace, "the worker had its grace");
    assert_eq!(seen.ended_by_us, None);
    assert!(killed(&seen), "{:?}", seen.status);
    assert!(matches!(
        verdict(seen, vec![]),
        Ok(Reply::Reference { elapsed_ns: 7 })
    ));
    drop(tx);
}

#[test]
fn a_second_ctrl_c_during_the_grace_kills_the_worker_and_keeps_its_final_reply() {
    let (tx, rx) = mpsc::channel();
    tx.send(line(FINAL)).unwrap();
    // the worker has closed its reply pipe and hangs on its way out
    drop(tx);
    let stop_now = AtomicBool::new(true);
    let mut child = sleeper();
    let slow = Pacing {
        grace: HOUR,
        ..FAST
    };
    let seen = supervise(
        &mut child,
        &rx,
        &limits(&stop_now, HOUR, HOUR),
        slow,
        |_| {},
    );
    assert!(killed(&seen));
    assert!(matches!(
        verdict(seen, vec![]),
        Ok(Reply::Reference { elapsed_ns: 7 })
    ));
}

#[test]
fn a_silent_worker_is_killed_at_its_timeout_or_its_stall_limit_whichever_is_named() {
    let never = AtomicBool::new(false);
    let (_tx, rx) = mpsc::channel::<Line>();
    let mut child = sleeper();
    let seen = supervise(
        &mut child,
        &rx,
        &limits(&never, Duration::ZERO, HOUR),
        FAST,
        |_| {},
    );
    assert!(killed(&seen));
    let f = verdict(seen, vec!["last words".into()]).unwrap_err();
    assert_eq!(f.reason, "ran past its timeout of 0s");
    assert_eq!(f.stderr_tail, ["last words"]);

    let mut child = sleeper();
    let seen = supervise(
        &mut child,
        &rx,
        &limits(&never, HOUR, Duration::ZERO),
        FAST,
        |_| {},
    );
    assert!(killed(&seen));
    assert_eq!(
        verdict(seen, vec![]).unwrap_err().reason,
        "made no progress for 0s (stall limit)"
    );
}

#[test]
fn a_reply_that_cannot_be_read_kills_the_worker_and_nothing_after_it_counts() {
    let (tx, rx) = mpsc::channel();
    tx.send(line(
        r#"{"reply":"loaded","weight_buffers_mib":{"CPU":1.5}}"#,
    ))
    .unwrap();
    tx.send(line("{\"reply\":\"bench\",\"samples\":[garbled"))
        .unwrap();
    tx.send(line(FINAL)).unwrap();
    let never = AtomicBool::new(false);
    let mut child = sleeper();
    let seen = supervise(&mut child, &rx, &limits(&never, HOUR, HOUR), FAST, |_| {});
    assert!(killed(&seen));
    let f = verdict(seen, vec![]).unwrap_err();
    assert!(
        f.reason.starts_with(
            "worker sent a reply that cannot be read: `{\"reply\":\"bench\",\"samples\":[garbled`"
        ),
        "{}",
        f.reason
    );
    assert_eq!(f.loaded, Some(BTreeMap::from([("CPU".to_string(), 1.5)])));
    drop(tx);
}

#[test]
fn progress_reaches_the_caller_in_order_and_a_worker_that_exits_after_its_final_reply_returns_it() {
    let (tx, rx) = mpsc::channel();
    for l in [
        r#"{"reply":"progress","done":1}"#,
        r#"{"reply":"loaded","weight_buffers_mib":{}}"#,
        r#"{"reply":"progress","done":2}"#,
        FINAL,
        r#"{"reply":"error","message":"after the final reply"}"#,
    ] {
        tx.send(line(l)).unwrap();
    }
    drop(tx);
    let never = AtomicBool::new(false);
    let mut progress = Vec::new();
    let mut child = quitter();
    let seen = supervise(&mut child, &rx, &limits(&never, HOUR, HOUR), FAST, |d| {
        progress.push(d)
    });
    assert_eq!(progress, [1, 2]);
    assert!(matches!(&seen.status, Some(Ok(s)) if s.success()));
    assert!(matches!(
        verdict(seen, vec![]),
        Ok(Reply::Reference { elapsed_ns: 7 })
    ));
}

#[test]
fn a_worker_that_exits_without_a_final_reply_says_how() {
    let never = AtomicBool::new(false);
    let run = |lines: Vec<Line>| {
        let (tx, rx) = mpsc::channel();
        for l in lines {
            tx.send(l).unwrap();
        }
        drop(tx);
        let mut child = quitter();
        let seen = supervise(&mut child, &rx, &limits(&never, HOUR, HOUR), FAST, |_| {});
        verdict(seen, vec![]).unwrap_err().reason
    };
    assert_eq!(
        run(vec![]),
        "worker exited with code 0 without sending its result"
    );
    let cut = Line {
        bytes: br#"{"reply":"refer"#.to_vec(),
        finished: false,
    };
    assert!(run(vec![cut]).starts_with("worker sent an unfinished reply: `{\"reply\":\"refer`"));
    assert_eq!(
        run(vec![line(r#"{"reply":"error","message":"decode failed"}"#)]),
        "decode failed"
    );
}

/// Starts `sh -c script` as a worker with `request` on its stdin and watches it to its end.
fn run_script(script: &str, request: &str) -> (Result<Reply, WorkerFailure>, Vec<u64>) {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]);
    let mut w = spawn::start(cmd, request.as_bytes().to_vec(), false).unwrap();
    let never = AtomicBool::new(false);
    let mut progress = Vec::new();
    let seen = supervise(
        &mut w.child,
        &w.replies,
        &limits(&never, HOUR, HOUR),
        FAST,
        |d| progress.push(d),
    );
    (verdict(seen, w.tail(FAST.grace)), progress)
}

#[test]
fn replies_come_from_the_reply_pipe_alone_and_stdout_and_stderr_go_to_the_tail() {
    let script = r#"
        printf '%s\n' '{"reply":"error","message":"noise on stdout"}'
        printf 'noise on stderr\n' >&2
        [ "$TOKENMETER_REPLY_FD" = 3 ] || exit 7
        printf '{"reply":"progress","done":1}\n' >&3
        printf '{"reply":"reference","elapsed_ns":%s}\n' "$(wc -c)" >&3
        printf '{"reply":"loaded",' 
        exit 3
    "#;
    let (reply, progress) = run_script(script, "request");
    assert_eq!(progress, [1]);
    assert!(
        matches!(reply, Ok(Reply::Reference { elapsed_ns: 7 })),
        "the request's 7 bytes on stdin: {reply:?}"
    );

    let (reply, _) = run_script(&script.replace(">&3", ">/dev/null"), "");
    let f = reply.unwrap_err();
    assert_eq!(f.reason, "worker exited with code 3");
    assert_eq!(
        f.stderr_tail,
        [
            r#"{"reply":"error","message":"noise on stdout"}"#,
            "noise on stderr",
            r#"{"reply":"loaded","#
        ]
    );
}

#[test]
fn a_worker_that_floods_its_stdout_is_drained_and_its_tail_lines_are_bounded() {
    let script = r#"
        head -c 1000000 /dev/zero | tr '\0' x
        printf '\n' 
        printf '%s\n' '{"reply":"reference","elapsed_ns":7}' >&3
        printf 'end\n' >&2
        exit 9
    "#;
    let (reply, _) = run_script(script, "");
    assert!(matches!(reply, Ok(Reply::Reference { elapsed_ns: 7 })));
    let script = script.replace(">&3", ">/dev/null");
    let f = run_script(&script, "").0.unwrap_err();
    assert_eq!(f.reason, "worker exited with code 9");
    assert_eq!(f.stderr_tail.len(), 2);
    assert_eq!(f.stderr_tail[0], "x".repeat(1000));
    assert_eq!(f.stderr_tail[1], "end");
}
