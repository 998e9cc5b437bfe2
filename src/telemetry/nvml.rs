//! `NvmlSensor`: NVIDIA GPUs through NVML. The library is loaded at run time, so the same binary runs without a
//! driver and reports the GPU as absent with the reason.

use super::sampler::{Reader, Sampled};
use super::{Capabilities, Lost, Sample, Sensor, SensorError, SensorFamily, Throttle, Window};
use nvml_wrapper::bitmasks::device::ThrottleReasons;
use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::{Device, Nvml};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// NVML's total energy counter advances in steps of roughly 20–100 ms depending on the GPU (issue 5, 2026-11);
/// the upper end is used, so a window the counter cannot resolve is flagged instead of reported as 0 J.
pub const NVML_COUNTER_UPDATE_PERIOD_NS: u64 = 100_000_000;

/// Accuracy of a power reading: "accurate to within +/- 5% of current power draw on Fermi and Kepler GPUs"
/// (nvml.h, `nvmlDeviceGetPowerUsage`; nvml-wrapper 0.13 docs, 2026-12). Sampled power is the energy source only
/// on GPUs without the energy counter (before Volta), so their figures carry it.
pub const NVML_POWER_ACCURACY_REL: f64 = 0.05;

/// What a reading of a lost device says (NVML_ERROR_GPU_IS_LOST).
const GPU_IS_LOST: &str =
    "NVML_ERROR_GPU_IS_LOST: the GPU fell off the bus or is otherwise inaccessible";

/// Theoretical memory bandwidth from the bus width and the maximum memory clock NVML reports. NVML reports the
/// memory clock at half the data rate (DDR), hence the factor 2: e.g. A100 40GB, 5120 bits at 1215 MHz, gives
/// 1555 GB/s, its data-sheet figure.
pub fn nvml_bandwidth_gb_per_s(bus_width_bits: u32, max_memory_clock_mhz: u32) -> f64 {
    bus_width_bits as f64 / 8.0 * max_memory_clock_mhz as f64 * 1e6 * 2.0 / 1e9
}

/// One NVIDIA GPU: the total energy counter as the energy source, with power, clocks, temperature, utilisation,
/// memory and throttle reasons read in the background for the trace (and power as the fallback energy source).
pub struct NvmlSensor {
    caps: Capabilities,
    bandwidth_gb_per_s: Option<f64>,
    driver: Option<String>,
    inner: Sampled<NvmlReader>,
}

struct NvmlReader {
    nvml: Arc<Nvml>,
    index: u32,
    caps: Capabilities,
    /// Readings of the current window the device answered (every one before it was lost).
    answered: usize,
    /// Set by the first reading that finds the device lost. NVML keeps a lost GPU lost until it is reset, so the
    /// reader stops asking.
    lost: bool,
}

fn throttle(r: ThrottleReasons) -> Throttle {
    Throttle {
        thermal: r.intersects(
            ThrottleReasons::SW_THERMAL_SLOWDOWN | ThrottleReasons::HW_THERMAL_SLOWDOWN,
        ),
        power_cap: r.contains(ThrottleReasons::SW_POWER_CAP),
        hw_slowdown: r
            .intersects(ThrottleReasons::HW_SLOWDOWN | ThrottleReasons::HW_POWER_BRAKE_SLOWDOWN),
    }
}

/// `read()` when `on`, with an unsupported or failed reading as `None`; a lost device sets `lost`.
fn get<T>(on: bool, lost: &mut bool, read: impl FnOnce() -> Result<T, NvmlError>) -> Option<T> {
    match on.then(read)? {
        Ok(v) => Some(v),
        Err(NvmlError::GpuLost) => {
            *lost = true;
            None
        }
        Err(_) => None,
    }
}

/// Reads what `caps` says the device supports; everything else stays `None`. `lost` is set when the device
/// answered GPU_IS_LOST to any of the readings.
fn read_device(d: &Device, caps: &Capabilities, lost: &mut bool) -> Sample {
    Sample {
        t_ns: 0,
        energy_counter_j: get(caps.energy_counter, lost, || d.total_energy_consumption())
            .map(|mj| mj as f64 / 1e3),
        power_w: get(caps.power, lost, || d.power_usage()).map(|mw| mw as f64 / 1e3),
        graphics_clock_mhz: get(caps.clocks, lost, || d.clock_info(Clock::Graphics)),
        memory_clock_mhz: get(caps.clocks, lost, || d.clock_info(Clock::Memory)),
        temperature_c: get(caps.temperature, lost, || {
            d.temperature(TemperatureSensor::Gpu)
        })
        .map(f64::from),
        utilization_pct: get(caps.utilization, lost, || d.utilization_rates())
            .map(|u| f64::from(u.gpu)),
        memory_used_bytes: get(caps.memory, lost, || d.memory_info()).map(|m| m.used),
        throttle: get(caps.throttle, lost, || d.current_throttle_reasons()).map(throttle),
    }
}

impl Reader for NvmlReader {
    /// One reading; once the device is lost, an empty one (the reading that found it lost included, so no
    /// half-read sample enters the window).
    fn read(&mut self) -> Sample {
        if self.lost {
            return Sample::default();
        }
        let sample = match self.nvml.device_by_index(self.index) {
            Ok(d) => read_device(&d, &self.caps, &mut self.lost),
            Err(e) => {
                self.lost = matches!(e, NvmlError::GpuLost);
                Sample::default()
            }
        };
        if self.lost {
            return Sample::default();
        }
        self.answered += 1;
        sample
    }
}

/// Where NVML is loaded from: `lib`, else `libnvidia-ml.so.1` on the loader's search path.
fn init(lib: Option<&Path>) -> Result<Nvml, NvmlError> {
    match lib {
        Some(path) => Nvml::builder().lib_path(path.as_os_str()).init(),
        None => Nvml::init(),
    }
}

fn unavailable(e: NvmlError) -> SensorError {
    SensorError::NvmlUnavailable(match e {
        // A library without an entry point tokenmeter needs (libloading names it), e.g. nvmlInit_v2 in a driver
        // from before NVML's v2 interface: one line.
        NvmlError::FailedToLoadSymbol(why) => {
            format!("the NVIDIA driver is too old: {}", why.replace('\n', " "))
        }
        NvmlError::LibloadingError(_) => {
            let lib = if cfg!(windows) {
                "nvml.dll"
            } else {
                "libnvidia-ml.so"
            };
            format!("{lib} not found")
        }
        NvmlError::DriverNotLoaded => "NVIDIA driver not loaded".to_string(),
        NvmlError::NoPermission => "no permission to talk to the NVIDIA driver".to_string(),
        other => other.to_string(),
    })
}

impl NvmlSensor {
    /// Every NVIDIA GPU, sampled every `interval`. Fails with a one-line reason when NVML cannot be loaded or
    /// sees no GPU; never panics.
    pub fn all(interval: Duration) -> Result<Vec<NvmlSensor>, SensorError> {
        Self::all_from(None, interval)
    }

    /// As `all`, with NVML loaded from the file `lib` when given (a test's fake library, or a driver outside
    /// the loader's search path) instead of `libnvidia-ml.so.1` on the search path.
    pub fn all_from(
        lib: Option<&Path>,
        interval: Duration,
    ) -> Result<Vec<NvmlSensor>, SensorError> {
        let nvml = Arc::new(init(lib).map_err(unavailable)?);
        let count = nvml.device_count().map_err(unavailable)?;
        if count == 0 {
            return Err(SensorError::NvmlUnavailable(
                "no NVIDIA GPU found".to_string(),
            ));
        }
        (0..count)
            .map(|i| Self::open(Arc::clone(&nvml), i, interval))
            .collect()
    }

    /// GPU number `index` (NVML's order), sampled every `interval`.
    pub fn new(index: u32, interval: Duration) -> Result<NvmlSensor, SensorError> {
        Self::open(Arc::new(init(None).map_err(unavailable)?), index, interval)
    }

    fn open(nvml: Arc<Nvml>, index: u32, interval: Duration) -> Result<NvmlSensor, SensorError> {
        let gpu_err = |e: NvmlError| SensorError::NvmlUnavailable(format!("GPU {index}: {e}"));
        let d = nvml.device_by_index(index).map_err(gpu_err)?;
        let name = d.name().map_err(gpu_err)?;
        let caps = Capabilities {
            energy_counter: d.total_energy_consumption().is_ok(),
            power: d.power_usage().is_ok(),
            clocks: d.clock_info(Clock::Graphics).is_ok(),
            temperature: d.temperature(TemperatureSensor::Gpu).is_ok(),
            utilization: d.utilization_rates().is_ok(),
            memory: d.memory_info().is_ok(),
            throttle: d.current_throttle_reasons().is_ok(),
        };
        let bandwidth_gb_per_s = match (d.memory_bus_width(), d.max_clock_info(Clock::Memory)) {
            (Ok(bits), Ok(mhz)) if bits > 0 && mhz > 0 => Some(nvml_bandwidth_gb_per_s(bits, mhz)),
            _ => None,
        };
        let driver = nvml.sys_driver_version().ok();
        let reader = NvmlReader {
            nvml,
            index,
            caps,
            answered: 0,
            lost: false,
        };
        Ok(NvmlSensor {
            caps,
            bandwidth_gb_per_s,
            driver,
            inner: Sampled::new(format!("{name} (GPU {index})"), reader, interval),
        })
    }
}

impl Sensor for NvmlSensor {
    fn device(&self) -> &str {
        &self.inner.device
    }

    fn family(&self) -> SensorFamily {
        SensorFamily::Nvml
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    fn driver(&self) -> Option<&str> {
        self.driver.as_deref()
    }

    fn memory_bandwidth_gb_per_s(&self) -> Option<f64> {
        self.bandwidth_gb_per_s
    }

    fn start(&mut self, origin: Instant) -> Result<(), SensorError> {
        self.inner.with_reader(|r| r.answered = 0);
        self.inner.start(origin)
    }

    fn stop(&mut self) -> Result<Window, SensorError> {
        let samples = self.inner.stop()?;
        // Readings are taken one at a time in time order, so the answered ones are the first `answered`.
        let lost = self.inner.with_reader(|r| {
            r.lost.then(|| Lost {
                last_answered_ns: r
                    .answered
                    .checked_sub(1)
                    .and_then(|i| samples.get(i))
                    .map(|s| s.t_ns),
                reason: GPU_IS_LOST.to_string(),
            })
        });
        Ok(Window {
            device: self.inner.device.clone(),
            family: SensorFamily::Nvml,
            start_ns: samples.first().map_or(0, |s| s.t_ns),
            end_ns: samples.last().map_or(0, |s| s.t_ns),
            counter_range_j: None,
            counter_update_period_ns: self
                .caps
                .energy_counter
                .then_some(NVML_COUNTER_UPDATE_PERIOD_NS),
            sample_interval_ns: Some(self.inner.interval_ns()),
            power_accuracy_rel: Some(NVML_POWER_ACCURACY_REL),
            lost,
            samples,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::DEFAULT_SAMPLE_INTERVAL;

    #[test]
    fn bandwidth_matches_data_sheets() {
        // A100 40GB (HBM2): 5120-bit bus, 1215 MHz -> 1555 GB/s.
        assert!((nvml_bandwidth_gb_per_s(5120, 1215) - 1555.2).abs() < 1e-6);
        // RTX 4090 (GDDR6X): 384-bit bus, NVML reports 10501 MHz -> 1008 GB/s.
        assert!((nvml_bandwidth_gb_per_s(384, 10501) - 1008.096).abs() < 1e-6);
    }

    #[test]
    fn without_a_driver_nvml_is_absent_with_a_one_line_reason() {
        match NvmlSensor::new(0, DEFAULT_SAMPLE_INTERVAL) {
            Err(e) => {
                let msg = e.to_string();
                assert!(msg.starts_with("NVML not available: "), "{msg}");
                assert!(
                    !msg.contains('\n') && msg.len() > "NVML not available: ".len(),
                    "{msg}"
                );
            }
            // On a machine with an NVIDIA GPU the sensor opens and reads the device.
            Ok(mut s) => {
                assert!(s.capabilities().energy(), "{}", s.device());
                s.start(Instant::now()).unwrap();
                let w = s.stop().unwrap();
                assert!(w.samples.len() >= 2);
            }
        }
    }
}
