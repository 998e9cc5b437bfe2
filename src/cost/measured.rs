//! What the cost model takes from a result file: throughput, energy and the idle baseline, each figure with the
//! file and field it came from.
//!
//! A `bench` result holds single-stream cases: a `tg` case's `avg_ts` is output tokens/s and a `pp` case's
//! `avg_ts` is input tokens/s, one request at a time (labelled "single-stream bench").
//!
//! A `load` result holds a sweep; its per-request speeds come from the least loaded level (input tokens over the
//! time from admission to the first token; 1000 / mean ITL for output), and its operating point sets capacity:
//! - `operating_point_output_tokens_per_s` ← `load.operating_point.goodput_output_tokens_per_s` (the output of
//!   the requests that met the SLO, at the level with the highest goodput among those meeting it over all
//!   arrivals), or `output_tokens_per_s` in files before schema 4,
//! - `operating_point_total_tokens_per_s` ← `load.operating_point.total_tokens_per_s`,
//! - `operating_point_requests_per_s` ← `load.operating_point.goodput_requests_per_s` (else `requests_per_s`),
//! - `level_energy_j_per_output_token` ← that level's `energy[].j_per_token` (the level's whole energy, prompt
//!   processing included, over its output tokens) × `output_tokens_per_s / goodput_output_tokens_per_s`: the
//!   level's whole energy over the output tokens of the requests that met the SLO, since capacity counts those
//!   alone (a request that missed used energy and delivered nothing the capacity counts),
//! - `level_energy_j_per_good_request` ← the same energy over the requests that met the SLO,
//! - `load_shape` ← that level's `input_tokens` and `output_tokens` and the sweep's `slo`, which `cost` compares
//!   with the workload's (`super::shape`).
//!
//! For a `bench` result, energy is taken per phase: `prompt_energy_j_per_token` ← the chosen pp case's
//! `energy[].prompt.j_per_token` (else a pg case's prompt phase) and `generation_energy_j_per_token` ← the chosen
//! tg case's `energy[].generation.j_per_token` (else a pg case's generation phase).
//!
//! Energy counts only the devices that did the work (`WorkDevice`): the GPU(s) when layers were offloaded to a GPU
//! backend, else the CPU package(s). The rest of the machine (a CPU package beside a working GPU, DRAM) is what
//! the hardware entry's `host_power_w` stands for, so it is not added on top. A phase counts as measured only
//! when every working device measured it. `telemetry.idle` gives the working devices' measured idle power, which
//! replaces the configured `idle_power_w`.

use super::model::{Energy, Throughput};
use crate::results::load::Lengths;
use crate::results::load::{LevelRecord, LoadSweep};
use crate::results::slo::SloTerm;
use crate::results::telemetry::{EnergyRecord, EnergySource, IdleBaseline};
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

/// The devices that did the work, whose energy and idle power the cost model counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkDevice {
    /// Layers offloaded (`n_gpu_layers` ≠ 0; −1 is all) to a GPU backend: the GPUs' NVML readings.
    Gpu,
    /// Everything on the CPU: the RAPL package readings (not DRAM, which `host_power_w` covers).
    CpuPackage,
}

impl WorkDevice {
    /// Backends that are not a GPU (`backends` lists the non-CPU backends, or `CPU`).
    const NOT_GPU_BACKENDS: [&'static str; 2] = ["CPU", "BLAS"];

    /// From a bench case's own `n_gpu_layers` and `backends`.
    pub fn of_case(c: &CaseRecord) -> WorkDevice {
        WorkDevice::of_run(i64::from(c.n_gpu_layers), &c.backends)
    }

    /// From a run's `n_gpu_layers` and `backends` (`CUDA`, `Vulkan,BLAS`, `CPU`).
    pub fn of_run(n_gpu_layers: i64, backends: &str) -> WorkDevice {
        let gpu_backend = backends
            .split(',')
            .map(str::trim)
            .any(|b| !b.is_empty() && !Self::NOT_GPU_BACKENDS.contains(&b));
        if n_gpu_layers != 0 && gpu_backend {
            WorkDevice::Gpu
        } else {
            WorkDevice::CpuPackage
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            WorkDevice::Gpu => "GPU",
            WorkDevice::CpuPackage => "CPU package",
        }
    }

    /// Whether a sensor's reading (its energy source and device name, as `telemetry` names them: NVML devices
    /// `NAME (GPU i)`, RAPL zones `RAPL package-0 (intel-rapl:0)` and `RAPL dram (intel-rapl:0:2)`) is this kind
    /// of device.
    pub fn is(self, source: Option<EnergySource>, device: Option<&str>) -> bool {
        let name = device.unwrap_or("");
        let gpu = match source {
            Some(EnergySource::NvmlCounter | EnergySource::NvmlPower) => true,
            Some(EnergySource::Rapl) => false,
            Some(EnergySource::TraceCounter | EnergySource::TracePower) | None => {
                name.contains("(GPU ")
            }
        };
        match self {
            WorkDevice::Gpu => gpu,
            WorkDevice::CpuPackage => !gpu && name.starts_with("RAPL package"),
        }
    }
}

/// A `load` run's request lengths and SLO (the operating point's level), to compare with a workload's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadShape {
    pub input_tokens_per_request: Figure,
    pub output_tokens_per_request: Figure,
    pub slo: Vec<SloTerm>,
    pub slo_source: String,
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
    /// Whose energy and idle power are counted.
    pub work_device: WorkDevice,
    /// Bench: prompt processing energy per input token.
    pub prompt_energy_j_per_token: Option<Figure>,
    /// Bench: generation energy per output token.
    pub generation_energy_j_per_token: Option<Figure>,
    /// Load: the operating point level's whole energy (its prompt processing included) over the output tokens of
    /// the requests that met the SLO (over all its output tokens in files without goodput).
    pub level_energy_j_per_output_token: Option<Figure>,
    /// Load: the operating point level's whole energy over the requests that met the SLO.
    pub level_energy_j_per_good_request: Option<Figure>,
    /// The working devices' measured idle power (`telemetry.idle`).
    pub idle_power_w: Option<Figure>,
    /// Load: the operating point's request lengths and SLO.
    pub load_shape: Option<LoadShape>,
}

impl Measured {
    /// Adds the SLO operating point of a `load` sweep (`load.operating_point`), which then sets the capacity.
    /// `goodput` (output tokens/s and requests/s of the requests that met the SLO, from schema 4) replaces the raw
    /// output and request rates when present.
    pub fn with_operating_point(
        mut self,
        output_tokens_per_s: f64,
        total_tokens_per_s: f64,
        requests_per_s: f64,
        goodput: Option<(f64, f64)>,
        level_index: usize,
    ) -> Measured {
        let at = |field: &str| {
            format!(
                "{} load.operating_point (levels[{level_index}]) {field}",
                self.file
            )
        };
        let (output, requests) = match goodput {
            Some((output, requests)) => (
                (output, "goodput_output_tokens_per_s"),
                (requests, "goodput_requests_per_s"),
            ),
            None => (
                (output_tokens_per_s, "output_tokens_per_s"),
                (requests_per_s, "requests_per_s"),
            ),
        };
        self.operating_point_output_tokens_per_s = Some(Figure {
            value: output.0,
            source: at(output.1),
        });
        self.operating_point_total_tokens_per_s = Some(Figure {
            value: total_tokens_per_s,
            source: at("total_tokens_per_s"),
        });
        self.operating_point_requests_per_s = Some(Figure {
            value: requests.0,
            source: at(requests.1),
        });
        self
    }

    /// Adds a load level's measured energy per output token (prompt processing included), which replaces the
    /// board-power assumption; `source` names the field.
    pub fn with_level_energy(mut self, j_per_output_token: f64, source: String) -> Measured {
        self.level_energy_j_per_output_token = Some(Figure {
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

    /// The measured energy the cost model uses; `None` when nothing was measured.
    pub fn energy(&self) -> Option<Energy> {
        let value = |f: &Option<Figure>| f.as_ref().map(|f| f.value);
        if let Some(j) = value(&self.level_energy_j_per_output_token) {
            return Some(Energy::Level {
                j_per_output_token: j,
            });
        }
        match (
            value(&self.prompt_energy_j_per_token),
            value(&self.generation_energy_j_per_token),
        ) {
            (None, None) => None,
            (j_per_input_token, j_per_output_token) => Some(Energy::Phases {
                j_per_input_token,
                j_per_output_token,
            }),
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
            energy: self.energy(),
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

/// Joules per token summed over the working devices' records, with the fields it came from; `None` when no
/// working device has a record or one of them has no figure (a partial sum would undercount).
pub fn j_per_token<'a>(
    work: WorkDevice,
    records: impl Iterator<Item = (&'a EnergyRecord, String)>,
) -> Option<Figure> {
    let mine: Vec<(Option<f64>, String)> = records
        .filter(|(r, _)| work.is(r.source, r.device.as_deref()))
        .map(|(r, at)| {
            let j = r.j_per_token.filter(|j| j.is_finite() && *j > 0.0);
            (j, format!("{at} ({})", r.device.as_deref().unwrap_or("?")))
        })
        .collect();
    sum_of_all(mine)
}

/// The sum of every figure with their sources joined; `None` when there is none or any is absent.
fn sum_of_all(figures: Vec<(Option<f64>, String)>) -> Option<Figure> {
    let values: Option<Vec<f64>> = figures.iter().map(|m| m.0).collect();
    let values = values.filter(|v| !v.is_empty())?;
    Some(Figure {
        value: values.iter().sum(),
        source: figures
            .iter()
            .map(|m| m.1.as_str())
            .collect::<Vec<_>>()
            .join(" + "),
    })
}

/// The working devices' idle power summed from `telemetry.idle`; `None` unless every working device that has a
/// baseline measured one (and at least one did).
fn idle_power(r: &ResultFile, file: &str, work: WorkDevice) -> Option<Figure> {
    let idle: &[IdleBaseline] = r.telemetry.as_ref().map_or(&[], |t| &t.idle);
    let mine: Vec<(Option<f64>, String)> = idle
        .iter()
        .enumerate()
        .filter(|(_, b)| work.is(b.source, Some(&b.device)))
        .map(|(k, b)| {
            (
                b.idle_power_w.filter(|w| w.is_finite() && *w >= 0.0),
                format!("{file} telemetry.idle[{k}].idle_power_w ({})", b.device),
            )
        })
        .collect();
    sum_of_all(mine)
}

/// A phase's joules per token from the first of `cases` that measured it on every working device.
fn phase_energy(
    cases: &[(usize, &CaseRecord)],
    file: &str,
    work: WorkDevice,
    phase: &str,
    pick: fn(&crate::results::telemetry::CaseEnergy) -> Option<&EnergyRecord>,
) -> Option<Figure> {
    cases.iter().find_map(|&(i, c)| {
        j_per_token(
            work,
            c.energy.iter().enumerate().filter_map(|(k, e)| {
                Some((
                    pick(e)?,
                    format!("{file} cases[{i}].energy[{k}].{phase}.j_per_token"),
                ))
            }),
        )
    })
}

/// The fastest complete case of one kind (`pp`: prompt only, `tg`: generation only) at the shallowest depth.
fn best<'a>(
    cases: &'a [(usize, &'a CaseRecord)],
    is_kind: impl Fn(&CaseRecord) -> bool,
) -> Option<(usize, &'a CaseRecord, f64)> {
    let kind: Vec<_> = cases
        .iter()
        .filter(|(_, c)| is_kind(c))
        .filter_map(|&(i, c)| c.usable_ts().map(|v| (i, c, v)))
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
    let work = WorkDevice::of_case(tg.1);
    // The chosen case first, then the pg cases (prompt and generation in one repetition) at the shallowest depth.
    let pg: Vec<(usize, &CaseRecord)> = {
        let all: Vec<_> = cases
            .iter()
            .copied()
            .filter(|(_, c)| c.n_prompt > 0 && c.n_gen > 0 && c.complete)
            .collect();
        let depth = all.iter().map(|(_, c)| c.n_depth).min();
        all.into_iter()
            .filter(|(_, c)| Some(c.n_depth) == depth)
            .collect()
    };
    let prompt_cases: Vec<(usize, &CaseRecord)> = std::iter::once((pp.0, pp.1))
        .chain(pg.iter().copied())
        .collect();
    let generation_cases: Vec<(usize, &CaseRecord)> = std::iter::once((tg.0, tg.1))
        .chain(pg.iter().copied())
        .collect();
    let prompt_energy = phase_energy(&prompt_cases, file, work, "prompt", |e| e.prompt.as_ref());
    let generation_energy = phase_energy(&generation_cases, file, work, "generation", |e| {
        e.generation.as_ref()
    });
    Ok(Measured {
        file: file.into(),
        model: chosen.into(),
        devices: devices_of(r),
        input_tokens_per_s: figure(pp),
        output_tokens_per_s: figure(tg),
        operating_point_output_tokens_per_s: None,
        operating_point_total_tokens_per_s: None,
        operating_point_requests_per_s: None,
        work_device: work,
        prompt_energy_j_per_token: prompt_energy,
        generation_energy_j_per_token: generation_energy,
        level_energy_j_per_output_token: None,
        level_energy_j_per_good_request: None,
        idle_power_w: idle_power(r, file, work),
        load_shape: None,
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

/// Mean tokens of a request drawn from `Lengths` (a uniform range's midpoint; a list's mean, as it is cycled).
fn mean_length(l: &Lengths) -> f64 {
    match l {
        Lengths::Fixed(n) => f64::from(*n),
        Lengths::Range(a, b) => (f64::from(*a) + f64::from(*b)) / 2.0,
        Lengths::List(v) if v.is_empty() => 0.0,
        Lengths::List(v) => v.iter().map(|&n| f64::from(n)).sum::<f64>() / v.len() as f64,
    }
}

/// The working device of a `load` run: `parameters.engine.n_gpu_layers` (llama.cpp's default −1, all, when
/// absent) and `parameters.backends` (else the build's devices).
pub fn load_work_device(r: &ResultFile) -> WorkDevice {
    let ngl = r.parameters["engine"]["n_gpu_layers"]
        .as_i64()
        .unwrap_or(-1);
    let backends = match r.parameters["backends"].as_str() {
        Some(b) => b.to_string(),
        None => r
            .build
            .devices
            .iter()
            .map(|d| d.backend.as_str())
            .collect::<Vec<_>>()
            .join(","),
    };
    WorkDevice::of_run(ngl, &backends)
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
    let work = load_work_device(r);
    let op_level = sweep.levels.get(op.level_index);
    let load_shape = op_level.map(|l| {
        let at = |what: &str| format!("{file} load.levels[{}].{what}", op.level_index);
        LoadShape {
            input_tokens_per_request: Figure {
                value: mean_length(&l.input_tokens),
                source: at("input_tokens"),
            },
            output_tokens_per_request: Figure {
                value: mean_length(&l.output_tokens),
                source: at("output_tokens"),
            },
            slo: sweep.slo.clone(),
            slo_source: format!("{file} load.slo"),
        }
    });
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
        work_device: work,
        prompt_energy_j_per_token: None,
        generation_energy_j_per_token: None,
        level_energy_j_per_output_token: None,
        level_energy_j_per_good_request: None,
        idle_power_w: idle_power(r, file, work),
        load_shape,
    };
    let energy = op_level.and_then(|l| {
        j_per_token(
            work,
            l.energy.iter().enumerate().map(|(k, e)| {
                (
                    e,
                    format!(
                        "{file} load.levels[{}].energy[{k}].j_per_token",
                        op.level_index
                    ),
                )
            }),
        )
    });
    let measured = measured.with_operating_point(
        op.output_tokens_per_s,
        op.total_tokens_per_s,
        op.requests_per_s,
        op.goodput_output_tokens_per_s
            .zip(op.goodput_requests_per_s)
            .filter(|(output, _)| *output > 0.0),
        op.level_index,
    );
    // Energy per good output token and per good request: all of the level's energy over what met the SLO.
    let good = op
        .goodput_output_tokens_per_s
        .zip(op.goodput_requests_per_s)
        .filter(|(output, requests)| *output > 0.0 && *requests > 0.0);
    Ok(match (energy, good) {
        (Some(f), Some((good_output, good_requests))) => {
            let joules_per_s = f.value * op.output_tokens_per_s;
            let mut m = measured.with_level_energy(
                joules_per_s / good_output,
                format!(
                    "{} × output_tokens_per_s / goodput_output_tokens_per_s (all the level's energy over the \
                     output of the requests that met the SLO)",
                    f.source
                ),
            );
            m.level_energy_j_per_good_request = Some(Figure {
                value: joules_per_s / good_requests,
                source: format!(
                    "{} × output_tokens_per_s / goodput_requests_per_s (all the level's energy over the requests \
                     that met the SLO)",
                    f.source
                ),
            });
            m
        }
        (Some(f), None) => measured.with_level_energy(f.value, f.source),
        (None, _) => measured,
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
    fn an_operating_point_and_level_energy_replace_the_single_stream_assumptions() {
        let m = from_result(&fixture(), "r.json", None)
            .unwrap()
            .with_operating_point(900.0, 4000.0, 4.5, None, 3)
            .with_level_energy(0.5, "r.json telemetry".into());
        assert_eq!(m.basis(), Basis::LoadOperatingPoint);
        let t = m.throughput();
        assert_eq!(t.operating_point_output_tokens_per_s, Some(900.0));
        assert_eq!(
            t.energy,
            Some(Energy::Level {
                j_per_output_token: 0.5
            })
        );
        assert_eq!(
            m.operating_point_requests_per_s.unwrap().source,
            "r.json load.operating_point (levels[3]) requests_per_s"
        );
    }

    /// A `bench` run on an RTX 4090 (99 layers offloaded, CUDA): pp512 at 8000 tokens/s and tg128 at 160 tokens/s,
    /// two repetitions each, read by the GPU (200 W prompt, 300 W generation, 25 W idle), the CPU package (60 W,
    /// 40 W, 12 W) and DRAM (5 W, 8 W, 2 W).
    fn energy_fixture() -> ResultFile {
        crate::results::read_result(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/cost/result-rtx4090-energy.json"
        )))
        .unwrap()
    }

    #[test]
    fn a_gpu_run_counts_the_gpus_prompt_and_generation_energy_and_idle_only() {
        let m = from_result(&energy_fixture(), "e.json", None).unwrap();
        assert_eq!(m.work_device, WorkDevice::Gpu);
        // GPU: 200 W for 2 × 64 ms over 1024 prompt tokens; 300 W for 2 × 0.8 s over 256 generated tokens.
        let prompt = m.prompt_energy_j_per_token.clone().unwrap();
        assert!((prompt.value - 200.0 * 0.128 / 1024.0).abs() < 1e-12);
        assert_eq!(
            prompt.source,
            "e.json cases[0].energy[0].prompt.j_per_token (NVIDIA GeForce RTX 4090 (GPU 0))"
        );
        let generation = m.generation_energy_j_per_token.clone().unwrap();
        assert!((generation.value - 300.0 * 1.6 / 256.0).abs() < 1e-12);
        assert_eq!(
            generation.source,
            "e.json cases[1].energy[0].generation.j_per_token (NVIDIA GeForce RTX 4090 (GPU 0))"
        );
        let idle = m.idle_power_w.clone().unwrap();
        assert_eq!(idle.value, 25.0);
        assert_eq!(
            idle.source,
            "e.json telemetry.idle[0].idle_power_w (NVIDIA GeForce RTX 4090 (GPU 0))"
        );
        assert_eq!(
            m.throughput().energy,
            Some(Energy::Phases {
                j_per_input_token: Some(prompt.value),
                j_per_output_token: Some(generation.value)
            })
        );
    }

    #[test]
    fn a_cpu_run_counts_the_cpu_package_and_not_dram() {
        for (ngl, backends) in [(0, "CUDA"), (-1, "CPU")] {
            let mut r = energy_fixture();
            for c in &mut r.cases {
                c.n_gpu_layers = ngl;
                c.backends = backends.into();
            }
            let m = from_result(&r, "e.json", None).unwrap();
            assert_eq!(m.work_device, WorkDevice::CpuPackage, "{ngl} {backends}");
            // Package: 60 W for 0.128 s over 1024 tokens; 40 W for 1.6 s over 256 tokens; 12 W idle.
            let prompt = m.prompt_energy_j_per_token.unwrap();
            assert!((prompt.value - 60.0 * 0.128 / 1024.0).abs() < 1e-12);
            assert!(prompt.source.ends_with("(RAPL package-0 (intel-rapl:0))"));
            let generation = m.generation_energy_j_per_token.unwrap();
            assert!((generation.value - 40.0 * 1.6 / 256.0).abs() < 1e-12);
            assert_eq!(m.idle_power_w.unwrap().value, 12.0);
        }
    }

    #[test]
    fn a_phase_not_measured_on_every_working_device_counts_as_not_measured() {
        let mut r = energy_fixture();
        // A second GPU whose prompt reading was too short to report.
        let mut second = r.cases[0].energy[0].clone();
        let prompt = second.prompt.as_mut().unwrap();
        prompt.device = Some("NVIDIA GeForce RTX 4090 (GPU 1)".into());
        prompt.j_per_token = None;
        r.cases[0].energy.push(second);
        let m = from_result(&r, "e.json", None).unwrap();
        assert_eq!(m.prompt_energy_j_per_token, None);
        assert!(m.generation_energy_j_per_token.is_some());
        assert_eq!(
            m.throughput().energy,
            Some(Energy::Phases {
                j_per_input_token: None,
                j_per_output_token: m.generation_energy_j_per_token.as_ref().map(|f| f.value)
            })
        );

        // Neither phase measured on the GPU (only the CPU package and DRAM read): nothing measured.
        let mut r = energy_fixture();
        for c in &mut r.cases {
            c.energy.remove(0);
        }
        r.telemetry.as_mut().unwrap().idle.remove(0);
        let m = from_result(&r, "e.json", None).unwrap();
        assert_eq!(m.throughput().energy, None);
        assert_eq!(m.idle_power_w, None);
    }

    #[test]
    fn a_pg_case_gives_a_phase_the_chosen_case_did_not_measure() {
        let mut r = energy_fixture();
        let mut pg = r.cases[1].clone();
        pg.n_prompt = 512;
        pg.test = "pp512+tg128".into();
        let mut prompt = pg.energy[0].generation.clone().unwrap();
        prompt.j_per_token = Some(0.03);
        pg.energy[0].prompt = Some(prompt);
        r.cases.push(pg);
        r.cases[0].energy.clear();
        let m = from_result(&r, "e.json", None).unwrap();
        let f = m.prompt_energy_j_per_token.unwrap();
        assert_eq!(f.value, 0.03);
        assert!(f
            .source
            .starts_with("e.json cases[2].energy[0].prompt.j_per_token"));
    }

    #[test]
    fn a_load_result_gives_its_operating_points_request_lengths_and_slo() {
        let r: ResultFile =
            serde_json::from_str(include_str!("../../tests/golden/result-v2-load.json")).unwrap();
        let m = from_result(&r, "l.json", None).unwrap();
        let op = r.load.as_ref().unwrap().operating_point.as_ref().unwrap();
        let shape = m.load_shape.unwrap();
        // The golden run: --input-tokens 8 --output-tokens 4 --slo ttft_p95=1s.
        assert_eq!(shape.input_tokens_per_request.value, 8.0);
        assert_eq!(shape.output_tokens_per_request.value, 4.0);
        assert_eq!(
            shape.input_tokens_per_request.source,
            format!("l.json load.levels[{}].input_tokens", op.level_index)
        );
        assert_eq!(shape.slo.len(), 1);
        assert_eq!(shape.slo[0].objective(), "ttft_p95");
        assert_eq!(m.work_device, WorkDevice::CpuPackage);
    }

    #[test]
    fn capacity_is_the_operating_points_goodput_when_the_file_has_it() {
        let mut r =
            crate::results::read_result(std::path::Path::new("tests/golden/result-v4-load.json"))
                .unwrap();
        let op = r.load.as_mut().unwrap().operating_point.as_mut().unwrap();
        // half the requests met the SLO on their own
        op.goodput_output_tokens_per_s = Some(op.output_tokens_per_s / 2.0);
        op.goodput_requests_per_s = Some(op.requests_per_s / 2.0);
        let (raw, index) = (op.output_tokens_per_s, op.level_index);
        let m = from_result(&r, "l.json", None).unwrap();
        let capacity = m.operating_point_output_tokens_per_s.unwrap();
        assert_eq!(capacity.value, raw / 2.0);
        assert_eq!(
            capacity.source,
            format!("l.json load.operating_point (levels[{index}]) goodput_output_tokens_per_s")
        );
        // a file from before goodput existed sizes capacity by the raw output rate
        let r: ResultFile =
            serde_json::from_str(include_str!("../../tests/golden/result-v2-load.json")).unwrap();
        let raw = r
            .load
            .as_ref()
            .unwrap()
            .operating_point
            .as_ref()
            .unwrap()
            .output_tokens_per_s;
        let m = from_result(&r, "l.json", None).unwrap();
        assert_eq!(m.operating_point_output_tokens_per_s.unwrap().value, raw);
    }

    #[test]
    fn energy_is_charged_to_the_requests_that_met_the_slo() {
        let mut r =
            crate::results::read_result(std::path::Path::new("tests/golden/result-v4-load.json"))
                .unwrap();
        let sweep = r.load.as_mut().unwrap();
        let op = sweep.operating_point.as_mut().unwrap();
        // a quarter of the requests met the SLO: capacity counts their tokens alone
        op.goodput_output_tokens_per_s = Some(op.output_tokens_per_s / 4.0);
        op.goodput_requests_per_s = Some(op.requests_per_s / 4.0);
        let (out, reqs, index) = (op.output_tokens_per_s, op.requests_per_s, op.level_index);
        let level = &mut sweep.levels[index];
        level.energy[0].source = Some(EnergySource::Rapl);
        level.energy[0].device = Some("RAPL package 0".into());
        level.energy[0].j_per_token = Some(0.5);
        let m = from_result(&r, "l.json", None).unwrap();
        // all the level's energy (0.5 J over every output token) over the good output: four times as much
        let e = m.level_energy_j_per_output_token.unwrap();
        assert!((e.value - 2.0).abs() < 1e-12, "{}", e.value);
        assert!(
            e.source.contains("goodput_output_tokens_per_s"),
            "{}",
            e.source
        );
        let per_request = m.level_energy_j_per_good_request.unwrap();
        assert!((per_request.value - 0.5 * out / (reqs / 4.0)).abs() < 1e-9);
        // without goodput (an older file): energy over every output token, as measured
        let sweep = r.load.as_mut().unwrap();
        let op = sweep.operating_point.as_mut().unwrap();
        op.goodput_output_tokens_per_s = None;
        op.goodput_requests_per_s = None;
        let m = from_result(&r, "l.json", None).unwrap();
        assert_eq!(m.level_energy_j_per_output_token.unwrap().value, 0.5);
        assert!(m.level_energy_j_per_good_request.is_none());
    }

    #[test]
    fn request_lengths_average_as_load_draws_them() {
        assert_eq!(mean_length(&Lengths::Fixed(256)), 256.0);
        assert_eq!(mean_length(&Lengths::Range(64, 512)), 288.0);
        assert_eq!(mean_length(&Lengths::List(vec![100, 200, 600])), 300.0);
    }

    #[test]
    fn the_working_device_is_the_gpu_only_with_layers_offloaded_to_a_gpu_backend() {
        assert_eq!(WorkDevice::of_run(99, "CUDA"), WorkDevice::Gpu);
        assert_eq!(WorkDevice::of_run(-1, "Vulkan,BLAS"), WorkDevice::Gpu);
        assert_eq!(WorkDevice::of_run(0, "CUDA"), WorkDevice::CpuPackage);
        assert_eq!(WorkDevice::of_run(-1, "CPU"), WorkDevice::CpuPackage);
        assert_eq!(WorkDevice::of_run(99, "BLAS"), WorkDevice::CpuPackage);
    }
}
