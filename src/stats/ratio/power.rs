//! The power arithmetic both t-based intervals share: the detectable change of the verdict rule (the band's edge
//! plus what the test needs at 80% power), whether it is underpowered, and how many samples would bring it to
//! twice the noise threshold.

use statrs::distribution::{ContinuousCDF, StudentsT};

pub(super) const POWER: f64 = 0.8;

/// Whether the rule could not find, with 80% power, a change of twice the noise threshold: the smallest
/// detectable change can never be below the threshold itself, so twice it is the line between a test that
/// could see a change worth acting on and one that could not.
pub fn underpowered(detectable: f64, noise: f64) -> bool {
    detectable > 2.0 * noise
}

/// The log-scale margin between the band's edge and twice the noise threshold: what `(t + t)·se` has to fit in
/// for the detectable change to reach `2 × noise`.
pub(super) fn power_target(noise: f64) -> f64 {
    (1.0 + 2.0 * noise).ln() - (1.0 + noise).ln()
}

/// Detectable change (fraction) of the rule for a test needing `k · se` beyond the band's edge.
pub(super) fn detectable_of(noise: f64, k_se: f64) -> f64 {
    fraction((1.0 + noise).ln() + k_se)
}

pub(super) fn t_quantile(df: f64, p: f64) -> Option<f64> {
    if !(df.is_finite() && df > 0.0) {
        return None;
    }
    Some(StudentsT::new(0.0, 1.0, df).ok()?.inverse_cdf(p))
}

pub(super) fn fraction(log_change: f64) -> f64 {
    log_change.exp() - 1.0
}

/// Smallest `n` (at least 2) for which `k(n) · spread / √n` fits between the band's edge and twice the noise
/// threshold (the detectable change then reaches `2 × noise`); `k` depends on the degrees of freedom `n` gives.
pub(super) fn samples_for(
    noise: f64,
    alpha: f64,
    spread: f64,
    df_of: impl Fn(usize) -> f64,
) -> Option<usize> {
    let target = power_target(noise);
    if !(target > 0.0 && spread.is_finite() && spread > 0.0) {
        return None;
    }
    let fits = |n: usize| {
        let df = df_of(n);
        match (t_quantile(df, 1.0 - alpha / 2.0), t_quantile(df, POWER)) {
            (Some(a), Some(b)) => (a + b) * spread / (n as f64).sqrt() <= target,
            _ => false,
        }
    };
    // The normal quantiles give a lower bound (t's are larger); step up from there.
    let normal = statrs::distribution::Normal::new(0.0, 1.0).ok()?;
    let z = normal.inverse_cdf(1.0 - alpha / 2.0) + normal.inverse_cdf(POWER);
    let start = ((z * spread / target).powi(2).ceil() as usize).clamp(2, 10_000_000);
    (start..start + 10_000).find(|&n| fits(n))
}
