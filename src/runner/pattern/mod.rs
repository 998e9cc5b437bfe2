//! Request patterns beyond independent requests, for both load generators (in-process and over HTTP):
//!
//! - **Multi-turn sessions** (a closed loop): each of the c clients holds a conversation. A session's first
//!   request is a system prompt shared by every session followed by a user message; each later turn's prompt is
//!   the whole history (every earlier prompt and answer) plus a new user message, until the session's last turn,
//!   when the client starts a new session. The answers' tokens in the history are the client's stand-ins, not
//!   what was generated, so a turn's prompt repeats exactly the session's previous prompt.
//! - **Trace replay** (an open loop): requests at a trace's arrival offsets (scaled by a speed), with its input
//!   and output lengths, sessions and shared prompt blocks ([`trace`]).
//!
//! A [`Planner`] says what each request is, and [`prompt`] writes its prompt from its [`PromptSource`]: the same
//! pattern and seed give the same prompts on both sides. Prompts that share a source share their leading tokens
//! exactly, so each request records the tokens that repeat the start of a prompt sent before it in the level
//! (`reusable_prefix_tokens`): what a prefix cache could skip, the pattern's prefix reuse.

pub mod trace;

use crate::results::load::{Lengths, RequestOrigin, RequestSample};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
pub use trace::{read_trace, Trace, TraceFormat, TraceRequest};

/// A level's request pattern.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestPattern {
    /// Closed-loop conversations of `turns` requests, each session's prompts starting with the same
    /// `system_tokens`; a turn's user message and answer have the level's input and output lengths.
    MultiTurn { turns: u32, system_tokens: u32 },
    /// A trace's requests replayed at `speed` times its pace.
    Trace { trace: Trace, speed: f64 },
}

impl RequestPattern {
    /// The longest prompt and output any request of this pattern has, given the level's lengths.
    pub fn max_lengths(&self, input: &Lengths, output: &Lengths) -> (u32, u32) {
        match self {
            RequestPattern::MultiTurn {
                turns,
                system_tokens,
            } => (
                system_tokens
                    + turns.saturating_sub(1) * (input.max() + output.max())
                    + input.max(),
                output.max(),
            ),
            RequestPattern::Trace { trace, .. } => (
                trace
                    .requests
                    .iter()
                    .map(|r| r.input_tokens)
                    .max()
                    .unwrap_or(1),
                trace
                    .requests
                    .iter()
                    .map(|r| r.output_tokens)
                    .max()
                    .unwrap_or(1),
            ),
        }
    }

    /// A trace's arrivals in ns, at its speed, cut to the first `requests` and to before `duration_ns`.
    pub fn schedule(&self, requests: Option<u32>, duration_ns: Option<u64>) -> Option<Vec<u64>> {
        let RequestPattern::Trace { trace, speed } = self else {
            return None;
        };
        Some(
            trace
                .requests
                .iter()
                .map(|r| (r.arrival_ms * 1e6 / speed).round() as u64)
                .take(requests.map_or(usize::MAX, |n| n as usize))
                .take_while(|&t| duration_ns.is_none_or(|d| t < d))
                .collect(),
        )
    }
}

/// Where a request's prompt tokens come from.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptSource {
    /// The generator's own random tokens (no pattern).
    Random,
    /// The shared system prompt's first `system` tokens, then the session `stream`'s.
    Session { stream: u64, system: u32 },
    /// The trace's shared blocks of `block_tokens` each, in order, then tokens of this request alone.
    Blocks {
        ids: Vec<u64>,
        block_tokens: u32,
        unique: u64,
    },
}

/// What the next request of a pattern is.
#[derive(Debug, Clone)]
pub struct Planned {
    pub input_tokens: u32,
    pub output_tokens: u32,
    pub origin: RequestOrigin,
    pub source: PromptSource,
}

/// Salts that keep the token streams of the system prompt, sessions, blocks and single requests apart.
const SYSTEM: u64 = 0x5157_e3;
const SESSION: u64 = 0x5e55_10;
const BLOCK: u64 = 0xb10c_c0;
const UNIQUE: u64 = 0x0e1f_00;

fn stream_seed(seed: u64, salt: u64, id: u64) -> u64 {
    // splitmix64 of the three, so that nearby ids give unrelated streams
    let mut z = seed ^ salt.rotate_left(17) ^ id.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `len` symbols below `alphabet` from the stream `(salt, id)`.
fn symbols(seed: u64, salt: u64, id: u64, len: usize, alphabet: u32, out: &mut Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(stream_seed(seed, salt, id));
    out.extend((0..len).map(|_| rng.random_range(0..alphabet.max(1))));
}

/// The `len` prompt symbols (token ids below `alphabet`, or indices of words) of `source`; `None` for
/// [`PromptSource::Random`], which the generator draws itself.
pub fn prompt(seed: u64, source: &PromptSource, len: u32, alphabet: u32) -> Option<Vec<u32>> {
    let len = len as usize;
    let mut out = Vec::with_capacity(len);
    match source {
        PromptSource::Random => return None,
        PromptSource::Session { stream, system } => {
            let s = (*system as usize).min(len);
            symbols(seed, SYSTEM, 0, s, alphabet, &mut out);
            symbols(seed, SESSION, *stream, len - s, alphabet, &mut out);
        }
        PromptSource::Blocks {
            ids,
            block_tokens,
            unique,
        } => {
            for &id in ids {
                let take = (*block_tokens as usize).min(len - out.len());
                symbols(seed, BLOCK, id, take, alphabet, &mut out);
                if out.len() == len {
                    break;
                }
            }
            let rest = len - out.len();
            symbols(seed, UNIQUE, *unique, rest, alphabet, &mut out);
        }
    }
    Some(out)
}

/// Says what each request of a level's pattern is, and how much of its prompt an earlier one already sent.
#[derive(Debug, Default)]
pub struct Planner {
    /// Sessions started (multi-turn).
    sessions: u32,
    /// Whether a request was planned before (the shared system prompt was sent).
    planned_any: bool,
    /// A trace's block prefixes sent so far, each as the hash of its block ids.
    block_prefixes: HashSet<u64>,
    /// A trace's longest prompt sent per session.
    session_longest: HashMap<String, u32>,
}

fn prefix_hash(ids: &[u64]) -> u64 {
    ids.iter()
        .fold(0x7072_6566, |h, &id| stream_seed(h, BLOCK, id))
}

impl Planner {
    /// The next request of a multi-turn pattern: the next turn of the session of `replaces` (the request that
    /// just ended in this client) while it has turns left, else the first turn of a new session, with a user
    /// message of `user` and an answer of `output` tokens.
    pub fn multi_turn(
        &mut self,
        (turns, system_tokens): (u32, u32),
        replaces: Option<&RequestSample>,
        user: u32,
        output: u32,
    ) -> Planned {
        let previous = replaces.and_then(|r| {
            let o = r.origin.as_ref()?;
            let turn = o.turn?;
            let session = o.session.clone()?;
            (turn + 1 < turns).then_some((session, turn + 1, r))
        });
        let planned = match previous {
            Some((session, turn, r)) => {
                let stream = session
                    .trim_start_matches('s')
                    .parse::<u64>()
                    .unwrap_or_default();
                Planned {
                    input_tokens: r.input_tokens + r.output_tokens + user,
                    output_tokens: output,
                    origin: RequestOrigin {
                        session: Some(session),
                        turn: Some(turn),
                        trace_line: None,
                        reusable_prefix_tokens: r.input_tokens,
                        issued_ns: None,
                    },
                    source: PromptSource::Session {
                        stream,
                        system: system_tokens,
                    },
                }
            }
            None => {
                let stream = u64::from(self.sessions);
                self.sessions += 1;
                Planned {
                    input_tokens: system_tokens + user,
                    output_tokens: output,
                    origin: RequestOrigin {
                        session: Some(format!("s{stream}")),
                        turn: Some(0),
                        trace_line: None,
                        reusable_prefix_tokens: if self.planned_any { system_tokens } else { 0 },
                        issued_ns: None,
                    },
                    source: PromptSource::Session {
                        stream,
                        system: system_tokens,
                    },
                }
            }
        };
        self.planned_any = true;
        planned
    }

    /// The `index`th request of `trace`, in the order of its arrivals.
    pub fn trace(&mut self, trace: &Trace, index: usize) -> Planned {
        let r = &trace.requests[index];
        let (reusable, source) = if !r.hash_ids.is_empty() {
            let mut matched = 0;
            while matched < r.hash_ids.len()
                && self
                    .block_prefixes
                    .contains(&prefix_hash(&r.hash_ids[..=matched]))
            {
                matched += 1;
            }
            for k in 1..=r.hash_ids.len() {
                self.block_prefixes.insert(prefix_hash(&r.hash_ids[..k]));
            }
            (
                (matched as u32)
                    .saturating_mul(trace.block_tokens)
                    .min(r.input_tokens),
                PromptSource::Blocks {
                    ids: r.hash_ids.clone(),
                    block_tokens: trace.block_tokens,
                    unique: index as u64,
                },
            )
        } else if let Some(session) = &r.session {
            let longest = self.session_longest.entry(session.clone()).or_insert(0);
            let reusable = (*longest).min(r.input_tokens);
            *longest = (*longest).max(r.input_tokens);
            (
                reusable,
                PromptSource::Session {
                    stream: stream_seed(0, SESSION, string_id(session)),
                    system: 0,
                },
            )
        } else {
            (
                0,
                PromptSource::Blocks {
                    ids: Vec::new(),
                    block_tokens: trace.block_tokens,
                    unique: index as u64,
                },
            )
        };
        Planned {
            input_tokens: r.input_tokens,
            output_tokens: r.output_tokens,
            origin: RequestOrigin {
                session: r.session.clone(),
                turn: None,
                trace_line: Some(r.line),
                reusable_prefix_tokens: reusable,
                issued_ns: None,
            },
            source,
        }
    }
}

/// A session name as a number (FNV-1a).
fn string_id(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests;
