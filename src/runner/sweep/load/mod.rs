//! The load sweep: serving load levels (closed-loop concurrency or Poisson arrival rates) with continuous
//! batching as units of the executor, each level in a worker process (or in-process); the SLO check over all
//! arrivals, goodput, the saturation rule that stops adding levels, and the operating point. With `--endpoint` the
//! levels are sent to a server over HTTP instead (`http`), as units of the same executor run in this process.

mod gate;
mod http;
mod levels;

pub use levels::{
    default_requests, drain_bound_ns, DEFAULT_OPEN_LOOP_SLOTS, DEFAULT_REQUEST_TOKENS,
};

use self::gate::{self_tested, Checked};
use self::levels::{
    level_key, levels, request_shape, rising, slo_warnings, spec_key, REPLICATE_SEED,
};
use crate::analysis::load::{
    needs_replicate, operating_point, saturation, summarize_level, LevelSamples,
};
use crate::engine::ContextParams;
use crate::estimate::MeasuredLevel;
use crate::exit::InputError;
use crate::results::load::{LevelRecord, LevelSummary, LoadSweep, OperatingPoint, StoppedEarly};
use crate::results::record::NumericsVerdict;
use crate::results::slo::SloTerm;
use crate::results::telemetry::IdleBaseline;
use crate::results::{ModelEntry, ResultFile, Warning};
use crate::runner::checkpoint::{Entry, Header};
use crate::runner::energy::level_energy;
use crate::runner::estimates::{measured_level, Estimator};
use crate::runner::executor::{failed, Executor, Next, Sweep, UnitCtx, UnitError};
use crate::runner::finish::{self, BaselineOutcome, Finished, Measured};
use crate::runner::load::{Arrivals, Lengths, LevelSpec};
use crate::runner::options::{check_engine, EngineOptions, RunOptions};
use crate::runner::pattern::{RequestPattern, Trace};
use crate::runner::probe::EngineConfig;
use crate::runner::sensors as tm;
use crate::runner::setup::{self, backends_of, Setup};
use crate::runner::worker::{Job, Reply};
use std::path::PathBuf;
use std::time::Duration;

pub struct LoadOptions {
    pub model: Option<String>,
    pub concurrency: Vec<u32>,
    pub rates: Vec<f64>,
    /// Sequence slots for open-loop levels; `None`: 16.
    pub parallel: Option<u32>,
    /// `None`: the workload's, else 128.
    pub input_tokens: Option<Lengths>,
    /// `None`: the workload's, else 128.
    pub output_tokens: Option<Lengths>,
    /// A `[[workload]]` of models.toml supplying request lengths and the SLO where no flag gives them.
    pub workload: Option<String>,
    /// Requests per level; `None` with no duration: [`default_requests`].
    pub requests: Option<u32>,
    pub duration: Option<Duration>,
    /// `None`: the workload's SLO, else none.
    pub slo: Option<Vec<SloTerm>>,
    pub engine: EngineOptions,
    pub seed: u64,
    pub run: RunOptions,
    /// Run levels that preflight would refuse for memory or the trained context.
    pub force: bool,
    /// Stop adding levels once one saturates (`analysis::load::saturation`): the levels must rise.
    pub until_saturated: bool,
    /// `--burst`: a closed loop's requests start together (see `LevelSpec::burst`).
    pub burst: bool,
    /// Asked before each level after the first: a reason to add no more levels (e.g. a time budget), or `None`.
    pub gate: Option<LevelGate>,
    /// `--endpoint`: the levels go to this server over HTTP (no model file, engine flags, self-test or gate).
    pub http: Option<crate::runner::http::HttpTarget>,
    /// `--turns`/`--system-tokens` or `--trace`/`--trace-speed`: requests that are not independent.
    pub pattern: Option<PatternOptions>,
}

/// A sweep's request pattern: multi-turn sessions at every level, or a trace replayed at each speed (a level per
/// speed).
#[derive(Debug, Clone)]
pub enum PatternOptions {
    MultiTurn { turns: u32, system_tokens: u32 },
    Trace { trace: Trace, speeds: Vec<f64> },
}

impl PatternOptions {
    /// Level `index`'s pattern.
    fn level(&self, index: usize) -> RequestPattern {
        match self {
            PatternOptions::MultiTurn {
                turns,
                system_tokens,
            } => RequestPattern::MultiTurn {
                turns: *turns,
                system_tokens: *system_tokens,
            },
            PatternOptions::Trace { trace, speeds } => RequestPattern::Trace {
                trace: trace.clone(),
                speed: speeds[index],
            },
        }
    }

    /// What the result file records of the pattern (and what a resumed run must match).
    fn parameters(&self) -> serde_json::Value {
        match self {
            PatternOptions::MultiTurn {
                turns,
                system_tokens,
            } => {
                serde_json::json!({"multi_turn": {"turns": turns, "system_tokens": system_tokens}})
            }
            PatternOptions::Trace { trace, speeds } => serde_json::json!({"trace": {
                "file": trace.file,
                "sha256": trace.sha256,
                "format": trace.format,
                "requests": trace.requests.len(),
                "block_tokens": trace.block_tokens,
                "rate_per_s": trace.rate_per_s(),
                "speeds": speeds,
            }}),
        }
    }
}

/// See [`LoadOptions::gate`]: the next level's arrivals and the levels measured so far.
pub type LevelGate = Box<dyn Fn(&Arrivals, &[LevelRecord]) -> Option<String>>;

pub struct LoadOutcome {
    pub result_path: PathBuf,
    pub result: ResultFile,
    /// What became of `--save-baseline`, when it was given.
    pub baseline: Option<BaselineOutcome>,
}

/// A level to run: its index in the sweep's levels, and whether it is that level run again (with another seed)
/// to confirm saturation.
#[derive(Debug, Clone, Copy)]
struct Level {
    index: usize,
    replicate: bool,
}

/// The levels of a load run as the executor's units.
struct Levels<'a> {
    opts: &'a LoadOptions,
    arrivals: Vec<Arrivals>,
    input_tokens: Lengths,
    output_tokens: Lengths,
    slo: Vec<SloTerm>,
    server: Server<'a>,
    next: usize,
    stopped_early: Option<StoppedEarly>,
    idle: Vec<IdleBaseline>,
    energy_absent_reason: Option<String>,
}

/// What serves a sweep's levels.
enum Server<'a> {
    /// llama.cpp on a model file, each level in a worker process (or in-process).
    Engine(Engine<'a>),
    /// A server over HTTP, each level in this process.
    Http(http::Remote),
}

/// llama.cpp's side of a sweep: the model, the configuration the self-test left, each level's estimate.
struct Engine<'a> {
    path: PathBuf,
    used: EngineConfig,
    /// Why the self-test left no configuration to run with.
    blocked: Option<String>,
    /// The model's entry; its `model_type` is filled in once llama.cpp has loaded it.
    entry: &'a mut ModelEntry,
    /// Each level's expected run time, from which its worker's limits derive.
    estimator: Estimator,
    /// The last level measured, for the next one's estimate.
    previous: Option<MeasuredLevel>,
}

impl Levels<'_> {
    fn spec(&self, l: Level) -> LevelSpec {
        let o = self.opts;
        let a = self.arrivals[l.index];
        LevelSpec {
            arrivals: a,
            input_tokens: self.input_tokens.clone(),
            output_tokens: self.output_tokens.clone(),
            requests: o.requests.or(
                if o.duration.is_none() && !matches!(o.pattern, Some(PatternOptions::Trace { .. }))
                {
                    Some(default_requests(a.slots()))
                } else {
                    None
                },
            ),
            duration_ns: o.duration.map(|d| d.as_nanos() as u64),
            drain_ns: o.duration.map(|_| drain_bound_ns(&self.slo)),
            seed: o
                .seed
                .wrapping_add(l.index as u64)
                .wrapping_add(if l.replicate { REPLICATE_SEED } else { 0 }),
            burst: o.burst,
            pattern: o.pattern.as_ref().map(|p| p.level(l.index)),
        }
    }

    fn context(&self, used: &EngineConfig, a: &Arrivals) -> ContextParams {
        let e = &self.opts.engine;
        let (input, output) = match &self.opts.pattern {
            Some(p) => p
                .level(0)
                .max_lengths(&self.input_tokens, &self.output_tokens),
            None => (self.input_tokens.max(), self.output_tokens.max()),
        };
        ContextParams {
            n_ctx: a.slots() * (input + output),
            n_batch: e.n_batch,
            n_ubatch: e.n_ubatch,
            n_threads: used.n_threads,
            flash_attn: used.flash_attn,
            offload_kqv: !e.no_kv_offload,
            type_k: used.type_k.clone(),
            type_v: used.type_v.clone(),
            n_seq_max: a.slots(),
        }
    }

    /// Ends the sweep after `done`'s last level, leaving out the levels from `from` on.
    fn stop(&mut self, done: &[LevelRecord], from: usize, reason: String) -> Next<Level> {
        self.stopped_early = Some(StoppedEarly {
            after: done.last().map(|l| l.summary.label()).unwrap_or_default(),
            reason: reason.clone(),
            levels_not_run: self.arrivals[from..].iter().map(Arrivals::label).collect(),
        });
        Next::Stop(reason)
    }

    /// With `--until-saturated`: the level the saturation rule would stop on for its rise alone is run once more
    /// (`replicate`) before the rule decides on the mean of both runs; no level is added after one that
    /// saturated or missed the SLO, or when the gate (a larger run's budget) says so.
    fn next_level(&mut self, done: &[LevelRecord], i: usize) -> Next<Level> {
        let gate = |a: &Arrivals| self.opts.gate.as_ref().and_then(|g| g(a, done));
        let summaries: Vec<LevelSummary> = done.iter().map(|l| l.summary.clone()).collect();
        if self.opts.until_saturated && i > 0 && needs_replicate(&summaries) {
            match gate(&self.arrivals[i - 1]) {
                None => {
                    self.next -= 1;
                    return Next::Run(Level {
                        index: i - 1,
                        replicate: true,
                    });
                }
                Some(why) => {
                    let rule = saturation(&summaries, |s| s.label()).unwrap_or_default();
                    return self.stop(done, i, format!("{rule} (not run again to confirm: {why})"));
                }
            }
        }
        let why = self
            .opts
            .until_saturated
            .then(|| saturation(&summaries, |s| s.label()))
            .flatten()
            .or_else(|| gate(&self.arrivals[i]));
        match why {
            Some(reason) => self.stop(done, i, reason),
            None => Next::Run(Level {
                index: i,
                replicate: false,
            }),
        }
    }
}

impl Levels<'_> {
    /// The progress message of level `l` with `done` requests done.
    fn progress(&self, l: &Level) -> impl Fn(u64) -> String {
        let (n, total, label) = (
            l.index + 1,
            self.arrivals.len(),
            self.arrivals[l.index].label(),
        );
        move |done: u64| format!("level {n}/{total} {label}: {done} requests done")
    }

    /// Level `l` run by llama.cpp in a worker (or in-process).
    fn engine_level(
        &mut self,
        l: &Level,
        spec: LevelSpec,
        ctx: &mut UnitCtx,
    ) -> Result<LevelRecord, UnitError> {
        let Server::Engine(e) = &self.server else {
            return Err(failed("a load level without an engine"));
        };
        if let Some(why) = &e.blocked {
            return Err(failed(why.clone()));
        }
        let label = self.arrivals[l.index].label();
        let job = Job::LoadLevel {
            model_path: e.path.clone(),
            model: e.used.model_params(self.opts.engine.use_mmap),
            context: self.context(&e.used, &spec.arrivals),
            spec: spec.clone(),
        };
        let estimate =
            e.estimator
                .load_level(&*e.entry, &spec, e.used.n_threads, e.previous.as_ref());
        let show = self.progress(l);
        ctx.show(show(0));
        let done = ctx.execute(job, &label, Some(estimate), show)?;
        let Reply::Load(d) = done.reply else {
            return Err(failed(format!(
                "worker replied {:?} to a load level",
                done.reply
            )));
        };
        if let Server::Engine(e) = &mut self.server {
            e.entry.model_type = d.model.desc.clone();
        }
        let start_ns =
            crate::clock::rebase(d.start_ns, d.origin_mono_ns, done.window_mono_ns).unwrap_or(0);
        let summary = summarize_level(
            &LevelSamples {
                arrivals: spec.arrivals,
                requests: &d.requests,
                duration_ns: d.duration_ns,
                window_ns: d.window_ns,
                warmup_ns: d.warmup_ns,
                prompt_tokens_processed: d.prompt_tokens_processed,
                interrupted: d.interrupted,
            },
            &self.slo,
        );
        let output_tokens = d.requests.iter().map(|r| r.token_ns.len() as u64).sum();
        let energy = level_energy(
            &done.windows,
            Some((start_ns, start_ns + d.duration_ns)),
            output_tokens,
            &self.idle,
            self.energy_absent_reason.as_deref(),
        );
        Ok(LevelRecord {
            summary,
            input_tokens: spec.input_tokens,
            output_tokens: spec.output_tokens,
            seed: spec.seed,
            prompt_tokens_processed: d.prompt_tokens_processed,
            start_ns: Some(start_ns),
            requests: d.requests,
            energy,
            process: d.process,
            limits: done.limits,
            http: None,
        })
    }
}

impl Sweep for Levels<'_> {
    type Unit = Level;
    type Record = LevelRecord;

    fn next(&mut self, done: &[LevelRecord]) -> Next<Level> {
        if self.next == self.arrivals.len() {
            return Next::Done;
        }
        if let Server::Engine(e) = &mut self.server {
            e.previous = done.last().map(measured_level);
        }
        self.next += 1;
        let i = self.next - 1;
        if done.is_empty() {
            return Next::Run(Level {
                index: i,
                replicate: false,
            });
        }
        self.next_level(done, i)
    }

    fn unit_key(&self, l: &Level) -> String {
        spec_key(&self.spec(*l))
    }

    fn record_key(&self, r: &LevelRecord) -> String {
        level_key(r)
    }

    fn label(&self, l: &Level) -> String {
        self.arrivals[l.index].label()
    }

    fn parameters(&self, l: &Level) -> serde_json::Value {
        serde_json::to_value(self.spec(*l)).expect("a level serializes")
    }

    fn run(&mut self, l: &Level, ctx: &mut UnitCtx) -> Result<LevelRecord, UnitError> {
        let spec = self.spec(*l);
        let mut record = if let Server::Http(remote) = &self.server {
            http::run_level(self, remote, l, spec, ctx)?
        } else {
            self.engine_level(l, spec, ctx)?
        };
        record.summary.replicate = l.replicate;
        Ok(record)
    }

    fn warnings(&self, r: &LevelRecord) -> Vec<Warning> {
        let label = r.summary.label();
        let mut out = slo_warnings(&label, &r.summary);
        out.extend(tm::flag_warnings(&label, r.energy.iter()));
        out.extend(r.http.iter().flat_map(|h| http::failed_requests(&label, h)));
        out
    }

    fn entry(&self, r: &LevelRecord) -> Option<Entry> {
        (!r.summary.interrupted).then(|| Entry::Level(Box::new(r.clone())))
    }

    fn from_entry(&self, e: Entry) -> Option<LevelRecord> {
        match e {
            Entry::Level(l) => Some(*l),
            _ => None,
        }
    }

    fn len(&self) -> Option<u64> {
        None
    }

    fn units(&self) -> &'static str {
        "levels"
    }
}

/// What the result file records of a load run's parameters (and what a resumed run must match).
fn parameters(
    opts: &LoadOptions,
    arrivals: &[Arrivals],
    (input_tokens, output_tokens, slo): (&Lengths, &Lengths, &[SloTerm]),
    n_threads: u32,
    setup: &Setup,
) -> serde_json::Value {
    let e = &opts.engine;
    serde_json::json!({
        "arrivals": arrivals,
        "workload": opts.workload,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "requests": opts.requests,
        "duration_s": opts.duration.map(|d| d.as_secs_f64()),
        "slo": slo,
        "n_threads": n_threads,
        "engine": {
            "n_gpu_layers": e.n_gpu_layers,
            "n_batch": e.n_batch,
            "n_ubatch": e.n_ubatch,
            "flash_attn": e.flash_attn,
            "no_kv_offload": e.no_kv_offload,
            "type_k": e.type_k,
            "type_v": e.type_v,
            "use_mmap": e.use_mmap,
            "repack": e.repack,
        },
        "verify": opts.run.verify,
        "backends": backends_of(&setup.build),
        "seed": opts.seed,
        "until_saturated": opts.until_saturated,
        "burst": opts.burst,
        "pattern": opts.pattern.as_ref().map(PatternOptions::parameters),
    })
}

/// The configuration the self-test is asked about: the engine flags, with `n_threads` resolved.
fn asked(e: &EngineOptions, n_threads: u32) -> EngineConfig {
    EngineConfig {
        n_gpu_layers: e.n_gpu_layers,
        repack: e.repack,
        n_threads,
        flash_attn: e.flash_attn,
        type_k: e.type_k.clone(),
        type_v: e.type_v.clone(),
        no_amx: false,
    }
}

/// The operating point of the levels swept, with the warnings of the sweep's end: it was stopped with
/// `records` of `n_levels` done, or the operating point's requests did not all complete.
pub(super) fn sweep_end(
    run: &RunOptions,
    records: &[LevelRecord],
    n_levels: usize,
    warnings: &mut Vec<Warning>,
) -> Option<OperatingPoint> {
    if run.stopped() {
        warnings.push(Warning::Interrupted {
            cases_done: records.iter().filter(|l| !l.summary.interrupted).count(),
            cases_total: n_levels,
        });
    }
    let op = operating_point(records);
    if let Some(op) = op.as_ref().filter(|op| op.requests_not_completed > 0) {
        warnings.push(Warning::OperatingPointUnfinished {
            level: records[op.level_index].summary.label(),
            requests_not_completed: op.requests_not_completed,
        });
    }
    op
}

/// `tokenmeter load`.
pub fn run(opts: &LoadOptions) -> anyhow::Result<LoadOutcome> {
    if let Some(target) = &opts.http {
        return http::run(opts, target);
    }
    check_engine(&opts.engine)?;
    let arrivals = levels(opts)?;
    if opts.until_saturated && !rising(&arrivals) {
        return Err(InputError(
            "--until-saturated: the levels must rise (e.g. -c 1,2,4,8 or --rate 1,2,4)".into(),
        )
        .into());
    }
    let run = &opts.run;
    let mut setup = Setup::open(run, opts.model.as_slice())?;
    let (input_tokens, output_tokens, slo) = request_shape(opts, &setup.config)?;
    crate::preflight::load(opts, &arrivals, &input_tokens, &output_tokens, &setup)?;
    let path = setup.models[0].clone();
    let n_threads = opts
        .engine
        .n_threads
        .unwrap_or_else(|| setup.host.default_threads());
    let asked = asked(&opts.engine, n_threads);
    let checked: Checked = self_tested(&asked, &path, &setup, run)?;
    let parameters = parameters(
        opts,
        &arrivals,
        (&input_tokens, &output_tokens, &slo),
        n_threads,
        &setup,
    );
    let header = Header::new("load", setup::identity(&setup, run, parameters.clone()));
    let (result_path, checkpoint, resumed, read_warnings) =
        setup::claim(&setup, run, "-load", &header)?;
    let n_levels = arrivals.len();
    let estimator = Estimator::new(&setup);
    let Setup { entries, meter, .. } = &mut setup;
    let mut sweep = Levels {
        opts,
        arrivals: arrivals.clone(),
        input_tokens: input_tokens.clone(),
        output_tokens: output_tokens.clone(),
        slo: slo.clone(),
        server: Server::Engine(Engine {
            path: path.clone(),
            used: checked.used.clone().unwrap_or_else(|| asked.clone()),
            blocked: checked.blocked.clone(),
            entry: &mut entries[0],
            estimator,
            previous: None,
        }),
        next: 0,
        stopped_early: None,
        idle: meter.idle.clone(),
        energy_absent_reason: meter.energy_absent_reason.clone(),
    };
    let executor = Executor::new(run, Some((checkpoint, resumed, read_warnings)));
    let mut swept = executor.run(&mut sweep, meter);
    let stopped_early = sweep.stopped_early.take();
    let mut warnings = checked.warnings.clone();
    warnings.append(&mut swept.warnings);
    let on_cpu = backends_of(&setup.build) == "CPU" || opts.engine.n_gpu_layers == 0;
    let (bandwidth, bandwidth_warning) = if run.stopped() {
        (setup.configured_bandwidth.clone(), None)
    } else {
        tm::load_bandwidth(
            &run.telemetry,
            setup.configured_bandwidth.clone(),
            &setup.meter,
            on_cpu,
            &setup.host,
        )
    };
    warnings.extend(bandwidth_warning);
    let records = std::mem::take(&mut swept.records);
    let op = sweep_end(run, &records, n_levels, &mut warnings);
    let measured = Measured {
        kind: "load",
        parameters,
        cases: Vec::new(),
        load: Some(LoadSweep {
            model: path.display().to_string(),
            slo,
            levels: records,
            operating_point: op,
            stopped_early,
            numerics_failed: checked
                .numerics
                .as_ref()
                .is_some_and(|n| n.verdict == NumericsVerdict::Failed),
            numerics: checked.numerics,
            weight_buffers_mib: checked.weight_buffers_mib,
            offloaded: checked.offloaded,
            engine_fallback: checked.fallback,
            server: None,
        }),
        bandwidth,
        warnings,
        failed: std::mem::take(&mut swept.failed),
        failure: swept.failure.take(),
    };
    let whole = swept.whole;
    let Finished { result, baseline } = finish::finish(
        setup,
        run,
        measured,
        &result_path,
        swept.checkpoint.take(),
        whole,
    )?;
    Ok(LoadOutcome {
        result_path,
        result,
        baseline,
    })
}
