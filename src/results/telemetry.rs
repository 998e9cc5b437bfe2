//! Telemetry in result files: the sensors' readings, energy per case and phase, per `load` level, the process
//! context, the idle baseline, and the memory-bandwidth roofline. Computing them from the sensors' windows is
//! `telemetry`'s and `analysis::energy`'s; every figure absent from the readings stays `None` (JSON `null`).

use serde::{Deserialize, Serialize};

/// What the run could measure, once per result file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TelemetryInfo {
    /// False with `--telemetry off`.
    pub enabled: bool,
    pub sample_interval_ms: f64,
    /// Devices read, e.g. "NVIDIA H100 80GB HBM3 (GPU 0)", "RAPL package-0", "process 1234".
    pub sensors: Vec<String>,
    /// The driver of each device that reports one: "NVIDIA H100 80GB HBM3 (GPU 0): 550.54.15".
    #[serde(default)]
    pub drivers: Vec<String>,
    /// One line saying why no energy was measured; `None` when some device measured it.
    pub energy_absent_reason: Option<String>,
    /// Idle power per device, measured before the cases or read from an earlier result.
    pub idle: Vec<IdleBaseline>,
    /// `measured (10 s)` or the result file the baseline was read from.
    pub idle_source: Option<String>,
    pub memory_bandwidth: Option<Bandwidth>,
}

/// Memory bandwidth the roofline is drawn against.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bandwidth {
    /// The median pass for a measurement.
    pub gb_per_s: f64,
    /// `measured: CPU streaming read of 1024 MiB, 2 threads, median of 7 passes` (`measured (cached from
    /// DATE): …` when read from this host's cache), `nvml: bus width × memory clock` or
    /// `configured: models.toml hardware[NAME].memory_bandwidth_gb_per_s`.
    pub source: String,
    /// A measurement's slowest and fastest timed pass (absent for NVML and configured figures).
    #[serde(default)]
    pub min_gb_per_s: Option<f64>,
    #[serde(default)]
    pub max_gb_per_s: Option<f64>,
    #[serde(default)]
    pub passes: Option<u32>,
    #[serde(default)]
    pub buffer_bytes: Option<u64>,
    /// When the measurement was taken (earlier than the run when it came from the cache).
    #[serde(default)]
    pub measured_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Generation's physical limit for one case: tokens/s × weight bytes read per token against memory bandwidth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Roofline {
    /// Weights read per generated token (KV-cache reads are not counted).
    pub bytes_per_token: u64,
    pub bandwidth_gb_per_s: f64,
    pub bandwidth_source: String,
    /// `avg_ts × bytes_per_token / bandwidth`.
    pub fraction: Option<f64>,
    /// The compute ceiling (CPU runs): ggml's matrix-vector rate at batch 1 on cache-resident weights.
    #[serde(default)]
    pub compute: Option<ComputeCeiling>,
    /// Which ceiling is the tighter: `memory` or `compute` (absent without a compute ceiling).
    #[serde(default)]
    pub binding: Option<String>,
    /// `avg_ts` as a fraction of the tighter ceiling's tokens/s.
    #[serde(default)]
    pub tighter_fraction: Option<f64>,
}

/// Generation's compute ceiling for one configuration: the rate at which ggml's matrix-vector product at batch
/// 1 processes weight bytes held in the last-level cache, with its spread over the timed passes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComputeCeiling {
    pub gb_per_s: f64,
    pub min_gb_per_s: f64,
    pub max_gb_per_s: f64,
    pub passes: usize,
    pub matrix_bytes: u64,
    pub threads: u32,
    /// The weight type the product ran on (the model's, when it is one the probe quantizes to).
    pub weight_type: String,
    /// The buffer type that held the weights (`CPU`, `CPU_REPACK`, `AMX`).
    pub buffer_type: String,
    /// e.g. `measured (cached from 2026-12-02)`.
    pub source: String,
    /// `gb_per_s` over the weight bytes a token reads.
    pub tg_ceiling_t_per_s: Option<f64>,
}

/// One device's energy for a case: the whole measured window and each phase over every repetition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseEnergy {
    /// The timed region of every repetition (prompt processing and generation, not the context refill or
    /// warm-up between them) with all their tokens; holds the readings from the first repetition's start to the
    /// last one's end.
    pub total: EnergyRecord,
    /// Prompt processing of every repetition (absent for a generation-only test).
    pub prompt: Option<EnergyRecord>,
    /// Generation of every repetition (absent for a prompt-only test).
    pub generation: Option<EnergyRecord>,
}

/// This process while a case or level ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessContext {
    /// Mean CPU % over the readings (100 = one core busy).
    pub cpu_pct_mean: Option<f64>,
    /// Largest resident set among the readings.
    pub peak_rss_bytes: Option<u64>,
}

/// Clock-limiting reasons active at a reading (NVML's throttle reasons, grouped as the issue asks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttle {
    pub thermal: bool,
    pub power_cap: bool,
    pub hw_slowdown: bool,
}

impl Throttle {
    /// Whether any reason is active.
    pub fn any(&self) -> bool {
        self.thermal || self.power_cap || self.hw_slowdown
    }
}

/// One reading of one device. Every field a sensor could not read is `None` (JSON `null`), never 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Nanoseconds since the window's origin, at the middle of the reading.
    pub t_ns: u64,
    /// Raw cumulative energy counter as the device reports it (it may wrap; see `Window::counter_range_j`).
    pub energy_counter_j: Option<f64>,
    pub power_w: Option<f64>,
    pub graphics_clock_mhz: Option<u32>,
    pub memory_clock_mhz: Option<u32>,
    pub temperature_c: Option<f64>,
    /// GPU busy percentage, or this process's CPU percentage (may exceed 100 with several cores).
    pub utilization_pct: Option<f64>,
    /// GPU memory in use, or this process's resident set.
    pub memory_used_bytes: Option<u64>,
    pub throttle: Option<Throttle>,
}

/// Where an energy figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnergySource {
    /// NVML's total energy counter (Volta and newer).
    NvmlCounter,
    /// NVML power readings integrated over time (GPUs without the counter).
    NvmlPower,
    /// Linux powercap/RAPL `energy_uj`.
    Rapl,
    TraceCounter,
    TracePower,
}

/// A measurement problem found in one window or phase; stored with the record and shown next to its figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EnergyFlag {
    /// The span is shorter than the counter's update period (or the sampling interval): energy is not reported.
    ShortWindow { window_ns: u64, period_ns: u64 },
    /// The counter read the same value on both sides of the span: energy is not reported.
    CounterUnchanged { window_ns: u64 },
    /// Power readings cover only this fraction of the span.
    PartialCoverage { coverage: f64 },
    /// The counter went backwards and its wrap range is unknown (driver reload or reset).
    CounterWentBackwards,
    /// Counter energy and integrated sampled power differ by more than `accounting::DISAGREEMENT_LIMIT`.
    CounterPowerDisagree {
        counter_j: f64,
        integrated_j: f64,
        relative_difference: f64,
    },
    /// The device limited its clocks during the span.
    Throttled(Throttle),
    /// The graphics clock fell more than `accounting::CLOCK_DROP_LIMIT` below the span's first reading.
    ClockDrop { first_mhz: u32, min_mhz: u32 },
    /// The temperature rose more than `accounting::TEMPERATURE_CLIMB_LIMIT_C` within the span.
    TemperatureClimb { first_c: f64, max_c: f64 },
    /// The idle baseline given was measured on another device, so no energy above idle is reported.
    IdleFromOtherDevice { idle_device: String },
    /// The energy's uncertainty (`energy_uncertainty_rel`) exceeds `accounting::UNCERTAINTY_LIMIT`: the spans
    /// are too short for the readings around their edges. Spans `span_factor` times longer would bring it under.
    Uncertain {
        uncertainty_rel: f64,
        limit_rel: f64,
        span_factor: f64,
    },
}

impl std::fmt::Display for EnergyFlag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |ns: &u64| *ns as f64 / 1e6;
        match self {
            Self::ShortWindow { window_ns, period_ns } => write!(
                f,
                "window of {:.1} ms is shorter than the {:.1} ms update period: energy not reported; repeat the \
                 work to lengthen the window",
                ms(window_ns),
                ms(period_ns)
            ),
            Self::CounterUnchanged { window_ns } => {
                write!(f, "energy counter did not change in {:.1} ms: energy not reported", ms(window_ns))
            }
            Self::PartialCoverage { coverage } => {
                write!(f, "readings cover only {:.0}% of the window", coverage * 100.0)
            }
            Self::CounterWentBackwards => write!(f, "energy counter went backwards (reset?)"),
            Self::CounterPowerDisagree { counter_j, integrated_j, relative_difference } => write!(
                f,
                "energy counter ({counter_j:.3} J) and integrated power ({integrated_j:.3} J) differ by {:.1}%",
                relative_difference * 100.0
            ),
            Self::Throttled(t) => write!(
                f,
                "throttled (thermal: {}, power cap: {}, hardware slowdown: {})",
                t.thermal, t.power_cap, t.hw_slowdown
            ),
            Self::ClockDrop { first_mhz, min_mhz } => {
                write!(f, "graphics clock dropped from {first_mhz} MHz to {min_mhz} MHz")
            }
            Self::TemperatureClimb { first_c, max_c } => {
                write!(f, "temperature climbed from {first_c:.0} °C to {max_c:.0} °C")
            }
            Self::IdleFromOtherDevice { idle_device } => {
                write!(f, "idle baseline is from {idle_device}: energy above idle not reported")
            }
            Self::Uncertain { uncertainty_rel, limit_rel, span_factor } => write!(
                f,
                "energy uncertain by ±{:.0}% (limit {:.0}%): spans {span_factor:.1}× as long would bring it under",
                uncertainty_rel * 100.0,
                limit_rel * 100.0
            ),
        }
    }
}

/// Each device's power at rest, measured before the cases (or read back from an earlier result file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdleBaseline {
    pub device: String,
    pub source: Option<EnergySource>,
    pub duration_ns: u64,
    pub idle_power_w: Option<f64>,
    pub coverage: Option<f64>,
    pub flags: Vec<EnergyFlag>,
}

/// Energy of one window or phase of one device, as stored in a result file. When no sensor exists, every figure
/// is `None` and `absent_reason` says why in one line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnergyRecord {
    pub source: Option<EnergySource>,
    pub device: Option<String>,
    pub start_ns: Option<u64>,
    pub end_ns: Option<u64>,
    pub tokens: Option<u64>,
    pub energy_j: Option<f64>,
    pub energy_above_idle_j: Option<f64>,
    /// The counter's figure and the integrated power figure, both kept so the cross-check can be recomputed.
    pub counter_energy_j: Option<f64>,
    pub integrated_energy_j: Option<f64>,
    pub avg_power_w: Option<f64>,
    pub peak_power_w: Option<f64>,
    pub coverage: Option<f64>,
    pub j_per_token: Option<f64>,
    pub tokens_per_j: Option<f64>,
    /// Bound on the error of `energy_j` from the readings around the spans' edges (`accounting` module doc).
    #[serde(default)]
    pub energy_uncertainty_j: Option<f64>,
    /// `energy_uncertainty_j / energy_j`; above `accounting::UNCERTAINTY_LIMIT` the record is flagged.
    #[serde(default)]
    pub energy_uncertainty_rel: Option<f64>,
    pub flags: Vec<EnergyFlag>,
    /// The readings taken within the span (the power-over-time trace).
    pub samples: Vec<Sample>,
    pub absent_reason: Option<String>,
}
