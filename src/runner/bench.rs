//! One benchmark case, llama-bench's methodology: random token ids, warm-up, a fresh KV cache per repetition,
//! the clock around prompt processing and generation only.

use super::cases::Case;
use super::meter::Meter;
use crate::engine::{self, EngineError, Model};
pub use crate::results::record::RepSample;
use crate::stats::{self, StopReason};
use crate::telemetry::Window;
use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// A case and what running it produced.
#[derive(Debug, Clone)]
pub struct CaseRun {
    pub case: Case,
    pub started_at: DateTime<Utc>,
    pub samples: Vec<RepSample>,
    /// False when the run was interrupted before every repetition finished.
    pub complete: bool,
    pub stop_reason: StopReason,
    /// The sensors' readings over the repetitions (not the warm-up).
    pub windows: Vec<Window>,
    /// When the repetitions' clock (their `start_ns` 0) began, on the system-wide monotonic clock.
    pub origin_mono_ns: u64,
}

/// llama-bench's token stream: the first token of each decode call sequence is BOS when the vocabulary adds
/// one, the rest uniform over the vocabulary.
fn random_tokens(rng: &mut ChaCha8Rng, n: u32, model: &Model) -> Vec<i32> {
    (0..n)
        .map(|i| match (i, model.bos) {
            (0, Some(bos)) => bos,
            _ => rng.random_range(0..model.n_vocab),
        })
        .collect()
}

/// Runs `case` on an already loaded `model`, repeating until its stop rule says so, with `meter`'s sensors
/// reading over the repetitions. `stop` is polled between repetitions; `on_rep` is called with 0 after the
/// warm-up and with the number done after each finished repetition.
pub fn run_case(
    model: &Model,
    case: &Case,
    meter: &mut Meter,
    stop: &AtomicBool,
    mut on_rep: impl FnMut(u32),
) -> Result<CaseRun, EngineError> {
    let t = case.test;
    let mut session = engine::new_session(model, &case.context)?;
    let mut rng = ChaCha8Rng::seed_from_u64(case.seed);
    let started_at = Utc::now();

    for _ in 0..case.warmup_runs {
        session.clear();
        if t.n_prompt > 0 {
            session.prompt(&random_tokens(&mut rng, t.n_prompt, model), 0)?;
        }
        if t.n_gen > 0 {
            let tok = random_tokens(&mut rng, 1, model);
            session.generate(&tok, t.n_prompt as i32, Instant::now(), &mut [0])?;
        }
    }
    if case.warmup_runs > 0 {
        on_rep(0);
    }

    let rule = case.stop_rule;
    let reserve = rule.max_runs.min(1024) as usize;
    let mut samples = Vec::with_capacity(reserve);
    let mut rates = Vec::with_capacity(reserve);
    let (measuring, origin_mono_ns) = crate::clock::now();
    meter.start(measuring);
    let mut repeat = || -> Result<StopReason, EngineError> {
        loop {
            if stop.load(Ordering::Relaxed) {
                break Ok(StopReason::Interrupted);
            }
            let depth = random_tokens(&mut rng, t.n_depth, model);
            let prompt = random_tokens(&mut rng, t.n_prompt, model);
            let gen = random_tokens(&mut rng, t.n_gen, model);
            let mut stamps = vec![0u64; t.n_gen as usize];
            session.clear();
            if t.n_depth > 0 {
                session.prompt(&depth, 0)?;
            }

            let t0 = Instant::now();
            if t.n_prompt > 0 {
                session.prompt(&prompt, t.n_depth as i32)?;
            }
            let prompt_done = t0.elapsed();
            if t.n_gen > 0 {
                session.generate(&gen, (t.n_depth + t.n_prompt) as i32, t0, &mut stamps)?;
            }
            let total = t0.elapsed();

            let prompt_ns = prompt_done.as_nanos() as u64;
            let total_ns = total.as_nanos() as u64;
            samples.push(RepSample {
                prompt_ns: (t.n_prompt > 0).then_some(prompt_ns),
                gen_ns: (t.n_gen > 0).then_some(total_ns - prompt_ns),
                total_ns,
                gen_token_ns: stamps,
                start_ns: Some((t0 - measuring).as_nanos() as u64),
            });
            rates.extend(stats::rates_per_s(t.n_tokens(), &[total_ns]));
            on_rep(samples.len() as u32);
            if let Some(reason) = rule.check(&rates, measuring.elapsed()) {
                break Ok(reason);
            }
        }
    };
    let outcome = repeat();
    let windows = meter.stop();
    let stop_reason = outcome?;
    Ok(CaseRun {
        case: case.clone(),
        started_at,
        samples,
        complete: stop_reason != StopReason::Interrupted,
        stop_reason,
        windows,
        origin_mono_ns,
    })
}
