//! Telemetry in result files: energy per case and phase, per `load` level, the process context, the idle
//! baseline, and the memory-bandwidth roofline. Built from the sensors' windows and the run's raw samples; every
//! figure absent from the readings stays `None` (JSON `null`).

use crate::runner::RepSample;
use crate::telemetry::{EnergyRecord, IdleBaseline, SensorFamily, Window};
use serde::{Deserialize, Serialize};

/// What the run could measure, once per result file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TelemetryInfo {
    /// False with `--telemetry off`.
    pub enabled: bool,
    pub sample_interval_ms: f64,
    /// Devices read, e.g. "NVIDIA H100 80GB HBM3 (GPU 0)", "RAPL package-0", "process 1234".
    pub sensors: Vec<String>,
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

fn process_context(w: &Window) -> ProcessContext {
    let cpu: Vec<f64> = w.samples.iter().filter_map(|s| s.utilization_pct).collect();
    ProcessContext {
        cpu_pct_mean: (!cpu.is_empty()).then(|| cpu.iter().sum::<f64>() / cpu.len() as f64),
        peak_rss_bytes: w.peak_memory_used_bytes(),
    }
}

fn idle_for<'a>(idle: &'a [IdleBaseline], w: &Window) -> Option<&'a IdleBaseline> {
    idle.iter().find(|b| b.device == w.device)
}

/// The reason recorded when no sensor measured energy and the run gave none.
const NO_SENSOR: &str = "energy: absent (no sensor)";

fn energy_windows(windows: &[Window]) -> impl Iterator<Item = &Window> {
    windows.iter().filter(|w| w.family != SensorFamily::Process)
}

/// Energy of a `bench` case from its windows and repetitions (`RepSample::start_ns` places each repetition in the
/// window). With no energy window, one record saying why (`absent_reason`).
pub fn case_energy(
    windows: &[Window],
    samples: &[RepSample],
    n_prompt: u32,
    n_gen: u32,
    idle: &[IdleBaseline],
    absent_reason: Option<&str>,
) -> Vec<CaseEnergy> {
    let mut out: Vec<CaseEnergy> = Vec::new();
    let placed: Vec<(u64, &RepSample)> = samples
        .iter()
        .filter_map(|s| Some((s.start_ns?, s)))
        .collect();
    let tokens = |per_rep: u32| Some(per_rep as u64 * placed.len() as u64);
    let timed: Vec<(u64, u64)> = placed.iter().map(|(t, s)| (*t, t + s.total_ns)).collect();
    for w in energy_windows(windows) {
        let base = idle_for(idle, w);
        let total = match (timed.first(), timed.last()) {
            (Some(&(a, _)), Some(&(_, b))) => EnergyRecord {
                samples: w
                    .samples
                    .iter()
                    .filter(|s| s.t_ns >= a && s.t_ns <= b)
                    .cloned()
                    .collect(),
                ..EnergyRecord::over_spans(w, &timed, tokens(n_prompt + n_gen), base)
            },
            _ => EnergyRecord::absent(format!("{}: no repetition finished", w.device)),
        };
        let prompt = (n_prompt > 0).then(|| {
            let spans: Vec<(u64, u64)> = placed
                .iter()
                .filter_map(|(t, s)| Some((*t, t + s.prompt_ns?)))
                .collect();
            EnergyRecord::over_spans(w, &spans, tokens(n_prompt), base)
        });
        let generation = (n_gen > 0).then(|| {
            let spans: Vec<(u64, u64)> = placed
                .iter()
                .map(|(t, s)| (t + s.prompt_ns.unwrap_or(0), t + s.total_ns))
                .collect();
            EnergyRecord::over_spans(w, &spans, tokens(n_gen), base)
        });
        out.push(CaseEnergy {
            total,
            prompt,
            generation,
        });
    }
    if out.is_empty() {
        out.push(CaseEnergy {
            total: EnergyRecord::absent(absent_reason.unwrap_or(NO_SENSOR)),
            prompt: None,
            generation: None,
        });
    }
    out
}

/// Energy of a `load` level: each device's whole window, per output token.
pub fn level_energy(
    windows: &[Window],
    output_tokens: u64,
    idle: &[IdleBaseline],
    absent_reason: Option<&str>,
) -> Vec<EnergyRecord> {
    let out: Vec<EnergyRecord> = energy_windows(windows)
        .map(|w| {
            EnergyRecord::from_window(
                w,
                w.start_ns,
                w.end_ns,
                Some(output_tokens),
                idle_for(idle, w),
            )
        })
        .collect();
    if out.is_empty() {
        vec![EnergyRecord::absent(absent_reason.unwrap_or(NO_SENSOR))]
    } else {
        out
    }
}

/// The process sensor's window, if one was read.
pub fn process_of(windows: &[Window]) -> Option<ProcessContext> {
    windows
        .iter()
        .find(|w| w.family == SensorFamily::Process)
        .map(process_context)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::{Sample, Sensor, TraceSensor};

    const MS: u64 = 1_000_000;

    /// 100 W by a counter read every 10 ms for 2 s, refreshed every millisecond.
    fn window_at_100_w() -> Window {
        let samples = (0..=200u64)
            .map(|i| Sample {
                t_ns: i * 10 * MS,
                energy_counter_j: Some(i as f64),
                ..Sample::default()
            })
            .collect();
        let mut s = TraceSensor::new("gpu", samples).with_counter_update_period_ns(MS);
        s.start(std::time::Instant::now()).unwrap();
        s.stop().unwrap()
    }

    fn rep(start_ms: u64, prompt_ms: u64, total_ms: u64) -> RepSample {
        RepSample {
            prompt_ns: Some(prompt_ms * MS),
            gen_ns: Some((total_ms - prompt_ms) * MS),
            total_ns: total_ms * MS,
            gen_token_ns: Vec::new(),
            start_ns: Some(start_ms * MS),
        }
    }

    #[test]
    fn a_cases_total_energy_counts_only_the_timed_repetitions() {
        // Two repetitions of 400 ms (200 ms prompt) at 100–500 ms and 1000–1400 ms; between them the untimed
        // context refill. Timed: 0.8 s at 100 W = 80 J, not the 130 J from the first start to the last end.
        let w = window_at_100_w();
        let samples = [rep(100, 200, 400), rep(1000, 200, 400)];
        let e = case_energy(&[w], &samples, 20, 10, &[], None).remove(0);
        assert!(
            (e.total.energy_j.unwrap() - 80.0).abs() < 1e-9,
            "{:?}",
            e.total
        );
        assert!((e.total.avg_power_w.unwrap() - 100.0).abs() < 1e-9);
        assert_eq!(e.total.tokens, Some(60));
        assert!((e.total.j_per_token.unwrap() - 80.0 / 60.0).abs() < 1e-12);
        assert!((e.prompt.unwrap().energy_j.unwrap() - 40.0).abs() < 1e-9);
        assert!((e.generation.unwrap().energy_j.unwrap() - 40.0).abs() < 1e-9);
        // The readings of the whole stretch are kept with the total.
        assert_eq!(e.total.samples.len(), 131);
        assert_eq!(
            (e.total.start_ns, e.total.end_ns),
            (Some(100 * MS), Some(1400 * MS))
        );
    }

    #[test]
    fn a_total_that_cannot_be_measured_has_no_coverage() {
        // A 0.5 ms repetition is shorter than the counter's update period.
        let w = window_at_100_w();
        let samples = [RepSample {
            total_ns: MS / 2,
            ..rep(100, 0, 1)
        }];
        let e = case_energy(&[w], &samples, 0, 1, &[], None).remove(0);
        assert_eq!((e.total.energy_j, e.total.coverage), (None, None));
    }
}
