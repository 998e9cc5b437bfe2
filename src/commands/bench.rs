//! `tokenmeter bench`: llama-bench's tests, each case in a worker process (or in-process), a result file with raw
//! samples and provenance, and the table (or CSV/JSON) on stdout.

use super::InputError;
use crate::engine::{self, BuildInfo, EngineError, Model};
use crate::report::Format;
use crate::results::record::{EngineFallback, Kernels, Numerics, NumericsVerdict};
use crate::results::telemetry::ProcessContext;
use crate::results::telemetry::{Bandwidth, ComputeCeiling, Roofline};
use crate::results::warnings::NOISY_CV;
use crate::results::{summarize, CaseRecord, HostInfo, ModelEntry, ResultFile, Warning};
use crate::runner::checkpoint::{Entry, Header};
use crate::runner::energy::{case_energy, process_of};
use crate::runner::numerics as gate;
use crate::runner::probe::EngineConfig;
use crate::runner::scaffold::{
    self, at_least_one, backends_of, cache_types, Failures, Measured, RunOptions, Setup,
};
use crate::runner::selftest::{self, Decision, SelfTestOptions};
use crate::runner::sensors as tm;
use crate::runner::worker::{run_in_worker, Job, ModelFacts, Reply, Request, WorkerFailure};
use crate::runner::{expand, run_case, BenchGrid, Case, CaseRun, Meter};
use crate::stats::StopRule;
use crate::telemetry::roofline_fraction;
use indicatif::ProgressBar;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

pub struct BenchOptions {
    pub models: Vec<String>,
    pub n_prompt: Vec<u32>,
    pub n_gen: Vec<u32>,
    pub pg: Vec<(u32, u32)>,
    pub n_depth: Vec<u32>,
    /// Fixed repetitions (`-r`) or adaptive ones (`--target-ci`).
    pub stop_rule: StopRule,
    /// `None`: the physical core count.
    pub n_threads: Option<Vec<u32>>,
    pub n_gpu_layers: Vec<i32>,
    /// `--repack 0,1`: llama.cpp's extra buffer types for the weights.
    pub repack: Vec<bool>,
    pub n_batch: Vec<u32>,
    pub n_ubatch: Vec<u32>,
    /// llama.cpp's flash attention type: -1 auto, 0 off, 1 on.
    pub flash_attn: Vec<i8>,
    pub no_kv_offload: Vec<bool>,
    pub type_k: Vec<String>,
    pub type_v: Vec<String>,
    pub use_mmap: bool,
    pub warmup_runs: u32,
    pub seed: u64,
    pub format: Format,
    pub run: RunOptions,
    /// Run cases that preflight would refuse for memory or the trained context.
    pub force: bool,
}

fn check(opts: &BenchOptions) -> Result<(), InputError> {
    at_least_one("-b/--batch-size", &opts.n_batch)?;
    at_least_one("--ubatch-size", &opts.n_ubatch)?;
    if let Some(t) = &opts.n_threads {
        at_least_one("-t/--threads", t)?;
    }
    let rule = &opts.stop_rule;
    if rule.max_runs == 0 || rule.min_runs > rule.max_runs {
        return Err(InputError(format!(
            "repetitions: need 1 <= --min-runs ({}) <= --max-runs ({})",
            rule.min_runs, rule.max_runs
        )));
    }
    if rule.target_rel_ci.is_some_and(|t| !(t > 0.0 && t < 1.0)) {
        return Err(InputError(
            "--target-ci: expected a percentage between 0% and 100%, e.g. 2%".into(),
        ));
    }
    cache_types("--cache-type-k", &opts.type_k)?;
    cache_types("--cache-type-v", &opts.type_v)?;
    let tests = opts.n_prompt.iter().chain(&opts.n_gen).any(|&x| x > 0)
        || opts.pg.iter().any(|(p, n)| p + n > 0);
    if !tests {
        return Err(InputError(
            "nothing to run: every -p, -n and --pg value is 0".into(),
        ));
    }
    Ok(())
}

/// What a case's worker (or this process) learnt besides its samples.
struct CaseExtras {
    weight_buffers_mib: BTreeMap<String, f64>,
    numerics: Option<Numerics>,
    engine_fallback: Option<EngineFallback>,
}

fn record(
    run: &CaseRun,
    model: &ModelFacts,
    process: Option<ProcessContext>,
    entry: &ModelEntry,
    host: &HostInfo,
    build: &BuildInfo,
    meter: &Meter,
    extras: CaseExtras,
) -> CaseRecord {
    let c = &run.case;
    let gpus: Vec<&str> = build
        .gpu_devices()
        .map(|d| d.description.as_str())
        .collect();
    CaseRecord {
        build_commit: build.ggml_commit.clone(),
        build_number: None,
        cpu_info: host.cpu_model.clone().unwrap_or_default(),
        gpu_info: gpus.join(", "),
        backends: backends_of(build),
        model_filename: entry.path.clone(),
        model_type: model.desc.clone(),
        model_size: model.size_bytes,
        model_n_params: model.n_params,
        n_batch: c.context.n_batch,
        n_ubatch: c.context.n_ubatch,
        n_threads: c.context.n_threads,
        type_k: c.context.type_k.clone(),
        type_v: c.context.type_v.clone(),
        n_gpu_layers: c.model.n_gpu_layers,
        no_kv_offload: !c.context.offload_kqv,
        flash_attn: c.context.flash_attn,
        use_mmap: c.model.use_mmap,
        embeddings: false,
        n_prompt: c.test.n_prompt,
        n_gen: c.test.n_gen,
        n_depth: c.test.n_depth,
        test_time: run.started_at.to_rfc3339(),
        summary: summarize(&c.test, &run.samples),
        test: c.test.name(),
        model_sha256: entry.sha256.clone(),
        n_ctx: c.context.n_ctx,
        repetitions: run.samples.len() as u32,
        stop_reason: run.stop_reason,
        target_ci95_rel: c.stop_rule.target_rel_ci,
        warmup_runs: c.warmup_runs,
        seed: c.seed,
        complete: run.complete,
        energy: case_energy(
            &run.windows,
            &run.samples,
            c.test.n_prompt,
            c.test.n_gen,
            &meter.idle,
            meter.energy_absent_reason.as_deref(),
        ),
        process,
        roofline: None,
        repack: c.model.repack,
        weight_buffers_mib: extras.weight_buffers_mib,
        offloaded: model.offloaded,
        numerics_failed: extras
            .numerics
            .as_ref()
            .is_some_and(|n| n.verdict == NumericsVerdict::Failed),
        numerics: extras.numerics,
        engine_fallback: extras.engine_fallback,
        samples: run.samples.clone(),
    }
}

/// Generation-only cases as a fraction of the memory-bandwidth roofline.
fn roofline(r: &CaseRecord, entry: &ModelEntry, bw: &Bandwidth) -> Option<Roofline> {
    if r.n_prompt > 0 || r.n_gen == 0 {
        return None;
    }
    let bytes_per_token = entry.weights_read_per_token_bytes?;
    Some(Roofline {
        bytes_per_token,
        bandwidth_gb_per_s: bw.gb_per_s,
        bandwidth_source: bw.source.clone(),
        fraction: r
            .summary
            .avg_ts
            .and_then(|ts| roofline_fraction(ts, bytes_per_token, bw.gb_per_s)),
        compute: None,
        binding: None,
        tighter_fraction: None,
    })
}

/// Adds the compute ceiling to a roofline, and names the tighter of the two ceilings.
fn with_compute(x: &mut Roofline, mut c: ComputeCeiling, avg_ts: Option<f64>) {
    let compute_ts = crate::telemetry::compute::tg_ceiling(c.gb_per_s, x.bytes_per_token);
    let memory_ts = crate::telemetry::compute::tg_ceiling(x.bandwidth_gb_per_s, x.bytes_per_token);
    c.tg_ceiling_t_per_s = compute_ts;
    if let (Some(cts), Some(mts)) = (compute_ts, memory_ts) {
        let (binding, tighter) = if cts < mts {
            ("compute", cts)
        } else {
            ("memory", mts)
        };
        x.binding = Some(binding.into());
        x.tighter_fraction = avg_ts.map(|ts| ts / tighter);
    }
    x.compute = Some(c);
}

/// Generation measured above its compute ceiling by more than the ceiling's own spread can explain: the probe
/// ran disturbed (another program on the CPUs spoils OpenMP's spinning threads far more than a model's run). The
/// ceiling then names nothing: the binding and the fraction are cleared, and the reason returned.
fn contradicted(x: &mut Roofline, avg_ts: Option<f64>) -> Option<String> {
    let c = x.compute.as_ref()?;
    let ceiling = c.tg_ceiling_t_per_s?;
    let ts = avg_ts?;
    let slack = (c.max_gb_per_s / c.gb_per_s).max(1.0) * 1.1;
    if ts <= ceiling * slack {
        return None;
    }
    x.binding = None;
    x.tighter_fraction = None;
    Some(format!(
        "tg {ts:.0} t/s is above the compute ceiling of {ceiling:.0} t/s ({:.1} GB/s): the ceiling's probe was \
         disturbed",
        c.gb_per_s
    ))
}

/// Integrity flags of a case's energy figures, as warnings naming the case and device.
fn energy_warnings(r: &CaseRecord) -> Vec<Warning> {
    let records = r
        .energy
        .iter()
        .flat_map(|e| [Some(&e.total), e.prompt.as_ref(), e.generation.as_ref()])
        .flatten();
    let at = format!("{} {}", r.model_type, r.test);
    tm::case_flag_warnings(&at, records, Some(r.repetitions))
}

/// The cases a shard owns, found before any model is resolved so that a shard reads, hashes and synthesizes only
/// its own models: indexes into the whole sweep's expansion, and the models they use.
struct Picked {
    /// Indexes of the shard's cases in the expansion over every model.
    cases: Vec<usize>,
    /// Cases per model (the expansion is model-major, the same block for each model).
    per_model: usize,
    /// The models the shard's cases use, as indexes into `opts.models`, in order.
    models: Vec<usize>,
}

impl Picked {
    /// The shard's cases out of the expansion over `self.models` only.
    fn of(&self, cases: &[Case]) -> Vec<Case> {
        self.cases
            .iter()
            .map(|&i| {
                let m = self
                    .models
                    .iter()
                    .position(|&u| u == i / self.per_model)
                    .expect("a picked model");
                cases[m * self.per_model + i % self.per_model].clone()
            })
            .collect()
    }
}

fn shard_cases(opts: &BenchOptions) -> Result<Option<Picked>, InputError> {
    let Some(shard) = &opts.run.shard else {
        return Ok(None);
    };
    // No -m: the embedded default model, one model.
    let names: Vec<PathBuf> = match opts.models.len() {
        0 => vec![PathBuf::new()],
        _ => opts.models.iter().map(PathBuf::from).collect(),
    };
    let n = expand(&grid(opts, names.clone(), 1)).len();
    let per_model = n / names.len();
    let cases = shard.select((0..n).collect(), |&i| i / per_model);
    if cases.is_empty() {
        return Err(empty_shard(shard, n, names.len()));
    }
    let mut models: Vec<usize> = cases.iter().map(|&i| i / per_model).collect();
    models.dedup();
    Ok(Some(Picked {
        cases,
        per_model,
        models,
    }))
}

fn empty_shard(shard: &crate::fleet::ShardRun, cases: usize, models: usize) -> InputError {
    InputError(format!(
        "--shard {}: this shard holds no case (the sweep has {cases} case(s) of {models} model(s), shared out per \
         {}); use fewer shards",
        shard.shard,
        shard.unit().name()
    ))
}

/// The lists the cases are the product of: `opts` with `models` resolved (`default_threads` where no -t is given).
pub fn grid(opts: &BenchOptions, models: Vec<PathBuf>, default_threads: u32) -> BenchGrid {
    BenchGrid {
        models,
        n_prompt: opts.n_prompt.clone(),
        n_gen: opts.n_gen.clone(),
        pg: opts.pg.clone(),
        n_depth: opts.n_depth.clone(),
        n_threads: opts
            .n_threads
            .clone()
            .unwrap_or_else(|| vec![default_threads]),
        n_gpu_layers: opts.n_gpu_layers.clone(),
        repack: opts.repack.clone(),
        n_batch: opts.n_batch.clone(),
        n_ubatch: opts.n_ubatch.clone(),
        flash_attn: opts.flash_attn.clone(),
        no_kv_offload: opts.no_kv_offload.clone(),
        type_k: opts.type_k.clone(),
        type_v: opts.type_v.clone(),
        use_mmap: opts.use_mmap,
        stop_rule: opts.stop_rule,
        warmup_runs: opts.warmup_runs,
        seed: opts.seed,
    }
}

/// What a finished or stopped run leaves: the file written and how it ended.
pub struct BenchOutcome {
    pub result_path: PathBuf,
    pub result: ResultFile,
    /// What became of `--save-baseline`, when it was given.
    pub baseline: Option<scaffold::BaselineOutcome>,
}

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
    let header = Header::new("bench", scaffold::identity(&setup, run, parameters.clone()));
    let (result_path, mut checkpoint, done_before, mut warnings) =
        scaffold::claim(&setup, run, "", &header)?;
    warnings.extend(self_test_warnings);
    let reference_dir = tempfile::Builder::new()
        .prefix("tokenmeter-numerics-")
        .tempdir()?;
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
    let mut resumed: Vec<CaseRecord> = done_before
        .into_iter()
        .filter_map(|e| match e {
            Entry::Case(r) => Some(*r),
            _ => None,
        })
        .collect();

    let bar = scaffold::progress_bar(Some(cases.len() as u64), "cases", opts.run.phase.as_ref());
    // Each engine configuration's gate, by the first case that ran it.
    let mut gated: HashMap<String, (String, Numerics)> = HashMap::new();
    let mut records = Vec::new();
    let mut failed = Vec::new();
    let mut failure: Option<anyhow::Error> = None;
    let mut loaded: Option<(PathBuf, engine::ModelParams, Model)> = None;
    for (case_index, case) in cases.iter().enumerate() {
        if run.stopped() {
            break;
        }
        let key = case_key(case);
        if let Some(i) = resumed.iter().position(|r| record_key(r) == key) {
            records.push(resumed.swap_remove(i));
            bar.inc(1);
            continue;
        }
        let fallback = fallbacks.get(&case_index).cloned();
        if let Some(Err(why)) = &fallback {
            Failures {
                checkpoint: &mut checkpoint,
                warnings: &mut warnings,
                failed: &mut failed,
            }
            .record(
                case_label(case),
                serde_json::to_value(case)?,
                WorkerFailure {
                    reason: why.clone(),
                    ..WorkerFailure::default()
                },
            )?;
            bar.inc(1);
            continue;
        }
        let gate_key = gate_key(case);
        let earlier = gated.get(&gate_key).cloned();
        let reference = match (references.get(&case.model_path), &earlier) {
            (None, _) => Err("--no-verify".to_string()),
            // The same weights under the same kernels: the earlier case's gate holds for this one.
            (Some(Ok(_)), Some((test, _))) => Err(format!("same as {test}")),
            (Some(Ok(p)), None) => Ok(p.clone()),
            (Some(Err(e)), _) => Err(format!("the CPU reference could not be computed: {e}")),
        };
        let outcome = if run.in_process {
            run_in_process(case, &mut loaded, &mut setup.meter, opts, &bar, &reference)
                .map_err(Failed::Fatal)
        } else {
            run_isolated(case, &mut setup.meter, opts, &bar, &reference).map_err(Failed::Case)
        };
        match outcome {
            Ok((done, model, process, mut extras)) => {
                match (&reference, &earlier) {
                    (Err(_), Some((test, n))) if references.contains_key(&case.model_path) => {
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
                            gated.insert(gate_key, (case.test.name(), n.clone()));
                        }
                    }
                }
                extras.engine_fallback = fallback.and_then(Result::ok);
                let idx = setup
                    .models
                    .iter()
                    .position(|p| p == &case.model_path)
                    .expect("case model is listed");
                setup.entries[idx].model_type = model.desc.clone();
                let rec = record(
                    &done,
                    &model,
                    process,
                    &setup.entries[idx],
                    &setup.host,
                    &setup.build,
                    &setup.meter,
                    extras,
                );
                warnings.extend(energy_warnings(&rec));
                if let Some(n) = rec.numerics.as_ref().filter(|_| rec.numerics_failed) {
                    let w = Warning::NumericsFailed {
                        case: format!("{} {}", rec.model_type, rec.test),
                        detail: n.reason.clone().unwrap_or_default(),
                    };
                    warnings.push(w);
                }
                if let Some(cv) = rec.summary.cv_ts.filter(|&cv| cv > NOISY_CV) {
                    warnings.push(Warning::NoisyCase {
                        test: rec.test.clone(),
                        model: rec.model_type.clone(),
                        cv,
                    });
                }
                let complete = done.complete;
                if complete {
                    checkpoint.append(&Entry::Case(Box::new(rec.clone())))?;
                }
                records.push(rec);
                bar.inc(1);
                if !complete {
                    break;
                }
            }
            Err(Failed::Case(why)) => {
                Failures {
                    checkpoint: &mut checkpoint,
                    warnings: &mut warnings,
                    failed: &mut failed,
                }
                .record(case_label(case), serde_json::to_value(case)?, why)?;
                bar.inc(1);
            }
            Err(Failed::Fatal(e)) => {
                failure = Some(e);
                break;
            }
        }
    }
    bar.finish_and_clear();
    let interrupted = run.stopped();
    let generation = records.iter().any(|r| r.n_prompt == 0 && r.n_gen > 0);
    let on_cpu = backends_of(&setup.build) == "CPU" || records.iter().all(|r| r.n_gpu_layers == 0);
    let bandwidth = if generation && !interrupted {
        let (bw, warning) = tm::bandwidth(
            &run.telemetry,
            setup.configured_bandwidth.clone(),
            &setup.meter,
            on_cpu,
            &setup.host,
        );
        warnings.extend(warning);
        bw
    } else {
        None
    };
    let mut ceilings: HashMap<(u32, String, bool), Result<ComputeCeiling, String>> = HashMap::new();
    if let Some(bw) = &bandwidth {
        for r in records.iter_mut() {
            if let Some(entry) = setup.entries.iter().find(|e| e.path == r.model_filename) {
                r.roofline = roofline(r, entry, bw);
                let weight_type = selftest::probe_weight_type(&entry.tensor_types).name();
                let exact = entry
                    .tensor_types
                    .keys()
                    .any(|t| t.eq_ignore_ascii_case(weight_type));
                if let (Some(x), true, true) = (r.roofline.as_mut(), on_cpu, exact) {
                    let key = (r.n_threads, weight_type.to_string(), r.repack);
                    let c = ceilings.entry(key).or_insert_with(|| {
                        tm::compute_ceiling(
                            &setup.host,
                            &setup.build,
                            r.n_threads,
                            weight_type,
                            r.repack,
                            &run.stop_now,
                        )
                    });
                    match c {
                        Ok(c) => {
                            with_compute(x, c.clone(), r.summary.avg_ts);
                            if let Some(why) = contradicted(x, r.summary.avg_ts) {
                                warnings.push(Warning::Sensor {
                                    message: format!(
                                        "{} {}: {why}; not used, and measured again next run",
                                        r.model_type, r.test
                                    ),
                                });
                                tm::forget_compute_ceiling(
                                    &setup.host,
                                    &setup.build,
                                    r.n_threads,
                                    weight_type,
                                    r.repack,
                                );
                            }
                        }
                        Err(why) => warnings.push(Warning::Sensor {
                            message: format!(
                                "compute ceiling ({weight_type}, t={}): {why}",
                                r.n_threads
                            ),
                        }),
                    }
                }
                if let Some(f) = r
                    .roofline
                    .as_ref()
                    .and_then(|x| x.fraction)
                    .filter(|f| *f > 1.0)
                {
                    warnings.push(Warning::RooflineAboveBandwidth {
                        test: format!("{} {}", r.model_type, r.test),
                        fraction: f,
                        bandwidth_source: bw.source.clone(),
                    });
                }
            }
        }
    }
    if interrupted {
        warnings.push(Warning::Interrupted {
            cases_done: records.iter().filter(|r| r.complete).count(),
            cases_total: cases.len(),
        });
    }
    let all_attempted = records.iter().filter(|r| r.complete).count() + failed.len() == cases.len();
    let measured = Measured {
        kind: "bench",
        parameters,
        cases: records,
        load: None,
        bandwidth,
        warnings,
        failed,
        failure,
    };
    let scaffold::Finished { result, baseline } =
        scaffold::finish(setup, run, measured, &result_path)?;
    if all_attempted && result.failed.is_empty() {
        checkpoint.remove()?;
    }
    Ok(BenchOutcome {
        result_path,
        result,
        baseline,
    })
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

/// How a case did not finish: in a worker, that case alone; in-process, the run.
enum Failed {
    Case(WorkerFailure),
    Fatal(anyhow::Error),
}

/// `pp512 t=2` (with the model file's name when the sweep has several).
fn case_label(case: &Case) -> String {
    let model = case
        .model_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{model} {} t={}", case.test.name(), case.context.n_threads)
}

/// What identifies a case across a resumed run: the model file and every parameter llama-bench keys on.
fn case_key(c: &Case) -> String {
    serde_json::json!([
        c.model_path.display().to_string(),
        c.test.n_prompt,
        c.test.n_gen,
        c.test.n_depth,
        c.context.n_threads,
        c.model.n_gpu_layers,
        c.context.n_batch,
        c.context.n_ubatch,
        c.context.type_k,
        c.context.type_v,
        c.context.flash_attn,
        !c.context.offload_kqv,
        c.model.use_mmap,
        c.model.repack,
    ])
    .to_string()
}

fn record_key(r: &CaseRecord) -> String {
    serde_json::json!([
        r.model_filename,
        r.n_prompt,
        r.n_gen,
        r.n_depth,
        r.n_threads,
        r.n_gpu_layers,
        r.n_batch,
        r.n_ubatch,
        r.type_k,
        r.type_v,
        r.flash_attn,
        r.no_kv_offload,
        r.use_mmap,
        r.repack,
    ])
    .to_string()
}

/// Runs `case` in this process, reusing the model the previous case loaded when it is the same.
fn run_in_process(
    case: &Case,
    loaded: &mut Option<(PathBuf, engine::ModelParams, Model)>,
    meter: &mut Meter,
    opts: &BenchOptions,
    bar: &ProgressBar,
    reference: &Result<PathBuf, String>,
) -> anyhow::Result<(CaseRun, ModelFacts, Option<ProcessContext>, CaseExtras)> {
    let reuse = matches!(loaded, Some((p, mp, _)) if *p == case.model_path && *mp == case.model);
    if !reuse {
        *loaded = None;
        bar.set_message(format!("loading {}", case.model_path.display()));
        let model = engine::load_model(&case.model_path, case.model, opts.run.verbose)?;
        *loaded = Some((case.model_path.clone(), case.model, model));
    }
    let model = &loaded.as_ref().expect("just loaded").2;
    let label = case_label(case);
    let numerics = match reference {
        Err(why) => Numerics::not_verified(why.clone()),
        Ok(path) => gate::check_file(model, &case.context, Kernels::of(&case.test), path, &label),
    };
    bar.set_message(format!("{label} (warm-up)"));
    let run = run_case(model, case, meter, &opts.run.stop_now, |done| {
        bar.set_message(format!("{label} (rep {done}/{})", case.stop_rule.max_runs));
    })
    .map_err(|e: EngineError| anyhow::Error::new(e))?;
    let process = process_of(&run.windows);
    let facts = ModelFacts {
        desc: model.desc.clone(),
        size_bytes: model.size_bytes,
        n_params: model.n_params,
        n_vocab: model.n_vocab,
        offloaded: crate::runner::worker::offload_of(&model),
    };
    let extras = CaseExtras {
        weight_buffers_mib: model.weight_buffers_mib.clone(),
        numerics: Some(numerics),
        engine_fallback: None,
    };
    Ok((run, facts, process, extras))
}

/// Runs `case` in a worker process while this one's sensors read; the worker's timestamps are moved onto the
/// sensors' clock.
fn run_isolated(
    case: &Case,
    meter: &mut Meter,
    opts: &BenchOptions,
    bar: &ProgressBar,
    reference: &Result<PathBuf, String>,
) -> Result<(CaseRun, ModelFacts, Option<ProcessContext>, CaseExtras), WorkerFailure> {
    let label = case_label(case);
    bar.set_message(format!("{label} (loading, warm-up)"));
    let req = Request {
        job: Job::BenchCase {
            case: case.clone(),
            reference: reference.as_ref().ok().cloned(),
        },
        label: label.clone(),
        verbose: opts.run.verbose,
        sample_interval_ns: opts
            .run
            .telemetry
            .enabled
            .then_some(opts.run.telemetry.sample_interval.as_nanos() as u64),
        parent_pid: std::process::id(),
    };
    let limits = opts.run.limits();
    let (window_start, window_mono_ns) = crate::clock::now();
    meter.start(window_start);
    let reply = run_in_worker(&req, &limits, |done| {
        bar.set_message(format!("{label} (rep {done}/{})", case.stop_rule.max_runs));
    });
    let windows = meter.stop();
    let done = match reply? {
        Reply::Bench(done) => *done,
        other => {
            return Err(WorkerFailure {
                reason: format!("worker replied {other:?} to a bench case"),
                ..WorkerFailure::default()
            })
        }
    };
    let samples = done
        .samples
        .into_iter()
        .map(|mut s| {
            s.start_ns = s
                .start_ns
                .and_then(|t| crate::clock::rebase(t, done.origin_mono_ns, window_mono_ns));
            s
        })
        .collect();
    let run = CaseRun {
        case: case.clone(),
        started_at: done.started_at,
        samples,
        complete: done.complete,
        stop_reason: done.stop_reason,
        windows,
        origin_mono_ns: window_mono_ns,
    };
    let extras = CaseExtras {
        weight_buffers_mib: done.weight_buffers_mib,
        numerics: done.numerics,
        engine_fallback: None,
    };
    Ok((run, done.model, done.process, extras))
}

/// What the self-test decided for a case: the fallback it runs under, or why it cannot run at all.
type CaseFallback = Result<EngineFallback, String>;

/// The machine's self-test of every engine configuration `cases` use: cases whose configuration fails run under
/// the fallback that passed (their record says what was asked and why); cases with no working configuration
/// are kept out of the run with the reason.
fn self_tested(
    mut cases: Vec<Case>,
    setup: &Setup,
    run: &RunOptions,
) -> anyhow::Result<(Vec<Case>, HashMap<usize, CaseFallback>, Vec<Warning>)> {
    let o = SelfTestOptions::of(run);
    let mut decisions: HashMap<(PathBuf, selftest::Need), Decision> = HashMap::new();
    let mut warnings = Vec::new();
    let need = |c: &Case| (EngineConfig::of(&c.model, &c.context), Kernels::of(&c.test));
    for (path, entry) in setup.models.iter().zip(&setup.entries) {
        let needs: Vec<selftest::Need> = cases
            .iter()
            .filter(|c| &c.model_path == path)
            .map(need)
            .collect();
        if needs.is_empty() {
            continue;
        }
        let weight_type = selftest::probe_weight_type(&entry.tensor_types);
        let (d, w) = selftest::self_test(&needs, weight_type, &setup.host, &setup.build, &o)?;
        warnings.extend(w);
        decisions.extend(d.into_iter().map(|(n, d)| ((path.clone(), n), d)));
    }
    let mut fallbacks = HashMap::new();
    for (i, case) in cases.iter_mut().enumerate() {
        let asked = EngineConfig::of(&case.model, &case.context);
        let Some(d) = decisions.get(&(case.model_path.clone(), need(case))) else {
            continue;
        };
        let Some(substitution) = d.substitution(&asked) else {
            continue;
        };
        if let Some(u) = &d.used {
            u.apply(&mut case.model, &mut case.context);
        }
        fallbacks.insert(i, substitution);
    }
    Ok((cases, fallbacks, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roofline_with_compute(compute_gb_per_s: f64) -> Roofline {
        let mut x = Roofline {
            bytes_per_token: 100_000_000,
            bandwidth_gb_per_s: 20.0,
            bandwidth_source: "measured".into(),
            fraction: None,
            compute: None,
            binding: None,
            tighter_fraction: None,
        };
        let c = ComputeCeiling {
            gb_per_s: compute_gb_per_s,
            min_gb_per_s: compute_gb_per_s * 0.95,
            max_gb_per_s: compute_gb_per_s * 1.05,
            passes: 7,
            matrix_bytes: 1 << 23,
            threads: 2,
            weight_type: "q4_0".into(),
            buffer_type: "CPU_REPACK".into(),
            source: "measured".into(),
            tg_ceiling_t_per_s: None,
        };
        // Ceilings: memory 200 t/s, compute gb_per_s × 10 t/s.
        with_compute(&mut x, c, Some(100.0));
        x
    }

    #[test]
    fn a_compute_ceiling_below_the_measured_rate_names_nothing() {
        // 5 t/s of compute ceiling against 100 t/s measured: the probe ran disturbed.
        let mut x = roofline_with_compute(0.5);
        assert_eq!(x.binding.as_deref(), Some("compute"));
        let why = contradicted(&mut x, Some(100.0)).expect("contradicted");
        assert!(why.contains("above the compute ceiling of 5 t/s"), "{why}");
        assert_eq!(x.binding, None);
        assert_eq!(x.tighter_fraction, None);
    }

    #[test]
    fn a_rate_within_the_ceiling_and_its_spread_keeps_it() {
        // 110 t/s ceiling, 100 t/s measured: compute binds at 0.91.
        let mut x = roofline_with_compute(11.0);
        assert_eq!(contradicted(&mut x, Some(100.0)), None);
        assert_eq!(x.binding.as_deref(), Some("compute"));
        // Slightly above (within the spread and 10%): still kept.
        assert_eq!(contradicted(&mut x, Some(120.0)), None);
        assert_eq!(x.binding.as_deref(), Some("compute"));
    }
}
