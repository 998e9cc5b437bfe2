//! `TraceSensor`: replays scripted or recorded readings through the `Sensor` trait, so tests (and re-analysis of a
//! stored window) run the same accounting as a real device.

use super::{Capabilities, Lost, Sample, Sensor, SensorError, SensorFamily, Window};
use std::time::Instant;

/// A sensor whose readings are given in advance. Each `start`/`stop` pair returns a window holding the whole
/// trace, spanning its first to its last reading; the timestamps are taken as already relative to the origin.
#[derive(Debug, Clone)]
pub struct TraceSensor {
    device: String,
    samples: Vec<Sample>,
    counter_range_j: Option<f64>,
    counter_update_period_ns: Option<u64>,
    sample_interval_ns: Option<u64>,
    power_accuracy_rel: Option<f64>,
    lost: Option<Lost>,
    started: bool,
}

impl TraceSensor {
    /// A trace of `samples` (sorted by time here) for `device`.
    pub fn new(device: impl Into<String>, mut samples: Vec<Sample>) -> Self {
        samples.sort_by_key(|s| s.t_ns);
        TraceSensor {
            device: device.into(),
            samples,
            counter_range_j: None,
            counter_update_period_ns: None,
            sample_interval_ns: None,
            power_accuracy_rel: None,
            lost: None,
            started: false,
        }
    }

    /// Replays a recorded window with its counter range, periods, power accuracy and loss.
    pub fn from_window(w: &Window) -> Self {
        TraceSensor {
            counter_range_j: w.counter_range_j,
            counter_update_period_ns: w.counter_update_period_ns,
            sample_interval_ns: w.sample_interval_ns,
            power_accuracy_rel: w.power_accuracy_rel,
            lost: w.lost.clone(),
            ..Self::new(w.device.clone(), w.samples.clone())
        }
    }

    /// The raw counter wraps to 0 after this many joules.
    pub fn with_counter_range_j(mut self, range_j: f64) -> Self {
        self.counter_range_j = Some(range_j);
        self
    }

    /// The device refreshes its counter this often.
    pub fn with_counter_update_period_ns(mut self, period_ns: u64) -> Self {
        self.counter_update_period_ns = Some(period_ns);
        self
    }

    /// Readings were taken this often.
    pub fn with_sample_interval_ns(mut self, interval_ns: u64) -> Self {
        self.sample_interval_ns = Some(interval_ns);
        self
    }
}

impl Sensor for TraceSensor {
    fn device(&self) -> &str {
        &self.device
    }

    fn family(&self) -> SensorFamily {
        SensorFamily::Trace
    }

    fn capabilities(&self) -> Capabilities {
        let any = |f: fn(&Sample) -> bool| self.samples.iter().any(f);
        Capabilities {
            energy_counter: any(|s| s.energy_counter_j.is_some()),
            power: any(|s| s.power_w.is_some()),
            clocks: any(|s| s.graphics_clock_mhz.is_some() || s.memory_clock_mhz.is_some()),
            temperature: any(|s| s.temperature_c.is_some()),
            utilization: any(|s| s.utilization_pct.is_some()),
            memory: any(|s| s.memory_used_bytes.is_some()),
            throttle: any(|s| s.throttle.is_some()),
        }
    }

    fn start(&mut self, _origin: Instant) -> Result<(), SensorError> {
        if self.started {
            return Err(SensorError::AlreadyStarted {
                device: self.device.clone(),
            });
        }
        self.started = true;
        Ok(())
    }

    fn stop(&mut self) -> Result<Window, SensorError> {
        if !std::mem::take(&mut self.started) {
            return Err(SensorError::NotStarted {
                device: self.device.clone(),
            });
        }
        Ok(Window {
            device: self.device.clone(),
            family: SensorFamily::Trace,
            start_ns: self.samples.first().map_or(0, |s| s.t_ns),
            end_ns: self.samples.last().map_or(0, |s| s.t_ns),
            counter_range_j: self.counter_range_j,
            counter_update_period_ns: self.counter_update_period_ns,
            sample_interval_ns: self.sample_interval_ns,
            power_accuracy_rel: self.power_accuracy_rel,
            lost: self.lost.clone(),
            samples: self.samples.clone(),
        })
    }
}
