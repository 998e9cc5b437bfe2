//! Telemetry options shared by `bench` and `load`: opening the sensors, the idle baseline (measured or read from
//! an earlier result), and the memory bandwidth the roofline uses.

use crate::config::Config;
use crate::exit::InputError;
use crate::results::read_result;
use crate::results::telemetry::{Bandwidth, TelemetryInfo};
use crate::results::HostInfo;
use crate::results::Warning;
use crate::runner::{Meter, MeterOptions};
use crate::telemetry::bandwidth::{self, CachedBandwidth, CPU_CACHE_ROOT, TIMED_PASSES};
use crate::telemetry::{measure_cpu_read_bandwidth, EnergyFlag, EnergyRecord};
use chrono::Utc;
use std::path::Path;
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
    /// `--remeasure-bandwidth`: measure the CPU's bandwidth again instead of reading this host's cache.
    pub remeasure_bandwidth: bool,
}

impl Default for TelemetryOptions {
    fn default() -> Self {
        TelemetryOptions {
            enabled: true,
            sample_interval: crate::telemetry::DEFAULT_SAMPLE_INTERVAL,
            idle: Duration::from_secs(10),
            idle_from: None,
            hardware: None,
            remeasure_bandwidth: false,
        }
    }
}

/// Opens the sensors and takes the idle baseline (before any model is loaded, so the device is at rest).
pub fn open(o: &TelemetryOptions, stop: &std::sync::atomic::AtomicBool) -> anyhow::Result<Meter> {
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
    meter.measure_idle(o.idle, stop);
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
        ..Bandwidth::default()
    }))
}

/// The bandwidth generation is measured against: `configured` (from `configured_bandwidth`), else the device's
/// own figure (NVML) when layers are offloaded, else the CPU's streaming-read bandwidth when the run is on the
/// CPU: this host's cached measurement, or a new one (cached for later runs) when there is none or
/// `--remeasure-bandwidth` asks. `None` when none applies; a warning when the cache could not be written.
pub fn bandwidth(
    o: &TelemetryOptions,
    configured: Option<Bandwidth>,
    meter: &Meter,
    on_cpu: bool,
    host: &HostInfo,
) -> (Option<Bandwidth>, Option<Warning>) {
    if configured.is_some() {
        return (configured, None);
    }
    if !on_cpu {
        let nvml = meter
            .device_bandwidth_gb_per_s()
            .map(|(gb_per_s, device)| Bandwidth {
                gb_per_s,
                source: format!("nvml: {device} memory bus width × max memory clock × 2"),
                ..Bandwidth::default()
            });
        return (nvml, None);
    }
    let (cached, warning) = cpu_bandwidth(&super::models::cache_dir(), host, o.remeasure_bandwidth);
    (Some(cached_bandwidth(&cached.0, cached.1)), warning)
}

/// `load` has no roofline: it records the configured bandwidth, or with `--remeasure-bandwidth` refreshes this
/// host's measurement (as `bandwidth`) and records that.
pub fn load_bandwidth(
    o: &TelemetryOptions,
    configured: Option<Bandwidth>,
    meter: &Meter,
    on_cpu: bool,
    host: &HostInfo,
) -> (Option<Bandwidth>, Option<Warning>) {
    if o.remeasure_bandwidth {
        bandwidth(o, configured, meter, on_cpu, host)
    } else {
        (configured, None)
    }
}

/// This host's CPU measurement from the cache under `cache_dir`, or a new one written there; `true` with a
/// measurement read from the cache.
pub fn cpu_bandwidth(
    cache_dir: &Path,
    host: &HostInfo,
    remeasure: bool,
) -> ((CachedBandwidth, bool), Option<Warning>) {
    let threads = host.default_threads().max(1) as usize;
    let path = bandwidth::cache_path(cache_dir, host.hostname.as_deref());
    let key = bandwidth::CacheKey {
        host: host.hostname.clone(),
        cpu_model: host.cpu_model.clone(),
        boot_id: bandwidth::boot_id(),
        threads,
    };
    let hit = (!remeasure)
        .then(|| bandwidth::read_cached(&path, &key))
        .flatten();
    if let Some(c) = hit {
        return ((c, true), None);
    }
    let llc = bandwidth::last_level_cache_bytes(Path::new(CPU_CACHE_ROOT));
    let bytes = bandwidth::buffer_bytes(llc, bandwidth::available_memory_bytes());
    let c = CachedBandwidth {
        host: key.host,
        cpu_model: key.cpu_model,
        boot_id: key.boot_id,
        measured_at: Utc::now(),
        bandwidth: measure_cpu_read_bandwidth(bytes, threads, TIMED_PASSES),
    };
    let warning = bandwidth::write_cached(&path, &c)
        .err()
        .map(|e| Warning::Sensor {
            message: format!("memory bandwidth cache: {}: {e}", path.display()),
        });
    ((c, false), warning)
}

/// The result file's record of a CPU measurement, saying when it came from the cache.
pub fn cached_bandwidth(c: &CachedBandwidth, from_cache: bool) -> Bandwidth {
    let b = &c.bandwidth;
    let measured = if from_cache {
        format!(
            "measured (cached from {})",
            c.measured_at.format("%Y-%m-%d")
        )
    } else {
        "measured".to_string()
    };
    Bandwidth {
        gb_per_s: b.gb_per_s,
        source: format!(
            "{measured}: CPU streaming read of {} MiB, {} threads, median of {} passes",
            b.buffer_bytes >> 20,
            b.threads,
            b.passes
        ),
        min_gb_per_s: Some(b.min_gb_per_s),
        max_gb_per_s: Some(b.max_gb_per_s),
        passes: Some(b.passes as u32),
        buffer_bytes: Some(b.buffer_bytes),
        measured_at: Some(c.measured_at),
    }
}

/// The result file's `telemetry` section.
pub fn info(meter: &Meter, bandwidth: Option<Bandwidth>) -> TelemetryInfo {
    TelemetryInfo {
        enabled: meter.enabled,
        sample_interval_ms: meter.sample_interval.as_secs_f64() * 1e3,
        sensors: meter.devices(),
        drivers: meter.drivers(),
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
    case_flag_warnings(at, records, None)
}

/// As `flag_warnings`, for records over `repetitions` repetitions of the same work: an uncertain figure's warning
/// also says how many tokens per repetition would bring it under the limit.
pub fn case_flag_warnings<'a>(
    at: &str,
    records: impl Iterator<Item = &'a EnergyRecord>,
    repetitions: Option<u32>,
) -> Vec<Warning> {
    records
        .flat_map(|rec| {
            rec.flags.iter().map(move |f| Warning::Energy {
                at: format!("{at} ({})", rec.device.as_deref().unwrap_or("?")),
                message: match (f, tokens_to_limit(f, rec.tokens, repetitions)) {
                    (_, Some((now, needed))) => format!(
                        "{f}: {needed} tokens per repetition instead of {now} (more repetitions do not \
                         help: each brings its own edges)"
                    ),
                    _ => f.to_string(),
                },
            })
        })
        .collect()
}

/// For an `Uncertain` flag: the tokens per repetition now and the number that would lengthen each span by the
/// flag's factor, rounded up.
pub fn tokens_to_limit(
    flag: &EnergyFlag,
    tokens: Option<u64>,
    repetitions: Option<u32>,
) -> Option<(u64, u64)> {
    let EnergyFlag::Uncertain { span_factor, .. } = flag else {
        return None;
    };
    let per_rep = tokens? / u64::from(repetitions?).max(1);
    (per_rep > 0).then(|| (per_rep, (per_rep as f64 * span_factor).ceil() as u64))
}

/// Sensor failures and lost devices as result-file warnings.
pub fn sensor_warnings(meter: &Meter) -> Vec<Warning> {
    let problems = meter
        .problems
        .iter()
        .map(|m| Warning::Sensor { message: m.clone() });
    let lost = meter
        .lost
        .iter()
        .map(|(device, reason)| Warning::DeviceLost {
            device: device.clone(),
            reason: reason.clone(),
        });
    problems.chain(lost).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_uncertain_figure_warns_with_the_tokens_per_repetition_that_would_bring_it_under() {
        // 3 repetitions of 16 tokens, uncertain by 25%: spans 2.5× as long, 40 tokens per repetition.
        let rec = EnergyRecord {
            device: Some("gpu".into()),
            tokens: Some(48),
            flags: vec![EnergyFlag::uncertain(0.25).unwrap()],
            ..EnergyRecord::default()
        };
        let message = |w: &Warning| match w {
            Warning::Energy { at, message } => format!("{at}: {message}"),
            other => panic!("{other:?}"),
        };
        let w = case_flag_warnings("tiny tg16", std::iter::once(&rec), Some(3));
        assert_eq!(
            w.iter().map(message).collect::<Vec<_>>(),
            ["tiny tg16 (gpu): energy uncertain by ±25% (limit 10%): spans 2.5× as long would bring it \
              under: 40 tokens per repetition instead of 16 (more repetitions do not help: each brings its \
              own edges)"]
        );
        // A load level has no repetitions: the flag alone.
        let w = flag_warnings("c=1", std::iter::once(&rec));
        assert_eq!(
            w.iter().map(message).collect::<Vec<_>>(),
            ["c=1 (gpu): energy uncertain by ±25% (limit 10%): spans 2.5× as long would bring it under"]
        );
        assert_eq!(EnergyFlag::uncertain(0.10), None);
    }
}

/// Where the compute ceiling for this configuration is cached, and its key there.
fn compute_cache_entry(
    host: &HostInfo,
    build: &crate::engine::BuildInfo,
    threads: u32,
    weight_type: &str,
    repack: bool,
) -> (std::path::PathBuf, crate::telemetry::compute::ComputeKey) {
    let path = crate::telemetry::compute::cache_path(
        &super::models::cache_dir(),
        host.hostname.as_deref(),
    );
    let key = crate::telemetry::compute::ComputeKey {
        host: host.hostname.clone(),
        boot_id: bandwidth::boot_id(),
        build: super::selftest::build_identity(build),
        threads,
        weight_type: weight_type.to_string(),
        repack,
    };
    (path, key)
}

/// Drops a cached compute ceiling that a measured generation rate exceeded: the probe was disturbed (a busy
/// CPU), and the next run measures it again.
pub fn forget_compute_ceiling(
    host: &HostInfo,
    build: &crate::engine::BuildInfo,
    threads: u32,
    weight_type: &str,
    repack: bool,
) {
    let (path, key) = compute_cache_entry(host, build, threads, weight_type, repack);
    // A cache that cannot be rewritten keeps the contradicted figure; the warning already says so.
    let _ = crate::telemetry::compute::forget_cached(&path, &key);
}

/// Generation's compute ceiling for `threads`, `weight_type` and `repack` on this host: the cached measurement
/// for this boot and build, or a new one made in a worker process (ggml's kernels run there, so one that crashes
/// ends the worker, not the run) and cached. `Err` says why there is none.
pub fn compute_ceiling(
    host: &HostInfo,
    build: &crate::engine::BuildInfo,
    threads: u32,
    weight_type: &str,
    repack: bool,
    stop_now: &std::sync::atomic::AtomicBool,
) -> Result<crate::results::telemetry::ComputeCeiling, String> {
    use crate::telemetry::compute;
    let (path, key) = compute_cache_entry(host, build, threads, weight_type, repack);
    let (rate, cached) = match compute::read_cached(&path, &key) {
        Some(r) => (r, true),
        None => {
            let bytes =
                compute::matrix_bytes(bandwidth::last_level_cache_bytes(Path::new(CPU_CACHE_ROOT)));
            let req = crate::runner::worker::Request {
                job: crate::runner::worker::Job::MatVec {
                    weight_type: weight_type.to_string(),
                    matrix_bytes: bytes,
                    threads,
                    repack,
                },
                label: format!(
                    "compute ceiling {weight_type} t={threads} repack={}",
                    u8::from(repack)
                ),
                verbose: false,
                sample_interval_ns: None,
                parent_pid: std::process::id(),
            };
            let limits = crate::runner::worker::Limits {
                stop_now,
                timeout: Some(std::time::Duration::from_secs(120)),
                stall: None,
                estimate: None,
                deadline: None,
            };
            match crate::runner::worker::run_in_worker(&req, &limits, |_| {}) {
                Ok(crate::runner::worker::Reply::MatVec(r)) => {
                    // A cache that cannot be written costs the next run another measurement.
                    let _ = compute::write_cached(&path, &key, &r);
                    (r, false)
                }
                Ok(other) => return Err(format!("unexpected reply {other:?}")),
                Err(f) => return Err(f.to_string()),
            }
        }
    };
    let source = if cached {
        format!(
            "measured (cached from {}): ggml matrix-vector product, {} MiB {weight_type} matrix in {}, {threads} \
             threads, median of {} passes",
            rate.measured_at.format("%Y-%m-%d"),
            rate.matrix_bytes >> 20,
            rate.buffer_type,
            rate.passes
        )
    } else {
        format!(
            "measured: ggml matrix-vector product, {} MiB {weight_type} matrix in {}, {threads} threads, median \
             of {} passes",
            rate.matrix_bytes >> 20,
            rate.buffer_type,
            rate.passes
        )
    };
    Ok(crate::results::telemetry::ComputeCeiling {
        gb_per_s: rate.gb_per_s,
        min_gb_per_s: rate.min_gb_per_s,
        max_gb_per_s: rate.max_gb_per_s,
        passes: rate.passes,
        matrix_bytes: rate.matrix_bytes,
        threads,
        weight_type: weight_type.to_string(),
        buffer_type: rate.buffer_type,
        source,
        tg_ceiling_t_per_s: None,
    })
}
