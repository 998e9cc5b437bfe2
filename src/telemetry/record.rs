//! What telemetry puts into a result file: energy per window or phase, the idle baseline, and integrity flags.
//! Absent figures are `None` and serialise as JSON `null`.

use super::accounting::{self, Basis};
use super::{Sensor, SensorError, SensorFamily, Window};
pub use crate::results::telemetry::{EnergyFlag, EnergyRecord, EnergySource, IdleBaseline};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

impl EnergySource {
    /// The source for a sensor family and the reading the energy came from; `None` for families without energy.
    pub fn of(family: SensorFamily, basis: Basis) -> Option<Self> {
        match (family, basis) {
            (SensorFamily::Nvml, Basis::Counter) => Some(Self::NvmlCounter),
            (SensorFamily::Nvml, Basis::Power) => Some(Self::NvmlPower),
            (SensorFamily::Rapl, _) => Some(Self::Rapl),
            (SensorFamily::Trace, Basis::Counter) => Some(Self::TraceCounter),
            (SensorFamily::Trace, Basis::Power) => Some(Self::TracePower),
            (SensorFamily::Process, _) => None,
        }
    }
}

impl EnergyFlag {
    /// The flag for a figure uncertain by `uncertainty_rel` of itself, when that exceeds the limit. The bound is
    /// per edge, so it shrinks as 1/span: `span_factor` = `uncertainty_rel / limit`.
    pub fn uncertain(uncertainty_rel: f64) -> Option<Self> {
        let limit_rel = accounting::UNCERTAINTY_LIMIT;
        (uncertainty_rel > limit_rel).then(|| Self::Uncertain {
            uncertainty_rel,
            limit_rel,
            span_factor: uncertainty_rel / limit_rel,
        })
    }
}

/// `part / whole`; `None` when either is missing or the whole is not positive.
fn relative(part: Option<f64>, whole: Option<f64>) -> Option<f64> {
    let (p, w) = (part?, whole?);
    (w > 0.0).then(|| p / w)
}

impl IdleBaseline {
    /// Idle power as the window's average power.
    pub fn from_window(w: &Window) -> Self {
        let t = w.totals();
        IdleBaseline {
            device: w.device.clone(),
            source: t.basis.and_then(|b| EnergySource::of(w.family, b)),
            duration_ns: t.duration_ns,
            idle_power_w: t.avg_power_w,
            coverage: t.coverage,
            flags: t.flags,
        }
    }
}

/// Measures every sensor's idle power over the same `duration` (the `--idle` option), or until `stop` is set
/// (checked every 50 ms, so Ctrl-C is honoured at once): one result per sensor, in order, so one failing
/// device does not hide the others.
pub fn measure_idle(
    sensors: &mut [Box<dyn Sensor>],
    origin: Instant,
    duration: Duration,
    stop: &AtomicBool,
) -> Vec<Result<IdleBaseline, SensorError>> {
    let started: Vec<Result<(), SensorError>> =
        sensors.iter_mut().map(|s| s.start(origin)).collect();
    let t0 = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let left = duration.saturating_sub(t0.elapsed());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
    sensors
        .iter_mut()
        .zip(started)
        .map(|(s, r)| {
            r.and_then(|()| s.stop())
                .map(|w| IdleBaseline::from_window(&w))
        })
        .collect()
}

impl EnergyRecord {
    /// The record for `[t0_ns, t1_ns]` of `window` in which `tokens` were processed. Energy above idle needs a
    /// baseline from the same device.
    pub fn from_window(
        window: &Window,
        t0_ns: u64,
        t1_ns: u64,
        tokens: Option<u64>,
        idle: Option<&IdleBaseline>,
    ) -> Self {
        let mut t = window.totals_between(t0_ns, t1_ns);
        let idle_power_w = match idle {
            Some(b) if b.device != window.device => {
                t.flags.push(EnergyFlag::IdleFromOtherDevice {
                    idle_device: b.device.clone(),
                });
                None
            }
            Some(b) => b.idle_power_w,
            None => None,
        };
        let (j_per_token, tokens_per_j) = accounting::per_token(t.energy_j, tokens);
        let energy_uncertainty_rel = relative(t.energy_uncertainty_j, t.energy_j);
        t.flags
            .extend(energy_uncertainty_rel.and_then(EnergyFlag::uncertain));
        EnergyRecord {
            source: t.basis.and_then(|b| EnergySource::of(window.family, b)),
            device: Some(window.device.clone()),
            start_ns: Some(t0_ns),
            end_ns: Some(t1_ns),
            tokens,
            energy_j: t.energy_j,
            energy_above_idle_j: accounting::above_idle_j(t.energy_j, idle_power_w, t.duration_ns),
            counter_energy_j: t.counter_energy_j,
            integrated_energy_j: t.integrated_energy_j,
            avg_power_w: t.avg_power_w,
            peak_power_w: t.peak_power_w,
            coverage: t.coverage,
            j_per_token,
            tokens_per_j,
            energy_uncertainty_j: t.energy_uncertainty_j,
            energy_uncertainty_rel,
            flags: t.flags,
            samples: window
                .samples
                .iter()
                .filter(|s| s.t_ns >= t0_ns && s.t_ns <= t1_ns)
                .cloned()
                .collect(),
            absent_reason: window.lost_before(t1_ns),
        }
    }

    /// One phase spread over several spans of `window` (e.g. the generation phase of every repetition), with
    /// `tokens` processed in all of them: energies add up, power is energy over the spans' total time, and each
    /// kind of flag is kept once. A span that cannot be measured makes the phase's energy absent (flagged), never
    /// a partial sum; a span the device was lost in makes the whole record absent, with the reason. The window's
    /// readings are kept in the record of the whole window, not repeated here.
    pub fn over_spans(
        window: &Window,
        spans: &[(u64, u64)],
        tokens: Option<u64>,
        idle: Option<&IdleBaseline>,
    ) -> Self {
        let parts: Vec<EnergyRecord> = spans
            .iter()
            .map(|&(a, b)| EnergyRecord::from_window(window, a, b, None, idle))
            .collect();
        if let Some(reason) = parts.iter().find_map(|p| p.absent_reason.clone()) {
            return EnergyRecord {
                device: Some(window.device.clone()),
                start_ns: spans.first().map(|s| s.0),
                end_ns: spans.last().map(|s| s.1),
                tokens,
                ..EnergyRecord::absent(reason)
            };
        }
        let sum = |f: fn(&EnergyRecord) -> Option<f64>| -> Option<f64> {
            if parts.is_empty() {
                return None;
            }
            parts.iter().map(f).sum()
        };
        let duration_ns: u64 = spans.iter().map(|(a, b)| b.saturating_sub(*a)).sum();
        let energy_j = sum(|p| p.energy_j);
        let coverage = sum(|p| {
            let d = p.end_ns? - p.start_ns?;
            p.coverage.map(|c| c * d as f64)
        })
        .filter(|_| duration_ns > 0)
        .map(|c| c / duration_ns as f64);
        let energy_uncertainty_j = sum(|p| p.energy_uncertainty_j).filter(|_| energy_j.is_some());
        let energy_uncertainty_rel = relative(energy_uncertainty_j, energy_j);
        let mut flags: Vec<EnergyFlag> = Vec::new();
        let of_parts = parts
            .iter()
            .flat_map(|p| p.flags.iter())
            .filter(|f| !matches!(f, EnergyFlag::Uncertain { .. }));
        for f in of_parts {
            if !flags
                .iter()
                .any(|g| std::mem::discriminant(g) == std::mem::discriminant(f))
            {
                flags.push(f.clone());
            }
        }
        flags.extend(energy_uncertainty_rel.and_then(EnergyFlag::uncertain));
        let (j_per_token, tokens_per_j) = accounting::per_token(energy_j, tokens);
        EnergyRecord {
            source: parts.iter().find_map(|p| p.source),
            device: Some(window.device.clone()),
            start_ns: spans.first().map(|s| s.0),
            end_ns: spans.last().map(|s| s.1),
            tokens,
            energy_j,
            energy_above_idle_j: sum(|p| p.energy_above_idle_j),
            counter_energy_j: sum(|p| p.counter_energy_j),
            integrated_energy_j: sum(|p| p.integrated_energy_j),
            avg_power_w: energy_j
                .filter(|_| duration_ns > 0)
                .map(|e| e / (duration_ns as f64 / 1e9)),
            peak_power_w: parts
                .iter()
                .filter_map(|p| p.peak_power_w)
                .max_by(f64::total_cmp),
            coverage: energy_j.and(coverage),
            j_per_token,
            tokens_per_j,
            energy_uncertainty_j,
            energy_uncertainty_rel,
            flags,
            samples: Vec::new(),
            absent_reason: None,
        }
    }

    /// The record when no sensor could measure energy, e.g. from `Probe::energy_absent_reason`.
    pub fn absent(reason: impl Into<String>) -> Self {
        EnergyRecord {
            absent_reason: Some(reason.into()),
            ..EnergyRecord::default()
        }
    }
}
