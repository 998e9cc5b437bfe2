//! Exports of a result file for other tools: Bencher's metric format, github-action-benchmark's custom formats
//! and llama-bench's own record. Pure: each takes a `ResultFile` and returns the documents; reading and writing
//! files is `commands::export`'s.
//!
//! BMF and github-action-benchmark share one list of measures (`measures`): per bench case its throughput, TTFT,
//! ITL and energy; per load level its throughput, goodput and p95 latencies. An interval is the 95% confidence
//! interval of a mean computed from the raw samples (Student's t); a figure without one (fewer than two samples,
//! a percentile, an energy reading) has none, and none is made up.

pub mod bmf;
pub mod gab;

use crate::results::llama_bench;
use crate::results::load::{LevelRecord, LevelSummary};
use crate::results::telemetry::EnergyRecord;
use crate::results::{CaseRecord, ResultFile};
use crate::stats::{self, Percentile, Percentiles};
use std::path::Path;

/// `--format` of `tokenmeter export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Bmf,
    Gab,
    LlamaBenchJsonl,
    LlamaBenchCsv,
}

impl ExportFormat {
    pub const NAMES: &'static str = "bmf, gab, llama-bench-jsonl, llama-bench-csv";

    pub fn parse(s: &str) -> Option<ExportFormat> {
        Some(match s {
            "bmf" => ExportFormat::Bmf,
            "gab" => ExportFormat::Gab,
            "llama-bench-jsonl" => ExportFormat::LlamaBenchJsonl,
            "llama-bench-csv" => ExportFormat::LlamaBenchCsv,
            _ => return None,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(
        "a {kind} result has no llama-bench cases: llama-bench formats export `bench` results"
    )]
    NoBenchCases { kind: String },
}

/// One document of an export: `suffix` is appended to the output file's stem (`-bigger`, `-smaller`) when a
/// format writes several.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub suffix: Option<&'static str>,
    pub bytes: Vec<u8>,
}

/// The documents `format` makes of `file`; `source` names the file in what the documents say about their origin.
pub fn export(
    file: &ResultFile,
    source: &str,
    format: ExportFormat,
) -> Result<Vec<Document>, ExportError> {
    let one = |bytes| {
        vec![Document {
            suffix: None,
            bytes,
        }]
    };
    Ok(match format {
        ExportFormat::Bmf => one(bmf::render(&measures(file, source))),
        ExportFormat::Gab => gab::render(&measures(file, source)),
        ExportFormat::LlamaBenchJsonl | ExportFormat::LlamaBenchCsv => {
            let records = llama_bench_records(file)?;
            let mut bytes = Vec::new();
            let written = if format == ExportFormat::LlamaBenchJsonl {
                llama_bench::write_jsonl(&records, &mut bytes)
            } else {
                llama_bench::write_csv(&records, &mut bytes)
            };
            written.expect("writing to memory does not fail");
            one(bytes)
        }
    })
}

fn llama_bench_records(
    file: &ResultFile,
) -> Result<Vec<llama_bench::LlamaBenchRecord>, ExportError> {
    if file.cases.is_empty() && file.load.is_some() {
        return Err(ExportError::NoBenchCases {
            kind: file.kind.clone(),
        });
    }
    Ok(file
        .cases
        .iter()
        .map(|c| llama_bench::from_case(file, c))
        .collect())
}

/// One figure of one benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    /// `qwen2.5-0.5b-q4_0/pp512/t=2`, `qwen2.5-0.5b-q4_0/load/c=4`.
    pub benchmark: String,
    /// `throughput`, `goodput`, `ttft`, `itl`, `ttft-p95`, `itl-p95`, `energy`.
    pub measure: String,
    pub unit: &'static str,
    pub bigger_is_better: bool,
    pub value: f64,
    /// The 95% confidence interval of `value`, when it is a mean of at least two samples.
    pub interval: Option<(f64, f64)>,
    /// `5 repetitions`, `635 token gaps`, `1 window`.
    pub samples: String,
    /// `FILE: pp512 t=2`.
    pub source: String,
}

/// The mean of `xs` with its 95% confidence interval (none below two samples or for a zero mean).
fn mean_ci95(xs: &[f64]) -> Option<(f64, Option<(f64, f64)>)> {
    let m = stats::mean(xs)?;
    let half = stats::mean_ci95_rel_half_width(xs).map(|rel| rel * m.abs());
    Some((m, half.map(|h| (m - h, m + h))))
}

/// A model's name in a benchmark name: its file name without `.gguf`.
fn model_name(path: &str) -> String {
    let p = Path::new(path);
    let stem = match p.extension().and_then(|e| e.to_str()) {
        Some("gguf") => p.file_stem(),
        _ => p.file_name(),
    };
    stem.and_then(|s| s.to_str()).unwrap_or(path).to_string()
}

/// A bench case's benchmark name: model, llama-bench's test name, threads, then each parameter that differs from
/// tokenmeter's default (so a name depends only on the case's own parameters).
fn case_name(c: &CaseRecord) -> String {
    let test = c.test().name().replace(" @ ", "@");
    let mut name = format!("{}/{test}/t={}", model_name(&c.model_filename), c.n_threads);
    let mut param = |key: &str, value: String, default: &str| {
        if value != default {
            name.push_str(&format!("/{key}={value}"));
        }
    };
    param("ngl", c.n_gpu_layers.to_string(), "-1");
    param("b", c.n_batch.to_string(), "2048");
    param("ub", c.n_ubatch.to_string(), "512");
    param("fa", c.flash_attn.to_string(), "-1");
    param("ctk", c.type_k.clone(), "f16");
    param("ctv", c.type_v.clone(), "f16");
    param("nkvo", u8::from(c.no_kv_offload).to_string(), "0");
    param("mmap", u8::from(c.use_mmap).to_string(), "1");
    param("repack", u8::from(c.repack).to_string(), "1");
    name
}

/// Energy per token of each device: `energy` when one device was read, `energy:<device>` for each when several.
fn energy_measures<'a>(
    records: impl Iterator<Item = &'a EnergyRecord> + Clone,
) -> Vec<(String, f64)> {
    let several = records.clone().count() > 1;
    records
        .filter_map(|r| {
            let j = r.j_per_token?;
            let name = match (several, &r.device) {
                (true, Some(d)) => format!("energy:{d}"),
                _ => "energy".to_string(),
            };
            Some((name, j))
        })
        .collect()
}

/// Every figure of every bench case and load level of `file`, in the file's order.
pub fn measures(file: &ResultFile, source: &str) -> Vec<Measure> {
    let mut out = Vec::new();
    let mut names = UniqueNames::default();
    for c in &file.cases {
        let benchmark = names.unique(case_name(c));
        case_measures(c, &benchmark, source, &mut out);
    }
    let Some(sweep) = &file.load else {
        return out;
    };
    let model = model_name(&sweep.model);
    for level in &sweep.levels {
        let at = level_name(&level.summary);
        let benchmark = names.unique(format!("{model}/load/{at}"));
        level_measures(level, &benchmark, &format!("{source}: {at}"), &mut out);
    }
    out
}

/// Benchmark names handed out so far: two cases or levels with the same parameters (the same model in two
/// directories) get `#2`, `#3`…
#[derive(Default)]
struct UniqueNames(Vec<String>);

impl UniqueNames {
    fn unique(&mut self, base: String) -> String {
        let mut name = base.clone();
        let mut n = 2;
        while self.0.contains(&name) {
            name = format!("{base}#{n}");
            n += 1;
        }
        self.0.push(name.clone());
        name
    }
}

/// A bench case's throughput, TTFT and ITL (means of its samples, with intervals) and energy per token.
fn case_measures(c: &CaseRecord, benchmark: &str, source: &str, out: &mut Vec<Measure>) {
    let label = format!("{source}: {} t={}", c.test, c.n_threads);
    let mut push = |measure: &str, unit, bigger, xs: &[f64], what: &str| {
        if let Some((value, interval)) = mean_ci95(xs) {
            out.push(Measure {
                benchmark: benchmark.to_string(),
                measure: measure.to_string(),
                unit,
                bigger_is_better: bigger,
                value,
                interval,
                samples: format!("{} {what}", xs.len()),
                source: label.clone(),
            });
        }
    };
    let ms = |ns: u64| ns as f64 / 1e6;
    push(
        "throughput",
        "t/s",
        true,
        &c.summary.samples_ts,
        "repetitions",
    );
    let ttft: Vec<f64> = c
        .samples
        .iter()
        .filter_map(|s| s.ttft_ns())
        .map(ms)
        .collect();
    push("ttft", "ms", false, &ttft, "repetitions");
    let itl: Vec<f64> = c.samples.iter().flat_map(|s| s.itl_ns()).map(ms).collect();
    push("itl", "ms", false, &itl, "token gaps");
    for (measure, j) in energy_measures(c.energy.iter().map(|e| &e.total)) {
        out.push(Measure {
            benchmark: benchmark.to_string(),
            measure,
            unit: "J/token",
            bigger_is_better: false,
            value: j,
            interval: None,
            samples: "1 window".into(),
            source: label.clone(),
        });
    }
}

/// A load level in a benchmark name: `c=4`, `rate=2.5/s` or `slots=8` (`LevelSummary::label`).
fn level_name(s: &LevelSummary) -> String {
    s.label()
}

/// A load level's throughput, goodput, p95 TTFT and ITL, and energy per token; `label` names the level's source.
fn level_measures(level: &LevelRecord, benchmark: &str, label: &str, out: &mut Vec<Measure>) {
    let s = &level.summary;
    let requests = format!("{} requests", s.requests_started);
    let mut push = |measure: String, unit, bigger, value: Option<f64>, samples: String| {
        if let Some(value) = value.filter(|v| v.is_finite()) {
            out.push(Measure {
                benchmark: benchmark.to_string(),
                measure,
                unit,
                bigger_is_better: bigger,
                value,
                interval: None,
                samples,
                source: label.to_string(),
            });
        }
    };
    let p95 = |p: &Percentiles, what: &str| {
        let low = if p.is_low(Percentile::P95) {
            " (too few for p95)"
        } else {
            ""
        };
        (p.p95, format!("{} {what}{low}", p.count))
    };
    push(
        "throughput".into(),
        "t/s",
        true,
        Some(s.output_tokens_per_s),
        requests.clone(),
    );
    push(
        "goodput".into(),
        "t/s",
        true,
        s.goodput_output_tokens_per_s,
        requests.clone(),
    );
    let (v, n) = p95(&s.ttft_ms.ms, "requests");
    push("ttft-p95".into(), "ms", false, v, n);
    let (v, n) = p95(&s.itl_ms.ms, "token gaps");
    push("itl-p95".into(), "ms", false, v, n);
    for (measure, j) in energy_measures(level.energy.iter()) {
        push(measure, "J/token", false, Some(j), "1 window".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_is_students_t_over_the_samples() {
        // mean 2, sd 1, n 3: t(0.975, 2) = 4.302653, half-width 4.302653 / √3 = 2.484138
        let (m, ci) = mean_ci95(&[1.0, 2.0, 3.0]).unwrap();
        let (lo, hi) = ci.unwrap();
        assert_eq!(m, 2.0);
        assert!((hi - m - 2.484138).abs() < 1e-5 && (m - lo - 2.484138).abs() < 1e-5);
        assert_eq!(mean_ci95(&[5.0]), Some((5.0, None)));
        assert_eq!(mean_ci95(&[]), None);
    }

    #[test]
    fn model_names_drop_the_directory_and_gguf() {
        assert_eq!(
            model_name("/tmp/qwen2.5-0.5b-q4_0.gguf"),
            "qwen2.5-0.5b-q4_0"
        );
        assert_eq!(model_name("llama-3.2-1b"), "llama-3.2-1b");
    }
}
