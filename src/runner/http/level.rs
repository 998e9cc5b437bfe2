//! One load level against a server: the in-process generator's arrival processes (`runner::load`) with requests
//! sent over HTTP. A closed loop keeps c requests in flight, its first ones staggered as in-process: the k-th
//! starts once the streams have advanced k × (mean output tokens ÷ c) decode steps, a step being one token to
//! each request in flight. An open loop's Poisson arrivals are sent as they come, at most `slots` (`--parallel`)
//! at once; the rest wait in the client, and that wait is their queueing time. Requests, warm-up, window and
//! drain are the in-process ones, so `analysis::load::summarize_level` reads the level unchanged.

use super::client::{self, Event};
use super::request::{self, Prompt, PromptKind};
use super::sse::token_times;
use super::HttpTarget;
use crate::results::http::StreamFacts;
use crate::runner::load::{
    level_schedule, past_window, plan_request, stagger_decodes, Arrivals, LevelSpec, RequestSample,
};
use crate::runner::pattern::{self, Planner, PromptSource};
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
    /// The server stopped answering: after it had answered, this many requests in a row got no response
    /// ([`GONE_AFTER`] or the level's in-flight cap, whichever is more), and the level stopped.
    pub gone_after: Option<usize>,
}

/// Requests in a row that get no response, after the server had answered, for the server to count as gone.
pub const GONE_AFTER: usize = 3;

/// The longest the level waits for a stream's event before looking at the clock and the stop flag again.
const POLL: Duration = Duration::from_millis(20);

/// Seeds the prompts' words apart from the request lengths.
const PROMPT_SEED: u64 = 0x5eed_0f_70_4b_e5;

/// A level in flight: its requests, the streams in flight and the closed loop's ramp.
struct Run<'a> {
    spec: &'a LevelSpec,
    target: &'a HttpTarget,
    model: &'a str,
    slots: usize,
    closed: bool,
    /// Requests the level starts at most (a closed loop's warm-up included).
    limit: Option<usize>,
    rng: ChaCha8Rng,
    prompt_rng: ChaCha8Rng,
    agent: ureq::Agent,
    abandon: Arc<AtomicBool>,
    events: mpsc::Sender<Event>,
    t0: Instant,
    requests: Vec<RequestSample>,
    /// Each request's chunks' characters, for its tokens per chunk.
    chars: Vec<Vec<u32>>,
    /// The pattern's plan, and each request's prompt source under it.
    planner: Planner,
    sources: Vec<PromptSource>,
    waiting: VecDeque<usize>,
    in_flight: usize,
    completed: usize,
    /// Whether any request got an answer, the connections that failed before one did, and the requests in a
    /// row since the last answer that got none.
    answered: bool,
    refused: usize,
    unanswered_in_row: usize,
    /// The closed loop's ramp: first requests started, decode steps streamed (a token to each request in
    /// flight), the warm-up's end and when a finished request was first left unreplaced.
    first_wave: usize,
    steps: f64,
    warmup_ns: u64,
    unreplaced_ns: Option<u64>,
}

impl Run<'_> {
    fn now(&self) -> u64 {
        self.t0.elapsed().as_nanos() as u64
    }

    fn may_start(&self, now: u64) -> bool {
        self.limit.is_none_or(|l| self.requests.len() < l)
            && self.spec.duration_ns.is_none_or(|d| now < d)
    }

    /// A new request arriving at `arrival_ns` (in a closed loop, replacing request `replaces`), waiting to be
    /// sent.
    fn arrive(&mut self, arrival_ns: u64, replaces: Option<usize>) -> usize {
        let i = self.requests.len();
        let (sample, source) = plan_request(
            self.spec,
            &mut self.planner,
            &mut self.rng,
            i,
            replaces.map(|r| &self.requests[r]),
        );
        self.sources.push(source);
        self.requests.push(RequestSample {
            arrival_ns,
            ..sample
        });
        self.chars.push(Vec::new());
        self.waiting.push_back(i);
        i
    }

    /// The closed loop's staggered first requests: the k-th once the streams advanced k strides (at once when
    /// nothing runs; all at once with `burst`).
    fn ramp(&mut self, now: u64, stride: f64) {
        let idle = self.waiting.is_empty() && self.in_flight == 0;
        while self.closed
            && self.first_wave < self.slots
            && (self.spec.burst || self.steps >= self.first_wave as f64 * stride || idle)
            && self.may_start(now)
        {
            let arrival = if self.first_wave == 0 || self.spec.burst {
                0
            } else {
                now
            };
            self.arrive(arrival, None);
            self.first_wave += 1;
            if self.first_wave == self.slots && !self.spec.burst {
                self.warmup_ns = arrival;
            }
            if !self.spec.burst {
                break;
            }
        }
    }

    /// Sends waiting requests while fewer than `slots` are in flight, each on a thread of its own.
    fn send_waiting(&mut self) {
        while self.in_flight < self.slots {
            let Some(i) = self.waiting.pop_front() else {
                break;
            };
            let r = &self.requests[i];
            let source = &self.sources[i];
            let seed = self.spec.seed;
            let prompt = match (self.target.prompt, self.target.n_vocab) {
                (PromptKind::TokenIds, Some(n_vocab)) => Prompt::Ids(
                    pattern::prompt(seed, source, r.input_tokens, n_vocab).unwrap_or_else(|| {
                        request::prompt_ids(r.input_tokens, n_vocab, &mut self.prompt_rng)
                    }),
                ),
                _ => Prompt::Text(
                    match pattern::prompt(seed, source, r.input_tokens, request::WORDS.len() as u32)
                    {
                        Some(words) => request::words(&words),
                        None => request::prompt(r.input_tokens, &mut self.prompt_rng),
                    },
                ),
            };
            let body = request::body(self.target.api, self.model, &prompt, r.output_tokens);
            self.requests[i].admitted_ns = Some(self.now());
            let (agent, target, tx, abandon, t0) = (
                self.agent.clone(),
                self.target.clone(),
                self.events.clone(),
                self.abandon.clone(),
                self.t0,
            );
            std::thread::Builder::new()
                .name(format!("tokenmeter-http-{i}"))
                .spawn(move || client::send(&agent, &target, body, i, t0, &tx, &abandon))
                .expect("a thread for a request starts");
            self.in_flight += 1;
        }
    }

    /// Records `e`; a closed loop replaces a request that ended.
    fn on_event(&mut self, e: Event) {
        match e {
            Event::Chunk {
                request,
                t_ns,
                chars,
            } => {
                self.requests[request].token_ns.push(t_ns);
                self.chars[request].push(chars);
                self.steps += 1.0 / self.in_flight.max(1) as f64;
            }
            Event::End { request, t_ns, end } => {
                self.in_flight -= 1;
                if end.unanswered {
                    self.unanswered_in_row += 1;
                    if !self.answered {
                        self.refused += 1;
                    }
                } else {
                    self.answered = true;
                    self.unanswered_in_row = 0;
                }
                finish(&mut self.requests[request], &self.chars[request], *end);
                self.completed += usize::from(self.requests[request].completed);
                if self.closed && self.may_start(t_ns) {
                    self.arrive(t_ns, Some(request));
                } else if self.closed
                    && self.first_wave == self.slots
                    && self.unreplaced_ns.is_none()
                {
                    self.unreplaced_ns = Some(t_ns);
                }
            }
        }
    }
}

impl<'a> Run<'a> {
    fn new(
        spec: &'a LevelSpec,
        target: &'a HttpTarget,
        model: &'a str,
        events: mpsc::Sender<Event>,
    ) -> Run<'a> {
        let slots = spec.arrivals.slots().max(1) as usize;
        let closed = matches!(spec.arrivals, Arrivals::Closed { .. });
        Run {
            spec,
            target,
            model,
            slots,
            closed,
            limit: spec
                .requests
                .map(|n| n as usize + if closed && !spec.burst { slots - 1 } else { 0 }),
            rng: ChaCha8Rng::seed_from_u64(spec.seed),
            prompt_rng: ChaCha8Rng::seed_from_u64(spec.seed ^ PROMPT_SEED),
            agent: target.agent(slots),
            abandon: Arc::new(AtomicBool::new(false)),
            events,
            t0: Instant::now(),
            requests: Vec::new(),
            chars: Vec::new(),
            planner: Planner::default(),
            sources: Vec::new(),
            waiting: VecDeque::new(),
            in_flight: 0,
            completed: 0,
            answered: false,
            refused: 0,
            unanswered_in_row: 0,
            first_wave: 0,
            steps: 0.0,
            warmup_ns: 0,
            unreplaced_ns: None,
        }
    }
}

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
    let schedule = level_schedule(spec);
    let (tx, rx) = mpsc::channel::<Event>();
    let mut run = Run::new(spec, target, model, tx);
    let stride = stagger_decodes(&spec.output_tokens, slots) as f64;
    let (mut next_arrival, mut interrupted, mut window_ns) = (0usize, false, None);
    loop {
        let now = run.now();
        if stop.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        if !run.answered && run.refused >= slots {
            break;
        }
        if run.answered && run.unanswered_in_row >= slots.max(GONE_AFTER) {
            break;
        }
        run.ramp(now, stride);
        while next_arrival < schedule.len() && schedule[next_arrival] <= now {
            let i = run.arrive(schedule[next_arrival], None);
            if let Some(o) = run.requests[i].origin.as_mut() {
                o.issued_ns = Some(now);
            }
            next_arrival += 1;
        }
        if let Some(drained) = past_window(spec, now) {
            window_ns = spec.duration_ns;
            if drained {
                break;
            }
        }
        run.send_waiting();
        if run.in_flight == 0 && run.waiting.is_empty() {
            let ramp_pending = closed && run.first_wave < slots && run.may_start(now);
            if next_arrival >= schedule.len() && !ramp_pending {
                if let Some(d) = spec.duration_ns {
                    window_ns = Some(d.min(run.now()));
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
            let ended = matches!(e, Event::End { .. });
            run.on_event(e);
            if ended {
                on_progress(run.completed);
            }
            event = rx.try_recv().ok();
        }
    }
    // requests still streaming are left as they are (not completed); their threads drop their connections
    run.abandon.store(true, Ordering::Relaxed);
    let duration_ns = run.now();
    if spec.duration_ns.is_none() && !interrupted && !spec.burst {
        window_ns = run.unreplaced_ns;
    }
    let prompt_tokens_processed = run
        .requests
        .iter()
        .filter(|r| !r.token_ns.is_empty())
        .map(|r| {
            let usage = r.stream.as_ref().and_then(|s| s.usage_prompt_tokens);
            u64::from(usage.unwrap_or(r.input_tokens))
        })
        .sum();
    HttpLevelRun {
        start_ns: run.t0.saturating_duration_since(origin).as_nanos() as u64,
        duration_ns,
        window_ns,
        warmup_ns: run.warmup_ns,
        prompt_tokens_processed,
        interrupted,
        in_flight_cap: slots as u32,
        unreachable: !run.answered && run.refused > 0,
        gone_after: (run.answered && run.unanswered_in_row >= slots.max(GONE_AFTER))
            .then_some(run.unanswered_in_row),
        requests: run.requests,
    }
}

/// Completes `r`'s record from how its stream ended: its token times from the chunks' (and the server's count),
/// and its failure.
fn finish(r: &mut RequestSample, chars: &[u32], end: client::Ended) {
    let usage_completion = end.usage.and_then(|u| u.completion_tokens);
    let chunks = r.token_ns.len() as u32;
    let (times, multi_token_chunks) =
        token_times(&r.token_ns, chars, usage_completion.or(end.tokenized));
    r.token_ns = times;
    r.stream = Some(StreamFacts {
        chunks,
        multi_token_chunks,
        usage_prompt_tokens: end.usage.and_then(|u| u.prompt_tokens),
        usage_completion_tokens: usage_completion,
        usage_cached_tokens: end.usage.and_then(|u| u.cached_tokens),
        tokenized_completion_tokens: end.tokenized,
        server_prompt_ms: end.usage.and_then(|u| u.server_prompt_ms),
        server_decode_ms: end.usage.and_then(|u| u.server_decode_ms),
        resent: end.resent,
    });
    r.completed = end.failure.is_none();
    r.failure = end.failure;
}
