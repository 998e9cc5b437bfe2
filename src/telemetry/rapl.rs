//! `RaplSensor`: CPU package and DRAM energy from Linux powercap (`/sys/class/powercap/*rapl:*`), which the kernel
//! exposes for Intel and for AMD (family 17h and newer) under the same class.

use super::sampler::{Reader, Sampled};
use super::{Capabilities, Sample, Sensor, SensorError, SensorFamily, Window};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where the kernel exposes powercap zones.
pub const POWERCAP_ROOT: &str = "/sys/class/powercap";

/// RAPL refreshes `energy_uj` about once a millisecond (Intel SDM vol. 3B, "Platform Specific Power Management
/// Support", read 2026-11); a window shorter than this is not measured.
pub const RAPL_UPDATE_PERIOD_NS: u64 = 1_000_000;

/// One powercap zone (a CPU package or its DRAM) read through its `energy_uj` counter.
pub struct RaplSensor {
    range_j: Option<f64>,
    inner: Sampled<RaplReader>,
}

struct RaplReader {
    energy_path: PathBuf,
}

impl Reader for RaplReader {
    fn read(&mut self) -> Sample {
        Sample {
            energy_counter_j: read_u64(&self.energy_path).ok().map(|uj| uj as f64 / 1e6),
            ..Sample::default()
        }
    }
}

fn read_u64(path: &Path) -> Result<u64, SensorError> {
    let unreadable = |reason: String| SensorError::RaplUnreadable {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        unreadable(if e.kind() == std::io::ErrorKind::PermissionDenied {
            "permission denied (energy_uj is readable only by root on recent kernels)".to_string()
        } else {
            e.to_string()
        })
    })?;
    text.trim()
        .parse()
        .map_err(|_| unreadable(format!("expected an integer, found {:?}", text.trim())))
}

impl RaplSensor {
    /// Every package and DRAM zone under `root` (normally `POWERCAP_ROOT`), sampled every `interval`. Fails when
    /// the root or the zones are absent, or when no zone's counter can be read (the first error is returned).
    pub fn discover(root: &Path, interval: Duration) -> Result<Vec<RaplSensor>, SensorError> {
        let absent = |p: &Path| SensorError::RaplAbsent {
            path: p.display().to_string(),
        };
        let entries = std::fs::read_dir(root).map_err(|_| absent(root))?;
        let mut zones: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("rapl:"))
            .map(|e| e.path())
            .filter(|p| {
                let name = std::fs::read_to_string(p.join("name")).unwrap_or_default();
                name.trim().starts_with("package") || name.trim() == "dram"
            })
            .collect();
        zones.sort();
        if zones.is_empty() {
            return Err(absent(&root.join("*rapl:*")));
        }
        let (ok, errors): (Vec<_>, Vec<_>) = zones
            .iter()
            .map(|z| Self::open(z, interval))
            .partition(|r| r.is_ok());
        match errors.into_iter().next() {
            Some(Err(e)) if ok.is_empty() => Err(e),
            _ => Ok(ok.into_iter().filter_map(Result::ok).collect()),
        }
    }

    /// One zone directory (e.g. `/sys/class/powercap/intel-rapl:0`); reads its counter once to check access.
    pub fn open(zone: &Path, interval: Duration) -> Result<RaplSensor, SensorError> {
        let name_path = zone.join("name");
        let domain =
            std::fs::read_to_string(&name_path).map_err(|e| SensorError::RaplUnreadable {
                path: name_path.display().to_string(),
                reason: e.to_string(),
            })?;
        let energy_path = zone.join("energy_uj");
        read_u64(&energy_path)?;
        let range_j = read_u64(&zone.join("max_energy_range_uj"))
            .ok()
            .map(|uj| uj as f64 / 1e6);
        let zone_id = zone
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let device = format!("RAPL {} ({zone_id})", domain.trim());
        Ok(RaplSensor {
            range_j,
            inner: Sampled::new(device, RaplReader { energy_path }, interval),
        })
    }
}

impl Sensor for RaplSensor {
    fn device(&self) -> &str {
        &self.inner.device
    }

    fn family(&self) -> SensorFamily {
        SensorFamily::Rapl
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            energy_counter: true,
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
            family: SensorFamily::Rapl,
            start_ns: samples.first().map_or(0, |s| s.t_ns),
            end_ns: samples.last().map_or(0, |s| s.t_ns),
            counter_range_j: self.range_j,
            counter_update_period_ns: Some(RAPL_UPDATE_PERIOD_NS),
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
    use crate::telemetry::EnergySource;
    use std::fs;

    fn zone(root: &Path, dir: &str, name: &str, energy_uj: u64, max_uj: u64) -> PathBuf {
        let z = root.join(dir);
        fs::create_dir_all(&z).unwrap();
        fs::write(z.join("name"), format!("{name}\n")).unwrap();
        fs::write(z.join("energy_uj"), format!("{energy_uj}\n")).unwrap();
        fs::write(z.join("max_energy_range_uj"), format!("{max_uj}\n")).unwrap();
        z
    }

    const NEVER: Duration = Duration::from_secs(3600);

    #[test]
    fn discovers_package_and_dram_zones_only() {
        let root = tempfile::tempdir().unwrap();
        zone(root.path(), "intel-rapl:0", "package-0", 1, 100);
        zone(root.path(), "intel-rapl:0:0", "core", 1, 100);
        zone(root.path(), "intel-rapl:0:2", "dram", 1, 100);
        zone(root.path(), "intel-rapl-mmio:0", "package-0", 1, 100);
        zone(root.path(), "intel-rapl:1", "psys", 1, 100);
        let sensors = RaplSensor::discover(root.path(), NEVER).unwrap();
        let devices: Vec<&str> = sensors.iter().map(|s| s.device()).collect();
        assert_eq!(
            devices,
            [
                "RAPL package-0 (intel-rapl:0)",
                "RAPL dram (intel-rapl:0:2)"
            ]
        );
    }

    #[test]
    fn counter_wrap_at_max_energy_range_is_unwrapped() {
        let root = tempfile::tempdir().unwrap();
        // Range 10 J; the counter goes from 9.5 J through the wrap to 1.25 J: 1.75 J consumed.
        let z = zone(
            root.path(),
            "intel-rapl:0",
            "package-0",
            9_500_000,
            10_000_000,
        );
        let mut sensor = RaplSensor::discover(root.path(), NEVER).unwrap().remove(0);
        sensor.start(Instant::now()).unwrap();
        fs::write(z.join("energy_uj"), "1250000\n").unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let w = sensor.stop().unwrap();
        assert_eq!(w.counter_range_j, Some(10.0));
        let totals = w.totals();
        assert!((totals.energy_j.unwrap() - 1.75).abs() < 1e-9, "{totals:?}");
        let record =
            crate::telemetry::EnergyRecord::from_window(&w, w.start_ns, w.end_ns, None, None);
        assert_eq!(record.source, Some(EnergySource::Rapl));
    }

    #[test]
    fn missing_powercap_names_the_path() {
        let root = tempfile::tempdir().unwrap();
        let missing = root.path().join("powercap");
        let err = RaplSensor::discover(&missing, NEVER).err().unwrap();
        assert_eq!(
            err.to_string(),
            format!("no RAPL: {} not present", missing.display())
        );
    }

    #[test]
    fn unreadable_counter_names_the_file() {
        let root = tempfile::tempdir().unwrap();
        let z = root.path().join("intel-rapl:0");
        fs::create_dir_all(z.join("energy_uj")).unwrap();
        fs::write(z.join("name"), "package-0\n").unwrap();
        let err = RaplSensor::discover(root.path(), NEVER).err().unwrap();
        let SensorError::RaplUnreadable { path, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(Path::new(path), z.join("energy_uj"));
    }
}
