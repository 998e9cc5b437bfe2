//! The load generator: simulated requests served with continuous batching inside one context holding several
//! sequences, the way llama-server's parallel slots work. A new request's prompt joins the batch while other
//! requests generate; a finished request's KV cells are freed for the next. Closed loop (a fixed number of
//! requests in flight) or open loop (Poisson arrivals). Tokens are fed without sampling, as llama-bench and
//! llama-batched-bench do, so every request produces exactly its requested number of output tokens. Each level
//! starts with one untimed warm-up decode, as llama-batched-bench's.
//!
//! A closed loop does not start its c requests together: with fixed lengths they would be admitted, finish and
//! be replaced together, a burst repeated rather than steady serving. Its first requests are staggered, the k-th
//! starting after k × (mean output tokens ÷ c) decodes, so completions (and the arrivals replacing them) spread
//! over a request's length. The ramp-up until all c are in flight is the level's warm-up and the time after the
//! first finished request that is not replaced is its cool-down; only requests arriving between the two are
//! measured (see [`LevelRun::warmup_ns`] and [`LevelRun::window_ns`]).

use crate::engine::{BatchDecoder, BatchToken, EngineError};
pub use crate::results::load::{Arrivals, Lengths, RequestSample};
use crate::runner::pattern::{self, Planner, PromptSource, RequestPattern};
use crate::stats::LatencyHistogram;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One request length from `lengths`: the `index`th of a list, uniform over a range.
pub fn pick(lengths: &Lengths, rng: &mut ChaCha8Rng, index: usize) -> u32 {
    match lengths {
        Lengths::Fixed(n) => *n,
        Lengths::Range(a, b) => rng.random_range(*a..=*b),
        Lengths::List(v) => v[index % v.len()],
    }
}

/// Where `now` stands against a level's `--duration`: `None` within the arrival window (or with no duration);
/// past it, `Some(false)` while the requests that arrived are drained, `Some(true)` once the drain's bound passed.
/// After the window no request arrives (the schedule ends there, a closed loop starts none).
pub fn past_window(spec: &LevelSpec, now: u64) -> Option<bool> {
    let d = spec.duration_ns.filter(|&d| now >= d)?;
    Some(now >= d + spec.drain_ns.unwrap_or(0))
}

/// A level's open-loop arrival times: a trace's schedule, else Poisson arrivals at the level's rate (none for a
/// closed loop).
pub fn level_schedule(spec: &LevelSpec) -> Vec<u64> {
    if let Some(s) = spec
        .pattern
        .as_ref()
        .and_then(|p| p.schedule(spec.requests, spec.duration_ns))
    {
        return s;
    }
    match spec.arrivals {
        Arrivals::Open { rate_per_s, .. } => {
            poisson_arrivals(rate_per_s, spec.seed, spec.requests, spec.duration_ns)
        }
        Arrivals::Closed { .. } => Vec::new(),
    }
}

/// The `index`th request of a level (arrival time 0: the caller sets it) and where its prompt comes from: its
/// lengths from the level's (drawn from `rng`) or from the pattern, which also states its origin. `replaces`
/// is the request whose end started it in a closed loop.
pub fn plan_request(
    spec: &LevelSpec,
    planner: &mut Planner,
    rng: &mut ChaCha8Rng,
    index: usize,
    replaces: Option<&RequestSample>,
) -> (RequestSample, PromptSource) {
    let blank = |input_tokens, output_tokens, origin| RequestSample {
        input_tokens,
        output_tokens,
        arrival_ns: 0,
        admitted_ns: None,
        token_ns: Vec::new(),
        completed: false,
        failure: None,
        stream: None,
        origin,
    };
    let planned = match &spec.pattern {
        None => {
            let input = pick(&spec.input_tokens, rng, index);
            let output = pick(&spec.output_tokens, rng, index);
            return (blank(input, output, None), PromptSource::Random);
        }
        Some(RequestPattern::MultiTurn {
            turns,
            system_tokens,
        }) => {
            let user = pick(&spec.input_tokens, rng, index);
            let output = pick(&spec.output_tokens, rng, index);
            planner.multi_turn((*turns, *system_tokens), replaces, user, output)
        }
        Some(RequestPattern::Trace { trace, .. }) => planner.trace(trace, index),
    };
    (
        blank(
            planned.input_tokens,
            planned.output_tokens,
            Some(planned.origin),
        ),
        planned.source,
    )
}

/// One load level to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelSpec {
    pub arrivals: Arrivals,
    pub input_tokens: Lengths,
    pub output_tokens: Lengths,
    /// Stop after this many measured requests have been started (and let them finish): a closed loop of c
    /// starts c - 1 more, its warm-up's.
    pub requests: Option<u32>,
    /// The arrival window: no request arrives after this time; the requests that arrived are then drained
    /// (served to their end) for at most `drain_ns`, and those still unfinished after it are reported as not
    /// completed.
    pub duration_ns: Option<u64>,
    /// The drain's bound after the arrival window (with `duration_ns`); `None`: no drain, the level stops at the
    /// window's end.
    #[serde(default)]
    pub drain_ns: Option<u64>,
    pub seed: u64,
    /// A closed loop's c requests start together, as llama-batched-bench's sequences do: no staggered ramp-up,
    /// and no warm-up or cool-down left out of the figures.
    #[serde(default)]
    pub burst: bool,
    /// Multi-turn sessions or a replayed trace, instead of independent requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<RequestPattern>,
}

/// What one level produced: every request, the level's length and the prompt tokens processed.
#[derive(Debug, Clone)]
pub struct LevelRun {
    pub spec: LevelSpec,
    /// When the level's clock started, in ns after the `origin` given to [`run_level`].
    pub start_ns: u64,
    pub requests: Vec<RequestSample>,
    /// The whole level: arrival window and drain.
    pub duration_ns: u64,
    /// The end of the measured arrival window: where `duration_ns` of the spec cut arrivals, or where a closed
    /// loop with a request count first left a finished request unreplaced (the cool-down, or drain, is the rest).
    pub window_ns: Option<u64>,
    /// The closed loop's warm-up: when the last of its staggered first requests arrived and all slots were in
    /// flight. Requests arriving before it are not measured (they are the leading `requests`); 0 for an open loop
    /// or a ramp that never filled every slot.
    pub warmup_ns: u64,
    pub prompt_tokens_processed: u64,
    pub interrupted: bool,
}

/// Poisson arrival times (ns) at `rate_per_s` from `seed`: `n` arrivals, or all before `until_ns`.
pub fn poisson_arrivals(
    rate_per_s: f64,
    seed: u64,
    n: Option<u32>,
    until_ns: Option<u64>,
) -> Vec<u64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut t = 0.0f64;
    let mut out = Vec::new();
    loop {
        // inverse transform sampling of the exponential inter-arrival time
        let u: f64 = rng.random_range(f64::EPSILON..1.0);
        t += -u.ln() / rate_per_s * 1e9;
        let ns = t as u64;
        if n.is_some_and(|n| out.len() as u32 >= n) || until_ns.is_some_and(|u| ns >= u) {
            return out;
        }
        if n.is_none() && until_ns.is_none() {
            return out;
        }
        out.push(ns);
    }
}

/// Tokens of the untimed warm-up decode before each level (llama-batched-bench's warm-up size).
const WARMUP_TOKENS: usize = 16;

/// The mean of a length distribution.
fn mean_length(lengths: &Lengths) -> f64 {
    match lengths {
        Lengths::Fixed(n) => *n as f64,
        Lengths::Range(a, b) => (*a as f64 + *b as f64) / 2.0,
        Lengths::List(v) => v.iter().map(|&n| n as f64).sum::<f64>() / v.len().max(1) as f64,
    }
}

/// Decodes between the staggered first requests of a closed loop of `slots`: a request's mean output length
/// spread over the slots, at least one.
pub fn stagger_decodes(output_tokens: &Lengths, slots: usize) -> u64 {
    ((mean_length(output_tokens) / slots.max(1) as f64).round() as u64).max(1)
}

struct Active {
    request: usize,
    seq: i32,
    prompt: Vec<i32>,
    prompt_done: usize,
    generated: u32,
    next_token: i32,
}

/// Live figures for a progress display.
pub struct LevelProgress<'a> {
    pub completed: usize,
    pub started: usize,
    pub itl: &'a LatencyHistogram,
}

/// One level's serving state: the requests arrived so far, those waiting for a slot, the slots, the next batch,
/// and the closed loop's ramp-up.
struct Level<'a> {
    spec: &'a LevelSpec,
    n_vocab: i32,
    n_batch: usize,
    slots: usize,
    closed: bool,
    /// Requests started at most: the request count (a closed loop's last c - 1 replace nothing measured).
    limit: Option<usize>,
    /// An open loop's arrival times.
    schedule: Vec<u64>,
    next_arrival: usize,
    rng: ChaCha8Rng,
    requests: Vec<RequestSample>,
    waiting: VecDeque<usize>,
    active: Vec<Option<Active>>,
    batch: Vec<BatchToken>,
    /// Which slot each batch entry belongs to.
    owners: Vec<usize>,
    itl: LatencyHistogram,
    completed: usize,
    prompt_tokens_processed: u64,
    /// The pattern's plan, and each request's prompt source under it.
    planner: Planner,
    sources: Vec<PromptSource>,
    // closed loop: first requests started so far, decodes done, and the ends of the warm-up and the window
    stride: u64,
    first_wave: usize,
    decodes: u64,
    warmup_ns: u64,
    unreplaced_ns: Option<u64>,
}

impl<'a> Level<'a> {
    fn new(spec: &'a LevelSpec, n_vocab: i32, n_batch: usize) -> Level<'a> {
        let slots = spec.arrivals.slots().max(1) as usize;
        let schedule = level_schedule(spec);
        let closed = matches!(spec.arrivals, Arrivals::Closed { .. });
        let limit = spec
            .requests
            .map(|n| n as usize + if closed && !spec.burst { slots - 1 } else { 0 });
        Level {
            spec,
            n_vocab,
            n_batch,
            slots,
            closed,
            limit,
            requests: Vec::with_capacity(limit.unwrap_or(schedule.len()).max(slots).min(1 << 16)),
            schedule,
            next_arrival: 0,
            rng: ChaCha8Rng::seed_from_u64(spec.seed),
            waiting: VecDeque::new(),
            active: (0..slots).map(|_| None).collect(),
            batch: Vec::with_capacity(n_batch),
            owners: Vec::with_capacity(n_batch),
            itl: LatencyHistogram::new(),
            completed: 0,
            prompt_tokens_processed: 0,
            planner: Planner::default(),
            sources: Vec::new(),
            stride: stagger_decodes(&spec.output_tokens, slots),
            first_wave: 0,
            decodes: 0,
            warmup_ns: 0,
            unreplaced_ns: None,
        }
    }

    /// The untimed warm-up decode of [`WARMUP_TOKENS`] random tokens.
    fn warm_up(&mut self, decoder: &mut dyn BatchDecoder) -> Result<(), EngineError> {
        let n = WARMUP_TOKENS.min(self.n_batch);
        let warmup: Vec<BatchToken> = (0..n)
            .map(|i| BatchToken {
                token: self.rng.random_range(0..self.n_vocab),
                pos: i as i32,
                seq: 0,
                logits: i + 1 == n,
            })
            .collect();
        decoder.decode(&warmup)?;
        decoder.release(0);
        Ok(())
    }

    /// A request arriving at `arrival_ns` (in a closed loop, replacing request `replaces`), queued for a slot.
    fn arrive(&mut self, arrival_ns: u64, replaces: Option<usize>) -> usize {
        let i = self.requests.len();
        let sample = plan_request(
            self.spec,
            &mut self.planner,
            &mut self.rng,
            i,
            replaces.map(|r| &self.requests[r]),
        );
        self.sources.push(sample.1);
        self.requests.push(RequestSample {
            arrival_ns,
            ..sample.0
        });
        self.waiting.push_back(i);
        i
    }

    /// Whether another request may start at `now`: the request count and the duration allow it.
    fn may_start(&self, now: u64) -> bool {
        self.limit.is_none_or(|l| self.requests.len() < l)
            && self.spec.duration_ns.is_none_or(|d| now < d)
    }

    /// The staggered ramp-up of a closed loop: the k-th first request after k strides of decodes (at once when
    /// nothing runs); a burst's every one at the level's start.
    fn ramp_up(&mut self, now: u64) {
        let burst = self.spec.burst;
        let idle = self.waiting.is_empty() && self.active.iter().all(Option::is_none);
        while self.closed
            && self.first_wave < self.slots
            && (burst || self.decodes >= self.first_wave as u64 * self.stride || idle)
            && self.may_start(now)
        {
            // the first request (a burst's every one) arrives at the level's start
            let i = self.arrive(
                if self.first_wave == 0 || burst {
                    0
                } else {
                    now
                },
                None,
            );
            self.first_wave += 1;
            if self.first_wave == self.slots && !burst {
                self.warmup_ns = self.requests[i].arrival_ns;
            }
            if !burst {
                break;
            }
        }
    }

    /// An open loop's requests whose arrival time has come.
    fn scheduled_arrivals(&mut self, now: u64) {
        while self.next_arrival < self.schedule.len() && self.schedule[self.next_arrival] <= now {
            let i = self.arrive(self.schedule[self.next_arrival], None);
            if let Some(o) = self.requests[i].origin.as_mut() {
                o.issued_ns = Some(now);
            }
            self.next_arrival += 1;
        }
    }

    /// Waiting requests into free slots, each with its random prompt.
    fn admit(&mut self, now: u64) {
        for (slot, state) in self.active.iter_mut().enumerate() {
            if state.is_none() {
                let Some(r) = self.waiting.pop_front() else {
                    break;
                };
                self.requests[r].admitted_ns = Some(now);
                let len = self.requests[r].input_tokens;
                let prompt = match pattern::prompt(
                    self.spec.seed,
                    &self.sources[r],
                    len,
                    self.n_vocab.max(1) as u32,
                ) {
                    Some(p) => p.into_iter().map(|t| t as i32).collect(),
                    None => (0..len)
                        .map(|_| self.rng.random_range(0..self.n_vocab))
                        .collect(),
                };
                *state = Some(Active {
                    request: r,
                    seq: slot as i32,
                    prompt,
                    prompt_done: 0,
                    generated: 0,
                    next_token: self.rng.random_range(0..self.n_vocab),
                });
            }
        }
    }

    /// The next batch: every generating slot's next token first, then the prompts in the room left.
    fn fill_batch(&mut self) {
        self.batch.clear();
        self.owners.clear();
        for (slot, a) in self.active.iter().enumerate() {
            if let Some(a) = a.as_ref().filter(|a| a.prompt_done == a.prompt.len()) {
                let pos = (a.prompt.len() as u32 + a.generated - 1) as i32;
                self.batch.push(BatchToken {
                    token: a.next_token,
                    pos,
                    seq: a.seq,
                    logits: true,
                });
                self.owners.push(slot);
            }
        }
        for (slot, a) in self.active.iter_mut().enumerate() {
            let Some(a) = a.as_mut().filter(|a| a.prompt_done < a.prompt.len()) else {
                continue;
            };
            let room = self.n_batch - self.batch.len();
            if room == 0 {
                break;
            }
            let take = room.min(a.prompt.len() - a.prompt_done);
            for k in 0..take {
                let i = a.prompt_done + k;
                self.batch.push(BatchToken {
                    token: a.prompt[i],
                    pos: i as i32,
                    seq: a.seq,
                    logits: i + 1 == a.prompt.len(),
                });
                self.owners.push(slot);
            }
            a.prompt_done += take;
            self.prompt_tokens_processed += take as u64;
        }
    }

    /// The batch decoded at `t`: each entry with logits is a slot that now has a new output token; a finished
    /// request frees its slot (and its KV cells) and, in a closed loop, is replaced while requests may start.
    fn tokens_out(&mut self, t: u64, decoder: &mut dyn BatchDecoder) {
        for k in 0..self.batch.len() {
            if !self.batch[k].logits {
                continue;
            }
            let slot = self.owners[k];
            let a = self.active[slot].as_mut().expect("slot in batch is active");
            let req = &mut self.requests[a.request];
            if let Some(&prev) = req.token_ns.last() {
                self.itl.record(t - prev);
            }
            req.token_ns.push(t);
            a.generated += 1;
            a.next_token = self.rng.random_range(0..self.n_vocab);
            if a.generated == req.output_tokens {
                req.completed = true;
                self.completed += 1;
                decoder.release(a.seq);
                let ended = a.request;
                self.active[slot] = None;
                if self.closed && self.may_start(t) {
                    self.arrive(t, Some(ended));
                } else if self.closed
                    && self.first_wave == self.slots
                    && self.unreplaced_ns.is_none()
                {
                    // the cool-down begins: from here fewer than c requests are in flight
                    self.unreplaced_ns = Some(t);
                }
            }
        }
    }
}

/// Runs one level on `decoder`. `n_vocab` bounds the random token ids; `origin` is the clock the level's start
/// is stated against (the sensors' window start); `stop` is polled every iteration.
pub fn run_level(
    decoder: &mut dyn BatchDecoder,
    spec: &LevelSpec,
    n_vocab: i32,
    origin: Instant,
    stop: &AtomicBool,
    mut on_progress: impl FnMut(&LevelProgress),
) -> Result<LevelRun, EngineError> {
    let mut l = Level::new(spec, n_vocab, decoder.n_batch());
    let mut interrupted = false;
    let mut window_ns = None;
    l.warm_up(decoder)?;

    let t0 = Instant::now();
    loop {
        let now = t0.elapsed().as_nanos() as u64;
        if stop.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        l.ramp_up(now);
        l.scheduled_arrivals(now);
        if let Some(drained) = past_window(spec, now) {
            window_ns = spec.duration_ns;
            if drained {
                break;
            }
        }
        l.admit(now);
        l.fill_batch();

        if l.batch.is_empty() {
            let ramp_pending = l.closed && l.first_wave < l.slots && l.may_start(now);
            if l.waiting.is_empty() && l.next_arrival >= l.schedule.len() && !ramp_pending {
                if let Some(d) = spec.duration_ns {
                    // everything that arrived finished: the window is what the duration gave, or less when the
                    // schedule (or the request count) ended first
                    window_ns = Some(d.min(t0.elapsed().as_nanos() as u64));
                }
                break;
            }
            if let Some(&t) = l.schedule.get(l.next_arrival) {
                let now = t0.elapsed().as_nanos() as u64;
                std::thread::sleep(Duration::from_nanos(t.saturating_sub(now).min(1_000_000)));
            }
            continue;
        }

        decoder.decode(&l.batch)?;
        l.decodes += 1;
        let t = t0.elapsed().as_nanos() as u64;
        l.tokens_out(t, decoder);
        on_progress(&LevelProgress {
            completed: l.completed,
            started: l.requests.len(),
            itl: &l.itl,
        });
    }
    let duration_ns = t0.elapsed().as_nanos() as u64;
    let start_ns = t0.saturating_duration_since(origin).as_nanos() as u64;
    if spec.duration_ns.is_none() && !interrupted && !spec.burst {
        window_ns = l.unreplaced_ns;
    }
    for a in l.active.iter().flatten() {
        decoder.release(a.seq);
    }
    Ok(LevelRun {
        spec: spec.clone(),
        start_ns,
        requests: l.requests,
        duration_ns,
        window_ns,
        warmup_ns: l.warmup_ns,
        prompt_tokens_processed: l.prompt_tokens_processed,
        interrupted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_schedule_is_reproducible_from_its_seed() {
        let a = poisson_arrivals(2.0, 42, Some(50), None);
        let b = poisson_arrivals(2.0, 42, Some(50), None);
        let c = poisson_arrivals(2.0, 43, Some(50), None);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 50);
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn poisson_mean_rate_is_close_to_the_requested_rate() {
        let a = poisson_arrivals(4.0, 7, Some(4000), None);
        let rate = a.len() as f64 / (*a.last().unwrap() as f64 / 1e9);
        assert!((rate - 4.0).abs() < 0.25, "{rate}");
    }

    #[test]
    fn duration_bounds_the_schedule() {
        let a = poisson_arrivals(10.0, 1, None, Some(2_000_000_000));
        assert!(a.iter().all(|&t| t < 2_000_000_000));
        assert!(!a.is_empty());
    }
}
