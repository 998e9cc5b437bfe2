//! Telemetry: what the hardware says while a model runs. Owns the `Sensor` trait, its implementations (NVML, RAPL,
//! process, scripted trace), the background sampler, the energy accounting (pure functions over samples), the
//! serialisable energy records and the memory-bandwidth roofline.
//!
//! Every timestamp here is nanoseconds since an `Instant` the caller passes to `Sensor::start`, so samples line up
//! with the token timestamps the engine records against the same origin.

pub mod accounting;
pub mod bandwidth;
pub mod compute;
mod nvml;
mod probe;
mod process;
mod rapl;
mod record;
pub mod roofline;
mod sampler;
mod trace;

#[cfg(test)]
mod tests;

pub use crate::results::telemetry::{Sample, Throttle};
pub use accounting::{Basis, Totals};
pub use bandwidth::{measure_cpu_read_bandwidth, ReadBandwidth};
pub use nvml::{nvml_bandwidth_gb_per_s, NvmlSensor};
pub use probe::{apple_silicon_absent_reason, probe, Absent, Probe, ProbeConfig};
pub use process::ProcessSensor;
pub use rapl::{RaplSensor, POWERCAP_ROOT};
pub use record::{measure_idle, EnergyFlag, EnergyRecord, EnergySource, IdleBaseline};
pub use roofline::roofline_fraction;
pub use sampler::{Sampler, Timed};
pub use trace::TraceSensor;

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Default interval between background readings (`--sample-interval`); `benches/sampling.rs` measures what
/// sampling at this interval costs in tokens/s.
pub const DEFAULT_SAMPLE_INTERVAL: Duration = Duration::from_millis(50);

/// What a sensor can report; a `false` field means the matching `Sample` field is always `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub energy_counter: bool,
    pub power: bool,
    pub clocks: bool,
    pub temperature: bool,
    pub utilization: bool,
    pub memory: bool,
    pub throttle: bool,
}

impl Capabilities {
    /// Whether the sensor can report energy at all (a counter or sampled power).
    pub fn energy(&self) -> bool {
        self.energy_counter || self.power
    }
}

/// Which kind of sensor produced a window; decides the `EnergySource` written to result files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SensorFamily {
    Nvml,
    Rapl,
    Process,
    Trace,
}

/// One measured window: from the reading taken by `start` to the reading taken by `stop`, with every reading in
/// between. All totals are computed from `samples` by `accounting`, so a stored window can be re-analysed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub device: String,
    pub family: SensorFamily,
    pub start_ns: u64,
    pub end_ns: u64,
    /// Value at which the raw energy counter wraps back to 0; `None` when it does not wrap in practice.
    pub counter_range_j: Option<f64>,
    /// How often the device refreshes its energy counter; a shorter window cannot be measured by the counter.
    pub counter_update_period_ns: Option<u64>,
    /// Interval of the background readings; a shorter window has no power reading of its own.
    pub sample_interval_ns: Option<u64>,
    /// Stated accuracy of each power reading, as a fraction of the power: an energy figure from sampled power
    /// is uncertain by at least this fraction of itself. `None` when the device states none.
    pub power_accuracy_rel: Option<f64>,
    /// Set when the device stopped answering during the window (NVML's GPU_IS_LOST).
    pub lost: Option<Lost>,
    pub samples: Vec<Sample>,
}

/// A device that stopped answering: readings from then on are empty, and a span that reaches past its last
/// answered reading has no energy figure (`Window::lost_before`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lost {
    /// The last reading the device answered, in ns since the origin; `None` when it answered none in the window.
    pub last_answered_ns: Option<u64>,
    /// What the device said, in one line.
    pub reason: String,
}

impl Window {
    /// Energy, power, coverage and integrity flags over the whole window.
    pub fn totals(&self) -> Totals {
        self.totals_between(self.start_ns, self.end_ns)
    }

    /// The same figures restricted to `[t0_ns, t1_ns]` (e.g. prompt processing vs generation), from the counter
    /// interpolated between readings or from integrated sampled power.
    pub fn totals_between(&self, t0_ns: u64, t1_ns: u64) -> Totals {
        accounting::totals(self, t0_ns, t1_ns)
    }

    /// Energy in joules between two instants of this window; `None` when the readings cannot tell (too short,
    /// counter unchanged, instants outside the readings, or no energy reading at all).
    pub fn energy_between(&self, t0_ns: u64, t1_ns: u64) -> Option<f64> {
        self.totals_between(t0_ns, t1_ns).energy_j
    }

    /// Why a span ending at `t1_ns` has no energy figure because the device was lost before then, as the one-line
    /// `absent_reason` of its records; `None` when the device answered through `t1_ns`.
    pub fn lost_before(&self, t1_ns: u64) -> Option<String> {
        let lost = self.lost.as_ref()?;
        lost.last_answered_ns
            .is_none_or(|t| t1_ns > t)
            .then(|| format!("energy: absent ({}: lost: {})", self.device, lost.reason))
    }

    /// Largest `memory_used_bytes` seen in the window (peak resident set for `ProcessSensor`).
    pub fn peak_memory_used_bytes(&self) -> Option<u64> {
        self.samples
            .iter()
            .filter_map(|s| s.memory_used_bytes)
            .max()
    }
}

/// Why a sensor could not be opened or read. The message names the device or path and what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SensorError {
    #[error("NVML not available: {0}")]
    NvmlUnavailable(String),
    #[error("no RAPL: {path} not present")]
    RaplAbsent { path: String },
    #[error("no RAPL: {path}: {reason}")]
    RaplUnreadable { path: String, reason: String },
    #[error("process sensor: {0}")]
    Process(String),
    #[error("{device}: start() called while a window is already open")]
    AlreadyStarted { device: String },
    #[error("{device}: stop() called without start()")]
    NotStarted { device: String },
}

/// A device that can measure a window. Real sensors and `TraceSensor` implement it, and everything downstream
/// (accounting, records) sees only `Window`s, so tests exercise the same code as real runs.
pub trait Sensor: Send {
    /// Human-readable device description, e.g. "NVIDIA H100 80GB HBM3 (GPU 0)" or "RAPL package-0".
    fn device(&self) -> &str;
    fn family(&self) -> SensorFamily;
    fn capabilities(&self) -> Capabilities;
    /// Theoretical memory bandwidth of the device, when it can say (NVML: bus width × memory clock).
    fn memory_bandwidth_gb_per_s(&self) -> Option<f64> {
        None
    }
    /// The device's driver version, when it has one to report (NVML: the NVIDIA driver).
    fn driver(&self) -> Option<&str> {
        None
    }
    /// Takes a first reading and starts background readings; timestamps are ns since `origin`.
    fn start(&mut self, origin: Instant) -> Result<(), SensorError>;
    /// Stops background readings, takes a last reading and returns the window.
    fn stop(&mut self) -> Result<Window, SensorError>;
}
