//! `load --endpoint`: measuring an OpenAI-compatible server (llama-server, vLLM, Ollama, …) over HTTP with the
//! load generator's arrival processes. A level's requests are streamed (`stream: true`, usage included), one
//! thread each, at most the level's in-flight cap at once and none retried; each chunk with output text is timed
//! where it arrives, and a level becomes the same `RequestSample`s the in-process generator produces, so that
//! its summary, SLO check, goodput and operating point are the in-process ones. A request that fails (a status
//! other than 200, a timeout, a reset, a malformed stream) is data: not completed, with its reason.
//!
//! `request` writes a request's body, `sse` reads its stream, `client` sends one request, `level` runs a level
//! and `identity` asks the server what it is. The blocking client is `ureq` (rustls for TLS).

pub mod client;
pub mod identity;
pub mod level;
pub mod request;
pub mod sse;

use crate::exit::InputError;
use crate::results::http::{FailureKind, RequestFailure};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The API a load is sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Api {
    /// `POST <endpoint>/chat/completions` with one user message.
    Chat,
    /// `POST <endpoint>/completions` with a prompt.
    Completions,
}

impl Api {
    pub fn parse(s: &str) -> Result<Api, InputError> {
        match s {
            "chat" => Ok(Api::Chat),
            "completions" => Ok(Api::Completions),
            other => Err(InputError(format!(
                "--api: '{other}' is not an API (expected chat or completions)"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Api::Chat => "chat",
            Api::Completions => "completions",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Api::Chat => "chat/completions",
            Api::Completions => "completions",
        }
    }
}

/// An API key: sent as `Authorization: Bearer`, and nowhere else (its `Debug` hides it; it has no `Display`
/// and is not serialized).
#[derive(Clone)]
pub struct ApiKey(String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(hidden)")
    }
}

impl ApiKey {
    /// The key held in the environment variable `var`.
    pub fn from_env(var: &str) -> Result<ApiKey, InputError> {
        match std::env::var(var) {
            Ok(k) if !k.trim().is_empty() => Ok(ApiKey(k.trim().to_string())),
            Ok(_) => Err(InputError(format!(
                "--api-key-env: the environment variable {var} is empty"
            ))),
            Err(_) => Err(InputError(format!(
                "--api-key-env: the environment variable {var} is not set (or not UTF-8)"
            ))),
        }
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// `text` with every occurrence of the key replaced, for anything recorded from a server's answer.
    fn redact(&self, text: &str) -> String {
        text.replace(&self.0, "[api key]")
    }
}

/// Default of `--request-timeout`: a request's whole time, from sending it to its stream's end. Long enough for
/// thousands of output tokens at the slowest speeds a CPU serves (10 t/s), short enough that a stalled server
/// fails a level in minutes rather than hanging it.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// The server a load is sent to, and how.
#[derive(Debug, Clone)]
pub struct HttpTarget {
    /// `http://127.0.0.1:8080/v1`, without a trailing slash.
    pub endpoint: String,
    pub api: Api,
    /// `--served-model`; `None`: the first model `GET <endpoint>/models` lists.
    pub served_model: Option<String>,
    pub api_key: Option<ApiKey>,
    /// The variable the key came from (recorded; the key is not).
    pub api_key_env: Option<String>,
    /// A request's whole time (`--request-timeout`); past it the request fails with `timeout`.
    pub request_timeout: Duration,
    /// What prompts are made of (`--prompt`).
    pub prompt: request::PromptKind,
    /// The served model's vocabulary size, as the server states it (token-id prompts are drawn below it).
    pub n_vocab: Option<u32>,
    /// `--ca-cert`: the certificates an `https://` server's chain must end in, instead of the web PKI's roots.
    pub roots: Option<ureq::tls::RootCerts>,
    /// The server counts tokens at `POST /tokenize` (llama-server): a stream without `usage` has its output
    /// counted there.
    pub tokenize: bool,
}

impl HttpTarget {
    /// A target at `endpoint`, which must be an `http://` or `https://` URL.
    pub fn new(endpoint: &str, api: Api) -> Result<HttpTarget, InputError> {
        let e = endpoint.trim().trim_end_matches('/');
        let rest = e
            .strip_prefix("http://")
            .or_else(|| e.strip_prefix("https://"))
            .ok_or_else(|| {
                InputError(format!(
                    "--endpoint: '{}' is not an http:// or https:// URL (e.g. http://127.0.0.1:8080/v1)",
                    shown(e)
                ))
            })?;
        if rest.is_empty() || rest.starts_with('/') {
            return Err(InputError(format!(
                "--endpoint: '{}' names no host",
                shown(e)
            )));
        }
        Ok(HttpTarget {
            endpoint: e.to_string(),
            api,
            served_model: None,
            api_key: None,
            api_key_env: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            prompt: request::PromptKind::Words,
            n_vocab: None,
            roots: None,
            tokenize: false,
        })
    }

    /// Where requests go: `<endpoint>/chat/completions` or `<endpoint>/completions`.
    pub fn url(&self) -> String {
        format!("{}/{}", self.endpoint, self.api.path())
    }

    /// The server's root, where llama-server answers `/props` and vLLM `/version`: the endpoint less a
    /// trailing `/v1`.
    pub fn root(&self) -> &str {
        self.endpoint.strip_suffix("/v1").unwrap_or(&self.endpoint)
    }

    /// The endpoint as results and messages show it: without a user name or password.
    pub fn shown(&self) -> String {
        shown(&self.endpoint)
    }

    /// The host part of the endpoint (`127.0.0.1`, `[::1]`, `gpu-box`).
    pub fn host(&self) -> &str {
        let rest = self.endpoint.split_once("://").map_or("", |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or_default();
        let host_port = authority.rsplit('@').next().unwrap_or_default();
        if let Some(v6) = host_port.strip_prefix('[') {
            return v6.split(']').next().unwrap_or_default();
        }
        host_port.split(':').next().unwrap_or_default()
    }

    /// The server runs on this machine: its host is a loopback name or address.
    pub fn on_this_machine(&self) -> bool {
        let h = self.host();
        h.eq_ignore_ascii_case("localhost")
            || h.parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// Trusts the certificates of the PEM file at `path` (a private CA, or a server's own self-signed one) in
    /// place of the web PKI's roots.
    pub fn trust(&mut self, path: &std::path::Path) -> Result<(), InputError> {
        let shown = path.display();
        let pem = std::fs::read(path)
            .map_err(|e| InputError(format!("--ca-cert: {shown}: cannot read: {e}")))?;
        let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(InputError(format!(
                "--ca-cert: {shown}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it"
            )));
        }
        self.roots = Some(ureq::tls::RootCerts::new_with_certs(&certs));
        Ok(())
    }

    /// A client with `timeout` for each request in all, that treats every status as an answer, keeps up to
    /// `idle` connections open between requests and never retries.
    pub fn agent_with(&self, timeout: Duration, idle: usize) -> ureq::Agent {
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(roots) = &self.roots {
            tls = tls.root_certs(roots.clone());
        }
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .max_idle_connections(idle)
            .max_idle_connections_per_host(idle)
            .user_agent(concat!("tokenmeter/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls.build())
            .build()
            .into()
    }

    /// A client that keeps up to `in_flight` connections open between requests, never retries, and gives every
    /// request `request_timeout` in all.
    pub fn agent(&self, in_flight: usize) -> ureq::Agent {
        self.agent_with(self.request_timeout, in_flight.max(1))
    }

    /// A client as [`HttpTarget::agent`] that keeps no connection: each request gets a new one.
    pub fn fresh_agent(&self) -> ureq::Agent {
        self.agent_with(self.request_timeout, 0)
    }

    /// A request to `url` with the key, when there is one.
    fn with_key<B>(&self, r: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.api_key {
            Some(k) => r.header("Authorization", k.bearer()),
            None => r,
        }
    }

    /// `text` with the key, when there is one, taken out.
    fn redact(&self, text: &str) -> String {
        self.api_key
            .as_ref()
            .map_or_else(|| text.to_string(), |k| k.redact(text))
    }
}

/// `url` without the `user:password@` of its authority.
fn shown(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.rsplit('@').next().unwrap_or_default();
    format!("{scheme}://{host}{path}")
}

/// How a failed exchange with the server is recorded.
fn failure_of(e: ureq::Error) -> RequestFailure {
    failure_of_ref(&e)
}

fn failure_of_ref(e: &ureq::Error) -> RequestFailure {
    use std::io::ErrorKind;
    let kind = match e {
        ureq::Error::Timeout(_) | ureq::Error::BodyStalled => FailureKind::Timeout,
        ureq::Error::Io(io) if matches!(io.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
            FailureKind::Timeout
        }
        ureq::Error::Protocol(_) => FailureKind::MalformedStream,
        _ => FailureKind::Connection,
    };
    RequestFailure {
        kind,
        status: None,
        detail: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_is_an_http_url_shown_without_credentials() {
        let t = HttpTarget::new("https://user:secret@gpu-box:8000/v1/", Api::Chat).unwrap();
        assert_eq!(
            t.url(),
            "https://user:secret@gpu-box:8000/v1/chat/completions"
        );
        assert_eq!(t.shown(), "https://gpu-box:8000/v1");
        assert_eq!(t.root(), "https://user:secret@gpu-box:8000");
        assert_eq!(t.host(), "gpu-box");
        assert!(!t.on_this_machine());
        let e = HttpTarget::new("ftp://x", Api::Chat).unwrap_err().0;
        assert!(
            e.starts_with("--endpoint: 'ftp://x' is not an http:// or https:// URL"),
            "{e}"
        );
        assert!(HttpTarget::new("http:///v1", Api::Chat).is_err());
    }

    #[test]
    fn loopback_hosts_are_this_machine() {
        for (url, local) in [
            ("http://127.0.0.1:8080/v1", true),
            ("http://localhost:8080/v1", true),
            ("http://[::1]:8080/v1", true),
            ("http://127.0.0.2/v1", true),
            ("http://10.0.0.1:8080/v1", false),
            ("http://gpu-box/v1", false),
        ] {
            let t = HttpTarget::new(url, Api::Completions).unwrap();
            assert_eq!(t.on_this_machine(), local, "{url}");
        }
    }

    #[test]
    fn the_key_is_hidden_from_debug_and_redacted_from_answers() {
        let k = ApiKey("sk-123".into());
        assert_eq!(format!("{k:?}"), "ApiKey(hidden)");
        assert_eq!(k.redact("bad key sk-123!"), "bad key [api key]!");
        assert_eq!(Api::parse("chat").unwrap(), Api::Chat);
        assert!(Api::parse("embeddings").is_err());
    }
}
