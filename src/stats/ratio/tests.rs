//! The ratio methods against hand-computed values, tabled critical values and simulated power.

use super::bootstrap::{bootstrap_p_band, draw, Ranked};
use super::power::{detectable_of, fraction, power_target, samples_for, t_quantile, POWER};
use super::signed_rank::{round_log_ratios, walsh_averages, SignedRank, EXACT_MAX};
use super::welch::mean_var;
use super::*;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

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
