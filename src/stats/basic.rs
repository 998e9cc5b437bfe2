//! Mean, standard deviation and rates.

/// Arithmetic mean; `None` for an empty series.
pub fn mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    Some(xs.iter().sum::<f64>() / xs.len() as f64)
}

/// The median (the mean of the middle two for an even count); `None` for an empty series.
pub fn median(xs: &[f64]) -> Option<f64> {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// Sample standard deviation (n − 1 in the denominator, as llama-bench); `None` below two samples.
pub fn stddev(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    let ss: f64 = xs.iter().map(|x| (x - m) * (x - m)).sum();
    Some((ss / (xs.len() - 1) as f64).sqrt())
}

/// Coefficient of variation (sd / mean); `None` when either is absent or the mean is zero.
pub fn cv(xs: &[f64]) -> Option<f64> {
    let m = mean(xs)?;
    let s = stddev(xs)?;
    (m != 0.0).then(|| s / m)
}

/// Rates (units per second) of `units` done in each of `elapsed_ns`.
pub fn rates_per_s(units: u64, elapsed_ns: &[u64]) -> Vec<f64> {
    elapsed_ns
        .iter()
        .map(|&ns| units as f64 * 1e9 / ns as f64)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_stddev_of_a_known_series() {
        let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert_eq!(mean(&xs), Some(5.0));
        // population sd is 2; the sample sd is sqrt(32/7)
        assert!((stddev(&xs).unwrap() - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn absent_when_too_few_samples() {
        assert_eq!(mean(&[]), None);
        assert_eq!(stddev(&[1.0]), None);
        assert_eq!(cv(&[0.0, 0.0]), None);
    }

    #[test]
    fn median_of_odd_and_even_counts_and_cv_of_two_samples() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[5.0]), Some(5.0));
        assert_eq!(median(&[]), None);
        // two samples are enough for a sample sd: sqrt(((1-2)^2 + (3-2)^2) / 1)
        assert_eq!(stddev(&[1.0, 3.0]), Some(2f64.sqrt()));
        assert_eq!(cv(&[1.0, 3.0]), Some(2f64.sqrt() / 2.0));
    }

    #[test]
    fn rates_are_units_over_seconds() {
        assert_eq!(
            rates_per_s(512, &[1_000_000_000, 500_000_000]),
            vec![512.0, 1024.0]
        );
    }
}
