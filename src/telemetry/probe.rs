//! Finding the sensors this machine has, and saying in one line why each missing kind is missing.

use super::{
    NvmlSensor, ProcessSensor, RaplSensor, Sensor, DEFAULT_SAMPLE_INTERVAL, POWERCAP_ROOT,
};
use std::path::PathBuf;
use std::time::Duration;

/// What `probe` looks for and how often the sensors it opens read in the background.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    pub sample_interval: Duration,
    /// Normally `POWERCAP_ROOT`; tests point it at a fake tree.
    pub powercap_root: PathBuf,
    /// Whether to open this process's `ProcessSensor`.
    pub process: bool,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            sample_interval: DEFAULT_SAMPLE_INTERVAL,
            powercap_root: PathBuf::from(POWERCAP_ROOT),
            process: true,
        }
    }
}

/// A kind of sensor that is not available, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Absent {
    /// "gpu", "cpu", "apple" or "process".
    pub kind: &'static str,
    pub reason: String,
}

/// The sensors found, and a reason for each kind not found.
pub struct Probe {
    pub sensors: Vec<Box<dyn Sensor>>,
    pub absent: Vec<Absent>,
}

impl Probe {
    /// One line for result files and tables when no sensor measures energy, e.g. "energy: absent (no NVIDIA
    /// GPU: NVML not available: libnvidia-ml.so not found; no RAPL: /sys/class/powercap not present)".
    pub fn energy_absent_reason(&self) -> Option<String> {
        if self.sensors.iter().any(|s| s.capabilities().energy()) {
            return None;
        }
        let reasons: Vec<&str> = self
            .absent
            .iter()
            .filter(|a| a.kind != "process")
            .map(|a| a.reason.as_str())
            .collect();
        Some(format!("energy: absent ({})", reasons.join("; ")))
    }
}

/// On Apple silicon, why energy is not read: `powermetrics` would need root, and tokenmeter does not guess.
/// `None` elsewhere.
pub fn apple_silicon_absent_reason() -> Option<&'static str> {
    cfg!(all(target_os = "macos", target_arch = "aarch64"))
        .then_some("Apple silicon: powermetrics needs root; not read")
}

/// Opens every sensor this machine offers: NVIDIA GPUs, RAPL package and DRAM zones, and this process.
pub fn probe(config: &ProbeConfig) -> Probe {
    let mut sensors: Vec<Box<dyn Sensor>> = Vec::new();
    let mut absent = Vec::new();
    match NvmlSensor::all(config.sample_interval) {
        Ok(gpus) => sensors.extend(gpus.into_iter().map(|s| Box::new(s) as Box<dyn Sensor>)),
        Err(e) => absent.push(Absent {
            kind: "gpu",
            reason: format!("no NVIDIA GPU: {e}"),
        }),
    }
    match RaplSensor::discover(&config.powercap_root, config.sample_interval) {
        Ok(zones) => sensors.extend(zones.into_iter().map(|s| Box::new(s) as Box<dyn Sensor>)),
        Err(e) => absent.push(Absent {
            kind: "cpu",
            reason: e.to_string(),
        }),
    }
    if let Some(reason) = apple_silicon_absent_reason() {
        absent.push(Absent {
            kind: "apple",
            reason: reason.to_string(),
        });
    }
    if config.process {
        match ProcessSensor::new(config.sample_interval) {
            Ok(p) => sensors.push(Box::new(p)),
            Err(e) => absent.push(Absent {
                kind: "process",
                reason: e.to_string(),
            }),
        }
    }
    Probe { sensors, absent }
}
