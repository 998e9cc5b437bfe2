//! The roofline of a bench sweep's generation cases: each measured rate as a fraction of what the memory
//! bandwidth allows (the bandwidth configured, the device's own figure, or this host's measured one), and on the
//! CPU the compute ceiling of ggml's matrix-vector product, naming the tighter of the two.

use crate::results::telemetry::{Bandwidth, ComputeCeiling, Roofline};
use crate::results::{CaseRecord, ModelEntry, Warning};
use crate::runner::options::RunOptions;
use crate::runner::selftest;
use crate::runner::sensors as tm;
use crate::runner::setup::{backends_of, Setup};
use crate::telemetry::roofline_fraction;
use std::collections::HashMap;

/// The bandwidth the sweep's generation cases are measured against (none when no case generates or the run was
/// interrupted), each case's roofline and compute ceiling, and warnings for what contradicts them.
pub fn add(
    records: &mut [CaseRecord],
    setup: &Setup,
    run: &RunOptions,
    warnings: &mut Vec<Warning>,
) -> Option<Bandwidth> {
    let generation = records.iter().any(|r| r.n_prompt == 0 && r.n_gen > 0);
    if !generation || run.stopped() {
        return None;
    }
    let on_cpu = backends_of(&setup.build) == "CPU" || records.iter().all(|r| r.n_gpu_layers == 0);
    let (bw, warning) = tm::bandwidth(
        &run.telemetry,
        setup.configured_bandwidth.clone(),
        &setup.meter,
        on_cpu,
        &setup.host,
    );
    warnings.extend(warning);
    let bw = bw?;
    let mut ceilings: HashMap<(u32, String, bool), Result<ComputeCeiling, String>> = HashMap::new();
    for r in records.iter_mut() {
        let Some(entry) = setup.entries.iter().find(|e| e.path == r.model_filename) else {
            continue;
        };
        r.roofline = roofline(r, entry, &bw);
        if on_cpu {
            compute(r, entry, setup, run, &mut ceilings, warnings);
        }
        if let Some(f) = r
            .roofline
            .as_ref()
            .and_then(|x| x.fraction)
            .filter(|f| *f > 1.0)
        {
            warnings.push(Warning::RooflineAboveBandwidth {
                test: format!("{} {}", r.model_type, r.test),
                fraction: f,
                bandwidth_source: bw.source.clone(),
            });
        }
    }
    Some(bw)
}

/// Adds the compute ceiling of `r`'s threads, weight type and repacking (measured once per sweep, cached per
/// host and build) to its roofline; a ceiling the measured rate contradicts is dropped from the cache.
fn compute(
    r: &mut CaseRecord,
    entry: &ModelEntry,
    setup: &Setup,
    run: &RunOptions,
    ceilings: &mut HashMap<(u32, String, bool), Result<ComputeCeiling, String>>,
    warnings: &mut Vec<Warning>,
) {
    let weight_type = selftest::probe_weight_type(&entry.tensor_types).name();
    let exact = entry
        .tensor_types
        .keys()
        .any(|t| t.eq_ignore_ascii_case(weight_type));
    let Some(x) = r.roofline.as_mut().filter(|_| exact) else {
        return;
    };
    let key = (r.n_threads, weight_type.to_string(), r.repack);
    let c = ceilings.entry(key).or_insert_with(|| {
        tm::compute_ceiling(
            &setup.host,
            &setup.build,
            r.n_threads,
            weight_type,
            r.repack,
            &run.stop_now,
        )
    });
    match c {
        Ok(c) => {
            with_compute(x, c.clone(), r.summary.avg_ts);
            if let Some(why) = contradicted(x, r.summary.avg_ts) {
                warnings.push(Warning::Sensor {
                    message: format!(
                        "{} {}: {why}; not used, and measured again next run",
                        r.model_type, r.test
                    ),
                });
                tm::forget_compute_ceiling(
                    &setup.host,
                    &setup.build,
                    r.n_threads,
                    weight_type,
                    r.repack,
                );
            }
        }
        Err(why) => warnings.push(Warning::Sensor {
            message: format!("compute ceiling ({weight_type}, t={}): {why}", r.n_threads),
        }),
    }
}

/// Generation-only cases as a fraction of the memory-bandwidth roofline.
fn roofline(r: &CaseRecord, entry: &ModelEntry, bw: &Bandwidth) -> Option<Roofline> {
    if r.n_prompt > 0 || r.n_gen == 0 {
        return None;
    }
    let bytes_per_token = entry.weights_read_per_token_bytes?;
    Some(Roofline {
        bytes_per_token,
        bandwidth_gb_per_s: bw.gb_per_s,
        bandwidth_source: bw.source.clone(),
        fraction: r
            .summary
            .avg_ts
            .and_then(|ts| roofline_fraction(ts, bytes_per_token, bw.gb_per_s)),
        compute: None,
        binding: None,
        tighter_fraction: None,
    })
}

/// Adds the compute ceiling to a roofline, and names the tighter of the two ceilings.
fn with_compute(x: &mut Roofline, mut c: ComputeCeiling, avg_ts: Option<f64>) {
    let compute_ts = crate::telemetry::compute::tg_ceiling(c.gb_per_s, x.bytes_per_token);
    let memory_ts = crate::telemetry::compute::tg_ceiling(x.bandwidth_gb_per_s, x.bytes_per_token);
    c.tg_ceiling_t_per_s = compute_ts;
    if let (Some(cts), Some(mts)) = (compute_ts, memory_ts) {
        let (binding, tighter) = if cts < mts {
            ("compute", cts)
        } else {
            ("memory", mts)
        };
        x.binding = Some(binding.into());
        x.tighter_fraction = avg_ts.map(|ts| ts / tighter);
    }
    x.compute = Some(c);
}

/// Generation measured above its compute ceiling by more than the ceiling's own spread can explain: the probe
/// ran disturbed (another program on the CPUs spoils OpenMP's spinning threads far more than a model's run). The
/// ceiling then names nothing: the binding and the fraction are cleared, and the reason returned.
fn contradicted(x: &mut Roofline, avg_ts: Option<f64>) -> Option<String> {
    let c = x.compute.as_ref()?;
    let ceiling = c.tg_ceiling_t_per_s?;
    let ts = avg_ts?;
    let slack = (c.max_gb_per_s / c.gb_per_s).max(1.0) * 1.1;
    if ts <= ceiling * slack {
        return None;
    }
    x.binding = None;
    x.tighter_fraction = None;
    Some(format!(
        "tg {ts:.0} t/s is above the compute ceiling of {ceiling:.0} t/s ({:.1} GB/s): the ceiling's probe was \
         disturbed",
        c.gb_per_s
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roofline_with_compute(compute_gb_per_s: f64) -> Roofline {
        let mut x = Roofline {
            bytes_per_token: 100_000_000,
            bandwidth_gb_per_s: 20.0,
            bandwidth_source: "measured".into(),
            fraction: None,
            compute: None,
            binding: None,
            tighter_fraction: None,
        };
        let c = ComputeCeiling {
            gb_per_s: compute_gb_per_s,
            min_gb_per_s: compute_gb_per_s * 0.95,
            max_gb_per_s: compute_gb_per_s * 1.05,
            passes: 7,
            matrix_bytes: 1 << 23,
            threads: 2,
            weight_type: "q4_0".into(),
            buffer_type: "CPU_REPACK".into(),
            source: "measured".into(),
            tg_ceiling_t_per_s: None,
        };
        // Ceilings: memory 200 t/s, compute gb_per_s × 10 t/s.
        with_compute(&mut x, c, Some(100.0));
        x
    }

    #[test]
    fn a_compute_ceiling_below_the_measured_rate_names_nothing() {
        // 5 t/s of compute ceiling against 100 t/s measured: the probe ran disturbed.
        let mut x = roofline_with_compute(0.5);
        assert_eq!(x.binding.as_deref(), Some("compute"));
        let why = contradicted(&mut x, Some(100.0)).expect("contradicted");
        assert!(why.contains("above the compute ceiling of 5 t/s"), "{why}");
        assert_eq!(x.binding, None);
        assert_eq!(x.tighter_fraction, None);
    }

    #[test]
    fn a_rate_within_the_ceiling_and_its_spread_keeps_it() {
        // 110 t/s ceiling, 100 t/s measured: compute binds at 0.91.
        let mut x = roofline_with_compute(11.0);
        assert_eq!(contradicted(&mut x, Some(100.0)), None);
        assert_eq!(x.binding.as_deref(), Some("compute"));
        // Slightly above (within the spread and 10%): still kept.
        assert_eq!(contradicted(&mut x, Some(120.0)), None);
        assert_eq!(x.binding.as_deref(), Some("compute"));
    }
}
