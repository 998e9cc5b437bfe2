//! A bench case's record: the worker's reply (its repetitions, with their timestamps moved onto the sensors'
//! clock) and the sensors' windows become a `CaseRecord` with llama-bench's fields, energy and provenance, and
//! the warnings a record carries.

use crate::engine::BuildInfo;
use crate::results::record::{EngineFallback, Numerics, NumericsVerdict, UnitLimits};
use crate::results::telemetry::{IdleBaseline, ProcessContext};
use crate::results::warnings::NOISY_CV;
use crate::results::{summarize, CaseRecord, HostInfo, ModelEntry, Warning};
use crate::runner::energy::case_energy;
use crate::runner::sensors as tm;
use crate::runner::setup::backends_of;
use crate::runner::worker::{BenchDone, ModelFacts};
use crate::runner::{Case, CaseRun};
use crate::telemetry::Window;
use std::collections::BTreeMap;

/// What a case's worker learnt besides its samples.
pub struct CaseExtras {
    pub weight_buffers_mib: BTreeMap<String, f64>,
    pub numerics: Option<Numerics>,
    pub engine_fallback: Option<EngineFallback>,
    pub limits: Option<UnitLimits>,
}

/// The case's run from the worker's reply: its repetitions' `start_ns` moved from the worker's clock origin onto
/// the sensors' (`window_mono_ns`).
pub fn case_run(
    case: &Case,
    done: &BenchDone,
    windows: Vec<Window>,
    window_mono_ns: u64,
) -> CaseRun {
    let samples = done
        .samples
        .iter()
        .cloned()
        .map(|mut s| {
            s.start_ns = s
                .start_ns
                .and_then(|t| crate::clock::rebase(t, done.origin_mono_ns, window_mono_ns));
            s
        })
        .collect();
    CaseRun {
        case: case.clone(),
        started_at: done.started_at,
        samples,
        complete: done.complete,
        stop_reason: done.stop_reason,
        windows,
        origin_mono_ns: window_mono_ns,
    }
}

/// Where a case ran, for its record.
pub struct Provenance<'a> {
    pub entry: &'a ModelEntry,
    pub host: &'a HostInfo,
    pub build: &'a BuildInfo,
    /// The sensors' idle baselines, and why no sensor measures energy (when none does).
    pub idle: &'a [IdleBaseline],
    pub energy_absent_reason: Option<&'a str>,
}

pub fn record(
    run: &CaseRun,
    model: &ModelFacts,
    process: Option<ProcessContext>,
    at: &Provenance,
    extras: CaseExtras,
) -> CaseRecord {
    let c = &run.case;
    let gpus: Vec<&str> = at
        .build
        .gpu_devices()
        .map(|d| d.description.as_str())
        .collect();
    CaseRecord {
        build_commit: at.build.ggml_commit.clone(),
        build_number: None,
        cpu_info: at.host.cpu_model.clone().unwrap_or_default(),
        gpu_info: gpus.join(", "),
        backends: backends_of(at.build),
        model_filename: at.entry.path.clone(),
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
        model_sha256: at.entry.sha256.clone(),
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
            at.idle,
            at.energy_absent_reason,
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
        limits: extras.limits,
        samples: run.samples.clone(),
    }
}

/// The warnings a case's record carries: its energy flags, a failed numerics gate, repetitions that vary more
/// than `NOISY_CV`.
pub fn warnings(r: &CaseRecord) -> Vec<Warning> {
    let records = r
        .energy
        .iter()
        .flat_map(|e| [Some(&e.total), e.prompt.as_ref(), e.generation.as_ref()])
        .flatten();
    let at = format!("{} {}", r.model_type, r.test);
    let mut out = tm::case_flag_warnings(&at, records, Some(r.repetitions));
    if let Some(n) = r.numerics.as_ref().filter(|_| r.numerics_failed) {
        out.push(Warning::NumericsFailed {
            case: at.clone(),
            detail: n.reason.clone().unwrap_or_default(),
        });
    }
    if let Some(cv) = r.summary.cv_ts.filter(|&cv| cv > NOISY_CV) {
        out.push(Warning::NoisyCase {
            test: r.test.clone(),
            model: r.model_type.clone(),
            cv,
        });
    }
    out
}

/// What identifies a case across a resumed run: the model file and every parameter llama-bench keys on.
pub fn case_key(c: &Case) -> String {
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

/// The key of the case a record is of (see [`case_key`]).
pub fn record_key(r: &CaseRecord) -> String {
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

/// `pp512 t=2` (with the model file's name when the sweep has several).
pub fn case_label(case: &Case) -> String {
    let model = case
        .model_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{model} {} t={}", case.test.name(), case.context.n_threads)
}
