//! What a `load` measured over HTTP (`load --endpoint`) adds to its result: why a request failed, what the
//! server's stream said of each request, each level's tally of both, and the server's identity. Every field is
//! optional in the file: an in-process run writes none of them, and files written before them read unchanged.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a request sent to a server failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The server answered with a status other than 200 (429, 500, 503…).
    HttpStatus,
    /// The request's time limit (`--request-timeout`) passed before its stream ended.
    Timeout,
    /// The connection could not be made, or was reset or closed before the stream ended.
    Connection,
    /// The stream was not server-sent events of the API's chunks.
    MalformedStream,
    /// The stream carried an error object in place of a chunk.
    ServerError,
}

impl FailureKind {
    /// `http_status`, `timeout`, … (the tally's keys).
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::HttpStatus => "http_status",
            FailureKind::Timeout => "timeout",
            FailureKind::Connection => "connection",
            FailureKind::MalformedStream => "malformed_stream",
            FailureKind::ServerError => "server_error",
        }
    }
}

/// Why one request failed: it is not completed, and a miss of every SLO term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestFailure {
    pub kind: FailureKind,
    /// The HTTP status, for `http_status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What the client saw: the error, or the start of the server's answer.
    pub detail: String,
}

/// What the server's stream said of one request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamFacts {
    /// Chunks that carried output text (each one's arrival is a token time).
    pub chunks: u32,
    /// Chunks that carried more than one token: the server's `usage` counted more output tokens than chunks,
    /// and the extra tokens were given to the chunks with the most text. The tokens of one chunk share its
    /// arrival time (inter-token gaps of 0).
    pub multi_token_chunks: u32,
    /// `usage.prompt_tokens`, when the server reported it.
    #[serde(default)]
    pub usage_prompt_tokens: Option<u32>,
    /// `usage.completion_tokens`, when the server reported it.
    #[serde(default)]
    pub usage_completion_tokens: Option<u32>,
    /// `usage.prompt_tokens_details.cached_tokens`: prompt tokens the server took from its prefix cache, when it
    /// reported them (llama-server, vLLM with prefix caching, OpenAI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_cached_tokens: Option<u32>,
    /// Output tokens as the server's `/tokenize` counted the stream's text, when the stream had no `usage` count;
    /// its token times are then shared out as they would be for a `usage` count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenized_completion_tokens: Option<u32>,
    /// The server's own time for the prompt and for the output tokens after the first, when it reports them
    /// (llama-server's `timings.prompt_ms` and `timings.predicted_ms`): the request's end-to-end time less
    /// these is what queueing, HTTP and the client added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_prompt_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_decode_ms: Option<f64>,
    /// The kept-alive connection it was first sent on had been closed by the server without an answer, and it
    /// was sent once more on a new connection (its times count from its arrival, the first try included).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resent: bool,
}

/// One level's tally of its requests' failures and streams (a pure function of its requests and the cap).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpLevel {
    /// Requests in flight at most: a closed loop's concurrency; an open loop's `--parallel` (arrivals beyond it
    /// wait in the client, and that wait is their queueing time).
    pub in_flight_cap: u32,
    /// Failed requests by `FailureKind` name.
    pub failed: BTreeMap<String, u64>,
    pub chunks: u64,
    pub multi_token_chunks: u64,
    /// Requests whose output tokens the server counted (`usage`); the others' are their chunks.
    pub requests_with_usage: u64,
    /// Completed requests whose output had exactly the tokens asked for (`max_tokens` with `ignore_eos` and
    /// `min_tokens`), and those whose output had another count.
    pub output_length_held: u64,
    pub output_length_not_held: u64,
    /// Prompt tokens the server said it took from its prefix cache (`usage.prompt_tokens_details.cached_tokens`),
    /// summed over the requests that reported it; absent when none did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_prompt_tokens: Option<u64>,
}

/// The server a `load --endpoint` measured, as it described itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerIdentity {
    /// The endpoint as given, less any user name and password.
    pub endpoint: String,
    /// `chat` (`/chat/completions`) or `completions` (`/completions`).
    pub api: String,
    /// The model name sent with each request.
    pub served_model: String,
    /// The environment variable the API key was read from (the key itself is never recorded).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// `GET <endpoint>/models`: the model ids it lists.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// The `server` header of its answers.
    #[serde(default)]
    pub server_header: Option<String>,
    /// llama-server's `GET /props`: `build_info`, `model_path`, `total_slots` and `n_ctx`.
    #[serde(default)]
    pub props: Option<serde_json::Value>,
    /// `GET /version` (vLLM, …).
    #[serde(default)]
    pub version: Option<serde_json::Value>,
    /// The served model's vocabulary size, where the server states it (llama-server's `/v1/models` `meta`).
    #[serde(default)]
    pub n_vocab: Option<u32>,
    /// It counts tokens at `POST /tokenize`: a stream without a `usage` count has its output text counted there
    /// (`requests[].stream.tokenized_completion_tokens`), else each chunk counts as one token.
    #[serde(default)]
    pub tokenize: bool,
    /// The endpoint's host is this machine (a loopback address): its sensors read the server's devices.
    pub on_this_machine: bool,
    /// What a measurement over HTTP does not check: no numerics gate and no self-test (the server's own
    /// configuration decides what it computes); the server's build is not `build`, which is tokenmeter's.
    pub not_checked: String,
}

impl HttpLevel {
    /// The tally of `requests` sent with at most `in_flight_cap` in flight.
    pub fn of(requests: &[super::load::RequestSample], in_flight_cap: u32) -> HttpLevel {
        let mut t = HttpLevel {
            in_flight_cap,
            ..HttpLevel::default()
        };
        for r in requests {
            if let Some(f) = &r.failure {
                *t.failed.entry(f.kind.name().to_string()).or_default() += 1;
            }
            if let Some(s) = &r.stream {
                t.chunks += u64::from(s.chunks);
                t.multi_token_chunks += u64::from(s.multi_token_chunks);
                t.requests_with_usage += u64::from(s.usage_completion_tokens.is_some());
                if let Some(c) = s.usage_cached_tokens {
                    *t.cached_prompt_tokens.get_or_insert(0) += u64::from(c);
                }
            }
            if r.completed {
                if r.token_ns.len() as u64 == u64::from(r.output_tokens) {
                    t.output_length_held += 1;
                } else {
                    t.output_length_not_held += 1;
                }
            }
        }
        t
    }

    /// Failed requests in all.
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }
}
