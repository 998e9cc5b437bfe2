//! The bench sweep: llama-bench's tests as units of the executor, each case in a worker process (or in-process),
//! gated for numerics against the CPU reference once per engine configuration, then the roofline of the
//! generation cases and the result file with every raw sample.

mod cases;
pub mod record;
mod roofline;

pub use cases::{check, grid, BenchOptions};

use self::cases::{self_tested, shard_cases, CaseFallback};
use self::record::{case_key, case_label, case_run, record_key, CaseExtras, Provenance};
use crate::engine::BuildInfo;
use crate::results::record::{Kernels, Numerics, NumericsVerdict};
use crate::results::telemetry::IdleBaseline;
use crate::results::{CaseRecord, HostInfo, ModelEntry, ResultFile, Warning};
use crate::runner::checkpoint::{Entry, Header};
use crate::runner::estimates::Estimator;
use crate::runner::executor::{failed, Executor, Next, Sweep, UnitCtx, UnitError};
use crate::runner::finish::{self, BaselineOutcome, Finished, Measured};
use crate::runner::probe::EngineConfig;
use crate::runner::selftest;
use crate::runner::setup::{self, Setup};
use crate::runner::worker::{Job, Reply};
use crate::runner::{expand, numerics as gate, Case};
use std::collections::HashMap;
use std::path::PathBuf;

/// What a finished or stopped run leaves: the file written and how it ended.
pub struct BenchOutcome {
    pub result_path: PathBuf,
    pub result: ResultFile,
    /// What became of `--save-baseline`, when it was given.
    pub baseline: Option<BaselineOutcome>,
}

/// What makes two cases' numerics gates the same computation: the weights, where they live, the kernel paths
/// and the kernels' options (the gate's context clamps the physical batch to its own prompt).
fn gate_key(c: &Case) -> String {
    serde_json::json!([
        c.model_path.display().to_string(),
        c.model,
        EngineConfig::of(&c.model, &c.context),
        c.context.offload_kqv,
        gate::gate_context(&c.context).n_ubatch,
        Kernels::of(&c.test),
    ])
    .to_string()
}

/// The cases of a bench run as the executor's units.
struct BenchSweep<'a> {
    cases: Vec<Case>,
    next: usize,
    /// What the self-test decided for a case (by index), when it does not run as asked.
    fallbacks: HashMap<usize, CaseFallback>,
    /// Each model's reference logits for the numerics gate, or why there is none (none with `--no-verify`).
    references: HashMap<PathBuf, Result<PathBuf, String>>,
    /// Each engine configuration's gate, by the first case that ran it.
    gated: HashMap<String, (String, Numerics)>,
    models: &'a [PathBuf],
    /// One per model; its `model_type` is filled in once llama.cpp has loaded it.
    entries: &'a mut [ModelEntry],
    host: &'a HostInfo,
    build: &'a BuildInfo,
    idle: &'a [IdleBaseline],
    energy_absent_reason: Option<&'a str>,
    /// Each case's expected run time, from which its worker's limits derive.
    estimator: Estimator,
}

impl Sweep for BenchSweep<'_> {
    type Unit = usize;
    type Record = CaseRecord;

    fn next(&mut self, done: &[CaseRecord]) -> Next<usize> {
        if self.next == self.cases.len() {
            return Next::Done;
        }
        self.estimator.learn(done);
        self.next += 1;
        Next::Run(self.next - 1)
    }

    fn unit_key(&self, &i: &usize) -> String {
        case_key(&self.cases[i])
    }

    fn record_key(&self, r: &CaseRecord) -> String {
        record_key(r)
    }

    fn label(&self, &i: &usize) -> String {
        case_label(&self.cases[i])
    }

    fn parameters(&self, &i: &usize) -> serde_json::Value {
        serde_json::to_value(&self.cases[i]).expect("a case serializes")
    }

    fn run(&mut self, &i: &usize, ctx: &mut UnitCtx) -> Result<CaseRecord, UnitError> {
        let case = self.cases[i].clone();
        let fallback = self.fallbacks.get(&i).cloned();
        if let Some(Err(why)) = &fallback {
            return Err(failed(why.clone()));
        }
        let label = case_label(&case);
        let gate_key = gate_key(&case);
        let earlier = self.gated.get(&gate_key).cloned();
        let reference = match (self.references.get(&case.model_path), &earlier) {
            (None, _) => Err("--no-verify".to_string()),
            // The same weights under the same kernels: the earlier case's gate holds for this one.
            (Some(Ok(_)), Some((test, _))) => Err(format!("same as {test}")),
            (Some(Ok(p)), None) => Ok(p.clone()),
            (Some(Err(e)), _) => Err(format!("the CPU reference could not be computed: {e}")),
        };
        let job = Job::BenchCase {
            case: case.clone(),
            reference: reference.as_ref().ok().cloned(),
        };
        let idx = self
            .models
            .iter()
            .position(|p| p == &case.model_path)
            .expect("case model is listed");
        let estimate = self.estimator.bench_case(&self.entries[idx], &case);
        ctx.show(format!("{label} (loading, warm-up)"));
        let max_runs = case.stop_rule.max_runs;
        let done = ctx.execute(job, &label, Some(estimate), |done| {
            format!("{label} (rep {done}/{max_runs})")
        })?;
        let Reply::Bench(reply) = &done.reply else {
            return Err(failed(format!(
                "worker replied {:?} to a bench case",
                done.reply
            )));
        };
        let mut extras = CaseExtras {
            weight_buffers_mib: reply.weight_buffers_mib.clone(),
            numerics: reply.numerics.clone(),
            engine_fallback: fallback.and_then(Result::ok),
            limits: done.limits,
        };
        match (&reference, &earlier) {
            (Err(_), Some((test, n))) if self.references.contains_key(&case.model_path) => {
                extras.numerics = Some(Numerics {
                    same_as: Some(test.clone()),
                    gate_elapsed_ns: Some(0),
                    ..n.clone()
                });
            }
            (Err(why), _) => extras.numerics = Some(Numerics::not_verified(why.clone())),
            (Ok(_), _) => {
                if let Some(n) = extras
                    .numerics
                    .as_ref()
                    .filter(|n| n.verdict != NumericsVerdict::NotVerified)
                {
                    self.gated.insert(gate_key, (case.test.name(), n.clone()));
                }
            }
        }
        self.entries[idx].model_type = reply.model.desc.clone();
        let process = reply.process.clone();
        let model = reply.model.clone();
        let run = case_run(&case, reply, done.windows, done.window_mono_ns);
        let at = Provenance {
            entry: &self.entries[idx],
            host: self.host,
            build: self.build,
            idle: self.idle,
            energy_absent_reason: self.energy_absent_reason,
        };
        Ok(record::record(&run, &model, process, &at, extras))
    }

    fn warnings(&self, r: &CaseRecord) -> Vec<Warning> {
        record::warnings(r)
    }

    fn entry(&self, r: &CaseRecord) -> Option<Entry> {
        r.complete.then(|| Entry::Case(Box::new(r.clone())))
    }

    fn from_entry(&self, e: Entry) -> Option<CaseRecord> {
        match e {
            Entry::Case(r) => Some(*r),
            _ => None,
        }
    }

    fn len(&self) -> Option<u64> {
        Some(self.cases.len() as u64)
    }

    fn units(&self) -> &'static str {
        "cases"
    }
}

/// `tokenmeter bench`.
pub fn run(opts: &BenchOptions) -> anyhow::Result<BenchOutcome> {
    check(opts)?;
    let run = &opts.run;
    let picked = shard_cases(opts)?;
    let models = match &picked {
        Some(p) if !opts.models.is_empty() => {
            p.models.iter().map(|&m| opts.models[m].clone()).collect()
        }
        _ => opts.models.clone(),
    };
    let mut setup = Setup::open(run, &models)?;
    let grid = grid(opts, setup.models.clone(), setup.host.default_threads());
    let mut cases = expand(&grid);
    if let Some(p) = picked {
        cases = p.of(&cases);
    }
    crate::preflight::bench(opts, &cases, &setup)?;
    let (cases, fallbacks, self_test_warnings) = self_tested(cases, &setup, run)?;
    let parameters = serde_json::to_value(&grid)?;
    let header = Header::new("bench", setup::identity(&setup, run, parameters.clone()));
    let (result_path, checkpoint, resumed, read_warnings) = setup::claim(&setup, run, "", &header)?;
    let reference_dir = crate::runner::cleanup::temp_dir("numerics")?;
    let references = if run.verify {
        let wanted: Vec<PathBuf> = setup
            .models
            .iter()
            .filter(|m| cases.iter().any(|c| &c.model_path == *m))
            .cloned()
            .collect();
        selftest::references(
            &wanted,
            opts.use_mmap,
            setup.host.default_threads(),
            run.in_process,
            run.verbose,
            &run.stop_now,
            reference_dir.path(),
        )
    } else {
        HashMap::new()
    };
    let n_cases = cases.len();
    let idle = setup.meter.idle.clone();
    let energy_absent_reason = setup.meter.energy_absent_reason.clone();
    let estimator = Estimator::new(&setup);
    let Setup {
        models,
        entries,
        host,
        build,
        meter,
        ..
    } = &mut setup;
    let mut sweep = BenchSweep {
        cases,
        next: 0,
        fallbacks,
        references,
        gated: HashMap::new(),
        models,
        entries,
        host,
        build,
        idle: &idle,
        energy_absent_reason: energy_absent_reason.as_deref(),
        estimator,
    };
    let executor = Executor::new(run, Some((checkpoint, resumed, read_warnings)));
    let mut swept = executor.run(&mut sweep, meter);
    let mut warnings = self_test_warnings;
    warnings.append(&mut swept.warnings);
    let mut records = std::mem::take(&mut swept.records);
    let bandwidth = roofline::add(&mut records, &setup, run, &mut warnings);
    if run.stopped() {
        warnings.push(Warning::Interrupted {
            cases_done: records.iter().filter(|r| r.complete).count(),
            cases_total: n_cases,
        });
    }
    if let Some(why) = &swept.stopped_early {
        warnings.push(Warning::UnitsNotRun {
            units: n_cases - records.len() - swept.failed.len(),
            reason: why.clone(),
        });
    }
    let measured = Measured {
        kind: "bench",
        parameters,
        cases: records,
        load: None,
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
    Ok(BenchOutcome {
        result_path,
        result,
        baseline,
    })
}
