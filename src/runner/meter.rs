//! The sensors around a run: opened once, an idle baseline before the cases, then one measured window per case
//! (its repetitions, after warm-up) or per `load` level. A sensor that fails mid-run loses its window and says so;
//! the measurement itself goes on.

use crate::telemetry::{self, IdleBaseline, ProbeConfig, Sensor, Window};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct MeterOptions {
    /// False: no sensor is opened (`--telemetry off`).
    pub enabled: bool,
    pub sample_interval: Duration,
    /// A baseline read from an earlier result instead of measuring one, and where it came from.
    pub idle_from: Option<(Vec<IdleBaseline>, String)>,
}

pub struct Meter {
    pub enabled: bool,
    sensors: Vec<Box<dyn Sensor>>,
    started: Vec<bool>,
    pub sample_interval: Duration,
    pub energy_absent_reason: Option<String>,
    pub idle: Vec<IdleBaseline>,
    pub idle_source: Option<String>,
    /// Sensor failures, one line each, for the result's warnings.
    pub problems: Vec<String>,
    /// Devices that stopped answering during the run, with what they said, each once.
    pub lost: Vec<(String, String)>,
}

impl Meter {
    /// Opens this machine's sensors (none when disabled), with a one-line reason when none measures energy.
    pub fn open(o: &MeterOptions) -> Meter {
        let (sensors, reason) = if o.enabled {
            let p = telemetry::probe(&ProbeConfig {
                sample_interval: o.sample_interval,
                ..ProbeConfig::default()
            });
            let reason = p.energy_absent_reason();
            (p.sensors, reason)
        } else {
            (
                Vec::new(),
                Some("energy: not measured (--telemetry off)".to_string()),
            )
        };
        let (idle, idle_source) = match &o.idle_from {
            Some((b, from)) => (b.clone(), Some(from.clone())),
            None => (Vec::new(), None),
        };
        Meter {
            enabled: o.enabled,
            started: vec![false; sensors.len()],
            sensors,
            sample_interval: o.sample_interval,
            energy_absent_reason: reason,
            idle,
            idle_source,
            problems: Vec::new(),
            lost: Vec::new(),
        }
    }

    /// A meter over the given `sensors` (e.g. `TraceSensor`s replaying known power) instead of this machine's,
    /// with no idle baseline.
    pub fn with_sensors(sensors: Vec<Box<dyn Sensor>>, sample_interval: Duration) -> Meter {
        let measures = sensors.iter().any(|s| s.capabilities().energy());
        Meter {
            enabled: true,
            started: vec![false; sensors.len()],
            sensors,
            sample_interval,
            energy_absent_reason: (!measures).then(|| "energy: absent (no sensor)".to_string()),
            idle: Vec::new(),
            idle_source: None,
            problems: Vec::new(),
            lost: Vec::new(),
        }
    }

    pub fn devices(&self) -> Vec<String> {
        self.sensors
            .iter()
            .map(|s| s.device().to_string())
            .collect()
    }

    /// `device: driver version` for each sensor whose device reports a driver.
    pub fn drivers(&self) -> Vec<String> {
        self.sensors
            .iter()
            .filter_map(|s| s.driver().map(|d| format!("{}: {d}", s.device())))
            .collect()
    }

    /// Whether some sensor measures energy.
    pub fn measures_energy(&self) -> bool {
        self.energy_absent_reason.is_none()
    }

    /// Theoretical memory bandwidth a sensor reports (NVML), with its device.
    pub fn device_bandwidth_gb_per_s(&self) -> Option<(f64, String)> {
        self.sensors.iter().find_map(|s| {
            s.memory_bandwidth_gb_per_s()
                .map(|b| (b, s.device().to_string()))
        })
    }

    /// Measures idle power for `duration` unless a baseline was given, nothing measures energy, or the duration
    /// is zero.
    pub fn measure_idle(&mut self, duration: Duration, stop: &std::sync::atomic::AtomicBool) {
        if !self.idle.is_empty() || !self.measures_energy() || duration.is_zero() {
            return;
        }
        let results = telemetry::measure_idle(&mut self.sensors, Instant::now(), duration, stop);
        for (r, s) in results.into_iter().zip(&self.sensors) {
            match r {
                Ok(b) if b.idle_power_w.is_some() => self.idle.push(b),
                Ok(_) => {}
                Err(e) => self
                    .problems
                    .push(format!("{}: idle baseline: {e}", s.device())),
            }
        }
        self.idle_source = Some(format!("measured ({:.0} s)", duration.as_secs_f64()));
    }

    /// Starts a window on every sensor; timestamps are ns since `origin`.
    pub fn start(&mut self, origin: Instant) {
        for (s, started) in self.sensors.iter_mut().zip(self.started.iter_mut()) {
            *started = match s.start(origin) {
                Ok(()) => true,
                Err(e) => {
                    self.problems.push(format!("{}: {e}", s.device()));
                    false
                }
            };
        }
    }

    /// Ends the window on every sensor that started one.
    pub fn stop(&mut self) -> Vec<Window> {
        let mut windows = Vec::new();
        for (s, started) in self.sensors.iter_mut().zip(self.started.iter_mut()) {
            if !std::mem::replace(started, false) {
                continue;
            }
            match s.stop() {
                Ok(w) => {
                    if let Some(l) = &w.lost {
                        if !self.lost.iter().any(|(d, _)| d == &w.device) {
                            self.lost.push((w.device.clone(), l.reason.clone()));
                        }
                    }
                    windows.push(w)
                }
                Err(e) => self.problems.push(format!("{}: {e}", s.device())),
            }
        }
        windows
    }
}
