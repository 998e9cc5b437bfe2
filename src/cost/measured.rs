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
    /// Adds the SLO operating point of a `load` sweep (`load.operating_point` of a schema-2 result file), which
    /// then sets the capacity.
    pub fn with_operating_point(
        mut self,
        output_tokens_per_s: f64,
        total_tokens_per_s: f64,
        requests_per_s: f64,
        level_index: usize,
    ) -> Measured {
        let at = |field: &str| {
            format!(
                "{} load.operating_point (levels[{level_index}]) {field}",
                self.file
            )
        };
        self.operating_point_output_tokens_per_s = Some(Figure {
            value: output_tokens_per_s,
            source: at("output_tokens_per_s"),
        });
        self.operating_point_total_tokens_per_s = Some(Figure {
            value: total_tokens_per_s,
            source: at("total_tokens_per_s"),
        });
        self.operating_point_requests_per_s = Some(Figure {
            value: requests_per_s,
            source: at("requests_per_s"),
        });
        self
    }

    /// Adds measured energy per output token (replacing the board-power assumption); `source` names the field.
    pub fn with_energy(mut self, j_per_output_token: f64, source: String) -> Measured {
        self.energy_j_per_output_token = Some(Figure {
            value: j_per_output_token,
            source,
        });
        self
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> ResultFile {
        serde_json::from_str(include_str!(
            "../../tests/fixtures/cost/result-rtx4090.json"
        ))
        .unwrap()
    }

    #[test]
    fn single_stream_figures_come_from_the_pp_and_tg_cases_with_their_source() {
        let m = from_result(&fixture(), "r.json", None).unwrap();
        assert_eq!(m.basis(), Basis::SingleStreamBench);
        assert_eq!(
            m.input_tokens_per_s.value,
            fixture().cases[0].summary.avg_ts.unwrap()
        );
        assert_eq!(
            m.output_tokens_per_s.source,
            "r.json cases[1] (tg128, 16 threads) avg_ts"
        );
        assert_eq!(
            m.devices[0], "NVIDIA GeForce RTX 4090",
            "accelerators first"
        );
        assert_eq!(m.throughput().operating_point_output_tokens_per_s, None);
    }

    #[test]
    fn incomplete_cases_are_not_used() {
        let mut r = fixture();
        r.cases[1].complete = false;
        let e = from_result(&r, "r.json", None).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("r.json: cases: no complete generation (tg) case"),
            "{e}"
        );
    }

    #[test]
    fn several_models_need_a_choice() {
        let mut r = fixture();
        let mut other = r.cases[1].clone();
        other.model_filename = "other.gguf".into();
        r.cases.push(other);
        assert!(matches!(
            from_result(&r, "r.json", None),
            Err(MeasuredError::Ambiguous { n: 2, .. })
        ));
        assert_eq!(
            from_result(&r, "r.json", Some("llama")).unwrap().model,
            "llama-3.1-8b-q4_0.gguf"
        );
    }

    #[test]
    fn an_operating_point_and_measured_energy_replace_the_single_stream_assumptions() {
        let m = from_result(&fixture(), "r.json", None)
            .unwrap()
            .with_operating_point(900.0, 4000.0, 4.5, 3)
            .with_energy(0.5, "r.json telemetry".into());
        assert_eq!(m.basis(), Basis::LoadOperatingPoint);
        let t = m.throughput();
        assert_eq!(t.operating_point_output_tokens_per_s, Some(900.0));
        assert_eq!(t.energy_j_per_output_token, Some(0.5));
        assert_eq!(
            m.operating_point_requests_per_s.unwrap().source,
            "r.json load.operating_point (levels[3]) requests_per_s"
        );
    }
}
