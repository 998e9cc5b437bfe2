//! The ratio of two sets of measurements (new ÷ base) with its confidence interval, and the smallest change the
//! samples could have detected.
//!
//! - Rates of repetitions (`welch_log`): Welch's t on the logarithms. Rates are positive and their spread grows
//!   with their size, so the log makes the ratio symmetric (a 10% loss and its undoing are the same distance)
//!   and the difference of the log means is the log of the ratio of geometric means. Welch's t, unlike a
//!   bootstrap, stays honest at the three to ten repetitions a benchmark has: its interval widens with the
//!   t quantile where a bootstrap's would shrink to the few values it can resample.
//! - Interleaved rounds (`paired_signed_rank`): the per-round log ratios, which cancel any drift slower than a
//!   round; their Hodges–Lehmann estimate with the signed-rank interval, on which a disturbed round weighs by its
//!   rank, not its size.
//! - Rates and latency percentiles of requests (`bootstrap_sum`, `bootstrap_quantiles`): no closed form, so a
//!   seeded percentile bootstrap that resamples whole requests on each side (a request's gaps stay together).

use crate::stats::median;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// How a ratio's interval was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Welch's t on log rates of independent repetitions.
    WelchLog,
    /// The Hodges–Lehmann estimate of the interleaved rounds' log ratios with the Wilcoxon signed-rank interval.
    PairedSignedRank,
    /// Seeded percentile bootstrap over requests.
    Bootstrap,
    /// One figure per side: a ratio, no interval.
    Single,
}

/// New ÷ base, with its `1 − alpha` confidence interval where the samples allow one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    pub method: Method,
    pub ratio: f64,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// Two-sided p-value of "no change" (t methods only).
    pub p_value: Option<f64>,
    /// p-value of "the change lies within the noise band" (1 ± noise): the one-sided test at the band's edge in
    /// the direction observed, doubled, so that `p_band ≤ alpha` exactly when the whole `1 − alpha` interval lies
    /// beyond the band (the verdict rule). The family-wise correction over gated figures works on it.
    #[serde(default)]
    pub p_band: Option<f64>,
    /// Samples on each side (rounds for `paired_signed_rank`).
    pub n_base: usize,
    pub n_new: usize,
    /// Smallest change (as a fraction, 0.05 = 5%) the verdict rule finds with 80% power at `alpha`, from the
    /// observed spread and counts: the whole interval has to clear the noise band, so it is the band's edge plus
    /// what the test itself needs, `ln(1 + noise) + (t_{1−α/2} + t_{0.8})·se` on the log scale, never below the
    /// noise threshold. `None` without a spread to go on.
    pub detectable: Option<f64>,
    /// Samples per side (rounds for `paired_signed_rank`) that would bring `detectable` down to twice the noise
    /// threshold ([`underpowered`]), when it is above it.
    pub samples_needed: Option<usize>,
}

const POWER: f64 = 0.8;

/// Whether the rule could not find, with 80% power, a change of twice the noise threshold: the smallest
/// detectable change can never be below the threshold itself, so twice it is the line between a test that
/// could see a change worth acting on and one that could not.
pub fn underpowered(detectable: f64, noise: f64) -> bool {
    detectable > 2.0 * noise
}

/// The log-scale margin between the band's edge and twice the noise threshold: what `(t + t)·se` has to fit in
/// for the detectable change to reach `2 × noise`.
fn power_target(noise: f64) -> f64 {
    (1.0 + 2.0 * noise).ln() - (1.0 + noise).ln()
}

/// Detectable change (fraction) of the rule for a test needing `k · se` beyond the band's edge.
fn detectable_of(noise: f64, k_se: f64) -> f64 {
    fraction((1.0 + noise).ln() + k_se)
}

fn t_quantile(df: f64, p: f64) -> Option<f64> {
    if !(df.is_finite() && df > 0.0) {
        return None;
    }
    Some(StudentsT::new(0.0, 1.0, df).ok()?.inverse_cdf(p))
}

fn t_two_sided_p(df: f64, t: f64) -> Option<f64> {
    if !(df.is_finite() && df > 0.0) {
        return None;
    }
    let d = StudentsT::new(0.0, 1.0, df).ok()?;
    Some((2.0 * (1.0 - d.cdf(t.abs()))).clamp(0.0, 1.0))
}

/// Mean and sample variance (0 for one value) of a non-empty set.
fn mean_var(xs: &[f64]) -> (f64, f64) {
    let m = super::mean(xs).unwrap_or(f64::NAN);
    let sd = super::stddev(xs).unwrap_or(0.0);
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

fn fraction(log_change: f64) -> f64 {
    log_change.exp() - 1.0
}

/// Smallest `n` (at least 2) for which `k(n) · spread / √n` fits between the band's edge and twice the noise
/// threshold (the detectable change then reaches `2 × noise`); `k` depends on the degrees of freedom `n` gives.
fn samples_for(noise: f64, alpha: f64, spread: f64, df_of: impl Fn(usize) -> f64) -> Option<usize> {
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

/// The per-round log ratios `ln(new_i / base_i)` of rounds whose two figures are positive.
fn round_log_ratios(base: &[f64], new: &[f64]) -> Vec<f64> {
    base.iter()
        .zip(new)
        .filter(|(b, n)| b.is_finite() && **b > 0.0 && n.is_finite() && **n > 0.0)
        .map(|(b, n)| (n / b).ln())
        .collect()
}

/// Interleaved rounds: the Hodges–Lehmann estimate of the per-round log ratios (the median of their Walsh
/// averages, `(d_i + d_j) / 2` for `i ≤ j`) with the Wilcoxon signed-rank test's distribution-free interval, the
/// k-th smallest to the k-th largest Walsh average, k the largest with P(W ≤ k − 1) ≤ α/2 under the signed-rank
/// null (20 rounds at α = 0.05: the 53rd of 210 from either end). It assumes only that a round's log ratio is
/// spread symmetrically around the change, which alternating the sides' order within rounds gives. On rounds
/// spread normally it needs about 5% more rounds than a t test, where the sign test needs about 57% more; and a
/// disturbed round moves it by one rank, not by its size: with 20 rounds, two rounds disturbed without bound on
/// the same side leave the interval's far end among undisturbed averages. `None` without a round whose two
/// figures are positive; no interval below 6 rounds at α = 0.05.
pub fn paired_signed_rank(base: &[f64], new: &[f64], alpha: f64, noise: f64) -> Option<Ratio> {
    let d = round_log_ratios(base, new);
    let n = d.len();
    if n == 0 {
        return None;
    }
    let walsh = walsh_averages(&d);
    let total = walsh.len();
    let estimate = median(&walsh).expect("a round");
    let null = SignedRank::new(n);
    let k = null.rank(alpha);
    // The signed-rank test at the band's edge, in the direction of the estimate: its statistic is the number of
    // Walsh averages beyond the edge, and p_band ≤ α exactly when the k-th of them from that end is beyond it.
    let band = (1.0 + noise).ln();
    let beyond = if estimate >= 0.0 {
        walsh.iter().filter(|&&x| x > band).count()
    } else {
        walsh.iter().filter(|&&x| x < -band).count()
    };
    let p_band = Some((2.0 * null.at_least(beyond)).clamp(0.0, 1.0));
    let mut r = Ratio {
        method: Method::PairedSignedRank,
        ratio: estimate.exp(),
        lower: k.map(|k| walsh[k - 1].exp()),
        upper: k.map(|k| walsh[total - k].exp()),
        p_value: None,
        p_band,
        n_base: n,
        n_new: n,
        detectable: None,
        samples_needed: None,
    };
    if n >= 2 {
        // The rule's own power, for rounds spread normally by σ (estimated robustly, 1.4826 × the median absolute
        // deviation): the signed-rank test has the power of a t test on 3/π of the rounds (its Pitman efficiency),
        // so the interval clears the edge in 80% of runs at `(t_{1−α/2} + t_{0.8}) · σ · √(π/3) / √n` beyond it,
        // t with n − 1 degrees of freedom. The unit test below checks this by simulation.
        let mid = median(&d).expect("a round");
        let dev: Vec<f64> = d.iter().map(|x| (x - mid).abs()).collect();
        let sigma = 1.4826 * median(&dev).expect("a round");
        let spread = sigma * (std::f64::consts::PI / 3.0).sqrt();
        let df = (n - 1) as f64;
        if let (Some(a), Some(b)) = (t_quantile(df, 1.0 - alpha / 2.0), t_quantile(df, POWER)) {
            r.detectable = Some(detectable_of(noise, (a + b) * spread / (n as f64).sqrt()));
        }
        if r.detectable.is_some_and(|x| underpowered(x, noise)) {
            r.samples_needed = samples_for(noise, alpha, spread, |m| (m - 1) as f64)
                .map(|m| m.max(min_rounds(alpha)));
        }
    }
    Some(r)
}

/// Every `(d_i + d_j) / 2` for `i ≤ j`, sorted.
fn walsh_averages(d: &[f64]) -> Vec<f64> {
    let mut w = Vec::with_capacity(d.len() * (d.len() + 1) / 2);
    for (i, a) in d.iter().enumerate() {
        for b in &d[i..] {
            w.push((a + b) / 2.0);
        }
    }
    w.sort_by(f64::total_cmp);
    w
}

/// The null distribution of the Wilcoxon signed-rank statistic W (the sum of the ranks carrying a `+`, each of
/// ranks 1..=n signed `+` or `−` with probability ½), as P(W ≤ w) for w = 0..=n(n+1)/2. statrs has no such
/// distribution. Exact up to `EXACT_MAX` rounds (the coefficients of ∏ (1 + q^j) / 2, built rank by rank), the
/// normal approximation with a continuity correction beyond, where the two agree to well under 0.001.
struct SignedRank {
    cdf: Vec<f64>,
}

const EXACT_MAX: usize = 300;

impl SignedRank {
    fn new(n: usize) -> SignedRank {
        let total = n * (n + 1) / 2;
        let mut cdf = vec![0.0; total + 1];
        if n <= EXACT_MAX {
            let mut pmf = vec![0.0; total + 1];
            pmf[0] = 1.0;
            for j in 1..=n {
                let top = j * (j + 1) / 2;
                for w in (j..=top).rev() {
                    pmf[w] = (pmf[w] + pmf[w - j]) / 2.0;
                }
                for p in &mut pmf[..j] {
                    *p /= 2.0;
                }
            }
            let mut acc = 0.0f64;
            for (c, p) in cdf.iter_mut().zip(&pmf) {
                acc += p;
                *c = acc.min(1.0);
            }
        } else {
            let nf = n as f64;
            let mean = nf * (nf + 1.0) / 4.0;
            let sd = (nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0).sqrt();
            let normal = statrs::distribution::Normal::new(mean, sd).expect("a positive spread");
            for (w, c) in cdf.iter_mut().enumerate() {
                *c = normal.cdf(w as f64 + 0.5);
            }
        }
        SignedRank { cdf }
    }

    /// P(W ≤ w).
    fn at_most(&self, w: usize) -> f64 {
        self.cdf[w.min(self.cdf.len() - 1)]
    }

    /// P(W ≥ w), which by the distribution's symmetry is P(W ≤ total − w).
    fn at_least(&self, w: usize) -> f64 {
        let total = self.cdf.len() - 1;
        if w == 0 {
            1.0
        } else if w > total {
            0.0
        } else {
            self.at_most(total - w)
        }
    }

    /// The rank `k` of the interval at `alpha`, or `None` when even the extremes are not enough.
    fn rank(&self, alpha: f64) -> Option<usize> {
        let total = self.cdf.len() - 1;
        (1..=total.div_ceil(2))
            .take_while(|&k| self.at_most(k - 1) <= alpha / 2.0)
            .last()
    }
}

/// Fewest rounds whose signed-rank interval exists at `alpha`.
pub fn min_rounds(alpha: f64) -> usize {
    (1..64)
        .find(|&n| SignedRank::new(n).rank(alpha).is_some())
        .unwrap_or(64)
}

/// A side's groups (requests) for the bootstrap: every value replaced by its rank among the side's distinct
/// values, so that a resample's quantiles come from counting, not sorting.
struct Ranked {
    values: Vec<f64>,
    groups: Vec<Vec<(u32, u32)>>,
}

impl Ranked {
    fn new(groups: &[Vec<f64>]) -> Ranked {
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
    fn quantiles(&self, draw: &[usize], qs: &[f64], counts: &mut Vec<u32>) -> Vec<Option<f64>> {
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
fn bootstrap_p_band(point: f64, ratios: &[f64], noise: f64) -> Option<f64> {
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
fn draw(rng: &mut ChaCha8Rng, n: usize, out: &mut Vec<usize>) {
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

/// Nearest-rank quantile `q` of `xs` (sorted in place).
pub fn quantile(xs: &mut [f64], q: f64) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let rank = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    Some(xs[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_with_a_figure_that_is_not_a_positive_rate_are_left_out() {
        let (inf, nan) = (f64::INFINITY, f64::NAN);
        let base = [1.0, 0.0, 2.0, inf, 1.0, -1.0, 1.0, 1.0, nan];
        let new = [2.0, 1.0, 0.0, 1.0, inf, 1.0, -1.0, nan, 1.0];
        assert_eq!(round_log_ratios(&base, &new), vec![2f64.ln()]);
    }

    #[test]
    fn samples_needed_is_the_fewest_that_bring_the_detectable_change_to_twice_the_noise() {
        assert!((power_target(0.02) - (1.04f64 / 1.02).ln()).abs() < 1e-15);
        let (noise, alpha) = (0.02, 0.05);
        let k = |n: usize| {
            let df = (n - 1) as f64;
            t_quantile(df, 1.0 - alpha / 2.0).unwrap() + t_quantile(df, POWER).unwrap()
        };
        for spread in [0.01, 0.05, 0.2] {
            let n = samples_for(noise, alpha, spread, |m| (m - 1) as f64).unwrap();
            let detectable = |n: usize| detectable_of(noise, k(n) * spread / (n as f64).sqrt());
            assert!(detectable(n) <= 2.0 * noise + 1e-12, "{spread}: {n}");
            assert!(n == 2 || detectable(n - 1) > 2.0 * noise, "{spread}: {n}");
        }
        assert_eq!(samples_for(noise, alpha, 0.0, |m| m as f64), None);
    }

    #[test]
    fn the_band_test_on_rounds_is_the_same_either_way_up_and_an_edge_is_not_beyond() {
        let ratios = [
            0.95, 0.97, 0.99, 1.0, 1.01, 0.96, 0.93, 0.98, 1.03, 0.97, 0.94, 0.99,
        ];
        let ones = vec![1.0; ratios.len()];
        let down = paired_signed_rank(&ones, &ratios, 0.05, 0.02).unwrap();
        let up = paired_signed_rank(&ratios, &ones, 0.05, 0.02).unwrap();
        let (pd, pu) = (down.p_band.unwrap(), up.p_band.unwrap());
        assert!(down.ratio < 1.0 && up.ratio > 1.0);
        assert!(pd < 1.0 && (pd - pu).abs() < 1e-12, "{pd} {pu}");
        // every round exactly on the band's edge: no pairwise average beyond it
        let edge = vec![1.0 + 0.02; 10];
        let r = paired_signed_rank(&ones[..10], &edge, 0.05, 0.02).unwrap();
        assert_eq!(r.p_band, Some(1.0));
    }

    #[test]
    fn the_rounds_detectable_change_and_rounds_needed_follow_their_robust_spread() {
        let (noise, alpha) = (0.02, 0.05);
        let sweep = (1..=60).map(|i| (0.2, i as f64 * 0.0005));
        for (shift, scale) in [(0.5, 0.01), (-0.3, 0.03), (0.1, 0.004)]
            .into_iter()
            .chain(sweep)
        {
            // rounds spread symmetrically about the shift: median absolute deviation `scale`
            let devs = [-2.0, -1.0, -1.0, -0.5, 0.0, 0.0, 0.5, 1.0, 1.0, 2.0];
            let d: Vec<f64> = devs.iter().map(|x| shift + x * scale).collect();
            let new: Vec<f64> = d.iter().map(|x| x.exp()).collect();
            let r = paired_signed_rank(&vec![1.0; d.len()], &new, alpha, noise).unwrap();
            let spread = 1.4826 * scale * (std::f64::consts::PI / 3.0).sqrt();
            let detectable = |n: usize| {
                let df = (n - 1) as f64;
                let k = t_quantile(df, 1.0 - alpha / 2.0).unwrap() + t_quantile(df, POWER).unwrap();
                detectable_of(noise, k * spread / (n as f64).sqrt())
            };
            let got = r.detectable.unwrap();
            assert!((got - detectable(d.len())).abs() < 1e-9, "{shift}: {got}");
            match r.samples_needed {
                Some(m) => {
                    assert!(
                        m >= min_rounds(alpha) && detectable(m) <= 2.0 * noise + 1e-12,
                        "{m}"
                    );
                    assert!(
                        m == min_rounds(alpha) || detectable(m - 1) > 2.0 * noise,
                        "{m}"
                    );
                }
                None => assert!(!underpowered(got, noise), "{got}"),
            }
        }
    }

    #[test]
    fn underpowered_means_it_could_not_detect_twice_the_noise() {
        assert!(!underpowered(0.039, 0.02));
        assert!(!underpowered(0.04, 0.02));
        assert!(underpowered(0.041, 0.02));
        assert!(!underpowered(0.15, 0.1));
    }

    #[test]
    fn identical_samples_give_a_ratio_of_one_inside_its_interval() {
        let s = [100.0, 103.0, 98.0, 101.0, 99.0];
        let r = welch_log(&s, &s, 0.05, 0.02).unwrap();
        assert!((r.ratio - 1.0).abs() < 1e-12);
        assert!(r.lower.unwrap() < 1.0 && r.upper.unwrap() > 1.0);
        assert!(r.p_value.unwrap() > 0.99);
    }

    #[test]
    fn a_uniform_ten_percent_loss_has_an_interval_around_0_90() {
        let base = [100.0, 103.0, 98.0, 101.0, 99.0];
        let new: Vec<f64> = base.iter().map(|x| x * 0.9).collect();
        let r = welch_log(&base, &new, 0.05, 0.02).unwrap();
        assert!((r.ratio - 0.9).abs() < 1e-9);
        assert!(r.lower.unwrap() < 0.9 && r.upper.unwrap() > 0.9);
        assert!(r.upper.unwrap() < 0.98, "{r:?}");
        assert!(r.p_value.unwrap() < 0.001);
    }

    #[test]
    fn noisy_samples_report_what_they_could_detect_and_what_it_would_take() {
        let base = [100.0, 130.0, 80.0, 115.0, 90.0];
        let new = [95.0, 125.0, 85.0, 110.0, 92.0];
        let r = welch_log(&base, &new, 0.05, 0.02).unwrap();
        let d = r.detectable.unwrap();
        assert!(d > 0.2, "{d}");
        let n = r.samples_needed.unwrap();
        assert!(n > 100, "{n}");
        // and with that many, the detectable change is at the threshold
        let spread = 0.2f64; // about the observed log spread
        assert!(spread / (n as f64).sqrt() < 0.02);
    }

    #[test]
    fn paired_rounds_cancel_drift_shared_by_both_sides() {
        // the machine slows by 30% over the run; the new side is 5% slower in every round, give or take 1%
        let base: Vec<f64> = (0..12).map(|i| 100.0 * (1.0 - 0.025 * i as f64)).collect();
        let new: Vec<f64> = base
            .iter()
            .enumerate()
            .map(|(i, x)| x * 0.95 * (1.0 + 0.01 * ((i % 3) as f64 - 1.0)))
            .collect();
        let r = paired_signed_rank(&base, &new, 0.05, 0.02).unwrap();
        assert!((r.ratio - 0.95).abs() < 0.002, "{r:?}");
        assert!(r.upper.unwrap() < 0.98, "{r:?}");
        // Welch on the same figures sees only the drift's spread
        let w = welch_log(&base, &new, 0.05, 0.02).unwrap();
        assert!(w.upper.unwrap() > 1.0);
    }

    #[test]
    fn two_disturbed_rounds_of_twenty_do_not_hide_a_steady_change() {
        let base = vec![100.0; 20];
        let steady: Vec<f64> = (0..20).map(|i| 90.0 + (i % 2) as f64).collect();
        let mut new = steady.clone();
        // the base runs of rounds 3 and 11 were slowed down by something else
        new[3] = 400.0;
        new[11] = 4000.0;
        let r = paired_signed_rank(&base, &new, 0.05, 0.02).unwrap();
        assert!(r.upper.unwrap() < 0.95, "{r:?}");
        assert!(r.p_band.unwrap() <= 0.05, "{r:?}");
        // or the new runs were
        new[3] = 10.0;
        new[11] = 1.0;
        let r = paired_signed_rank(&base, &new, 0.05, 0.02).unwrap();
        assert!(r.lower.unwrap() >= 0.9 && r.upper.unwrap() < 0.95, "{r:?}");
        // a mean has no such limit: the t interval on the same logs is dragged across the band
        let logs: Vec<f64> = new.iter().map(|x| (x / 100.0f64).ln()).collect();
        let (m, v) = mean_var(&logs);
        let half = t_quantile(19.0, 0.975).unwrap() * (v / 20.0).sqrt();
        assert!((m + half).exp() > 0.98, "{}", (m + half).exp());
        // the interval needs 6 rounds at α = 0.05
        let r = paired_signed_rank(&base[..5], &steady[..5], 0.05, 0.02).unwrap();
        assert_eq!((r.lower, r.upper), (None, None));
        assert_eq!(min_rounds(0.05), 6);
    }

    #[test]
    fn signed_rank_ranks_are_the_tabled_critical_values_plus_one() {
        // two-sided α = 0.05 critical values of W (reject when W ≤ T) for n = 6..=15 and 20
        let tabled = [
            (6, 0),
            (7, 2),
            (8, 3),
            (9, 5),
            (10, 8),
            (11, 10),
            (12, 13),
            (13, 17),
            (14, 21),
            (15, 25),
            (20, 52),
        ];
        for (n, t) in tabled {
            assert_eq!(SignedRank::new(n).rank(0.05), Some(t + 1), "n = {n}");
        }
        assert_eq!(SignedRank::new(5).rank(0.05), None);
        // n = 3: eight sign patterns with rank sums 0, 1, 2, 3, 3, 4, 5, 6
        let three = SignedRank::new(3);
        let expected = [1.0, 2.0, 3.0, 5.0, 6.0, 7.0, 8.0].map(|c| c / 8.0);
        for (w, e) in expected.iter().enumerate() {
            assert!((three.at_most(w) - e).abs() < 1e-12, "w = {w}");
        }
        assert_eq!(three.at_least(0), 1.0);
        assert!((three.at_least(6) - 1.0 / 8.0).abs() < 1e-12);
        assert_eq!(three.at_least(7), 0.0);
        assert_eq!(
            (three.at_most(6), three.at_most(7), three.at_most(100)),
            (1.0, 1.0, 1.0)
        );
        // the exact distribution at its largest size and the normal approximation just beyond it agree
        let (exact, approx) = (SignedRank::new(EXACT_MAX), SignedRank::new(EXACT_MAX + 1));
        for q in [0.01, 0.1, 0.3, 0.5] {
            let w = |n: usize| (q * (n * (n + 1) / 2) as f64) as usize;
            assert!(
                (exact.at_most(w(EXACT_MAX)) - approx.at_most(w(EXACT_MAX + 1))).abs() < 0.005,
                "{q}"
            );
        }
    }

    #[test]
    fn the_estimate_is_the_median_of_walsh_averages() {
        // rounds 0.9, 0.95, 1.2 (log scale): Walsh averages of the logs, 6 of them, median of the middle two
        let base = [1.0, 1.0, 1.0];
        let new = [0.9, 0.95, 1.2];
        let d: Vec<f64> = new.iter().map(|x: &f64| x.ln()).collect();
        let mut w = vec![
            d[0],
            d[1],
            d[2],
            (d[0] + d[1]) / 2.0,
            (d[0] + d[2]) / 2.0,
            (d[1] + d[2]) / 2.0,
        ];
        w.sort_by(f64::total_cmp);
        let r = paired_signed_rank(&base, &new, 0.05, 0.02).unwrap();
        assert!(
            (r.ratio - ((w[2] + w[3]) / 2.0).exp()).abs() < 1e-12,
            "{r:?}"
        );
        assert_eq!(walsh_averages(&d), w);
    }

    fn requests(values: Vec<Vec<f64>>, shares: Vec<f64>) -> Requests {
        Requests {
            sums: vec![shares],
            values: vec![values],
        }
    }

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_point_estimate() {
        let base: Vec<Vec<f64>> = (0..50).map(|i| vec![10.0 + (i % 7) as f64, 3.0]).collect();
        let new: Vec<Vec<f64>> = (0..50).map(|i| vec![12.0 + (i % 7) as f64, 3.0]).collect();
        let (b, n) = (
            requests(base.clone(), vec![1.0; 50]),
            requests(new.clone(), vec![1.0; 50]),
        );
        let qs = [0.75, 0.95];
        let a = bootstrap_requests(&b, &n, &qs, 0.05, 0.02, 500, 7);
        assert_eq!(a, bootstrap_requests(&b, &n, &qs, 0.05, 0.02, 500, 7));
        for r in a.quantiles[0].iter().map(|r| r.as_ref().unwrap()) {
            assert!(r.lower.unwrap() <= r.ratio && r.ratio <= r.upper.unwrap());
            assert!(r.ratio > 1.0);
        }
        // the point estimate is the nearest-rank quantile of all values
        let mut all_new: Vec<f64> = new.iter().flatten().copied().collect();
        let mut all_base: Vec<f64> = base.iter().flatten().copied().collect();
        let want = quantile(&mut all_new, 0.95).unwrap() / quantile(&mut all_base, 0.95).unwrap();
        assert_eq!(a.quantiles[0][1].as_ref().unwrap().ratio, want);
        // equal shares on both sides: a ratio of one, every resample drawing as many requests
        let s = a.sums[0].as_ref().unwrap();
        assert_eq!((s.ratio, s.lower, s.upper), (1.0, Some(1.0), Some(1.0)));
    }

    #[test]
    fn counted_quantiles_match_sorted_ones() {
        let groups: Vec<Vec<f64>> = (0..40)
            .map(|i| {
                (0..(i % 5 + 1))
                    .map(|j| ((i * 7 + j * 13) % 31) as f64)
                    .collect()
            })
            .collect();
        let r = Ranked::new(&groups);
        let draw: Vec<usize> = (0..groups.len()).rev().step_by(3).collect();
        let qs = [0.0, 0.5, 0.9, 0.99, 1.0];
        let got = r.quantiles(&draw, &qs, &mut Vec::new());
        let mut flat: Vec<f64> = draw.iter().flat_map(|&g| groups[g].clone()).collect();
        for (q, g) in qs.iter().zip(got) {
            assert_eq!(g, quantile(&mut flat, *q), "q={q}");
        }
    }

    #[test]
    fn bootstrap_of_sums_is_the_ratio_of_totals() {
        let b = requests(vec![vec![]; 4], vec![1.0, 0.0, 1.0, 1.0]);
        let n = requests(vec![vec![]; 4], vec![1.0; 4]);
        let r = bootstrap_requests(&b, &n, &[0.5], 0.05, 0.02, 300, 1);
        let s = r.sums[0].as_ref().unwrap();
        assert!((s.ratio - 4.0 / 3.0).abs() < 1e-12);
        assert!(s.lower.unwrap() <= s.ratio && s.ratio <= s.upper.unwrap());
        assert_eq!(r.quantiles[0][0], None);
        let zero = requests(vec![vec![]], vec![0.0]);
        assert!(bootstrap_requests(&zero, &n, &[], 0.05, 0.02, 10, 1).sums[0].is_none());
    }

    #[test]
    fn draws_stay_in_range_and_cover_it() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut out = Vec::new();
        draw(&mut rng, 7, &mut out);
        assert_eq!(out.len(), 7);
        let mut seen = [false; 3];
        for _ in 0..100 {
            draw(&mut rng, 3, &mut out);
            for &i in &out {
                seen[i] = true;
            }
        }
        assert_eq!(seen, [true; 3]);
    }

    #[test]
    fn nearest_rank_quantile() {
        let mut xs = vec![5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(quantile(&mut xs, 0.5), Some(3.0));
        assert_eq!(quantile(&mut xs, 1.0), Some(5.0));
        assert_eq!(quantile(&mut xs, 0.0), Some(1.0));
        assert_eq!(quantile(&mut [], 0.5), None);
    }
    /// Standard normal draws (Box-Muller) from a seeded generator.
    fn normals(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
        let u = |rng: &mut ChaCha8Rng| ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        (0..n)
            .map(|_| {
                let (a, b) = (u(rng), u(rng));
                (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
            })
            .collect()
    }

    /// Whether the verdict rule fires for a gain: the whole interval above the band.
    fn fires(r: &Ratio, noise: f64) -> bool {
        r.lower.is_some_and(|lo| lo > 1.0 + noise)
    }

    #[test]
    fn welch_detectable_change_is_found_by_the_rule_in_80_percent_of_runs() {
        let (alpha, noise, sigma, n) = (0.05, 0.02, 0.04, 10);
        // The detectable change from the true spread: the band's edge plus (t + t)·se.
        let se = sigma * (2.0 / n as f64).sqrt();
        let df = 2.0 * n as f64 - 2.0;
        let k = t_quantile(df, 1.0 - alpha / 2.0).unwrap() + t_quantile(df, POWER).unwrap();
        let mde = detectable_of(noise, k * se);
        assert!(mde > noise, "{mde}");
        let mut rng = ChaCha8Rng::seed_from_u64(20);
        let runs = 4000;
        let (mut hits, mut reported) = (0, Vec::new());
        for _ in 0..runs {
            let base: Vec<f64> = normals(&mut rng, n)
                .iter()
                .map(|z| (z * sigma).exp() * 100.0)
                .collect();
            let new: Vec<f64> = normals(&mut rng, n)
                .iter()
                .map(|z| (z * sigma + mde.ln_1p()).exp() * 100.0)
                .collect();
            let r = welch_log(&base, &new, alpha, noise).unwrap();
            hits += usize::from(fires(&r, noise));
            // the rule and its p-value agree
            assert_eq!(fires(&r, noise), r.p_band.unwrap() <= alpha, "{r:?}");
            reported.push(r.detectable.unwrap());
        }
        let power = hits as f64 / runs as f64;
        assert!(
            (0.76..=0.84).contains(&power),
            "power at the detectable change: {power}"
        );
        // what the runs report is that change, give or take their spread's estimate
        let median = quantile(&mut reported, 0.5).unwrap();
        assert!(
            (median / mde - 1.0).abs() < 0.08,
            "reported {median} against {mde}"
        );
        // a test that only excludes 1 would claim a change smaller by about the noise threshold, and the rule
        // finds that one far less often than 80%
        let optimistic = fraction(k * se);
        let mut hits = 0;
        for _ in 0..runs {
            let base: Vec<f64> = normals(&mut rng, n)
                .iter()
                .map(|z| (z * sigma).exp())
                .collect();
            let new: Vec<f64> = normals(&mut rng, n)
                .iter()
                .map(|z| (z * sigma + optimistic.ln_1p()).exp())
                .collect();
            hits += usize::from(fires(&welch_log(&base, &new, alpha, noise).unwrap(), noise));
        }
        assert!((hits as f64 / runs as f64) < 0.6, "{hits}");
    }

    #[test]
    fn paired_detectable_change_is_found_by_the_rule_in_about_80_percent_of_runs() {
        let (alpha, noise, sigma, n) = (0.05, 0.02, 0.03, 20);
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        // The detectable change the method reports for rounds of this spread (its median over many sets).
        let mut reported: Vec<f64> = (0..400)
            .map(|_| {
                let d: Vec<f64> = normals(&mut rng, n)
                    .iter()
                    .map(|z| (z * sigma).exp())
                    .collect();
                paired_signed_rank(&vec![1.0; n], &d, alpha, noise)
                    .unwrap()
                    .detectable
                    .unwrap()
            })
            .collect();
        let mde = quantile(&mut reported, 0.5).unwrap();
        let runs = 3000;
        let mut hits = 0;
        for _ in 0..runs {
            let new: Vec<f64> = normals(&mut rng, n)
                .iter()
                .map(|z| (z * sigma + mde.ln_1p()).exp())
                .collect();
            let r = paired_signed_rank(&vec![1.0; n], &new, alpha, noise).unwrap();
            assert_eq!(fires(&r, noise), r.p_band.unwrap() <= alpha, "{r:?}");
            hits += usize::from(fires(&r, noise));
        }
        let power = hits as f64 / runs as f64;
        assert!(
            (0.74..=0.86).contains(&power),
            "power at the detectable change: {power}"
        );
        // A change exactly at the band's edge is within the band: the rule calls it in at most α/2 of runs
        // (one direction of the doubled test), and none with no change at all.
        let (mut at_edge, mut at_one) = (0, 0);
        for _ in 0..runs {
            let z = normals(&mut rng, n);
            let edge: Vec<f64> = z
                .iter()
                .map(|z| (z * sigma + noise.ln_1p()).exp())
                .collect();
            at_edge += usize::from(fires(
                &paired_signed_rank(&vec![1.0; n], &edge, alpha, noise).unwrap(),
                noise,
            ));
            let same: Vec<f64> = z.iter().map(|z| (z * sigma * 0.2).exp()).collect();
            at_one += usize::from(fires(
                &paired_signed_rank(&vec![1.0; n], &same, alpha, noise).unwrap(),
                noise,
            ));
        }
        let false_alarms = at_edge as f64 / runs as f64;
        assert!(
            false_alarms <= alpha / 2.0 + 0.008,
            "calls at the band's edge: {false_alarms}"
        );
        assert_eq!(at_one, 0);
    }

    #[test]
    fn bootstrap_p_band_agrees_with_its_interval() {
        let ratios: Vec<f64> = (0..1000).map(|i| 1.01005 + 0.0001 * i as f64).collect();
        // every resample above 1.02 but the first hundred: 10% inside the band, doubled
        let p = bootstrap_p_band(1.06, &ratios, 0.02).unwrap();
        assert!((p - 0.2).abs() < 1e-9, "{p}");
        assert_eq!(bootstrap_p_band(0.9, &[0.8, 0.85, 0.9], 0.02), Some(0.0));
        assert_eq!(bootstrap_p_band(1.0, &[1.0], 0.02), None);
    }
}
