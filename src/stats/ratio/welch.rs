//! Welch's t on the logarithms of two sets of independent rates (`welch_log`): the ratio of geometric means with
//! its t interval, p-values, detectable change and the samples a side would need.

use super::power::{detectable_of, samples_for, t_quantile, underpowered, POWER};
use super::{Method, Ratio};
use crate::stats::{mean, stddev};
use statrs::distribution::{ContinuousCDF, StudentsT};

fn t_two_sided_p(df: f64, t: f64) -> Option<f64> {
    if !(df.is_finite() && df > 0.0) {
        return None;
    }
    let d = StudentsT::new(0.0, 1.0, df).ok()?;
    Some((2.0 * (1.0 - d.cdf(t.abs()))).clamp(0.0, 1.0))
}

/// Mean and sample variance (0 for one value) of a non-empty set.
pub(super) fn mean_var(xs: &[f64]) -> (f64, f64) {
    let m = mean(xs).unwrap_or(f64::NAN);
    let sd = stddev(xs).unwrap_or(0.0);
    (m, sd * sd)
}

fn logs(xs: &[f64]) -> Option<Vec<f64>> {
    xs.iter()
        .map(|&x| (x.is_finite() && x > 0.0).then(|| x.ln()))
        .collect()
}

/// Whether a log-scale change `d` with standard error `se` and `df` degrees of freedom is found; the interval,
/// p-value and detectable change of it.
struct TTest {
    d: f64,
    lower: Option<f64>,
    upper: Option<f64>,
    p: Option<f64>,
    p_band: Option<f64>,
    /// `(t_{1-α/2} + t_{power})`: detectable log change per unit of standard error.
    k: Option<f64>,
}

fn t_test(d: f64, se: f64, df: f64, alpha: f64, noise: f64) -> TTest {
    let band = (1.0 + noise).ln();
    if se == 0.0 {
        // No spread at all: the samples are what they are.
        let p = Some(if d == 0.0 { 1.0 } else { 0.0 });
        return TTest {
            d,
            lower: Some(d),
            upper: Some(d),
            p,
            p_band: Some(if d.abs() > band { 0.0 } else { 1.0 }),
            k: None,
        };
    }
    let p_band = (df.is_finite() && df > 0.0)
        .then(|| StudentsT::new(0.0, 1.0, df).ok())
        .flatten()
        .map(|t| (2.0 * (1.0 - t.cdf((d.abs() - band) / se))).clamp(0.0, 1.0));
    let tq = t_quantile(df, 1.0 - alpha / 2.0);
    let tp = t_quantile(df, POWER);
    TTest {
        d,
        lower: tq.map(|t| d - t * se),
        upper: tq.map(|t| d + t * se),
        p: t_two_sided_p(df, d / se),
        p_band,
        k: tq.zip(tp).map(|(a, b)| a + b),
    }
}

fn ratio_of(method: Method, t: &TTest, n_base: usize, n_new: usize) -> Ratio {
    Ratio {
        method,
        ratio: t.d.exp(),
        lower: t.lower.map(f64::exp),
        upper: t.upper.map(f64::exp),
        p_value: t.p,
        p_band: t.p_band,
        n_base,
        n_new,
        detectable: None,
        samples_needed: None,
    }
}

/// Welch's t on the logs of two sets of rates. `None` when a side has no positive finite rate.
pub fn welch_log(base: &[f64], new: &[f64], alpha: f64, noise: f64) -> Option<Ratio> {
    let (lb, ln) = (logs(base)?, logs(new)?);
    if lb.is_empty() || ln.is_empty() {
        return None;
    }
    let (mb, vb) = mean_var(&lb);
    let (mn, vn) = mean_var(&ln);
    let (nb, nn) = (lb.len() as f64, ln.len() as f64);
    let d = mn - mb;
    if lb.len() < 2 || ln.len() < 2 {
        let method = if lb.len() == 1 && ln.len() == 1 {
            Method::Single
        } else {
            Method::WelchLog
        };
        let t = TTest {
            d,
            lower: None,
            upper: None,
            p: None,
            p_band: None,
            k: None,
        };
        return Some(ratio_of(method, &t, lb.len(), ln.len()));
    }
    let (qb, qn) = (vb / nb, vn / nn);
    let se = (qb + qn).sqrt();
    let df = if se == 0.0 {
        nb + nn - 2.0
    } else {
        (qb + qn).powi(2) / (qb * qb / (nb - 1.0) + qn * qn / (nn - 1.0))
    };
    let t = t_test(d, se, df, alpha, noise);
    let mut r = ratio_of(Method::WelchLog, &t, lb.len(), ln.len());
    r.detectable = t.k.map(|k| detectable_of(noise, k * se));
    if r.detectable.is_some_and(|x| underpowered(x, noise)) {
        // Equal counts on both sides, each side keeping its observed spread.
        let spread = (vb + vn).sqrt();
        r.samples_needed = samples_for(noise, alpha, spread, |n| {
            let q = (vb + vn) / n as f64;
            let denom = (vb * vb + vn * vn) / (n as f64 * n as f64 * (n as f64 - 1.0));
            if denom > 0.0 {
                q * q / denom
            } else {
                2.0 * n as f64 - 2.0
            }
        });
    }
    Some(r)
}
