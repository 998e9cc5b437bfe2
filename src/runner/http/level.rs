//! One load level against a server: the in-process generator's arrival processes (`runner::load`) with requests
//! sent over HTTP. A closed loop keeps c requests in flight, its first ones staggered as in-process: the k-th
//! starts once the streams have advanced k × (mean output tokens ÷ c) decode steps, a step being one token to
//! each request in flight. An open loop's Poisson arrivals are sent as they come, at most `slots` (`--parallel`)
//! at once; the rest wait in the client, and that wait is their queueing time. Requests, warm-up, window and
//! drain are the in-process ones, so `analysis::load::summarize_level` reads the level unchanged.

use super::client::{self, Event};
use super::request;
use super::sse::token_times;
use super::HttpTarget;
use crate::results::http::{FailureKind, StreamFacts};
use crate::runner::load::{
    pick, poisson_arrivals, stagger_decodes, Arrivals, LevelSpec, RequestSample,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one level over HTTP produced (the in-process `LevelRun`'s figures).
#[derive(Debug, Clone)]
pub struct HttpLevelRun {
    pub requests: Vec<RequestSample>,
    pub start_ns: u64,
    pub duration_ns: u64,
    pub window_ns: Option<u64>,
    pub warmup_ns: u64,
    /// Prompt tokens of the requests that were answered: the server's count where it gave one.
    pub prompt_tokens_processed: u64,
    pub interrupted: bool,
    /// Requests in flight at most.
    pub in_flight_cap: u32,
    /// No request reached the server: the level stopped after its first `in_flight_cap` requests failed to
    /// connect.
    pub unreachable: bool,
}

/// The longest the level waits for a stream's event before looking at the clock and the stop flag again.
const POLL: Duration = Duration::from_millis(20);

/// Seeds the prompts' words apart from the request lengths.
const PROMPT_SEED: u64 = 0x5eed_0f_70_4b_e5;

/// Runs `spec` against `target` asking for `model`; `origin` is the sensors' clock, `stop` is polled, and
/// `on_progress` gets the completed requests.
pub fn run_level(
    target: &HttpTarget,
    model: &str,
    spec: &LevelSpec,
    origin: Instant,
    stop: &AtomicBool,
    mut on_progress: impl FnMut(usize),
) -> HttpLevelRun {
    let slots = spec.arrivals.slots().max(1) as usize;
    let closed = matches!(spec.arrivals, Arrivals::Closed { .. });
    let schedule: Vec<u64> = match spec.arrivals {
        Arrivals::Open { rate_per_s, .. } => {
            poisson_arrivals(rate_per_s, spec.seed, spec.requests, spec.duration_ns)
        }
        Arrivals::Closed { .. } => Vec::new(),
    };
    let limit = spec
        .requests
        .map(|n| n as usize + if closed && !spec.burst { slots - 1 } else { 0 });
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut prompt_rng = ChaCha8Rng::seed_from_u64(spec.seed ^ PROMPT_SEED);
    let agent = target.agent(slots);
    let abandon = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<Event>();

    let mut requests: Vec<RequestSample> = Vec::new();
    let mut chars: Vec<Vec<u32>> = Vec::new();
    let mut waiting: VecDeque<usize> = VecDeque::new();
    let (mut in_flight, mut completed, mut next_arrival) = (0usize, 0usize, 0usize);
    // whether any request got an answer, and the connections refused before one did
    let (mut answered, mut refused) = (false, 0usize);
    let mut interrupted = false;
    let mut window_ns = None;
    let stride = stagger_decodes(&spec.output_tokens, slots) as f64;
    let (mut first_wave, mut steps, mut warmup_ns) = (0usize, 0.0f64, 0u64);
    let mut unreplaced_ns: Option<u64> = None;

    let new_request = |requests: &mut Vec<RequestSample>, rng: &mut ChaCha8Rng, arrival_ns| {
        let i = requests.len();
        requests.push(RequestSample {
            input_tokens: pick(&spec.input_tokens, rng, i),
            output_tokens: pick(&spec.output_tokens, rng, i),
            arrival_ns,
            admitted_ns: None,
            token_ns: Vec::new(),
            completed: false,
            failure: None,
            stream: None,
        });
        i
    };
    let may_start = |n_started: usize, now: u64| {
        limit.is_none_or(|l| n_started < l) && spec.duration_ns.is_none_or(|d| now < d)
    };

    let t0 = Instant::now();
    loop {
        let now = t0.elapsed().as_nanos() as u64;
        if stop.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        if !answered && refused >= slots {
            break;
        }
        let idle = waiting.is_empty() && in_flight == 0;
        while closed
            && first_wave < slots
            && (spec.burst || steps >= first_wave as f64 * stride || idle)
            && may_start(requests.len(), now)
        {
            let arrival = if first_wave == 0 || spec.burst {
                0
            } else {
                now
            };
            let i = new_request(&mut requests, &mut rng, arrival);
            waiting.push_back(i);
            first_wave += 1;
            if first_wave == slots && !spec.burst {
                warmup_ns = arrival;
            }
            if !spec.burst {
                break;
            }
        }
        while next_arrival < schedule.len() && schedule[next_arrival] <= now {
            let i = new_request(&mut requests, &mut rng, schedule[next_arrival]);
            waiting.push_back(i);
            next_arrival += 1;
        }
        if let Some(d) = spec.duration_ns {
            if now >= d + spec.drain_ns.unwrap_or(0) {
                window_ns = Some(d);
                break;
            }
            if now >= d {
                window_ns = Some(d);
            }
        }
        while in_flight < slots {
            let Some(i) = waiting.pop_front() else { break };
            let r = &mut requests[i];
            let body = request::body(
                target.api,
                model,
                &request::prompt(r.input_tokens, &mut prompt_rng),
                r.output_tokens,
            );
            r.admitted_ns = Some(t0.elapsed().as_nanos() as u64);
            chars.resize(requests.len(), Vec::new());
            let (agent, target, tx, abandon) =
                (agent.clone(), target.clone(), tx.clone(), abandon.clone());
            std::thread::Builder::new()
                .name(format!("tokenmeter-http-{i}"))
                .spawn(move || client::send(&agent, &target, body, i, t0, &tx, &abandon))
                .expect("a thread for a request starts");
            in_flight += 1;
        }
        if in_flight == 0 && waiting.is_empty() {
            let ramp_pending = closed && first_wave < slots && may_start(requests.len(), now);
            if next_arrival >= schedule.len() && !ramp_pending {
                if let Some(d) = spec.duration_ns {
                    window_ns = Some(d.min(t0.elapsed().as_nanos() as u64));
                }
                break;
            }
        }
        let wait = schedule
            .get(next_arrival)
            .map_or(POLL, |&t| Duration::from_nanos(t.saturating_sub(now)))
            .min(POLL);
        let mut event = rx.recv_timeout(wait).ok();
        while let Some(e) = event {
            match e {
                Event::Chunk {
                    request,
                    t_ns,
                    chars: n,
                } => {
                    requests[request].token_ns.push(t_ns);
                    chars[request].push(n);
                    steps += 1.0 / in_flight.max(1) as f64;
                }
                Event::End { request, t_ns, end } => {
                    in_flight -= 1;
                    match &end.failure {
                        Some(f) if f.kind == FailureKind::Connection => refused += 1,
                        _ => answered = true,
                    }
                    let r = &mut requests[request];
                    finish(r, &chars[request], *end);
                    if r.completed {
                        completed += 1;
                    }
                    if closed && may_start(requests.len(), t_ns) {
                        let i = new_request(&mut requests, &mut rng, t_ns);
                        waiting.push_back(i);
                    } else if closed && first_wave == slots && unreplaced_ns.is_none() {
                        unreplaced_ns = Some(t_ns);
                    }
                    on_progress(completed);
                }
            }
            event = rx.try_recv().ok();
        }
    }
    // requests still streaming are left as they are (not completed); their threads drop their connections
    abandon.store(true, Ordering::Relaxed);
    let duration_ns = t0.elapsed().as_nanos() as u64;
    if spec.duration_ns.is_none() && !interrupted && !spec.burst {
        window_ns = unreplaced_ns;
    }
    let prompt_tokens_processed = requests
        .iter()
        .filter(|r| !r.token_ns.is_empty())
        .map(|r| {
            let usage = r.stream.as_ref().and_then(|s| s.usage_prompt_tokens);
            u64::from(usage.unwrap_or(r.input_tokens))
        })
        .sum();
    HttpLevelRun {
        requests,
        start_ns: t0.saturating_duration_since(origin).as_nanos() as u64,
        duration_ns,
        window_ns,
        warmup_ns,
        prompt_tokens_processed,
        interrupted,
        in_flight_cap: slots as u32,
        unreachable: !answered && refused > 0,
    }
}

/// Completes `r`'s record from how its stream ended: its token times from the chunks' (and the server's count),
/// and its failure.
fn finish(r: &mut RequestSample, chars: &[u32], end: client::Ended) {
    let usage_completion = end.usage.and_then(|u| u.completion_tokens);
    let chunks = r.token_ns.len() as u32;
    let (times, multi_token_chunks) = token_times(&r.token_ns, chars, usage_completion);
    r.token_ns = times;
    r.stream = Some(StreamFacts {
        chunks,
        multi_token_chunks,
        usage_prompt_tokens: end.usage.and_then(|u| u.prompt_tokens),
        usage_completion_tokens: usage_completion,
    });
    r.completed = end.failure.is_none();
    r.failure = end.failure;
}
