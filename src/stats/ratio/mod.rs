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
//! - Rates and latency percentiles of requests (`bootstrap_requests`): no closed form, so a
//!   seeded percentile bootstrap that resamples whole requests on each side (a request's gaps stay together).

mod bootstrap;
mod power;
mod signed_rank;
mod welch;

pub use bootstrap::{bootstrap_requests, RequestRatios, Requests};
pub use power::underpowered;
pub use signed_rank::{min_rounds, paired_signed_rank};
pub use welch::welch_log;

use serde::{Deserialize, Serialize};

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
mod tests;
