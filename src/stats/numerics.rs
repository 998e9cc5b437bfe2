//! How far one set of logits is from a reference set: pure functions over the distributions a model gives at a
//! few positions (NMSE, largest absolute error, top-1 agreement and the KL divergence of the softmax
//! distributions), and the gate's verdict. The thresholds are calibrated in the README ("Hardware that
//! misbehaves") from variation that is legitimate: thread counts, repacked weights, flash attention, batch sizes.

use serde::{Deserialize, Serialize};

/// Largest NMSE (Σ(x−r)² / Σr² over every compared logit) the gate accepts. Calibration
/// (`results/reference/numerics-calibration/`, AMD EPYC, 2026-12-02: 256 cases of four q4_0/q8_0 shapes over
/// threads 1/2, repack 0/1, flash attention 0/1, ubatch 16/512, f16/q8_0 K cache): the reference's own kernels
/// give exactly 0 at any thread count; repacked weights at most 2.8e-7; flash attention at most 6.6e-4; a q8_0 K
/// cache at most 7.1e-4. The limit leaves 14× above the largest legitimate change; logits perturbed by 0.5 of
/// their RMS give about 0.08.
pub const NMSE_MAX: f64 = 1e-2;
/// Largest mean KL divergence (nats) of the test's softmax from the reference's, same calibration: at most
/// 1.3e-4 nats (q8_0 K cache), so 80× margin.
pub const KL_MAX: f64 = 1e-2;

/// The distance of a test's logits from the reference's, over the positions both have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogitsDistance {
    /// Σ(x−r)² / Σr² over every logit of every compared position.
    pub nmse: f64,
    /// The largest |x−r| of any logit.
    pub max_abs_err: f64,
    /// The fraction of positions whose most likely token is the reference's.
    pub top1_agreement: f64,
    /// Mean over positions of KL(P_ref ‖ P_test) of the softmax distributions, in nats.
    pub kl_divergence: f64,
    /// Positions compared.
    pub positions: usize,
}

fn argmax(v: &[f32]) -> Option<usize> {
    v.iter()
        .enumerate()
        .filter(|(_, x)| !x.is_nan())
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
}

/// log Σ exp(v), computed stably in f64.
fn log_sum_exp(v: &[f32]) -> f64 {
    let m = v
        .iter()
        .map(|&x| x as f64)
        .fold(f64::NEG_INFINITY, f64::max);
    m + v.iter().map(|&x| (x as f64 - m).exp()).sum::<f64>().ln()
}

/// KL(softmax(r) ‖ softmax(x)) in nats.
pub fn kl_divergence(reference: &[f32], test: &[f32]) -> f64 {
    let (lr, lx) = (log_sum_exp(reference), log_sum_exp(test));
    reference
        .iter()
        .zip(test)
        .map(|(&r, &x)| {
            let log_p = r as f64 - lr;
            let log_q = x as f64 - lx;
            log_p.exp() * (log_p - log_q)
        })
        .sum::<f64>()
        .max(0.0)
}

/// The distance of `test` from `reference`, position by position; `None` when they do not have the same
/// positions and vocabulary, or hold nothing. A non-finite logit gives an infinite NMSE and divergence.
pub fn distance(reference: &[Vec<f32>], test: &[Vec<f32>]) -> Option<LogitsDistance> {
    if reference.is_empty()
        || reference.len() != test.len()
        || reference
            .iter()
            .zip(test)
            .any(|(r, x)| r.len() != x.len() || r.is_empty())
    {
        return None;
    }
    let finite = test.iter().flatten().all(|x| x.is_finite());
    let (mut err2, mut ref2, mut max_abs, mut agree, mut kl) = (0.0, 0.0, 0.0f64, 0usize, 0.0);
    for (r, x) in reference.iter().zip(test) {
        for (&a, &b) in r.iter().zip(x) {
            let d = b as f64 - a as f64;
            err2 += d * d;
            ref2 += (a as f64) * (a as f64);
            max_abs = max_abs.max(d.abs());
        }
        agree += usize::from(argmax(r) == argmax(x));
        kl += kl_divergence(r, x);
    }
    let n = reference.len();
    Some(LogitsDistance {
        nmse: if !finite {
            f64::INFINITY
        } else if ref2 > 0.0 {
            err2 / ref2
        } else if err2 == 0.0 {
            0.0
        } else {
            f64::INFINITY
        },
        max_abs_err: if finite { max_abs } else { f64::INFINITY },
        top1_agreement: agree as f64 / n as f64,
        kl_divergence: if finite { kl / n as f64 } else { f64::INFINITY },
        positions: n,
    })
}

/// Whether `d` is within the gate's thresholds (top-1 agreement is reported, not gated: random-weight models
/// have near-ties that a legitimate change of summation order flips).
pub fn within(d: &LogitsDistance, nmse_max: f64, kl_max: f64) -> bool {
    d.nmse <= nmse_max && d.kl_divergence <= kl_max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_logits_are_at_distance_zero() {
        let r = vec![vec![1.0f32, 2.0, 3.0], vec![0.5, -1.0, 0.0]];
        let d = distance(&r, &r).unwrap();
        assert_eq!(d.nmse, 0.0);
        assert_eq!(d.max_abs_err, 0.0);
        assert_eq!(d.top1_agreement, 1.0);
        assert!(d.kl_divergence.abs() < 1e-15);
        assert_eq!(d.positions, 2);
        assert!(within(&d, NMSE_MAX, KL_MAX));
    }

    #[test]
    fn distances_match_hand_computed_values() {
        // position 0: error (0, 0, 1) on (1, 2, 3); position 1: error (1, 0, 0) on (0, 0, 1)
        let r = vec![vec![1.0f32, 2.0, 3.0], vec![0.0, 0.0, 1.0]];
        let x = vec![vec![1.0f32, 2.0, 4.0], vec![1.0, 0.0, 1.0]];
        let d = distance(&r, &x).unwrap();
        assert!((d.nmse - 2.0 / 15.0).abs() < 1e-12);
        assert_eq!(d.max_abs_err, 1.0);
        // position 1's argmax: reference 2, test 0 and 2 tie at 1.0, and max_by keeps the last: 2
        assert_eq!(d.top1_agreement, 1.0);
        // KL of softmax(1,2,3) from softmax(1,2,4)
        let p: Vec<f64> = [1.0f64, 2.0, 3.0].iter().map(|v| v.exp()).collect();
        let q: Vec<f64> = [1.0f64, 2.0, 4.0].iter().map(|v| v.exp()).collect();
        let (sp, sq): (f64, f64) = (p.iter().sum(), q.iter().sum());
        let kl0: f64 = p
            .iter()
            .zip(&q)
            .map(|(a, b)| a / sp * ((a / sp) / (b / sq)).ln())
            .sum();
        let p1: Vec<f64> = [0.0f64, 0.0, 1.0].iter().map(|v| v.exp()).collect();
        let q1: Vec<f64> = [1.0f64, 0.0, 1.0].iter().map(|v| v.exp()).collect();
        let (sp1, sq1): (f64, f64) = (p1.iter().sum(), q1.iter().sum());
        let kl1: f64 = p1
            .iter()
            .zip(&q1)
            .map(|(a, b)| a / sp1 * ((a / sp1) / (b / sq1)).ln())
            .sum();
        assert!((d.kl_divergence - (kl0 + kl1) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn a_different_most_likely_token_lowers_agreement() {
        let r = vec![vec![0.0f32, 5.0], vec![5.0, 0.0]];
        let x = vec![vec![5.0f32, 0.0], vec![5.0, 0.0]];
        let d = distance(&r, &x).unwrap();
        assert_eq!(d.top1_agreement, 0.5);
        assert!(!within(&d, NMSE_MAX, KL_MAX));
    }

    #[test]
    fn non_finite_logits_fail_and_mismatched_shapes_do_not_compare() {
        let r = vec![vec![1.0f32, 2.0]];
        let d = distance(&r, &[vec![f32::NAN, 2.0]]).unwrap();
        assert!(d.nmse.is_infinite() && d.kl_divergence.is_infinite());
        assert!(!within(&d, NMSE_MAX, KL_MAX));
        assert_eq!(distance(&r, &[vec![1.0, 2.0, 3.0]]), None);
        assert_eq!(distance(&r, &[]), None);
        assert_eq!(distance(&[], &[]), None);
    }

    #[test]
    fn the_gate_holds_at_its_thresholds_and_fails_just_beyond() {
        let d = |nmse, kl| LogitsDistance {
            nmse,
            max_abs_err: 0.0,
            top1_agreement: 1.0,
            kl_divergence: kl,
            positions: 1,
        };
        assert!(within(&d(NMSE_MAX, KL_MAX), NMSE_MAX, KL_MAX));
        assert!(!within(&d(NMSE_MAX * 1.01, 0.0), NMSE_MAX, KL_MAX));
        assert!(!within(&d(0.0, KL_MAX * 1.01), NMSE_MAX, KL_MAX));
    }
}
