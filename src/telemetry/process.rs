//! `ProcessSensor`: this process's CPU use and resident memory through `sysinfo`, the context for energy figures.

use super::sampler::{Reader, Sampled};
use super::{Capabilities, Sample, Sensor, SensorError, SensorFamily, Window};
use std::time::{Duration, Instant};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// This process: each reading's `utilization_pct` is CPU % since the previous reading (100 = one core busy) and
/// `memory_used_bytes` is the resident set; `Window::peak_memory_used_bytes` gives the peak over the readings.
pub struct ProcessSensor {
    inner: Sampled<ProcessReader>,
}

struct ProcessReader {
    sys: System,
    pid: Pid,
    /// CPU % needs a previous refresh; the first reading has none and reports `None`.
    primed: bool,
}

impl Reader for ProcessReader {
    fn read(&mut self) -> Sample {
        let kind = ProcessRefreshKind::nothing().with_cpu().with_memory();
        self.sys
            .refresh_processes_specifics(ProcessesToUpdate::Some(&[self.pid]), false, kind);
        let p = self.sys.process(self.pid);
        let primed = std::mem::replace(&mut self.primed, true);
        Sample {
            utilization_pct: p.filter(|_| primed).map(|p| f64::from(p.cpu_usage())),
            memory_used_bytes: p.map(|p| p.memory()),
            ..Sample::default()
        }
    }
}

impl ProcessSensor {
    /// This process, sampled every `interval`.
    pub fn new(interval: Duration) -> Result<ProcessSensor, SensorError> {
        let pid = sysinfo::get_current_pid()
            .map_err(|e| SensorError::Process(format!("own pid: {e}")))?;
        let sys = System::new().map_err(|e| SensorError::Process(e.to_string()))?;
        let mut reader = ProcessReader {
            sys,
            pid,
            primed: false,
        };
        reader.read();
        Ok(ProcessSensor {
            inner: Sampled::new(format!("process {pid}"), reader, interval),
        })
    }
}

impl Sensor for ProcessSensor {
    fn device(&self) -> &str {
        &self.inner.device
    }

    fn family(&self) -> SensorFamily {
        SensorFamily::Process
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            utilization: true,
            memory: true,
            ..Capabilities::default()
        }
    }

    fn start(&mut self, origin: Instant) -> Result<(), SensorError> {
        self.inner.start(origin)
    }

    fn stop(&mut self) -> Result<Window, SensorError> {
        let samples = self.inner.stop()?;
        Ok(Window {
            device: self.inner.device.clone(),
            family: SensorFamily::Process,
            start_ns: samples.first().map_or(0, |s| s.t_ns),
            end_ns: samples.last().map_or(0, |s| s.t_ns),
            counter_range_j: None,
            counter_update_period_ns: None,
            sample_interval_ns: Some(self.inner.interval_ns()),
            samples,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_this_process_memory_and_no_energy() {
        let mut s = ProcessSensor::new(Duration::from_millis(5)).unwrap();
        let buf = vec![1u8; 32 << 20];
        s.start(Instant::now()).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        let w = s.stop().unwrap();
        std::hint::black_box(&buf);
        assert!(w.peak_memory_used_bytes().unwrap() >= 32 << 20);
        assert!(w.samples.iter().all(|s| s.utilization_pct.is_some()));
        assert_eq!(w.totals().energy_j, None);
    }
}
