//! Energy accounting: pure functions from readings to joules, watts, coverage and integrity flags. No clocks, no
//! I/O; every figure in an `EnergyRecord` comes from here and can be recomputed from the stored samples.
//!
//! **Uncertainty.** A span's edges rarely fall on a reading: the energy up to an edge is interpolated between the
//! readings around it, and the device's own figure may lag by up to one counter update period. Each edge is taken
//! to be uncertain by the energy of its resolution interval at its local power:
//!
//! `edge_j = P_edge × max(update_period, d_edge)`
//!
//! where `d_edge` is the distance from the edge to the farther of the two readings that bracket it (0 when a
//! reading falls on the edge; for an edge outside the readings, the distance to the nearest one), `update_period`
//! is the counter's update period (0 for sampled power, whose readings are instantaneous), and `P_edge` is the
//! local power: for the counter, the energy between the last reading at or before `edge − update_period` and the
//! first at or after `edge + update_period` divided by their distance (so a counter that refreshes more slowly
//! than it is read still shows its power); for sampled power, the larger of the two bracketing readings. A span's
//! uncertainty is the sum over its two edges, and a phase's the sum over its spans: the errors at one phase's edges
//! share a sign (power stepping from prompt processing to generation leaks the same way in every repetition), so
//! they add rather than average out, and only longer spans (more tokens per repetition), not more repetitions,
//! bring the relative figure down. A figure from sampled power also carries the readings' stated accuracy
//! (`Window::power_accuracy_rel` × the energy; NVML states ±5% for its power readings), which no span length
//! removes. Above `UNCERTAINTY_LIMIT` of the energy the figure is flagged.
//!
//! **A lost device.** A span that ends after the last reading a lost device answered has no figure at all
//! (`Window::lost_before`): its readings stop, and neither the counter nor sampled power is extrapolated.

use super::{EnergyFlag, Sample, Throttle, Window};

/// Counter and integrated power may differ by this fraction before the window is flagged (issue 5).
pub const DISAGREEMENT_LIMIT: f64 = 0.05;
/// A graphics clock this far below the window's first reading is flagged as a clock drop (issue 5).
pub const CLOCK_DROP_LIMIT: f64 = 0.10;
/// A temperature rise above this within one window is flagged (issue 5).
pub const TEMPERATURE_CLIMB_LIMIT_C: f64 = 10.0;
/// Below this fraction of the window covered by power readings, no power-based energy is reported.
pub const MIN_COVERAGE: f64 = 0.5;
/// Below this coverage the window is flagged as partially covered.
pub const FULL_COVERAGE: f64 = 0.99;
/// An energy figure uncertain by more than this fraction of itself is flagged (issue 9, item 8).
pub const UNCERTAINTY_LIMIT: f64 = 0.10;

/// Which reading an energy figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    Counter,
    Power,
}

/// Energy and power over one span of a window. `energy_j` is the counter's figure when the counter brackets the
/// span, otherwise integrated sampled power scaled to the span.
#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    pub duration_ns: u64,
    pub basis: Option<Basis>,
    pub energy_j: Option<f64>,
    pub counter_energy_j: Option<f64>,
    /// Trapezoid integral of sampled power over the part of the span the power readings cover.
    pub integrated_energy_j: Option<f64>,
    /// Bound on the error of `energy_j` from placing the span's edges between readings (module doc).
    pub energy_uncertainty_j: Option<f64>,
    /// Fraction of the span covered by the readings `energy_j` comes from; `None` when `energy_j` is.
    pub coverage: Option<f64>,
    pub avg_power_w: Option<f64>,
    pub peak_power_w: Option<f64>,
    pub flags: Vec<EnergyFlag>,
}

/// Energy between two raw readings of a counter that wraps to 0 after `range_j`. `None` when the counter went
/// backwards and its range is unknown (a reset, not a wrap). Assumes at most one wrap between readings.
pub fn counter_delta_j(prev_j: f64, cur_j: f64, range_j: Option<f64>) -> Option<f64> {
    if cur_j >= prev_j {
        Some(cur_j - prev_j)
    } else {
        range_j.filter(|&r| prev_j <= r).map(|r| r - prev_j + cur_j)
    }
}

/// Cumulative energy since the first counter reading, as `(t_ns, J)` points with wraps removed. `None` when a
/// step cannot be explained by a wrap.
pub fn unwrap_counter(samples: &[Sample], range_j: Option<f64>) -> Option<Vec<(u64, f64)>> {
    let mut out = Vec::new();
    let mut prev: Option<f64> = None;
    let mut total_j = 0.0;
    for s in samples {
        let Some(raw) = s.energy_counter_j else {
            continue;
        };
        if let Some(p) = prev {
            total_j += counter_delta_j(p, raw, range_j)?;
        }
        prev = Some(raw);
        out.push((s.t_ns, total_j));
    }
    Some(out)
}

/// Sampled power as `(t_ns, W)` points.
pub fn power_points(samples: &[Sample]) -> Vec<(u64, f64)> {
    samples
        .iter()
        .filter_map(|s| s.power_w.map(|w| (s.t_ns, w)))
        .collect()
}

fn lerp(a: (u64, f64), b: (u64, f64), t_ns: u64) -> f64 {
    if b.0 == a.0 {
        return a.1;
    }
    a.1 + (b.1 - a.1) * (t_ns as f64 - a.0 as f64) / (b.0 as f64 - a.0 as f64)
}

/// The piecewise-linear series restricted to `[t0_ns, t1_ns]`, with interpolated end points. Empty when the
/// points do not overlap the span.
pub fn clip(points: &[(u64, f64)], t0_ns: u64, t1_ns: u64) -> Vec<(u64, f64)> {
    let (Some(&first), Some(&last)) = (points.first(), points.last()) else {
        return Vec::new();
    };
    let lo = t0_ns.max(first.0);
    let hi = t1_ns.min(last.0);
    if lo > hi {
        return Vec::new();
    }
    let at = |t: u64| {
        let i = points.partition_point(|p| p.0 < t).min(points.len() - 1);
        let a = points[i.saturating_sub(1)];
        (t, lerp(a, points[i], t))
    };
    let mut out = vec![at(lo)];
    out.extend(points.iter().filter(|p| p.0 > lo && p.0 < hi).copied());
    if hi > lo {
        out.push(at(hi));
    }
    out
}

/// Trapezoid integral (W·s = J) of a `(t_ns, W)` series.
pub fn trapezoid_j(points: &[(u64, f64)]) -> f64 {
    points
        .windows(2)
        .map(|w| (w[0].1 + w[1].1) / 2.0 * (w[1].0 - w[0].0) as f64 / 1e9)
        .sum()
}

/// Fraction of `[t0_ns, t1_ns]` spanned by the points; `None` for an empty span or no points at all.
pub fn coverage(points: &[(u64, f64)], t0_ns: u64, t1_ns: u64) -> Option<f64> {
    if t1_ns <= t0_ns || points.is_empty() {
        return None;
    }
    let c = clip(points, t0_ns, t1_ns);
    let spanned_ns = match (c.first(), c.last()) {
        (Some(a), Some(b)) => b.0 - a.0,
        _ => 0,
    };
    Some(spanned_ns as f64 / (t1_ns - t0_ns) as f64)
}

/// Bound on the energy error at one span edge `t_ns` of the `(t_ns, J)` counter series or `(t_ns, W)` power
/// series `points` (sorted by time), as stated in the module doc; `None` with fewer than two points.
pub fn edge_uncertainty_j(
    points: &[(u64, f64)],
    t_ns: u64,
    basis: Basis,
    update_period_ns: u64,
) -> Option<f64> {
    let n = points.len();
    if n < 2 {
        return None;
    }
    // The readings bracketing the edge, and how far the edge is from the farther one.
    let j = points.partition_point(|p| p.0 < t_ns);
    let (a, b, d_ns) = if j < n && points[j].0 == t_ns {
        (j, j, 0)
    } else if j == 0 {
        (0, 0, points[0].0 - t_ns)
    } else if j == n {
        (n - 1, n - 1, t_ns - points[n - 1].0)
    } else {
        let d = (t_ns - points[j - 1].0).max(points[j].0 - t_ns);
        (j - 1, j, d)
    };
    let power_w = match basis {
        Basis::Power => points[a].1.max(points[b].1),
        Basis::Counter => {
            let lo = points[..=a]
                .iter()
                .rposition(|p| p.0 + update_period_ns <= t_ns)
                .unwrap_or(0);
            let hi = (b + points[b..]
                .iter()
                .position(|p| p.0 >= t_ns.saturating_add(update_period_ns))
                .unwrap_or(n - 1 - b))
            .max(lo + 1)
            .min(n - 1);
            let (p, q) = (points[lo.min(hi - 1)], points[hi]);
            if q.0 <= p.0 {
                return None;
            }
            (q.1 - p.1) / ((q.0 - p.0) as f64 / 1e9)
        }
    };
    Some(power_w.max(0.0) * d_ns.max(update_period_ns) as f64 / 1e9)
}

/// `|integrated − counter| / counter`; `None` when the counter read no energy.
pub fn relative_disagreement(counter_j: f64, integrated_j: f64) -> Option<f64> {
    (counter_j > 0.0).then(|| (integrated_j - counter_j).abs() / counter_j)
}

/// Energy above the idle baseline: total − idle power × duration. May be negative when the load drew less than
/// the idle measurement (noise); it is reported as measured.
pub fn above_idle_j(
    energy_j: Option<f64>,
    idle_power_w: Option<f64>,
    duration_ns: u64,
) -> Option<f64> {
    Some(energy_j? - idle_power_w? * duration_ns as f64 / 1e9)
}

/// Joules per token and tokens per joule; `None` for no tokens or no energy.
pub fn per_token(energy_j: Option<f64>, tokens: Option<u64>) -> (Option<f64>, Option<f64>) {
    match (energy_j, tokens) {
        (Some(e), Some(n)) if n > 0 && e > 0.0 => (Some(e / n as f64), Some(n as f64 / e)),
        _ => (None, None),
    }
}

/// Throttling, graphics clock drop and temperature climb among the readings taken within `[t0_ns, t1_ns]`.
pub fn condition_flags(samples: &[Sample], t0_ns: u64, t1_ns: u64) -> Vec<EnergyFlag> {
    let inside: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.t_ns >= t0_ns && s.t_ns <= t1_ns)
        .collect();
    let mut flags = Vec::new();
    let throttle = inside
        .iter()
        .filter_map(|s| s.throttle)
        .fold(Throttle::default(), |a, b| Throttle {
            thermal: a.thermal || b.thermal,
            power_cap: a.power_cap || b.power_cap,
            hw_slowdown: a.hw_slowdown || b.hw_slowdown,
        });
    if throttle.any() {
        flags.push(EnergyFlag::Throttled(throttle));
    }
    let clocks: Vec<u32> = inside.iter().filter_map(|s| s.graphics_clock_mhz).collect();
    if let (Some(&first_mhz), Some(&min_mhz)) = (clocks.first(), clocks.iter().min()) {
        if (first_mhz as f64 - min_mhz as f64) > CLOCK_DROP_LIMIT * first_mhz as f64 {
            flags.push(EnergyFlag::ClockDrop { first_mhz, min_mhz });
        }
    }
    let temps: Vec<f64> = inside.iter().filter_map(|s| s.temperature_c).collect();
    if let Some(&first_c) = temps.first() {
        let max_c = temps.iter().copied().fold(first_c, f64::max);
        if max_c - first_c > TEMPERATURE_CLIMB_LIMIT_C {
            flags.push(EnergyFlag::TemperatureClimb { first_c, max_c });
        }
    }
    flags
}

/// All figures for `[t0_ns, t1_ns]` of a window.
pub(crate) fn totals(w: &Window, t0_ns: u64, t1_ns: u64) -> Totals {
    let duration_ns = t1_ns.saturating_sub(t0_ns);
    if w.lost_before(t1_ns).is_some() {
        // The device stopped answering inside the span: what it read before says nothing about the rest.
        return Totals {
            duration_ns,
            basis: None,
            energy_j: None,
            counter_energy_j: None,
            integrated_energy_j: None,
            energy_uncertainty_j: None,
            coverage: None,
            avg_power_w: None,
            peak_power_w: None,
            flags: Vec::new(),
        };
    }
    let mut flags = Vec::new();
    let power = power_points(&w.samples);
    let power_clip = clip(&power, t0_ns, t1_ns);
    let power_coverage = coverage(&power, t0_ns, t1_ns);
    let integrated_energy_j = (power_clip.len() >= 2).then(|| trapezoid_j(&power_clip));

    let counter = unwrap_counter(&w.samples, w.counter_range_j);
    if counter.is_none() {
        flags.push(EnergyFlag::CounterWentBackwards);
    }
    let counter = counter.unwrap_or_default();
    let brackets = counter.first().is_some_and(|a| a.0 <= t0_ns)
        && counter.last().is_some_and(|b| b.0 >= t1_ns);

    let mut counter_energy_j = None;
    let (basis, energy_j, cov) = if brackets {
        counter_energy_j = counter_span_j(w, &counter, t0_ns, t1_ns, &mut flags);
        (Some(Basis::Counter), counter_energy_j, Some(1.0))
    } else if !power.is_empty() {
        let cov = power_coverage.unwrap_or(0.0);
        let energy = power_span_j(
            w,
            &power_clip,
            cov,
            integrated_energy_j,
            duration_ns,
            &mut flags,
        );
        (Some(Basis::Power), energy, Some(cov))
    } else {
        (None, None, None)
    };

    flags.extend(disagreement_flag(
        counter_energy_j,
        integrated_energy_j,
        power_coverage,
    ));
    let peak_power_w = peak_power_w(w, &counter, &power, &power_clip, t0_ns, t1_ns);
    flags.extend(condition_flags(&w.samples, t0_ns, t1_ns));
    let energy_uncertainty_j = energy_j.and_then(|e| {
        let points = match basis? {
            Basis::Counter => &counter,
            Basis::Power => &power,
        };
        span_uncertainty_j(w, basis?, e, points, t0_ns, t1_ns)
    });

    Totals {
        duration_ns,
        basis,
        avg_power_w: energy_j
            .filter(|_| duration_ns > 0)
            .map(|e| e / (duration_ns as f64 / 1e9)),
        energy_j,
        counter_energy_j,
        integrated_energy_j,
        energy_uncertainty_j,
        coverage: energy_j.and(cov),
        peak_power_w,
        flags,
    }
}

/// The counter's energy over a span it brackets; `None`, flagged, when the span is shorter than the counter's
/// update period or the counter did not tick across it.
fn counter_span_j(
    w: &Window,
    counter: &[(u64, f64)],
    t0_ns: u64,
    t1_ns: u64,
    flags: &mut Vec<EnergyFlag>,
) -> Option<f64> {
    let duration_ns = t1_ns.saturating_sub(t0_ns);
    let period_ns = w.counter_update_period_ns.unwrap_or(0);
    // Raw readings on either side of the span: if they agree, the counter never ticked inside it.
    let before = counter[..counter.partition_point(|p| p.0 <= t0_ns)].last();
    let after = counter[counter.partition_point(|p| p.0 < t1_ns)..].first();
    if duration_ns == 0 || duration_ns < period_ns {
        flags.push(EnergyFlag::ShortWindow {
            window_ns: duration_ns,
            period_ns,
        });
        None
    } else if before.zip(after).is_some_and(|(a, b)| a.1 == b.1) {
        flags.push(EnergyFlag::CounterUnchanged {
            window_ns: duration_ns,
        });
        None
    } else {
        let c = clip(counter, t0_ns, t1_ns);
        Some(c.last().map_or(0.0, |b| b.1) - c.first().map_or(0.0, |a| a.1))
    }
}

/// Integrated sampled power over a span (`power_clip`, covering `coverage` of it), scaled up to the whole span
/// when partly covered; `None`, flagged, for a span shorter than the sampling interval or covered less than
/// `MIN_COVERAGE`.
fn power_span_j(
    w: &Window,
    power_clip: &[(u64, f64)],
    coverage: f64,
    integrated_energy_j: Option<f64>,
    duration_ns: u64,
    flags: &mut Vec<EnergyFlag>,
) -> Option<f64> {
    let period_ns = w.sample_interval_ns.unwrap_or(0);
    let covered_ns = power_clip.last().map_or(0, |b| b.0) - power_clip.first().map_or(0, |a| a.0);
    if duration_ns == 0 || duration_ns < period_ns {
        flags.push(EnergyFlag::ShortWindow {
            window_ns: duration_ns,
            period_ns,
        });
        None
    } else if coverage < FULL_COVERAGE {
        flags.push(EnergyFlag::PartialCoverage { coverage });
        (coverage >= MIN_COVERAGE)
            .then(|| integrated_energy_j.map(|e| e / covered_ns as f64 * duration_ns as f64))
            .flatten()
    } else {
        integrated_energy_j
    }
}

/// The counter and fully covering integrated power disagreeing by more than `DISAGREEMENT_LIMIT`.
fn disagreement_flag(
    counter_energy_j: Option<f64>,
    integrated_energy_j: Option<f64>,
    power_coverage: Option<f64>,
) -> Option<EnergyFlag> {
    let (c, p) = (counter_energy_j?, integrated_energy_j?);
    power_coverage.filter(|&pc| pc >= FULL_COVERAGE)?;
    let rel = relative_disagreement(c, p).filter(|&r| r > DISAGREEMENT_LIMIT)?;
    Some(EnergyFlag::CounterPowerDisagree {
        counter_j: c,
        integrated_j: p,
        relative_difference: rel,
    })
}

/// The highest sampled power within the span (`power_clip`: `power` clipped to it); without power readings, the
/// steepest counter step between readings inside it at least one update period apart.
fn peak_power_w(
    w: &Window,
    counter: &[(u64, f64)],
    power: &[(u64, f64)],
    power_clip: &[(u64, f64)],
    t0_ns: u64,
    t1_ns: u64,
) -> Option<f64> {
    if power.is_empty() {
        clip(counter, t0_ns, t1_ns)
            .windows(2)
            .filter(|p| {
                p[1].0 > p[0].0 && p[1].0 - p[0].0 >= w.counter_update_period_ns.unwrap_or(0)
            })
            .map(|p| (p[1].1 - p[0].1) / ((p[1].0 - p[0].0) as f64 / 1e9))
            .reduce(f64::max)
    } else {
        power_clip.iter().map(|p| p.1).reduce(f64::max)
    }
}

/// Bound on the error of `energy_j` over the span: both edges' uncertainty in the series it came from (`points`),
/// plus sampled power's stated accuracy.
fn span_uncertainty_j(
    w: &Window,
    basis: Basis,
    energy_j: f64,
    points: &[(u64, f64)],
    t0_ns: u64,
    t1_ns: u64,
) -> Option<f64> {
    let period_ns = match basis {
        Basis::Counter => w.counter_update_period_ns.unwrap_or(0),
        Basis::Power => 0,
    };
    let edge = |t| edge_uncertainty_j(points, t, basis, period_ns);
    let accuracy_j = match basis {
        Basis::Counter => 0.0,
        Basis::Power => w.power_accuracy_rel.unwrap_or(0.0) * energy_j.abs(),
    };
    Some(edge(t0_ns)? + edge(t1_ns)? + accuracy_j)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter_sample(t_ns: u64, raw_j: f64) -> Sample {
        Sample {
            t_ns,
            energy_counter_j: Some(raw_j),
            ..Sample::default()
        }
    }

    #[test]
    fn counter_delta_crosses_wrap_once() {
        assert_eq!(counter_delta_j(10.0, 25.0, Some(100.0)), Some(15.0));
        assert_eq!(counter_delta_j(90.0, 5.0, Some(100.0)), Some(15.0));
        assert_eq!(counter_delta_j(90.0, 5.0, None), None);
    }

    #[test]
    fn unwrapped_counter_is_monotonic_across_wrap() {
        let s = [
            counter_sample(0, 80.0),
            counter_sample(10, 95.0),
            counter_sample(20, 10.0),
        ];
        let points = unwrap_counter(&s, Some(100.0)).unwrap();
        assert_eq!(points, vec![(0, 0.0), (10, 15.0), (20, 30.0)]);
    }

    #[test]
    fn trapezoid_of_a_ramp_is_its_area() {
        // 0 W to 100 W over 2 s: a triangle of 100 J.
        let ramp = [(0, 0.0), (1_000_000_000, 50.0), (2_000_000_000, 100.0)];
        assert!((trapezoid_j(&ramp) - 100.0).abs() < 1e-9);
        // The second half alone: 50..100 W over 1 s.
        let half = clip(&ramp, 1_000_000_000, 2_000_000_000);
        assert!((trapezoid_j(&half) - 75.0).abs() < 1e-9);
    }

    #[test]
    fn coverage_is_the_spanned_fraction() {
        let p = [(250, 1.0), (750, 1.0)];
        assert_eq!(coverage(&p, 0, 1000), Some(0.5));
        assert_eq!(coverage(&p, 300, 700), Some(1.0));
        assert_eq!(coverage(&[], 0, 1000), None);
    }

    #[test]
    fn per_token_needs_tokens_and_energy() {
        assert_eq!(per_token(Some(10.0), Some(4)), (Some(2.5), Some(0.4)));
        assert_eq!(per_token(Some(10.0), Some(0)), (None, None));
        assert_eq!(per_token(None, Some(4)), (None, None));
    }

    #[test]
    fn clock_drop_and_temperature_climb_are_flagged_from_the_first_reading() {
        let s = |t_ns, mhz, c| Sample {
            t_ns,
            graphics_clock_mhz: Some(mhz),
            temperature_c: Some(c),
            ..Sample::default()
        };
        let flags = condition_flags(
            &[s(0, 1980, 40.0), s(10, 1700, 48.0), s(20, 1800, 52.0)],
            0,
            20,
        );
        assert_eq!(
            flags,
            vec![
                EnergyFlag::ClockDrop {
                    first_mhz: 1980,
                    min_mhz: 1700
                },
                EnergyFlag::TemperatureClimb {
                    first_c: 40.0,
                    max_c: 52.0
                },
            ]
        );
        assert!(condition_flags(&[s(0, 1980, 40.0), s(10, 1900, 45.0)], 0, 10).is_empty());
    }
}
