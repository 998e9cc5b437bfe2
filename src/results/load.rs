//! `load` results as stored: how requests arrived, every request's raw timestamps, each level's summary (a pure
//! function of those, computed by `analysis::load`) and the SLO operating point the cost model consumes.

use super::slo::SloTerm;
use super::telemetry::{EnergyRecord, ProcessContext};
use crate::stats::Distribution;
use serde::{Deserialize, Serialize};

/// Token counts of requests: a fixed number, a uniform range `a..b` (inclusive) or a list cycled through.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lengths {
    Fixed(u32),
    Range(u32, u32),
    List(Vec<u32>),
}

impl Lengths {
    /// Parses `128`, `64..512` or `64,128,256`.
    pub fn parse(s: &str) -> Result<Lengths, String> {
        let num = |x: &str| {
            x.trim()
                .parse::<u32>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("'{x}' is not a positive token count"))
        };
        if let Some((a, b)) = s.split_once("..") {
            let (a, b) = (num(a)?, num(b)?);
            if a > b {
                return Err(format!("range {a}..{b} is empty"));
            }
            return Ok(Lengths::Range(a, b));
        }
        if s.contains(',') {
            return s
                .split(',')
                .map(num)
                .collect::<Result<_, _>>()
                .map(Lengths::List);
        }
        num(s).map(Lengths::Fixed)
    }

    pub fn max(&self) -> u32 {
        match self {
            Lengths::Fixed(n) => *n,
            Lengths::Range(_, b) => *b,
            Lengths::List(v) => v.iter().copied().max().unwrap_or(1),
        }
    }

    /// The mean request length these counts give.
    pub fn mean(&self) -> f64 {
        match self {
            Lengths::Fixed(n) => *n as f64,
            Lengths::Range(a, b) => (*a as f64 + *b as f64) / 2.0,
            Lengths::List(v) if v.is_empty() => 0.0,
            Lengths::List(v) => v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64,
        }
    }
}

/// How requests arrive at one load level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    /// `concurrency` requests are always in flight: a new one starts when one finishes.
    Closed { concurrency: u32 },
    /// Poisson arrivals at `rate_per_s`, served by `slots` parallel sequences; the rest queue.
    Open { rate_per_s: f64, slots: u32 },
}

impl Arrivals {
    /// The one spelling of a level everywhere (tables, warnings, file names, compare): `c=4`, `rate=5/s`.
    pub fn label(&self) -> String {
        match self {
            Arrivals::Closed { concurrency } => format!("c={concurrency}"),
            Arrivals::Open { rate_per_s, .. } => format!("rate={rate_per_s}/s"),
        }
    }

    pub fn slots(&self) -> u32 {
        match *self {
            Arrivals::Closed { concurrency } => concurrency,
            Arrivals::Open { slots, .. } => slots,
        }
    }
}

/// The raw record of one request; times are ns since the level started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestSample {
    pub input_tokens: u32,
    pub output_tokens: u32,
    /// When the request arrived (its start: TTFT and E2E are measured from here).
    pub arrival_ns: u64,
    /// When a sequence slot took the request (absent if it never got one); over HTTP, when it was sent.
    pub admitted_ns: Option<u64>,
    /// When each output token was available: the first at the end of the prefill decode that yields its
    /// logits, each later one at the end of its decode; over HTTP, when the stream's chunk carrying it arrived.
    pub token_ns: Vec<u64>,
    pub completed: bool,
    /// Why the request failed (over HTTP: a status, a timeout, a reset, a malformed stream): it is not
    /// completed, and a miss of every SLO term.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<super::http::RequestFailure>,
    /// What the server's stream said of the request (over HTTP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<super::http::StreamFacts>,
    /// Where the request stands in a multi-turn session or a replayed trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<RequestOrigin>,
}

/// A request of a multi-turn session or a replayed trace: its session and turn, and how much of its prompt
/// repeats an earlier request's prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestOrigin {
    /// The conversation it belongs to (`s0`, `s1`, … for generated sessions; the trace's own ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Its turn in the session, from 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<u32>,
    /// Its line in the trace, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_line: Option<u32>,
    /// Leading prompt tokens identical to the start of a prompt sent earlier in the level (the shared system
    /// prompt, the session's history, the trace's shared blocks): what a prefix cache could skip.
    pub reusable_prefix_tokens: u32,
    /// When the generator issued it (ns since the level started), against `arrival_ns`, the time the trace
    /// scheduled: the replay's fidelity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_ns: Option<u64>,
}

impl RequestSample {
    pub fn ttft_ns(&self) -> Option<u64> {
        self.token_ns.first().map(|t| t - self.arrival_ns)
    }
    pub fn e2e_ns(&self) -> Option<u64> {
        self.completed
            .then(|| self.token_ns.last().map(|t| t - self.arrival_ns))
            .flatten()
    }
    pub fn queue_ns(&self) -> Option<u64> {
        self.admitted_ns.map(|t| t - self.arrival_ns)
    }
    pub fn itl_ns(&self) -> impl Iterator<Item = u64> + '_ {
        self.token_ns.windows(2).map(|w| w[1] - w[0])
    }
}

/// One SLO term checked over every request that arrived in a level. A request that did not complete counts
/// as missing the objective (its latency is at least the time it waited, not absent); for `itl`, every output
/// token it did not deliver counts as a gap that missed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloCheck {
    /// `ttft_p95`.
    pub objective: String,
    pub limit_ms: f64,
    /// The percentile over all samples, unfinished ones counted as misses; absent when the percentile falls on
    /// an unfinished request (its value is beyond anything measured).
    pub value_ms: Option<f64>,
    /// Samples the percentile is over: requests (ttft, e2e, queue) or token gaps (itl), unfinished included.
    pub count: u64,
    /// Of `count`, those from requests that did not complete.
    pub unfinished: u64,
    /// Fewer samples than this percentile needs: the check is against (close to) the largest sample.
    pub low_sample_count: bool,
    pub met: bool,
}

/// One level's figures (what `-o json` prints per level).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelSummary {
    pub concurrency: Option<u32>,
    pub rate: Option<f64>,
    pub slots: u32,
    /// Requests that arrived in the measured window (closed loop: were started), served or not.
    pub requests_started: usize,
    /// A closed loop's requests of the warm-up, before all its slots were in flight: kept in `requests` (the
    /// first ones) and left out of every figure here.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub requests_warmup: usize,
    /// When the warm-up ended and the measured window began (a closed loop's staggered ramp-up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_s: Option<f64>,
    pub requests_completed: usize,
    /// Arrived but not finished when the level ended: still queued at its end, or cut off by an interruption.
    pub requests_not_completed: usize,
    /// The whole level: its arrival window and, after it, the drain.
    pub duration_s: f64,
    /// The measured window in which requests arrived, after the warm-up (the rates below are over it): to where
    /// `--duration` cut arrivals, or where a closed loop with a request count first left a finished request
    /// unreplaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_window_s: Option<f64>,
    /// How long the requests that arrived in the window took to drain after it: with `--duration` bounded by the
    /// largest SLO limit, at least 10 s (those unfinished after it are not completed); a closed loop's cool-down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_s: Option<f64>,
    /// Completed requests per second.
    pub requests_per_s: f64,
    /// Every output token delivered, per second.
    pub output_tokens_per_s: f64,
    pub total_tokens_per_s: f64,
    /// Completed requests that met every SLO term, per second (absent without an SLO).
    #[serde(default)]
    pub goodput_requests_per_s: Option<f64>,
    /// Output tokens of the requests counted in `goodput_requests_per_s`, per second.
    #[serde(default)]
    pub goodput_output_tokens_per_s: Option<f64>,
    /// Time to first token of the requests that produced one.
    pub ttft_ms: Distribution,
    pub itl_ms: Distribution,
    pub e2e_ms: Distribution,
    pub queue_ms: Distribution,
    /// Each SLO term over all arrivals.
    #[serde(default)]
    pub slo_checks: Vec<SloCheck>,
    /// Every term of `slo_checks` met; absent when no SLO was given.
    pub slo_met: Option<bool>,
    pub interrupted: bool,
    /// The level run a second time (another seed) because the saturation rule would have stopped on it: the
    /// rule decides on the mean of both runs; the operating point is chosen among first runs only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replicate: bool,
    /// A multi-turn or trace level's prefix reuse and, for a trace, how closely the schedule was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<PatternSummary>,
}

/// What a multi-turn or replayed-trace level's measured requests were.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternSummary {
    /// The sessions they belong to.
    pub sessions: usize,
    /// Their reusable prefix tokens ÷ their prompt tokens: the share of prompt work a prefix cache could skip
    /// (absent when they had no prompt tokens).
    pub prefix_reuse_ratio: Option<f64>,
    /// How late each request was issued against the trace's schedule (issued − scheduled), in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_late_ms: Option<crate::stats::Distribution>,
}

impl LevelSummary {
    /// How requests arrived at the level, when the file says (a closed loop's concurrency or an open loop's
    /// rate).
    pub fn arrivals(&self) -> Option<Arrivals> {
        match (self.concurrency, self.rate) {
            (Some(concurrency), _) => Some(Arrivals::Closed { concurrency }),
            (None, Some(rate_per_s)) => Some(Arrivals::Open {
                rate_per_s,
                slots: self.slots,
            }),
            (None, None) => None,
        }
    }

    /// `c=4`, `rate=5/s` ([`Arrivals::label`]), or `slots=8` for a level that records neither.
    pub fn label(&self) -> String {
        self.arrivals()
            .map_or_else(|| format!("slots={}", self.slots), |a| a.label())
    }

    /// The seconds the level's rates are over: its arrival window when a duration cut arrivals, else all of it.
    pub fn rate_seconds(&self) -> f64 {
        self.arrival_window_s
            .unwrap_or(self.duration_s - self.warmup_s.unwrap_or(0.0))
    }

    /// Where the measured window ends, in ns after the level's start (the whole level when nothing cut it).
    pub fn window_end_ns(&self) -> Option<u64> {
        self.arrival_window_s
            .map(|w| ((w + self.warmup_s.unwrap_or(0.0)) * 1e9).round() as u64)
    }

    /// Where the measured window starts, in ns after the level's start.
    pub fn warmup_ns(&self) -> u64 {
        (self.warmup_s.unwrap_or(0.0) * 1e9).round() as u64
    }
}

/// A level as stored in the result file: its summary and every request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelRecord {
    #[serde(flatten)]
    pub summary: LevelSummary,
    pub input_tokens: Lengths,
    pub output_tokens: Lengths,
    pub seed: u64,
    pub prompt_tokens_processed: u64,
    /// When the level's clock (every request's 0) started, in ns since the level's sensor window began: power
    /// samples and token timestamps share one clock through it.
    #[serde(default)]
    pub start_ns: Option<u64>,
    pub requests: Vec<RequestSample>,
    /// Energy per device over the level, per output token (a record with `absent_reason` when nothing measured
    /// energy).
    #[serde(default)]
    pub energy: Vec<EnergyRecord>,
    /// This process's CPU use and peak resident memory over the level.
    #[serde(default)]
    pub process: Option<ProcessContext>,
    /// The time limits the level's worker ran under (absent in-process).
    #[serde(default)]
    pub limits: Option<crate::results::record::UnitLimits>,
    /// Over HTTP: the level's failed requests by reason, its streams' chunks and whether output lengths held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<super::http::HttpLevel>,
}

impl LevelRecord {
    /// Why the level's times cannot be latencies: a request whose arrival, admission and token times go
    /// backwards (`requests[q]`), or `None`.
    pub fn time_order_problem(&self) -> Option<String> {
        self.requests.iter().enumerate().find_map(|(q, r)| {
            let times: Vec<u64> = std::iter::once(r.arrival_ns)
                .chain(r.admitted_ns)
                .chain(r.token_ns.iter().copied())
                .collect();
            times.windows(2).any(|w| w[1] < w[0]).then(|| {
                format!(
                    "requests[{q}]: times go backwards (arrival_ns, admitted_ns then token_ns must not decrease)"
                )
            })
        })
    }

    /// The requests every figure of the summary is over: all but the warm-up's (which lead `requests`).
    pub fn measured(&self) -> &[RequestSample] {
        &self.requests[self.summary.requests_warmup.min(self.requests.len())..]
    }
}

/// The level `cost` uses: the highest goodput among the levels that met the SLO over all arrivals and were not
/// interrupted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoint {
    pub level_index: usize,
    pub concurrency: Option<u32>,
    pub rate: Option<f64>,
    pub requests_per_s: f64,
    pub output_tokens_per_s: f64,
    pub total_tokens_per_s: f64,
    #[serde(default)]
    pub goodput_requests_per_s: Option<f64>,
    #[serde(default)]
    pub goodput_output_tokens_per_s: Option<f64>,
    /// Requests of that level that did not complete (the SLO still held with them counted as misses).
    #[serde(default)]
    pub requests_not_completed: usize,
}

/// A whole `load` sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadSweep {
    pub model: String,
    pub slo: Vec<SloTerm>,
    pub levels: Vec<LevelRecord>,
    /// Absent when no SLO was given or no level met it.
    pub operating_point: Option<OperatingPoint>,
    /// Set when the sweep added no more levels before its last: the last level measured saturated
    /// (`--until-saturated`), or a time budget ran out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_early: Option<StoppedEarly>,
    /// The numerics gate of the sweep's engine configuration against the CPU reference.
    #[serde(default)]
    pub numerics: Option<super::record::Numerics>,
    /// True when the numerics gate failed: the sweep's figures come from a wrong computation.
    #[serde(default)]
    pub numerics_failed: bool,
    /// The buffers llama.cpp put the weights in (MiB by buffer type).
    #[serde(default)]
    pub weight_buffers_mib: std::collections::BTreeMap<String, f64>,
    /// The layers on GPU devices; absent for a result written before it was recorded.
    #[serde(default)]
    pub offloaded: Option<super::record::Offload>,
    /// Set when the machine's self-test found the requested configuration broken and the sweep ran another.
    #[serde(default)]
    pub engine_fallback: Option<super::record::EngineFallback>,
    /// The server measured over HTTP (`load --endpoint`); absent for llama.cpp in-process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<super::http::ServerIdentity>,
}

/// Where a sweep stopped before its last level, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoppedEarly {
    /// The last level measured, e.g. `c=8`.
    pub after: String,
    /// e.g. `missed ttft_p95`, or `goodput 51.8 t/s is not 5% above c=4's 51.2 t/s`.
    pub reason: String,
    /// Levels of the sweep left out.
    pub levels_not_run: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_parse_numbers_ranges_and_lists() {
        assert_eq!(Lengths::parse("128"), Ok(Lengths::Fixed(128)));
        assert_eq!(Lengths::parse("64..512"), Ok(Lengths::Range(64, 512)));
        assert_eq!(Lengths::parse("64,128"), Ok(Lengths::List(vec![64, 128])));
        assert!(Lengths::parse("0").is_err());
        assert!(Lengths::parse("9..3").is_err());
        assert!(Lengths::parse("x").is_err());
        assert_eq!(Lengths::Range(64, 128).mean(), 96.0);
        assert_eq!(Lengths::List(vec![1, 2, 6]).mean(), 3.0);
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
