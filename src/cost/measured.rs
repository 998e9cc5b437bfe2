//! What the cost model takes from a result file: throughput (and, later, energy), each figure with the file and
//! field it came from.
//!
//! A `bench` result holds single-stream cases: a `tg` case's `avg_ts` is output tokens/s and a `pp` case's
//! `avg_ts` is input tokens/s, one request at a time (labelled "single-stream bench").
//!
//! A `load` result holds a sweep; its per-request speeds come from the least loaded level (input tokens over the
//! time from admission to the first token; 1000 / mean ITL for output), and its operating point sets capacity:
//! - `operating_point_output_tokens_per_s` ← `load.operating_point.output_tokens_per_s` (the highest load level
//!   that met the SLO),
//! - `operating_point_total_tokens_per_s` ← `load.operating_point.total_tokens_per_s`,
//! - `operating_point_requests_per_s` ← `load.operating_point.requests_per_s`,
//! - `energy_j_per_output_token` ← measured energy at that level (joules over the level's duration, from the
//!   telemetry samples) divided by its output tokens.
//!
//! - for a `bench` result, `energy_j_per_output_token` ← the chosen tg case's `energy[].generation.j_per_token`.
//!
//! Energy per token is summed over the devices that measured it (GPU, CPU package, DRAM); a device without a
//! reading adds nothing and is not named in the source.
//! When the operating point is present it sets a device's capacity and the label becomes "load operating point";
//! when energy is present it replaces the board-power assumption for the busy hours.

use super::model::Throughput;
use crate::results::load::{LevelRecord, LoadSweep};
use crate::results::{CaseRecord, ResultFile};
use crate::telemetry::EnergyRecord;
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
    #[error("{file}: load.operating_point: absent (no level met an SLO; run `load` with --slo)")]
    NoOperatingPoint { file: String },
    #[error("{file}: load.levels: no completed request to take per-request speeds from")]
    NoCompletedRequest { file: String },
    #[error("{file}: models: no model matches '{wanted}' (holds {names})")]
    NoModel {
        file: String,
        wanted: String,
        names: String,
    },
}

/// Joules per output token summed over the devices that measured it, with the fields it came from; `None` when
/// no device did.
fn j_per_token<'a>(records: impl Iterator<Item = (&'a EnergyRecord, String)>) -> Option<Figure> {
    let measured: Vec<(f64, String)> = records
        .filter_map(|(r, at)| {
            let j = r.j_per_token.filter(|j| j.is_finite() && *j > 0.0)?;
            Some((j, format!("{at} ({})", r.device.as_deref().unwrap_or("?"))))
        })
        .collect();
    (!measured.is_empty()).then(|| Figure {
        value: measured.iter().map(|m| m.0).sum(),
        source: measured
            .iter()
            .map(|m| m.1.as_str())
            .collect::<Vec<_>>()
            .join(" + "),
    })
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

/// Extracts the cost model's inputs from a result file read from `file`: a `load` sweep (its SLO operating point)
/// or `bench` cases. With several models in a `bench` file, `model` (a substring of the model's path) chooses one.
pub fn from_result(
    r: &ResultFile,
    file: &str,
    model: Option<&str>,
) -> Result<Measured, MeasuredError> {
    if let Some(sweep) = r.load.as_ref().filter(|_| r.cases.is_empty()) {
        return from_load(r, sweep, file);
    }
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
    let energy = j_per_token(tg.1.energy.iter().enumerate().filter_map(|(k, e)| {
        let g = e.generation.as_ref()?;
        Some((
            g,
            format!("{file} cases[{}].energy[{k}].generation.j_per_token", tg.0),
        ))
    }));
    Ok(Measured {
        file: file.into(),
        model: chosen.into(),
        devices: devices_of(r),
        input_tokens_per_s: figure(pp),
        output_tokens_per_s: figure(tg),
        operating_point_output_tokens_per_s: None,
        operating_point_total_tokens_per_s: None,
        operating_point_requests_per_s: None,
        energy_j_per_output_token: energy,
    })
}

/// Device descriptions, accelerators first: a GPU machine's CPU should not decide which hardware entry it is.
fn devices_of(r: &ResultFile) -> Vec<String> {
    let (cpu, accel): (Vec<_>, Vec<_>) = r.build.devices.iter().partition(|d| d.backend == "CPU");
    let mut devices: Vec<String> = accel
        .iter()
        .chain(cpu.iter())
        .map(|d| d.description.clone())
        .collect();
    devices.extend(r.host.cpu_model.clone());
    devices
}

/// A `load` result: capacity from the operating point, per-request speeds from the least loaded level.
fn from_load(r: &ResultFile, sweep: &LoadSweep, file: &str) -> Result<Measured, MeasuredError> {
    let op = sweep
        .operating_point
        .as_ref()
        .ok_or_else(|| MeasuredError::NoOperatingPoint { file: file.into() })?;
    let load_of = |l: &LevelRecord| {
        l.summary
            .concurrency
            .map(f64::from)
            .or(l.summary.rate)
            .unwrap_or(f64::INFINITY)
    };
    let no_request = || MeasuredError::NoCompletedRequest { file: file.into() };
    let (i, level) = sweep
        .levels
        .iter()
        .enumerate()
        .filter(|(_, l)| l.requests.iter().any(|q| q.completed))
        .min_by(|a, b| load_of(a.1).total_cmp(&load_of(b.1)))
        .ok_or_else(no_request)?;
    let (tokens, prefill_ns) = level
        .requests
        .iter()
        .filter(|q| q.completed)
        .filter_map(|q| Some((q.input_tokens, q.token_ns.first()? - q.admitted_ns?)))
        .fold((0u64, 0u64), |(t, ns), (a, b)| (t + u64::from(a), ns + b));
    let itl = level.summary.itl_ms.ms.mean.filter(|m| *m > 0.0);
    let (Some(itl_ms), true) = (itl, prefill_ns > 0) else {
        return Err(no_request());
    };
    let at = |what: &str| format!("{file} load.levels[{i}] {what}");
    let measured = Measured {
        file: file.into(),
        model: sweep.model.clone(),
        devices: devices_of(r),
        input_tokens_per_s: Figure {
            value: tokens as f64 / (prefill_ns as f64 / 1e9),
            source: at("requests: input tokens / (first token - admission)"),
        },
        output_tokens_per_s: Figure {
            value: 1000.0 / itl_ms,
            source: at("itl_ms.mean (1000 / mean inter-token latency)"),
        },
        operating_point_output_tokens_per_s: None,
        operating_point_total_tokens_per_s: None,
        operating_point_requests_per_s: None,
        energy_j_per_output_token: None,
    };
    let energy = sweep.levels.get(op.level_index).and_then(|l| {
        j_per_token(l.energy.iter().enumerate().map(|(k, e)| {
            (
                e,
                format!(
                    "{file} load.levels[{}].energy[{k}].j_per_token",
                    op.level_index
                ),
            )
        }))
    });
    let measured = measured.with_operating_point(
        op.output_tokens_per_s,
        op.total_tokens_per_s,
        op.requests_per_s,
        op.level_index,
    );
    Ok(match energy {
        Some(f) => measured.with_energy(f.value, f.source),
        None => measured,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A schema-1 `bench` result (read through the migration, as `cost` reads it).
    fn fixture() -> ResultFile {
        crate::results::read_result(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/cost/result-rtx4090.json"
        )))
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
    fn a_load_result_gives_the_operating_point_and_per_request_speeds_of_its_least_loaded_level() {
        let r: ResultFile =
            serde_json::from_str(include_str!("../../tests/golden/result-v2-load.json")).unwrap();
        let m = from_result(&r, "l.json", None).unwrap();
        assert_eq!(m.basis(), Basis::LoadOperatingPoint);
        let op = r.load.as_ref().unwrap().operating_point.as_ref().unwrap();
        assert_eq!(
            m.throughput().operating_point_output_tokens_per_s,
            Some(op.output_tokens_per_s)
        );
        let c1 = &r.load.as_ref().unwrap().levels[0];
        assert_eq!(c1.summary.concurrency, Some(1));
        assert_eq!(
            m.output_tokens_per_s.value,
            1000.0 / c1.summary.itl_ms.ms.mean.unwrap()
        );
        let (tokens, ns) = c1.requests.iter().fold((0.0, 0.0), |(t, ns), q| {
            (
                t + q.input_tokens as f64,
                ns + (q.token_ns[0] - q.admitted_ns.unwrap()) as f64,
            )
        });
        assert_eq!(m.input_tokens_per_s.value, tokens / (ns / 1e9));
        assert_eq!(m.model, "tiny.gguf");

        let mut none = r.clone();
        none.load.as_mut().unwrap().operating_point = None;
        let e = from_result(&none, "l.json", None).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("l.json: load.operating_point: absent"),
            "{e}"
        );
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

    #[test]
    fn measured_generation_energy_is_summed_over_the_devices_that_measured_it() {
        use crate::results::telemetry::CaseEnergy;
        let record = |device: &str, j: Option<f64>| EnergyRecord {
            device: Some(device.into()),
            j_per_token: j,
            ..EnergyRecord::default()
        };
        let mut r = fixture();
        assert_eq!(
            from_result(&r, "r.json", None)
                .unwrap()
                .energy_j_per_output_token,
            None
        );
        r.cases[1].energy = vec![
            CaseEnergy {
                total: record("gpu", Some(9.0)),
                prompt: None,
                generation: Some(record("gpu", Some(0.25))),
            },
            CaseEnergy {
                total: record("RAPL package-0", None),
                prompt: None,
                generation: Some(record("RAPL package-0", None)),
            },
            CaseEnergy {
                total: record("RAPL dram-0", Some(1.0)),
                prompt: None,
                generation: Some(record("RAPL dram-0", Some(0.05))),
            },
        ];
        let e = from_result(&r, "r.json", None)
            .unwrap()
            .energy_j_per_output_token
            .unwrap();
        assert!((e.value - 0.30).abs() < 1e-12);
        assert_eq!(
            e.source,
            "r.json cases[1].energy[0].generation.j_per_token (gpu) + \
             r.json cases[1].energy[2].generation.j_per_token (RAPL dram-0)"
        );
    }
}
