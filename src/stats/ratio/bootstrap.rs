//! Rates and latency percentiles of requests (`bootstrap_requests`): a seeded percentile bootstrap that
//! resamples whole requests on each side, with quantiles counted over ranks rather than sorted per resample.

use super::{Method, Ratio};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A side's groups (requests) for the bootstrap: every value replaced by its rank among the side's distinct
/// values, so that a resample's quantiles come from counting, not sorting.
pub(super) struct Ranked {
    values: Vec<f64>,
    groups: Vec<Vec<(u32, u32)>>,
}

impl Ranked {
    pub(super) fn new(groups: &[Vec<f64>]) -> Ranked {
        let mut values: Vec<f64> = groups.iter().flatten().copied().collect();
        values.sort_by(f64::total_cmp);
        values.dedup();
        let groups: Vec<Vec<(u32, u32)>> = groups
            .iter()
            .map(|g| {
                let mut ranks: Vec<u32> = g
                    .iter()
                    .map(|x| values.partition_point(|v| v.total_cmp(x).is_lt()) as u32)
                    .collect();
                ranks.sort_unstable();
                let mut out: Vec<(u32, u32)> = Vec::new();
                for r in ranks {
                    match out.last_mut() {
                        Some((last, n)) if *last == r => *n += 1,
                        _ => out.push((r, 1)),
                    }
                }
                out
            })
            .collect();
        Ranked { values, groups }
    }

    /// Nearest-rank quantiles `qs` (ascending) of the values of `draw` (group indices), using `counts` as
    /// scratch.
    pub(super) fn quantiles(
        &self,
        draw: &[usize],
        qs: &[f64],
        counts: &mut Vec<u32>,
    ) -> Vec<Option<f64>> {
        counts.clear();
        counts.resize(self.values.len(), 0);
        let mut n = 0u64;
        for &g in draw {
            for &(r, c) in &self.groups[g] {
                counts[r as usize] += c;
                n += c as u64;
            }
        }
        quantiles_of_counts(&self.values, counts, n, qs)
    }
}

fn quantiles_of_counts(values: &[f64], counts: &[u32], n: u64, qs: &[f64]) -> Vec<Option<f64>> {
    if n == 0 {
        return vec![None; qs.len()];
    }
    let targets: Vec<u64> = qs
        .iter()
        .map(|q| ((q * n as f64).ceil() as u64).clamp(1, n))
        .collect();
    let mut out = vec![None; qs.len()];
    let (mut seen, mut k) = (0u64, 0usize);
    for (i, &c) in counts.iter().enumerate() {
        seen += c as u64;
        while k < targets.len() && seen >= targets[k] {
            out[k] = Some(values[i]);
            k += 1;
        }
        if k == targets.len() {
            break;
        }
    }
    out
}

fn percentile_interval(mut ratios: Vec<f64>, alpha: f64) -> (Option<f64>, Option<f64>) {
    if ratios.len() < 2 {
        return (None, None);
    }
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| ratios[(q * (ratios.len() - 1) as f64).round() as usize];
    (Some(at(alpha / 2.0)), Some(at(1.0 - alpha / 2.0)))
}

/// The bootstrap's p-value of "within the band": twice the share of resamples on the band's side of its edge,
/// in the direction of the point estimate.
pub(super) fn bootstrap_p_band(point: f64, ratios: &[f64], noise: f64) -> Option<f64> {
    if ratios.len() < 2 {
        return None;
    }
    let up = 1.0 + noise;
    let inside = if point >= 1.0 {
        ratios.iter().filter(|&&r| r <= up).count()
    } else {
        ratios.iter().filter(|&&r| r >= 1.0 / up).count()
    };
    Some((2.0 * inside as f64 / ratios.len() as f64).clamp(0.0, 1.0))
}

fn bootstrap_ratio(
    point: f64,
    ratios: Vec<f64>,
    n_base: usize,
    n_new: usize,
    alpha: f64,
    noise: f64,
) -> Ratio {
    let p_band = bootstrap_p_band(point, &ratios, noise);
    let (lower, upper) = percentile_interval(ratios, alpha);
    Ratio {
        method: Method::Bootstrap,
        ratio: point,
        lower,
        upper,
        p_value: None,
        p_band,
        n_base,
        n_new,
        detectable: None,
        samples_needed: None,
    }
}

/// Draws `n` group indices with replacement (two per 64-bit draw, Lemire's multiply-shift for the range).
pub(super) fn draw(rng: &mut ChaCha8Rng, n: usize, out: &mut Vec<usize>) {
    out.clear();
    let n32 = n as u64;
    while out.len() < n {
        let x = rng.next_u64();
        for half in [x & 0xffff_ffff, x >> 32] {
            if out.len() < n {
                out.push(((half * n32) >> 32) as usize);
            }
        }
    }
}

/// One side of a request bootstrap: per request, its share of each summed statistic (e.g. its tokens over the
/// measured time) and its values of each quantile family (e.g. its TTFT, its inter-token gaps).
#[derive(Debug, Clone, Default)]
pub struct Requests {
    /// `sums[k][g]`: request `g`'s share of statistic `k`.
    pub sums: Vec<Vec<f64>>,
    /// `values[f][g]`: request `g`'s values of family `f`.
    pub values: Vec<Vec<Vec<f64>>>,
}

impl Requests {
    fn len(&self) -> usize {
        self.sums
            .first()
            .map(Vec::len)
            .or_else(|| self.values.first().map(Vec::len))
            .unwrap_or(0)
    }
}

/// The ratios (new ÷ base) of a request bootstrap.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRatios {
    /// Per summed statistic; `None` where the base sums to zero.
    pub sums: Vec<Option<Ratio>>,
    /// Per family, per quantile of `qs`; `None` where a side has no value or a zero quantile.
    pub quantiles: Vec<Vec<Option<Ratio>>>,
}

/// Percentile bootstrap over requests: each resample draws the requests of each side with replacement (from
/// `seed`, `resamples` times) and computes every statistic from the same draw, so a request's gaps, tokens and
/// SLO outcome stay together.
pub fn bootstrap_requests(
    base: &Requests,
    new: &Requests,
    qs: &[f64],
    alpha: f64,
    noise: f64,
    resamples: usize,
    seed: u64,
) -> RequestRatios {
    let (nb, nn) = (base.len(), new.len());
    let ranked =
        |r: &Requests| -> Vec<Ranked> { r.values.iter().map(|g| Ranked::new(g)).collect() };
    let (rb, rn) = (ranked(base), ranked(new));
    let families = rb.len().min(rn.len());
    let sums = base.sums.len().min(new.sums.len());
    let total = |v: &[f64], draw: Option<&[usize]>| -> f64 {
        match draw {
            Some(d) => d.iter().map(|&g| v[g]).sum(),
            None => v.iter().sum(),
        }
    };
    let mut sum_ratios: Vec<Vec<f64>> = vec![Vec::with_capacity(resamples); sums];
    let mut q_ratios: Vec<Vec<Vec<f64>>> =
        vec![vec![Vec::with_capacity(resamples); qs.len()]; families];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut db, mut dn, mut cb, mut cn) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    if nb > 0 && nn > 0 && (nb > 1 || nn > 1) {
        for _ in 0..resamples {
            draw(&mut rng, nb, &mut db);
            draw(&mut rng, nn, &mut dn);
            for (k, out) in sum_ratios.iter_mut().enumerate() {
                let (b, n) = (
                    total(&base.sums[k], Some(&db)),
                    total(&new.sums[k], Some(&dn)),
                );
                if b > 0.0 && n.is_finite() {
                    out.push(n / b);
                }
            }
            for (f, out) in q_ratios.iter_mut().enumerate() {
                let qb = rb[f].quantiles(&db, qs, &mut cb);
                let qn = rn[f].quantiles(&dn, qs, &mut cn);
                for (k, (b, n)) in qb.into_iter().zip(qn).enumerate() {
                    if let (Some(b), Some(n)) = (b, n) {
                        // A censored quantile is infinite: beyond every measured value; two of them make no
                        // ratio.
                        if b > 0.0 && !(b.is_infinite() && n.is_infinite()) {
                            out[k].push(n / b);
                        }
                    }
                }
            }
        }
    }
    let sums = sum_ratios
        .into_iter()
        .enumerate()
        .map(|(k, r)| {
            let (b, n) = (total(&base.sums[k], None), total(&new.sums[k], None));
            (b > 0.0 && n.is_finite()).then(|| bootstrap_ratio(n / b, r, nb, nn, alpha, noise))
        })
        .collect();
    let quantiles = q_ratios
        .into_iter()
        .enumerate()
        .map(|(f, per_q)| {
            let all = |r: &Ranked| {
                let every: Vec<usize> = (0..r.groups.len()).collect();
                r.quantiles(&every, qs, &mut Vec::new())
            };
            let (pb, pn) = (all(&rb[f]), all(&rn[f]));
            per_q
                .into_iter()
                .enumerate()
                .map(|(k, r)| {
                    let (b, n) = (pb[k].filter(|b| *b > 0.0)?, pn[k]?);
                    Some(bootstrap_ratio(n / b, r, nb, nn, alpha, noise))
                })
                .collect()
        })
        .collect();
    RequestRatios { sums, quantiles }
}
