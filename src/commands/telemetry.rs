//! Telemetry options shared by `bench` and `load`: opening the sensors, the idle baseline (measured or read from
//! an earlier result), and the memory bandwidth the roofline uses.

use super::InputError;
use crate::config::Config;
use crate::results::read_result;
use crate::results::telemetry::{Bandwidth, TelemetryInfo};
use crate::results::Warning;
use crate::runner::{Meter, MeterOptions};
use crate::telemetry::{
    measure_cpu_read_bandwidth, roofline::DEFAULT_BANDWIDTH_BUFFER_BYTES, EnergyRecord,
};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct TelemetryOptions {
    /// `--telemetry on|off`.
    pub enabled: bool,
    /// `--sample-interval`.
    pub sample_interval: Duration,
    /// `--idle`: idle-power measurement before the cases; zero skips it.
    pub idle: Duration,
    /// `--idle-from`: reuse the idle baseline of an earlier result file.
    pub idle_from: Option<PathBuf>,
    /// `--hardware`: a `[[hardware]]` whose `memory_bandwidth_gb_per_s` overrides the measured bandwidth.
    pub hardware: Option<String>,
}

impl Default for TelemetryOptions {
    fn default() -> Self {
        TelemetryOptions {
            enabled: true,
            sample_interval: crate::telemetry::DEFAULT_SAMPLE_INTERVAL,
            idle: Duration::from_secs(10),
            idle_from: None,
            hardware: None,
        }
    }
}

/// Opens the sensors and takes the idle baseline (before any model is loaded, so the device is at rest).
pub fn open(o: &TelemetryOptions) -> anyhow::Result<Meter> {
    if o.sample_interval.is_zero() {
        return Err(InputError("--sample-interval: must be longer than 0".into()).into());
    }
    let idle_from = match &o.idle_from {
        None => None,
        Some(p) => {
            let r = read_result(p)?;
            let idle = r
                .telemetry
                .map(|t| t.idle)
                .filter(|i| !i.is_empty())
                .ok_or_else(|| {
                    InputError(format!(
                        "--idle-from: {}: telemetry.idle: no idle baseline in this result",
                        p.display()
                    ))
                })?;
            Some((idle, p.display().to_string()))
        }
    };
    let mut meter = Meter::open(&MeterOptions {
        enabled: o.enabled,
        sample_interval: o.sample_interval,
        idle_from,
    });
    meter.measure_idle(o.idle);
    Ok(meter)
}

/// The `[[hardware]]` named by `--hardware`, checked before anything runs: its `memory_bandwidth_gb_per_s`
/// (when it has one) overrides the bandwidth tokenmeter would measure.
pub fn configured_bandwidth(
    o: &TelemetryOptions,
    config: &Config,
) -> Result<Option<Bandwidth>, InputError> {
    let Some(name) = &o.hardware else {
        return Ok(None);
    };
    let h = config
        .hardware
        .iter()
        .find(|h| &h.name == name)
        .ok_or_else(|| {
            InputError(format!(
                "--hardware: no [[hardware]] named '{name}' in the configuration"
            ))
        })?;
    Ok(h.memory_bandwidth_gb_per_s.map(|gb_per_s| Bandwidth {
        gb_per_s,
        source: format!("configured: models.toml hardware[{name}].memory_bandwidth_gb_per_s"),
    }))
}

/// The bandwidth generation is measured against: `configured` (from `configured_bandwidth`), else the device's
/// own figure (NVML) when layers are offloaded, else a streaming-read measurement of the CPU when the run is on
/// the CPU. `None` when none applies.
pub fn bandwidth(
    configured: Option<Bandwidth>,
    meter: &Meter,
    on_cpu: bool,
    threads: u32,
) -> Option<Bandwidth> {
    if configured.is_some() {
        return configured;
    }
    if !on_cpu {
        return meter
            .device_bandwidth_gb_per_s()
            .map(|(gb_per_s, device)| Bandwidth {
                gb_per_s,
                source: format!("nvml: {device} memory bus width × max memory clock × 2"),
            });
    }
    let threads = threads.max(1) as usize;
    let gb_per_s = measure_cpu_read_bandwidth(
        DEFAULT_BANDWIDTH_BUFFER_BYTES,
        threads,
        Duration::from_millis(300),
    );
    Some(Bandwidth {
        gb_per_s,
        source: format!(
            "measured: CPU streaming read of {} MiB, {threads} threads, best pass",
            DEFAULT_BANDWIDTH_BUFFER_BYTES >> 20
        ),
    })
}

/// The result file's `telemetry` section.
pub fn info(meter: &Meter, bandwidth: Option<Bandwidth>) -> TelemetryInfo {
    TelemetryInfo {
        enabled: meter.enabled,
        sample_interval_ms: meter.sample_interval.as_secs_f64() * 1e3,
        sensors: meter.devices(),
        energy_absent_reason: meter.energy_absent_reason.clone(),
        idle: meter.idle.clone(),
        idle_source: meter.idle_source.clone(),
        memory_bandwidth: bandwidth,
    }
}

/// The integrity flags of `records` as warnings, each naming `at` (a case or level) and the record's device.
pub fn flag_warnings<'a>(
    at: &str,
    records: impl Iterator<Item = &'a EnergyRecord>,
) -> Vec<Warning> {
    records
        .flat_map(|rec| {
            rec.flags.iter().map(move |f| Warning::Energy {
                at: format!("{at} ({})", rec.device.as_deref().unwrap_or("?")),
                message: f.to_string(),
            })
        })
        .collect()
}

/// Sensor failures as result-file warnings.
pub fn sensor_warnings(meter: &Meter) -> Vec<Warning> {
    meter
        .problems
        .iter()
        .map(|m| Warning::Sensor { message: m.clone() })
        .collect()
}
