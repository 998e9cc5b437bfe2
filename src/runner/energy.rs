//! Energy per `bench` case and phase and per `load` level, from the sensors' windows and the run's raw samples:
//! each figure over the timed spans only (not the warm-up or context refill between them), and the process's
//! CPU use and peak memory over a window.

use crate::results::record::RepSample;
use crate::results::telemetry::{CaseEnergy, EnergyRecord, IdleBaseline, ProcessContext};
use crate::telemetry::{SensorFamily, Window};

fn process_context(w: &Window) -> ProcessContext {
    let cpu: Vec<f64> = w.samples.iter().filter_map(|s| s.utilization_pct).collect();
    ProcessContext {
        cpu_pct_mean: (!cpu.is_empty()).then(|| cpu.iter().sum::<f64>() / cpu.len() as f64),
        peak_rss_bytes: w.peak_memory_used_bytes(),
    }
}

fn idle_for<'a>(idle: &'a [IdleBaseline], w: &Window) -> Option<&'a IdleBaseline> {
    idle.iter().find(|b| b.device == w.device)
}

/// The reason recorded when no sensor measured energy and the run gave none.
const NO_SENSOR: &str = "energy: absent (no sensor)";

fn energy_windows(windows: &[Window]) -> impl Iterator<Item = &Window> {
    windows.iter().filter(|w| w.family != SensorFamily::Process)
}

/// Energy of a `bench` case from its windows and repetitions (`RepSample::start_ns` places each repetition in the
/// window). With no energy window, one record saying why (`absent_reason`).
pub fn case_energy(
    windows: &[Window],
    samples: &[RepSample],
    n_prompt: u32,
    n_gen: u32,
    idle: &[IdleBaseline],
    absent_reason: Option<&str>,
) -> Vec<CaseEnergy> {
    let mut out: Vec<CaseEnergy> = Vec::new();
    let placed: Vec<(u64, &RepSample)> = samples
        .iter()
        .filter_map(|s| Some((s.start_ns?, s)))
        .collect();
    let tokens = |per_rep: u32| Some(per_rep as u64 * placed.len() as u64);
    let timed: Vec<(u64, u64)> = placed.iter().map(|(t, s)| (*t, t + s.total_ns)).collect();
    for w in energy_windows(windows) {
        let base = idle_for(idle, w);
        let total = match (timed.first(), timed.last()) {
            (Some(&(a, _)), Some(&(_, b))) => EnergyRecord {
                samples: w
                    .samples
                    .iter()
                    .filter(|s| s.t_ns >= a && s.t_ns <= b)
                    .cloned()
                    .collect(),
                ..EnergyRecord::over_spans(w, &timed, tokens(n_prompt + n_gen), base)
            },
            _ => EnergyRecord::absent(format!("{}: no repetition finished", w.device)),
        };
        let prompt = (n_prompt > 0).then(|| {
            let spans: Vec<(u64, u64)> = placed
                .iter()
                .filter_map(|(t, s)| Some((*t, t + s.prompt_ns?)))
                .collect();
            EnergyRecord::over_spans(w, &spans, tokens(n_prompt), base)
        });
        let generation = (n_gen > 0).then(|| {
            let spans: Vec<(u64, u64)> = placed
                .iter()
                .map(|(t, s)| (t + s.prompt_ns.unwrap_or(0), t + s.total_ns))
                .collect();
            EnergyRecord::over_spans(w, &spans, tokens(n_gen), base)
        });
        out.push(CaseEnergy {
            total,
            prompt,
            generation,
        });
    }
    if out.is_empty() {
        out.push(CaseEnergy {
            total: EnergyRecord::absent(absent_reason.unwrap_or(NO_SENSOR)),
            prompt: None,
            generation: None,
        });
    }
    out
}

/// Energy of a `load` level: each device over the level's timed span `[start_ns, end_ns]` on the sensors'
/// clock (the level's start and its duration after it, so the untimed warm-up decode before it is not counted),
/// per output token. With no span, the whole window.
pub fn level_energy(
    windows: &[Window],
    span: Option<(u64, u64)>,
    output_tokens: u64,
    idle: &[IdleBaseline],
    absent_reason: Option<&str>,
) -> Vec<EnergyRecord> {
    let out: Vec<EnergyRecord> = energy_windows(windows)
        .map(|w| {
            let (t0, t1) = span.unwrap_or((w.start_ns, w.end_ns));
            EnergyRecord::from_window(w, t0, t1, Some(output_tokens), idle_for(idle, w))
        })
        .collect();
    if out.is_empty() {
        vec![EnergyRecord::absent(absent_reason.unwrap_or(NO_SENSOR))]
    } else {
        out
    }
}

/// The process sensor's window, if one was read.
pub fn process_of(windows: &[Window]) -> Option<ProcessContext> {
    windows
        .iter()
        .find(|w| w.family == SensorFamily::Process)
        .map(process_context)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::{Sample, Sensor, TraceSensor};

    const MS: u64 = 1_000_000;

    /// 100 W by a counter read every 10 ms for 2 s, refreshed every millisecond.
    fn window_at_100_w() -> Window {
        let samples = (0..=200u64)
            .map(|i| Sample {
                t_ns: i * 10 * MS,
                energy_counter_j: Some(i as f64),
                ..Sample::default()
            })
            .collect();
        let mut s = TraceSensor::new("gpu", samples).with_counter_update_period_ns(MS);
        s.start(std::time::Instant::now()).unwrap();
        s.stop().unwrap()
    }

    fn rep(start_ms: u64, prompt_ms: u64, total_ms: u64) -> RepSample {
        RepSample {
            prompt_ns: Some(prompt_ms * MS),
            gen_ns: Some((total_ms - prompt_ms) * MS),
            total_ns: total_ms * MS,
            gen_token_ns: Vec::new(),
            start_ns: Some(start_ms * MS),
        }
    }

    #[test]
    fn a_cases_total_energy_counts_only_the_timed_repetitions() {
        // Two repetitions of 400 ms (200 ms prompt) at 100–500 ms and 1000–1400 ms; between them the untimed
        // context refill. Timed: 0.8 s at 100 W = 80 J, not the 130 J from the first start to the last end.
        let w = window_at_100_w();
        let samples = [rep(100, 200, 400), rep(1000, 200, 400)];
        let e = case_energy(&[w], &samples, 20, 10, &[], None).remove(0);
        assert!(
            (e.total.energy_j.unwrap() - 80.0).abs() < 1e-9,
            "{:?}",
            e.total
        );
        assert!((e.total.avg_power_w.unwrap() - 100.0).abs() < 1e-9);
        assert_eq!(e.total.tokens, Some(60));
        assert!((e.total.j_per_token.unwrap() - 80.0 / 60.0).abs() < 1e-12);
        assert!((e.prompt.unwrap().energy_j.unwrap() - 40.0).abs() < 1e-9);
        assert!((e.generation.unwrap().energy_j.unwrap() - 40.0).abs() < 1e-9);
        // The readings of the whole stretch are kept with the total.
        assert_eq!(e.total.samples.len(), 131);
        assert_eq!(
            (e.total.start_ns, e.total.end_ns),
            (Some(100 * MS), Some(1400 * MS))
        );
    }

    #[test]
    fn a_total_that_cannot_be_measured_has_no_coverage() {
        // A 0.5 ms repetition is shorter than the counter's update period.
        let w = window_at_100_w();
        let samples = [RepSample {
            total_ns: MS / 2,
            ..rep(100, 0, 1)
        }];
        let e = case_energy(&[w], &samples, 0, 1, &[], None).remove(0);
        assert_eq!((e.total.energy_j, e.total.coverage), (None, None));
    }
}
