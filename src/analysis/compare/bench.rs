//! Bench cases: joined on llama-bench's key properties from either input (a tokenmeter result or llama-bench's
//! output), and judged on t/s (each round's fastest repetition when paired, each run's geometric mean across
//! runs) and energy per token.

use super::verdict::{metric, single, ONE_RUN};
use super::{Better, Input, MetricComparison, Options, Source};
use crate::results::llama_bench::LlamaBenchRecord;
use crate::results::CaseRecord;
use crate::stats::ratio;
use std::collections::BTreeMap;

/// A bench case as either input gives it.
pub(super) struct CaseView {
    pub(super) key: BTreeMap<String, String>,
    pub(super) test: String,
    /// Which input of the side it came from (the round, when paired).
    input: usize,
    pub(super) source: String,
    samples_ts: Vec<f64>,
    j_per_token: Option<f64>,
}

pub(super) fn model_key(
    model_type: Option<&str>,
    n_params: Option<u64>,
    size: Option<u64>,
) -> String {
    let o = |x: Option<u64>| x.map_or("?".into(), |v| v.to_string());
    format!(
        "{} ({} params, {} bytes)",
        model_type.unwrap_or("?"),
        o(n_params),
        o(size)
    )
}

pub(super) fn test_name(n_prompt: u32, n_gen: u32, n_depth: u32) -> String {
    crate::results::record::Test {
        n_prompt,
        n_gen,
        n_depth,
    }
    .name()
}

fn case_from_record(c: &CaseRecord) -> BTreeMap<String, String> {
    let pairs: [(&str, String); 12] = [
        (
            "model",
            model_key(
                Some(&c.model_type),
                Some(c.model_n_params),
                Some(c.model_size),
            ),
        ),
        ("n_threads", c.n_threads.to_string()),
        ("n_gpu_layers", c.n_gpu_layers.to_string()),
        ("repack", u8::from(c.repack).to_string()),
        ("n_batch", c.n_batch.to_string()),
        ("n_ubatch", c.n_ubatch.to_string()),
        ("type_k", c.type_k.clone()),
        ("type_v", c.type_v.clone()),
        ("flash_attn", c.flash_attn.to_string()),
        ("n_prompt", c.n_prompt.to_string()),
        ("n_gen", c.n_gen.to_string()),
        ("n_depth", c.n_depth.to_string()),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

pub(super) fn case_from_llama_bench(r: &LlamaBenchRecord) -> BTreeMap<String, String> {
    let o = |x: Option<String>| x.unwrap_or_else(|| "?".into());
    let pairs: [(&str, String); 12] = [
        (
            "model",
            model_key(r.model_type.as_deref(), r.model_n_params, r.model_size),
        ),
        ("n_threads", o(r.n_threads.map(|x| x.to_string()))),
        ("n_gpu_layers", o(r.n_gpu_layers.map(|x| x.to_string()))),
        ("repack", llama_bench_repack(r)),
        ("n_batch", o(r.n_batch.map(|x| x.to_string()))),
        ("n_ubatch", o(r.n_ubatch.map(|x| x.to_string()))),
        ("type_k", o(r.type_k.clone())),
        ("type_v", o(r.type_v.clone())),
        ("flash_attn", o(r.flash_attn.map(|x| x.to_string()))),
        ("n_prompt", r.n_prompt.to_string()),
        ("n_gen", r.n_gen.to_string()),
        ("n_depth", r.n_depth.to_string()),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// llama-bench's `repack` as `1` or `0`: a bool in its JSON, `1`/`0` in its CSV; a file from a llama-bench
/// without the field ran with llama.cpp's default, on.
pub(super) fn llama_bench_repack(r: &LlamaBenchRecord) -> String {
    let on = match r.other.get("repack") {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::Number(n)) => n.as_i64() != Some(0),
        Some(serde_json::Value::String(s)) => !matches!(s.as_str(), "0" | "false"),
        _ => true,
    };
    u8::from(on).to_string()
}

/// Joules per token over the devices that measured the case's whole window; absent when none did.
fn case_j_per_token(c: &CaseRecord) -> Option<f64> {
    let js: Vec<f64> = c
        .energy
        .iter()
        .filter_map(|e| e.total.j_per_token)
        .collect();
    (!js.is_empty()).then(|| js.iter().sum())
}

pub(super) fn case_views(sources: &[Source]) -> Vec<CaseView> {
    let mut out = Vec::new();
    for (input, s) in sources.iter().enumerate() {
        match &s.input {
            Input::Result(f) => {
                for (i, c) in f.cases.iter().enumerate() {
                    out.push(CaseView {
                        key: case_from_record(c),
                        test: c.test.clone(),
                        input,
                        source: format!("{}#cases[{i}]", s.path),
                        samples_ts: c.summary.samples_ts.clone(),
                        j_per_token: case_j_per_token(c),
                    });
                }
            }
            Input::LlamaBench(records) => {
                for (i, r) in records.iter().enumerate() {
                    let samples_ts = if !r.samples_ts.is_empty() {
                        r.samples_ts.clone()
                    } else {
                        r.avg_ts.into_iter().collect()
                    };
                    out.push(CaseView {
                        key: case_from_llama_bench(r),
                        test: test_name(r.n_prompt, r.n_gen, r.n_depth),
                        input,
                        source: format!("{}#{i}", s.path),
                        samples_ts,
                        j_per_token: None,
                    });
                }
            }
        }
    }
    out
}

/// A round's figure: its fastest repetition. Another program on the machine only ever slows a repetition down,
/// so the fastest is the one it disturbed least.
fn fastest(xs: &[f64]) -> Option<f64> {
    xs.iter()
        .copied()
        .filter(|x| x.is_finite() && *x > 0.0)
        .reduce(f64::max)
}

pub(super) fn compare_cases(
    base: &[&CaseView],
    new: &[&CaseView],
    opts: &Options,
) -> Vec<MetricComparison> {
    let pool = |v: &[&CaseView]| -> Vec<f64> {
        v.iter()
            .flat_map(|c| c.samples_ts.iter().copied())
            .collect()
    };
    let (pb, pn) = (pool(base), pool(new));
    let mean = |xs: &[f64]| crate::stats::mean(xs);
    let mut note = None;
    let mut replicated = true;
    let r = if opts.paired {
        let rounds = |v: &[&CaseView]| -> BTreeMap<usize, Vec<f64>> {
            let mut m: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
            for c in v {
                m.entry(c.input)
                    .or_default()
                    .extend(c.samples_ts.iter().copied());
            }
            m
        };
        let (rb, rn) = (rounds(base), rounds(new));
        let (mut xb, mut xn) = (Vec::new(), Vec::new());
        for (i, b) in &rb {
            if let (Some(b), Some(n)) = (fastest(b), rn.get(i).and_then(|n| fastest(n))) {
                xb.push(b);
                xn.push(n);
            }
        }
        if xb.len() < rb.len().max(rn.len()) {
            note = Some(format!(
                "{} of {} rounds have both sides",
                xb.len(),
                rb.len().max(rn.len())
            ));
        }
        ratio::paired_signed_rank(&xb, &xn, opts.alpha, opts.noise)
    } else {
        let (rb, rn) = (run_figures(base), run_figures(new));
        if rb.len() >= 2 && rn.len() >= 2 {
            note = Some(format!(
                "{}/{} runs, each run's geometric mean one sample",
                rb.len(),
                rn.len()
            ));
            ratio::welch_log(&rb, &rn, opts.alpha, opts.noise)
        } else {
            replicated = false;
            note = Some(ONE_RUN.into());
            ratio::welch_log(&pb, &pn, opts.alpha, opts.noise)
        }
    };
    let gate = |name: &str| replicated && (name == "t/s" || opts.gate.contains(name));
    let mut out = vec![metric(
        "t/s",
        "t/s",
        Better::Higher,
        mean(&pb),
        mean(&pn),
        r,
        gate("t/s"),
        opts.noise,
        note,
    )];
    let energy = |v: &[&CaseView]| -> Option<f64> {
        let js: Vec<f64> = v.iter().filter_map(|c| c.j_per_token).collect();
        mean(&js)
    };
    let (eb, en) = (energy(base), energy(new));
    if eb.is_some() || en.is_some() {
        let r = single(eb, en, 1, 1);
        let note = match (eb, en) {
            (Some(_), Some(_)) => "one reading per side: not tested",
            _ => "measured on one side only",
        };
        out.push(metric(
            "J/token",
            "J/token",
            Better::Lower,
            eb,
            en,
            r,
            gate("J/token"),
            opts.noise,
            Some(note.into()),
        ));
    }
    out
}

/// One figure per run (input) of a case: the geometric mean of its positive repetitions.
fn run_figures(v: &[&CaseView]) -> Vec<f64> {
    let mut runs: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for c in v {
        runs.entry(c.input).or_default().extend(
            c.samples_ts
                .iter()
                .copied()
                .filter(|x| x.is_finite() && *x > 0.0)
                .map(f64::ln),
        );
    }
    runs.values()
        .filter_map(|logs| crate::stats::mean(logs).map(f64::exp))
        .collect()
}
