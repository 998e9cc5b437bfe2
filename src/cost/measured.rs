//! What the cost model takes from a result file: throughput (and, later, energy), each figure with the file and
//! field it came from.
//!
//! Today a result file holds single-stream `bench` cases: a `tg` case's `avg_ts` is output tokens/s and a `pp`
//! case's `avg_ts` is input tokens/s, one request at a time (labelled "single-stream bench").
//!
//! The optional figures are for result files with a `load` section and energy telemetry:
//! - `operating_point_output_tokens_per_s` ← `load.operating_point.output_tokens_per_s` (the highest load level
//!   that met the SLO),
//! - `operating_point_total_tokens_per_s` ← `load.operating_point.total_tokens_per_s`,
//! - `operating_point_requests_per_s` ← `load.operating_point.requests_per_s`,
//! - `energy_j_per_output_token` ← measured energy at that level (joules over the level's duration, from the
//!   telemetry samples) divided by its output tokens.
//!
//! When the operating point is present it sets a device's capacity and the label becomes "load operating point";
//! when energy is present it replaces the board-power assumption for the busy hours.

use super::model::Throughput;
use crate::results::{CaseRecord, ResultFile};
use serde::Serialize;

/// A number and where it came from (`R.json cases[1] (tg128, 2 threads) avg_ts`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    pub value: f64,
    pub source: String,
}

/// Which measurement sets the capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    SingleStreamBench,
    LoadOperatingPoint,
}

impl Basis {
    pub fn label(self) -> &'static str {
        match self {
            Basis::SingleStreamBench => "single-stream bench",
            Basis::LoadOperatingPoint => "load operating point",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measured {
    pub file: String,
    pub model: String,
    /// Descriptions of the devices the result was measured on (for matching `[[hardware]] devices`).
    pub devices: Vec<String>,
    pub input_tokens_per_s: Figure,
    pub output_tokens_per_s: Figure,
    pub operating_point_output_tokens_per_s: Option<Figure>,
    pub operating_point_total_tokens_per_s: Option<Figure>,
    pub operating_point_requests_per_s: Option<Figure>,
    pub energy_j_per_output_token: Option<Figure>,
}

impl Measured {
    pub fn basis(&self) -> Basis {
        if self.operating_point_output_tokens_per_s.is_some() {
            Basis::LoadOperatingPoint
        } else {
            Basis::SingleStreamBench
        }
    }

    pub fn throughput(&self) -> Throughput {
        Throughput {
            input_tokens_per_s: self.input_tokens_per_s.value,
            output_tokens_per_s: self.output_tokens_per_s.value,
            operating_point_output_tokens_per_s: self
                .operating_point_output_tokens_per_s
                .as_ref()
                .map(|f| f.value),
            energy_j_per_output_token: self.energy_j_per_output_token.as_ref().map(|f| f.value),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MeasuredError {
    #[error("{file}: cases: no complete {what} case with avg_ts > 0 (expected a `bench` run with {flag})")]
    NoCase {
        file: String,
        what: &'static str,
        flag: &'static str,
    },
    #[error("{file}: models: holds {n} models ({names}); choose one with --model")]
    Ambiguous {
        file: String,
        n: usize,
        names: String,
    },
    #[error("{file}: models: no model matches '{wanted}' (holds {names})")]
    NoModel {
        file: String,
        wanted: String,
        names: String,
    },
}

fn usable(c: &CaseRecord) -> Option<f64> {
    c.summary
        .avg_ts
        .filter(|v| c.complete && v.is_finite() && *v > 0.0)
}

/// The fastest complete case of one kind (`pp`: prompt only, `tg`: generation only) at the shallowest depth.
fn best<'a>(
    cases: &'a [(usize, &'a CaseRecord)],
    is_kind: impl Fn(&CaseRecord) -> bool,
) -> Option<(usize, &'a CaseRecord, f64)> {
    let kind: Vec<_> = cases
        .iter()
        .filter(|(_, c)| is_kind(c))
        .filter_map(|&(i, c)| usable(c).map(|v| (i, c, v)))
        .collect();
    let depth = kind.iter().map(|(_, c, _)| c.n_depth).min()?;
    kind.into_iter()
        .filter(|(_, c, _)| c.n_depth == depth)
        .max_by(|a, b| a.2.total_cmp(&b.2))
}

/// Extracts the cost model's inputs from a result file read from `file`. With several models in the file,
/// `model` (a substring of the model's path) chooses one.
pub fn from_result(
    r: &ResultFile,
    file: &str,
    model: Option<&str>,
) -> Result<Measured, MeasuredError> {
    let names: Vec<&str> = {
        let mut v: Vec<&str> = r.cases.iter().map(|c| c.model_filename.as_str()).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let chosen: &str = match model {
        Some(want) => names
            .iter()
            .copied()
            .find(|n| n.contains(want))
            .ok_or_else(|| MeasuredError::NoModel {
                file: file.into(),
                wanted: want.into(),
                names: names.join(", "),
            })?,
        None if names.len() > 1 => {
            return Err(MeasuredError::Ambiguous {
                file: file.into(),
                n: names.len(),
                names: names.join(", "),
            })
        }
        None => names.first().copied().unwrap_or(""),
    };
    let cases: Vec<(usize, &CaseRecord)> = r
        .cases
        .iter()
        .enumerate()
        .filter(|(_, c)| c.model_filename == chosen)
        .collect();
    let figure = |(i, c, v): (usize, &CaseRecord, f64)| Figure {
        value: v,
        source: format!(
            "{file} cases[{i}] ({}, {} threads) avg_ts",
            c.test, c.n_threads
        ),
    };
    let tg = best(&cases, |c| c.n_prompt == 0 && c.n_gen > 0).ok_or(MeasuredError::NoCase {
        file: file.into(),
        what: "generation (tg)",
        flag: "-n > 0",
    })?;
    let pp = best(&cases, |c| c.n_prompt > 0 && c.n_gen == 0).ok_or(MeasuredError::NoCase {
        file: file.into(),
        what: "prompt processing (pp)",
        flag: "-p > 0",
    })?;
    // Accelerators first: a GPU machine's CPU should not decide which hardware entry it is.
    let (cpu, accel): (Vec<_>, Vec<_>) = r.build.devices.iter().partition(|d| d.backend == "CPU");
    let mut devices: Vec<String> = accel
        .iter()
        .chain(cpu.iter())
        .map(|d| d.description.clone())
        .collect();
    devices.extend(r.host.cpu_model.clone());
    Ok(Measured {
        file: file.into(),
        model: chosen.into(),
        devices,
        input_tokens_per_s: figure(pp),
        output_tokens_per_s: figure(tg),
        operating_point_output_tokens_per_s: None,
        operating_point_total_tokens_per_s: None,
        operating_point_requests_per_s: None,
        energy_j_per_output_token: None,
    })
}
