//! The result file: schema, atomic write (temporary file + rename) and reading with a version check.

use super::load::LoadSweep;
use super::provenance::BuildInfo;
use super::provenance::HostInfo;
use super::record::CaseRecord;
use super::telemetry::TelemetryInfo;
use super::warnings::Warning;
use crate::fsutil::{file_name_part, file_name_part_or};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Version of the result file schema this build writes. Golden files per version live in `tests/golden/`; a
/// change to the schema bumps this and adds a migration in `read_result`.
///
/// - 1: `bench` cases with llama-bench's fields and raw samples.
/// - 2: adds per-case latency distributions (`ttft_ms`, `itl_ms`, `e2e_ms`), the confidence interval and stop
///   reason of adaptive repetitions, and `load` (serving sweeps with per-request samples).
/// - 3: adds `telemetry` (sensors, idle baseline, memory bandwidth), per case `energy`, `process` and `roofline`
///   with each repetition's `start_ns`, and per `load` level `energy` and `process`. Version 2 files read as
///   version 3 with these absent.
/// - 4: every latency distribution carries `low_sample_count` (the percentiles its `count` is too few for);
///   `load` levels add `goodput_requests_per_s`, `goodput_output_tokens_per_s`, `slo_checks` (each SLO term over
///   all arrivals, unfinished requests counted as misses) and `start_ns` (the level's clock on the sensors'
///   clock); the operating point adds goodput and its unfinished requests; SLO terms are checked names (an
///   unknown metric or percentile no longer reads). A `bench` case's TTFT is the end of prompt processing when
///   there is a prompt. Older files read as version 4: each case's summary is recomputed from its raw samples,
///   a level's new figures are absent and its `low_sample_count` computed from each `count`; its operating
///   point keeps the rule it was chosen by.
/// - 5: each `bench` case adds `repack` (llama-bench's), `weight_buffers_mib` (the buffers llama.cpp put the
///   weights in), `numerics` (the numerics gate against the CPU reference), `numerics_failed` and
///   `engine_fallback` (the self-test's substitution). Version 4 files read as version 5 with `repack` true (the
///   default they ran with), no buffers and no numerics record.
/// - 6: each case, level and failed unit adds `limits` (the estimate, timeout and stall limit its worker ran
///   under), and the file `interrupted_by` (the signal that stopped the run). Version 5 files read as version 6
///   with both absent.
pub const SCHEMA_VERSION: u32 = 6;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub version: String,
    /// The git commit tokenmeter was built from, when built from a checkout.
    pub git_commit: Option<String>,
}

impl ToolInfo {
    pub fn current() -> ToolInfo {
        ToolInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: option_env!("TOKENMETER_GIT_COMMIT")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        }
    }
}

/// Tensors of one storage type.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TypeShare {
    pub n_tensors: usize,
    pub n_params: u64,
    pub size_bytes: u64,
}

/// A case or level whose worker process ended without a result: a llama.cpp abort, a crash, an out-of-memory
/// kill, `--case-timeout`, a second Ctrl-C, or an error llama.cpp returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedCase {
    /// `pp512 t=2`, `c=4`.
    pub label: String,
    /// The case's or level's parameters, as run.
    pub parameters: serde_json::Value,
    pub reason: String,
    /// The last lines the worker wrote to stderr.
    pub stderr_tail: Vec<String>,
    /// The time limits the unit's worker ran under (absent in-process, or when it never started).
    #[serde(default)]
    pub limits: Option<super::record::UnitLimits>,
}

/// A model file as measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    pub path: String,
    pub sha256: Option<String>,
    pub file_size_bytes: u64,
    pub n_params: u64,
    pub architecture: Option<String>,
    /// llama.cpp's description (llama-bench's `model_type`).
    pub model_type: String,
    pub tensor_types: BTreeMap<String, TypeShare>,
    /// Weight bytes one generated token reads (the roofline's numerator).
    #[serde(default)]
    pub weights_read_per_token_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultFile {
    pub schema_version: u32,
    /// What produced the file: "bench" or "load".
    pub kind: String,
    pub tokenmeter: ToolInfo,
    pub command_line: Vec<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub interrupted: bool,
    /// The signal that stopped the run (`SIGINT`, `SIGTERM`, `SIGHUP`), when one did.
    #[serde(default)]
    pub interrupted_by: Option<String>,
    pub host: HostInfo,
    pub build: BuildInfo,
    pub models: Vec<ModelEntry>,
    /// Every run parameter as given (lists before expansion).
    pub parameters: serde_json::Value,
    pub cases: Vec<CaseRecord>,
    /// A `load` sweep (absent for `bench`).
    pub load: Option<LoadSweep>,
    /// What the sensors could read, the idle baseline and the memory bandwidth.
    #[serde(default)]
    pub telemetry: Option<TelemetryInfo>,
    /// Cases (`bench`) or levels (`load`) that did not finish, and why.
    #[serde(default)]
    pub failed: Vec<FailedCase>,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResultFileError {
    #[error("{path}: {what}")]
    Io { path: PathBuf, what: String },
    /// The file could not be written (disk full, permissions): an I/O error, not bad input.
    #[error("{path}: cannot write: {what}")]
    Write { path: PathBuf, what: String },
    #[error("{path}: not a tokenmeter result file: {what}")]
    Parse { path: PathBuf, what: String },
    #[error(
        "{path}: schema_version {found} is not supported (this tokenmeter reads {SCHEMA_VERSION})"
    )]
    Version { path: PathBuf, found: u64 },
}

/// `results/<date>-<host>-<model>.json` under `dir`, with `-2`, `-3`… appended when the name is taken (by a
/// result file, or by the checkpoint `<name>.partial.jsonl` of a run still going or left unfinished).
pub fn default_path(dir: &Path, date: DateTime<Utc>, host: Option<&str>, model: &str) -> PathBuf {
    let stem = format!(
        "{}-{}-{}",
        date.format("%Y-%m-%d"),
        file_name_part_or(host.unwrap_or_default(), "unknown-host"),
        file_name_part(model)
    );
    let mut path = dir.join(format!("{stem}.json"));
    let mut n = 2;
    let taken =
        |p: &Path| p.exists() || PathBuf::from(format!("{}.partial.jsonl", p.display())).exists();
    while taken(&path) {
        path = dir.join(format!("{stem}-{n}.json"));
        n += 1;
    }
    path
}

impl ResultFile {
    pub fn write(&self, path: &Path) -> Result<(), ResultFileError> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("result file serializes");
        bytes.push(b'\n');
        crate::fsutil::write_atomic(path, &bytes).map_err(|e| ResultFileError::Write {
            path: path.to_path_buf(),
            what: e.to_string(),
        })
    }

    /// The devices lost during the run (`Warning::DeviceLost`), each as `device (reason)`.
    pub fn lost_devices(&self) -> Vec<String> {
        self.warnings
            .iter()
            .filter_map(|w| match w {
                super::Warning::DeviceLost { device, reason } => {
                    Some(format!("{device} ({reason})"))
                }
                _ => None,
            })
            .collect()
    }

    /// The cases whose numerics gate failed, as `model test` labels, and `the load sweep` when its gate failed.
    pub fn numerics_failures(&self) -> Vec<String> {
        self.cases
            .iter()
            .filter(|c| c.numerics_failed)
            .map(|c| format!("{} {}", c.model_type, c.test))
            .chain(
                self.load
                    .iter()
                    .filter(|l| l.numerics_failed)
                    .map(|_| "the load sweep".to_string()),
            )
            .collect()
    }
}

/// Reads a result file, checking its `schema_version` before anything else.
pub fn read_result(path: &Path) -> Result<ResultFile, ResultFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| ResultFileError::Io {
        path: path.to_path_buf(),
        what: format!("cannot read: {e}"),
    })?;
    read_result_str(&text, path)
}

/// Parses the text of a result file read from `path` (named in errors), as `read_result` does.
pub fn read_result_str(text: &str, path: &Path) -> Result<ResultFile, ResultFileError> {
    let parse = |what: String| ResultFileError::Parse {
        path: path.to_path_buf(),
        what,
    };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| parse(e.to_string()))?;
    let version = value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| parse("no schema_version".into()))?;
    let value = match version {
        1 => migrate_v1(value).map_err(parse)?,
        2..=5 => {
            let mut v = value;
            v["schema_version"] = serde_json::Value::from(SCHEMA_VERSION);
            v
        }
        v if v == SCHEMA_VERSION as u64 => value,
        found => {
            return Err(ResultFileError::Version {
                path: path.to_path_buf(),
                found,
            })
        }
    };
    let mut file: ResultFile = serde_json::from_value(value).map_err(|e| parse(e.to_string()))?;
    check_time_order(&file).map_err(parse)?;
    if version < 4 {
        upgrade_to_v4(&mut file);
    }
    Ok(file)
}

/// Every latency is a difference of a file's timestamps: within a repetition the prompt's end and the generated
/// tokens, within a request its arrival, admission and tokens, must not go backwards.
fn check_time_order(file: &ResultFile) -> Result<(), String> {
    for (i, c) in file.cases.iter().enumerate() {
        if let Some(why) = c.time_order_problem() {
            return Err(format!("cases[{i}].{why}"));
        }
    }
    for (l, level) in file.load.iter().flat_map(|s| s.levels.iter()).enumerate() {
        if let Some(why) = level.time_order_problem() {
            return Err(format!("load.levels[{l}].{why}"));
        }
    }
    Ok(())
}

/// Versions before 4: a case's summary is recomputed from its raw samples (so its TTFT and ITL follow the one
/// definition); a `load` level's distributions get `low_sample_count` from their `count`.
fn upgrade_to_v4(file: &mut ResultFile) {
    let flag = |p: &mut crate::stats::Percentiles| {
        p.low_sample_count = crate::stats::Percentiles::low_counts(p.count);
    };
    for c in &mut file.cases {
        c.summary = super::record::summarize(&c.test(), &c.samples);
    }
    for l in file.load.iter_mut().flat_map(|l| l.levels.iter_mut()) {
        let s = &mut l.summary;
        for d in [
            &mut s.ttft_ms,
            &mut s.itl_ms,
            &mut s.e2e_ms,
            &mut s.queue_ms,
        ] {
            flag(&mut d.ms);
        }
    }
}

/// Version 1 → 2: the figures version 2 adds are pure functions of the raw samples every version-1 case holds,
/// so they are computed from them; repetitions were always a fixed count; there was no `load`.
fn migrate_v1(mut v: serde_json::Value) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    let cases = v
        .get_mut("cases")
        .and_then(Value::as_array_mut)
        .ok_or("no cases")?;
    for (i, case) in cases.iter_mut().enumerate() {
        let obj = case.as_object_mut().ok_or("a case is not an object")?;
        let num = |k: &str| {
            obj.get(k)
                .and_then(Value::as_u64)
                .map(|x| x as u32)
                .ok_or(format!("case without {k}"))
        };
        let test = super::record::Test {
            n_prompt: num("n_prompt")?,
            n_gen: num("n_gen")?,
            n_depth: num("n_depth")?,
        };
        let samples: Vec<super::record::RepSample> =
            serde_json::from_value(obj.get("samples").cloned().ok_or("case without samples")?)
                .map_err(|e| e.to_string())?;
        // The summary's inter-token gaps are differences of these times: they must not go backwards.
        for (r, sample) in samples.iter().enumerate() {
            if !sample.in_time_order() {
                return Err(format!(
                    "case {i}, repetition {r}: token times go backwards (prompt_ns then gen_token_ns must not \
                     decrease)"
                ));
            }
        }
        let summary = serde_json::to_value(super::record::summarize(&test, &samples))
            .map_err(|e| e.to_string())?;
        for (k, val) in summary.as_object().expect("summary is an object") {
            obj.entry(k.clone()).or_insert(val.clone());
        }
        obj.entry("stop_reason")
            .or_insert(Value::from("fixed_count"));
        obj.entry("target_ci95_rel").or_insert(Value::Null);
    }
    let root = v.as_object_mut().ok_or("not an object")?;
    root.insert("schema_version".into(), Value::from(SCHEMA_VERSION));
    root.entry("load").or_insert(Value::Null);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = include_str!("../../tests/golden/result-v1.json");

    #[test]
    fn the_version_1_file_the_fuzzer_found_is_rejected_not_a_panic() {
        let text =
            include_str!("../../tests/fixtures/hostile/result-v1-token-times-backwards.json");
        let e = read_result_str(text, Path::new("found.json"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("found.json: "), "{e}");
        assert!(e.contains("token times go backwards"), "{e}");
    }

    #[test]
    fn a_version_1_file_whose_token_times_go_backwards_is_rejected_naming_the_file() {
        let mut v: serde_json::Value = serde_json::from_str(V1).unwrap();
        let (case, sample) = v["cases"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .find_map(|(i, c)| {
                let r = c["samples"]
                    .as_array()?
                    .iter()
                    .position(|s| s["gen_token_ns"].as_array().is_some_and(|t| t.len() > 1))?;
                Some((i, r))
            })
            .expect("the golden file has a case with generated tokens");
        let times = v["cases"][case]["samples"][sample]["gen_token_ns"]
            .as_array_mut()
            .unwrap();
        times.reverse();
        let path = Path::new("backwards.json");
        let e = read_result_str(&v.to_string(), path)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("backwards.json: "), "{e}");
        assert!(
            e.contains(&format!(
                "case {case}, repetition {sample}: token times go backwards"
            )),
            "{e}"
        );
    }
}
