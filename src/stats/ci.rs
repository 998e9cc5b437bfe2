//! Confidence intervals of a mean and the adaptive stopping rule built on them (`--target-ci`).

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};
use std::time::Duration;

/// Half-width of the 95% confidence interval of the mean (Student's t), relative to the mean. `None` below two
/// samples or for a zero mean.
pub fn mean_ci95_rel_half_width(xs: &[f64]) -> Option<f64> {
    let n = xs.len();
    let m = super::mean(xs)?;
    let sd = super::stddev(xs)?;
    if m == 0.0 {
        return None;
    }
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .ok()?
        .inverse_cdf(0.975);
    Some(t * sd / (n as f64).sqrt() / m.abs())
}

/// When to stop repeating a case: a fixed count, or until the mean's 95% CI is narrow enough.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StopRule {
    /// Relative half-width of the 95% CI to reach (0.02 = ±2%); `None`: run exactly `max_runs`.
    pub target_rel_ci: Option<f64>,
    pub min_runs: u32,
    pub max_runs: u32,
    /// Stop after this much measuring time even when the target is not met.
    pub max_time_ns: Option<u64>,
}

/// Why repetitions stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// A fixed number of repetitions was asked for and done.
    FixedCount,
    TargetMet,
    /// `max_runs` reached before the target: the interval is reported as achieved, target not met.
    MaxRunsTargetNotMet,
    /// `max_time` reached before the target (the CI width, or a fixed count), after at least one repetition.
    MaxTimeTargetNotMet,
    Interrupted,
}

impl StopRule {
    pub fn fixed(runs: u32) -> StopRule {
        StopRule {
            target_rel_ci: None,
            min_runs: runs,
            max_runs: runs,
            max_time_ns: None,
        }
    }

    /// Decides after each repetition, given the per-repetition rates so far and the time spent.
    pub fn check(&self, rates: &[f64], elapsed: Duration) -> Option<StopReason> {
        let n = rates.len() as u32;
        let out_of_time = self
            .max_time_ns
            .is_some_and(|t| elapsed.as_nanos() as u64 >= t)
            && n >= 1;
        let Some(target) = self.target_rel_ci else {
            // A fixed count with a time limit (a phase of `profile`): the repetitions done when it passes.
            return if n >= self.max_runs {
                Some(StopReason::FixedCount)
            } else {
                out_of_time.then_some(StopReason::MaxTimeTargetNotMet)
            };
        };
        if n >= self.min_runs.max(2) && mean_ci95_rel_half_width(rates).is_some_and(|w| w <= target)
        {
            return Some(StopReason::TargetMet);
        }
        if n >= self.max_runs {
            return Some(StopReason::MaxRunsTargetNotMet);
        }
        out_of_time.then_some(StopReason::MaxTimeTargetNotMet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adaptive(max_runs: u32) -> StopRule {
        StopRule {
            target_rel_ci: Some(0.02),
            min_runs: 3,
            max_runs,
            max_time_ns: None,
        }
    }

    /// Feeds `series` one value at a time and returns how many were used and why it stopped.
    fn run(rule: &StopRule, series: &[f64]) -> (usize, StopReason) {
        for n in 1..=series.len() {
            if let Some(r) = rule.check(&series[..n], Duration::ZERO) {
                return (n, r);
            }
        }
        panic!("rule never stopped");
    }

    #[test]
    fn a_fixed_count_with_a_time_limit_keeps_the_repetitions_done_when_it_passes() {
        let rule = StopRule {
            max_time_ns: Some(1_000),
            ..StopRule::fixed(5)
        };
        let late = Duration::from_nanos(1_000);
        assert_eq!(rule.check(&[], late), None, "never before one repetition");
        assert_eq!(
            rule.check(&[1.0, 1.0], late),
            Some(StopReason::MaxTimeTargetNotMet)
        );
        assert_eq!(rule.check(&[1.0, 1.0], Duration::from_nanos(999)), None);
        assert_eq!(
            rule.check(&[1.0; 5], late),
            Some(StopReason::FixedCount),
            "the count, once reached, is the reason"
        );
        assert_eq!(StopRule::fixed(5).check(&[1.0; 4], late), None);
    }

    #[test]
    fn known_interval_of_a_small_series() {
        // mean 10, sd 1, n 4: t(0.975, 3) = 3.182446; half-width 3.182446 / 2 = 1.591223
        let w = mean_ci95_rel_half_width(&[9.0, 10.0, 10.0, 11.0].map(|x: f64| x)).unwrap();
        let sd = (2.0f64 / 3.0).sqrt();
        assert!((w - 3.182446 * sd / 2.0 / 10.0).abs() < 1e-5, "{w}");
    }

    #[test]
    fn stable_series_stops_early_with_target_met() {
        let series = [
            100.0, 100.5, 99.8, 100.2, 100.1, 99.9, 100.0, 100.3, 99.7, 100.0,
        ];
        assert_eq!(run(&adaptive(10), &series), (3, StopReason::TargetMet));
    }

    #[test]
    fn noisy_series_stops_at_max_runs_and_says_target_not_met() {
        let series = [100.0, 60.0, 140.0, 80.0, 120.0, 50.0, 150.0, 90.0];
        assert_eq!(
            run(&adaptive(8), &series),
            (8, StopReason::MaxRunsTargetNotMet)
        );
    }

    #[test]
    fn max_time_stops_a_noisy_series() {
        let rule = StopRule {
            max_time_ns: Some(1_000),
            ..adaptive(100)
        };
        assert_eq!(
            rule.check(&[100.0, 50.0], Duration::from_nanos(2_000)),
            Some(StopReason::MaxTimeTargetNotMet)
        );
    }

    #[test]
    fn fixed_rule_runs_exactly_the_count() {
        let rule = StopRule::fixed(5);
        assert_eq!(rule.check(&[1.0; 4], Duration::ZERO), None);
        assert_eq!(
            rule.check(&[1.0; 5], Duration::ZERO),
            Some(StopReason::FixedCount)
        );
    }
}
