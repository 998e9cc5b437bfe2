//! The verdict rule, a figure's note when it is not tested, and Holm's correction.

use super::ratio;
use crate::analysis::compare::verdict::{holm, metric, verdict};
use crate::analysis::compare::{Better, Joined, Verdict};
use crate::stats::ratio::{Method, Ratio};
use std::collections::BTreeMap;

#[test]
fn the_rule_needs_the_whole_interval_beyond_the_band() {
    let n = 0.02;
    let v = |lo, hi, b| verdict(&ratio(lo, hi, 0.5), b, n);
    assert_eq!(v(0.90, 0.97, Better::Higher), Verdict::Slower);
    assert_eq!(v(1.03, 1.10, Better::Higher), Verdict::Faster);
    // one end inside the band: unchanged, however significant
    assert_eq!(v(0.90, 0.985, Better::Higher), Verdict::Unchanged);
    assert_eq!(v(1.019, 1.10, Better::Higher), Verdict::Unchanged);
    // the band is symmetric on the log scale: its lower edge is 1/1.02, not 0.98
    assert_eq!(v(0.90, 0.980, Better::Higher), Verdict::Slower);
    assert_eq!(
        v(0.90, 1.0 / 1.02 + 1e-9, Better::Higher),
        Verdict::Unchanged
    );
    // an end exactly on the band's edge is not beyond it, either way up
    let (up, down) = (1.0 + n, 1.0 / (1.0 + n));
    for b in [Better::Higher, Better::Lower] {
        assert_eq!(v(0.90, down, b), Verdict::Unchanged);
        assert_eq!(v(up, 1.10, b), Verdict::Unchanged);
    }
    // lower is better for latencies
    assert_eq!(v(1.03, 1.10, Better::Lower), Verdict::Slower);
    assert_eq!(v(0.90, 0.97, Better::Lower), Verdict::Faster);
    let none = Ratio {
        lower: None,
        upper: None,
        ..ratio(0.5, 0.6, 0.0)
    };
    assert_eq!(verdict(&none, Better::Higher, n), Verdict::Unchanged);
}

fn joined(ps: &[f64]) -> Vec<Joined> {
    ps.iter()
        .enumerate()
        .map(|(i, &p)| Joined {
            kind: "bench".into(),
            label: format!("case {i}"),
            key: BTreeMap::new(),
            base_sources: vec![],
            new_sources: vec![],
            metrics: vec![
                metric(
                    "t/s",
                    "t/s",
                    Better::Higher,
                    Some(100.0),
                    Some(90.0),
                    Some(ratio(0.85, 0.95, p)),
                    true,
                    0.02,
                    None,
                ),
                // reported, not gated: the correction leaves it alone
                metric(
                    "J/token",
                    "J/token",
                    Better::Lower,
                    Some(1.0),
                    Some(1.2),
                    Some(ratio(1.1, 1.3, p)),
                    false,
                    0.02,
                    None,
                ),
            ],
        })
        .collect()
}

#[test]
fn holm_keeps_the_family_wise_error_at_alpha() {
    // four gated figures, each beyond the band on its own at 0.05
    let mut j = joined(&[0.04, 0.01, 0.03, 0.02]);
    let f = holm(&mut j, 0.05);
    // sorted: 0.01 ≤ 0.05/4 passes; 0.02 > 0.05/3 stops the step-down
    assert_eq!((f.gated, f.rejected, f.kept_unchanged), (4, 1, 3));
    let verdicts: Vec<Verdict> = j.iter().map(|j| j.metrics[0].verdict).collect();
    assert_eq!(
        verdicts,
        [
            Verdict::Unchanged,
            Verdict::Slower,
            Verdict::Unchanged,
            Verdict::Unchanged
        ]
    );
    assert!(j[0].metrics[0].note.as_ref().unwrap().contains("Holm"));
    assert_eq!(j[0].metrics[0].holm_rejected, Some(false));
    assert_eq!(j[1].metrics[0].holm_rejected, Some(true));
    for x in &j {
        assert_eq!(x.metrics[1].verdict, Verdict::Slower);
        assert_eq!(x.metrics[1].holm_rejected, None);
    }
    // with every p small enough, all stand; one gated figure is tested at alpha itself
    let mut j = joined(&[0.001, 0.002, 0.012, 0.02]);
    assert_eq!(holm(&mut j, 0.05).rejected, 4);
    let mut j = joined(&[0.049]);
    assert_eq!(holm(&mut j, 0.05).rejected, 1);
    assert_eq!(j[0].verdict(), Verdict::Slower);
}

#[test]
fn an_untested_figure_says_why_and_never_gates() {
    let welch = |lower: Option<f64>| Ratio {
        lower,
        upper: lower.map(|l| l * 1.1),
        n_base: 1,
        n_new: 1,
        ..ratio(0.9, 0.99, 0.5)
    };
    let single = Ratio {
        method: Method::Single,
        ..welch(None)
    };
    let m = |base, new, r: Option<Ratio>| {
        metric("t/s", "t/s", Better::Higher, base, new, r, true, 0.02, None)
    };
    let cases = [
        (
            m(Some(0.0), Some(1.0), None),
            "no ratio: the base figure is zero",
        ),
        (m(Some(1.0), None, None), "absent on a side"),
        (m(None, Some(1.0), None), "absent on a side"),
        (
            m(Some(1.0), Some(1.0), Some(single)),
            "one figure per side: not tested",
        ),
        (
            m(Some(1.0), Some(1.0), Some(welch(None))),
            "too few samples to test (n=1/1)",
        ),
    ];
    for (c, why) in cases {
        assert_eq!((c.tested, c.gating), (false, false), "{why}");
        assert_eq!(c.note.as_deref(), Some(why));
    }
    // a tested figure keeps the note it was given (none here) and gates as asked
    let t = m(Some(1.0), Some(1.0), Some(welch(Some(0.9))));
    assert_eq!((t.tested, t.gating, t.note), (true, true, None));
    let reported = metric(
        "t/s",
        "t/s",
        Better::Higher,
        Some(1.0),
        Some(1.0),
        Some(welch(Some(0.9))),
        false,
        0.02,
        None,
    );
    assert!(reported.tested && !reported.gating);
}

#[test]
fn verdicts_print_as_their_names() {
    let names: Vec<&str> = [Verdict::Faster, Verdict::Unchanged, Verdict::Slower]
        .into_iter()
        .map(Verdict::name)
        .collect();
    assert_eq!(names, ["faster", "unchanged", "slower"]);
}

#[test]
fn only_join_keys_can_be_ignored() {
    use crate::analysis::compare::check_ignore;
    let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect();
    assert_eq!(check_ignore(&keys(&["model", "n_threads"])), Ok(()));
    let err = check_ignore(&keys(&["model", "colour"])).unwrap_err();
    assert!(
        err.starts_with("--ignore: 'colour' is not a join key (one of: "),
        "{err}"
    );
}

#[test]
fn a_single_run_ratio_needs_a_positive_base_and_both_figures() {
    use crate::analysis::compare::verdict::single;
    let r = single(Some(2.0), Some(3.0), 1, 2).unwrap();
    assert_eq!(
        (r.method, r.ratio, r.n_base, r.n_new),
        (Method::Single, 1.5, 1, 2)
    );
    assert_eq!((r.lower, r.upper, r.p_band), (None, None, None));
    assert!(
        single(Some(0.0), Some(3.0), 1, 1).is_none(),
        "no ratio over a base of 0"
    );
    assert!(single(None, Some(3.0), 1, 1).is_none());
    assert!(single(Some(2.0), None, 1, 1).is_none());
}

#[test]
fn cases_are_counted_by_their_gated_verdict_and_underpowered_only_on_a_gated_figure() {
    use crate::analysis::compare::verdict::count_verdicts;
    let mut j = joined(&[0.01, 0.01, 0.01, 0.01]);
    for m in j.iter_mut().flat_map(|x| x.metrics.iter_mut()) {
        m.underpowered = false;
    }
    j[1].metrics[0].verdict = Verdict::Faster;
    j[2].metrics[0].verdict = Verdict::Unchanged;
    // a reported figure's verdict and power do not count
    j[2].metrics[1].underpowered = true;
    j[0].metrics[0].underpowered = true;
    let c = count_verdicts(&j);
    assert_eq!(
        (c.faster, c.unchanged, c.slower, c.underpowered),
        (1, 1, 2, 1)
    );
    assert_eq!(j[2].verdict(), Verdict::Unchanged);
}
