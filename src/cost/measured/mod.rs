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
//!
//! This module holds the measured figures' types and chooses the reader; `bench` reads `bench` cases, `load` a
//! `load` sweep, and `energy` sums the working devices' energy and idle readings.

mod bench;
mod energy;
mod load;
#[cfg(test)]
mod tests;

pub use energy::j_per_token;
pub use load::load_work_device;

use super::model::{Energy, Throughput};
use crate::results::slo::SloTerm;
use crate::results::telemetry::EnergySource;
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

/// Extracts the cost model's inputs from a result file read from `file`: a `load` sweep (its SLO operating point)
/// or `bench` cases. With several models in a `bench` file, `model` (a substring of the model's path) chooses one.
pub fn from_result(
    r: &ResultFile,
    file: &str,
    model: Option<&str>,
) -> Result<Measured, MeasuredError> {
    if let Some(sweep) = r.load.as_ref().filter(|_| r.cases.is_empty()) {
        return load::from_load(r, sweep, file);
    }
    bench::from_bench(r, file, model)
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
