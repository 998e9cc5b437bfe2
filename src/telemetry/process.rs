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
    /// The previous reading's time and accumulated CPU time (ms): CPU % is the change since then, so the first
    /// reading has none and reports `None`.
    previous: Option<(Instant, u64)>,
}

impl Reader for ProcessReader {
    fn read(&mut self) -> Sample {
        let kind = ProcessRefreshKind::nothing().with_cpu().with_memory();
        self.sys
            .refresh_processes_specifics(ProcessesToUpdate::Some(&[self.pid]), false, kind);
        let now = Instant::now();
        let p = self.sys.process(self.pid);
        let cpu_ms = p.map(|p| p.accumulated_cpu_time());
        let utilization_pct = match (self.previous, cpu_ms) {
            (Some((t, before_ms)), Some(after_ms)) => {
                let wall_ms = now.duration_since(t).as_secs_f64() * 1e3;
                (wall_ms > 0.0).then(|| after_ms.saturating_sub(before_ms) as f64 / wall_ms * 100.0)
            }
            _ => None,
        };
        self.previous = cpu_ms.map(|ms| (now, ms));
        Sample {
            utilization_pct,
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
            previous: None,
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
            power_accuracy_rel: None,
            lost: None,
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

        // a busy thread shows up as CPU time
        s.start(Instant::now()).unwrap();
        let until = Instant::now() + Duration::from_millis(100);
        let mut x = 0u64;
        while Instant::now() < until {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let w = s.stop().unwrap();
        let busiest = w
            .samples
            .iter()
            .filter_map(|s| s.utilization_pct)
            .fold(0.0, f64::max);
        assert!(busiest > 20.0, "{busiest}");
        assert_eq!(w.totals().energy_j, None);
    }
}
