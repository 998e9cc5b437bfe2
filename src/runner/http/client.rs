//! One request sent and its stream read, on a thread of its own: each line is timed as soon as it is read, and
//! every chunk with output text and the request's end go to the level as [`Event`]s. No retry: a request that
//! fails ends with its reason.

use super::sse::{self, Line, Usage};
use super::HttpTarget;
use crate::results::http::{FailureKind, RequestFailure};
use std::io::BufRead;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Instant;

/// What a request's thread tells its level.
#[derive(Debug)]
pub enum Event {
    /// A chunk carrying `chars` characters of output arrived at `t_ns`.
    Chunk {
        request: usize,
        t_ns: u64,
        chars: u32,
    },
    /// The request ended at `t_ns`.
    End {
        request: usize,
        t_ns: u64,
        end: Box<Ended>,
    },
}

/// How a request ended.
#[derive(Debug, Default)]
pub struct Ended {
    /// `None`: its stream ended as the API says (`data: [DONE]`, or the connection closed after a finish reason).
    pub failure: Option<RequestFailure>,
    pub usage: Option<Usage>,
    /// No response came: the connection could not be made or was closed before a status line.
    pub unanswered: bool,
    /// It was sent a second time, on a new connection, after the first got no response.
    pub resent: bool,
    /// Its output tokens as the server's `/tokenize` counted its text, when the stream had no `usage` count.
    pub tokenized: Option<u32>,
}

/// Characters of a failed answer's body kept as its reason.
const DETAIL_CHARS: usize = 200;

/// Sends `body` to `target` and reads the stream, timing against `t0`; stops early (dropping the connection)
/// once `abandon` is set. The level's receiver may be gone by then: sends that fail are ignored.
pub fn send(
    agent: &ureq::Agent,
    target: &HttpTarget,
    body: String,
    request: usize,
    t0: Instant,
    events: &Sender<Event>,
    abandon: &Arc<AtomicBool>,
) {
    let ended = exchange(agent, target, body, request, t0, events, abandon);
    let _ = events.send(Event::End {
        request,
        t_ns: t0.elapsed().as_nanos() as u64,
        end: Box::new(ended),
    });
}

fn exchange(
    agent: &ureq::Agent,
    target: &HttpTarget,
    body: String,
    request: usize,
    t0: Instant,
    events: &Sender<Event>,
    abandon: &AtomicBool,
) -> Ended {
    let post = |agent: &ureq::Agent| {
        target
            .with_key(agent.post(target.url()))
            .header("Content-Type", "application/json")
            .header("Accept", "text/event-stream")
            .send(body.as_str())
    };
    // A kept-alive connection the server has closed answers nothing; the request never reached the server, so it
    // is sent once more on a new connection (a server that is gone refuses that one too).
    let mut resent = false;
    let sent = match post(agent) {
        Err(e) if super::failure_of_ref(&e).kind == FailureKind::Connection => {
            resent = true;
            post(&target.fresh_agent())
        }
        other => other,
    };
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            let failure = super::failure_of(e);
            return Ended {
                unanswered: failure.kind == FailureKind::Connection,
                failure: Some(redacted(target, failure)),
                resent,
                ..Ended::default()
            };
        }
    };
    let status = response.status().as_u16();
    if status != 200 {
        let text = response
            .into_body()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let detail: String = text.trim().chars().take(DETAIL_CHARS).collect();
        return Ended {
            failure: Some(redacted(
                target,
                RequestFailure {
                    kind: FailureKind::HttpStatus,
                    status: Some(status),
                    detail,
                },
            )),
            usage: None,
            unanswered: false,
            resent,
            tokenized: None,
        };
    }
    let (failure, usage, text) = read_stream(
        response.into_body().into_reader(),
        target,
        (request, t0),
        events,
        abandon,
    );
    // without the server's count, its tokenizer counts the text (the times are all taken: this costs none)
    let tokenized =
        (failure.is_none() && target.tokenize && usage.and_then(|u| u.completion_tokens).is_none())
            .then(|| count_tokens(agent, target, &text))
            .flatten();
    Ended {
        failure: failure.map(|f| redacted(target, f)),
        usage,
        unanswered: false,
        resent,
        tokenized,
    }
}

/// Reads the stream of request `request` (timed against `t0`): each chunk with output text goes to `events` as it
/// is read. Its failure, if it failed, the usage it gave and, when the server has a tokenizer, its output text.
fn read_stream(
    body: impl std::io::Read,
    target: &HttpTarget,
    (request, t0): (usize, Instant),
    events: &Sender<Event>,
    abandon: &AtomicBool,
) -> (Option<RequestFailure>, Option<Usage>, String) {
    let mut reader = std::io::BufReader::new(body);
    let mut line = String::with_capacity(1024);
    let mut usage: Option<Usage> = None;
    let mut text = String::new();
    let (mut done, mut finished) = (false, false);
    let failure = loop {
        line.clear();
        let read = reader.read_line(&mut line);
        let t_ns = t0.elapsed().as_nanos() as u64;
        if abandon.load(Ordering::Relaxed) {
            break None;
        }
        match read {
            Ok(0) if done || finished => break None,
            // a server that closed (or reset: a stream without a length reads its reset as its end) mid-stream
            Ok(0) => {
                break Some(RequestFailure {
                    kind: FailureKind::Connection,
                    status: None,
                    detail: "the connection closed before the stream's end (data: [DONE] or a finish reason)"
                        .into(),
                })
            }
            Ok(_) if done => {}
            Ok(_) => match sse::parse_line(&line, target.api) {
                Ok(Line::Chunk {
                    chars,
                    text: t,
                    usage: u,
                    finished: f,
                }) => {
                    if target.tokenize {
                        text.push_str(&t);
                    }
                    if chars > 0 {
                        let _ = events.send(Event::Chunk {
                            request,
                            t_ns,
                            chars,
                        });
                    }
                    usage = u.or(usage);
                    finished |= f;
                }
                Ok(Line::Done) => done = true,
                Ok(Line::Nothing) => {}
                Ok(Line::Error(message)) => {
                    break Some(RequestFailure {
                        kind: FailureKind::ServerError,
                        status: None,
                        detail: message,
                    })
                }
                Err(sse::Malformed(why)) => {
                    break Some(RequestFailure {
                        kind: FailureKind::MalformedStream,
                        status: None,
                        detail: why,
                    })
                }
            },
            // the stream said all it had to; only its close went wrong
            Err(_) if done || finished => break None,
            Err(e) => break Some(super::failure_of(ureq::Error::from(e))),
        }
    };
    (failure, usage, text)
}

/// The tokens of `text` as the server's `POST /tokenize` counts them (llama-server), without special tokens.
pub fn count_tokens(agent: &ureq::Agent, target: &HttpTarget, text: &str) -> Option<u32> {
    let body = serde_json::json!({"content": text, "add_special": false}).to_string();
    let response = target
        .with_key(agent.post(format!("{}/tokenize", target.root())))
        .header("Content-Type", "application/json")
        .send(body.as_str())
        .ok()?;
    if response.status().as_u16() != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(
        &response
            .into_body()
            .with_config()
            .limit(16 << 20)
            .read_to_string()
            .ok()?,
    )
    .ok()?;
    u32::try_from(v.get("tokens")?.as_array()?.len()).ok()
}

fn redacted(target: &HttpTarget, f: RequestFailure) -> RequestFailure {
    RequestFailure {
        detail: target.redact(&f.detail),
        ..f
    }
}
