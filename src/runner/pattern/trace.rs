//! Request traces in JSON Lines, one request per line, read whole before a run (and their sha256 recorded):
//!
//! - tokenmeter's own: `{"arrival_ms": 0.0, "input_tokens": 512, "output_tokens": 128}`, with optional
//!   `"session": "user-7"` (requests of a session share their prompt's start: each prompt extends the session's
//!   longest one so far) and `"hash_ids": [1, 2, 3]` (the prompt is these shared blocks of `block_tokens`,
//!   default 512, then tokens of its own).
//! - Mooncake's (FAST'25 traces, e.g. `conversation_trace.jsonl`): `{"timestamp": 27482, "input_length": 6955,
//!   "output_length": 52, "hash_ids": [46, 47, …]}`, timestamps in ms, blocks of 512 tokens. Imported as is.
//!
//! Arrivals are offsets from the first request's; lines are replayed in arrival order.

use crate::exit::InputError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Tokens per prompt block of Mooncake's traces (and the default of tokenmeter's).
pub const MOONCAKE_BLOCK_TOKENS: u32 = 512;

/// Which format the trace file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceFormat {
    Tokenmeter,
    Mooncake,
}

/// One request of a trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceRequest {
    /// Its line in the file, from 1.
    pub line: u32,
    /// Its arrival, ms after the trace's first.
    pub arrival_ms: f64,
    pub input_tokens: u32,
    pub output_tokens: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hash_ids: Vec<u64>,
}

/// A trace read from a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    pub file: String,
    pub sha256: String,
    pub format: TraceFormat,
    pub block_tokens: u32,
    pub requests: Vec<TraceRequest>,
}

impl Trace {
    /// Requests per second over the trace's span at its own pace (absent for a single request or a zero span).
    pub fn rate_per_s(&self) -> Option<f64> {
        let span = self.requests.last()?.arrival_ms / 1e3;
        (self.requests.len() > 1 && span > 0.0).then(|| (self.requests.len() - 1) as f64 / span)
    }
}

/// One line as either format spells it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    arrival_ms: Option<f64>,
    timestamp: Option<f64>,
    input_tokens: Option<u32>,
    input_length: Option<u32>,
    output_tokens: Option<u32>,
    output_length: Option<u32>,
    session: Option<serde_json::Value>,
    #[serde(default)]
    hash_ids: Vec<u64>,
    block_tokens: Option<u32>,
}

/// Reads the trace at `path` (tokenmeter's or Mooncake's format, told apart by its first line's keys).
pub fn read_trace(path: &Path) -> Result<Trace, InputError> {
    let shown = path.display();
    let bytes = std::fs::read(path)
        .map_err(|e| InputError(format!("--trace: {shown}: cannot read: {e}")))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        InputError(format!(
            "--trace: {shown}: not UTF-8 text (JSON Lines expected)"
        ))
    })?;
    let mut requests = Vec::new();
    let mut format = None;
    let mut block_tokens = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i as u32 + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let at = |what: String| InputError(format!("--trace: {shown}:{n}: {what}"));
        let l: Line =
            serde_json::from_str(raw).map_err(|e| at(format!("not a trace line ({e})")))?;
        let this = if l.timestamp.is_some() || l.input_length.is_some() {
            TraceFormat::Mooncake
        } else {
            TraceFormat::Tokenmeter
        };
        if *format.get_or_insert(this) != this {
            return Err(at(
                "mixes Mooncake keys (timestamp, input_length) with tokenmeter's (arrival_ms, input_tokens)".into(),
            ));
        }
        let arrival = match this {
            TraceFormat::Mooncake => l.timestamp,
            TraceFormat::Tokenmeter => l.arrival_ms,
        }
        .ok_or_else(|| {
            at(format!(
                "no {}",
                if this == TraceFormat::Mooncake {
                    "timestamp"
                } else {
                    "arrival_ms"
                }
            ))
        })?;
        if !arrival.is_finite() || arrival < 0.0 {
            return Err(at(format!("arrival {arrival} is not a time ≥ 0 in ms")));
        }
        let (input, output) = match this {
            TraceFormat::Mooncake => (l.input_length, l.output_length),
            TraceFormat::Tokenmeter => (l.input_tokens, l.output_tokens),
        };
        let input = input
            .filter(|&v| v > 0)
            .ok_or_else(|| at("no input length ≥ 1 (input_tokens or input_length)".into()))?;
        let output = output
            .filter(|&v| v > 0)
            .ok_or_else(|| at("no output length ≥ 1 (output_tokens or output_length)".into()))?;
        let session = match l.session {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s),
            Some(serde_json::Value::Number(x)) => Some(x.to_string()),
            Some(other) => return Err(at(format!("session {other} is not a string or number"))),
        };
        if let Some(b) = l.block_tokens {
            if b == 0 || block_tokens.is_some_and(|prev| prev != b) {
                return Err(at(format!(
                    "block_tokens {b}: must be ≥ 1 and the same on every line"
                )));
            }
            block_tokens = Some(b);
        }
        requests.push(TraceRequest {
            line: n,
            arrival_ms: arrival,
            input_tokens: input,
            output_tokens: output,
            session,
            hash_ids: l.hash_ids,
        });
    }
    if requests.is_empty() {
        return Err(InputError(format!("--trace: {shown}: no requests")));
    }
    requests.sort_by(|a, b| {
        a.arrival_ms
            .total_cmp(&b.arrival_ms)
            .then(a.line.cmp(&b.line))
    });
    let first = requests[0].arrival_ms;
    for r in &mut requests {
        r.arrival_ms -= first;
    }
    let format = format.unwrap_or(TraceFormat::Tokenmeter);
    if format == TraceFormat::Mooncake && block_tokens.is_some() {
        return Err(InputError(format!(
            "--trace: {shown}: block_tokens is not a Mooncake key"
        )));
    }
    Ok(Trace {
        file: shown.to_string(),
        sha256: {
            use sha2::{Digest, Sha256};
            format!("{:x}", Sha256::digest(&bytes))
        },
        format,
        block_tokens: block_tokens.unwrap_or(MOONCAKE_BLOCK_TOKENS),
        requests,
    })
}
