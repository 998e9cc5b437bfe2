//! Verdicts and exit codes on constructed result files: unchanged, slower, faster, a shift within the noise, one
//! run a side, and samples too noisy to detect a change.

use crate::common::{assert_one_line_error, stderr, stdout, tokenmeter};
use crate::{compare_json, constructed, gating, side, t_per_s, write};

#[test]
fn identical_samples_are_unchanged_and_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let a = side(dir.path(), "a", 1.0, 0.03, 8, 3, 1);
    let b = side(dir.path(), "b", 1.0, 0.03, 8, 3, 1);
    let (code, v) = compare_json(&[&a, &b], dir.path());
    assert_eq!(code, Some(0));
    assert_eq!(v["kind"], "regression check");
    let ms = gating(&v);
    assert_eq!(ms.len(), 2);
    assert_eq!(v["family"]["gated"], 2);
    for m in ms {
        assert_eq!(m["verdict"], "unchanged");
        assert!((m["ratio"]["ratio"].as_f64().unwrap() - 1.0).abs() < 1e-12);
        // three runs a side, one sample each
        assert_eq!(m["ratio"]["n_base"], 3);
    }
}

#[test]
fn ten_percent_slower_everywhere_is_slower_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let a = side(dir.path(), "a", 1.0, 0.03, 8, 3, 1);
    let b = side(dir.path(), "b", 0.9, 0.03, 8, 3, 11);
    let (code, v) = compare_json(&[&a, &b], dir.path());
    assert_eq!(code, Some(1));
    let ms = gating(&v);
    assert_eq!(ms.len(), 2);
    for m in ms {
        assert_eq!(m["verdict"], "slower", "{m}");
        assert_eq!(m["holm_rejected"], true, "{m}");
        let r = &m["ratio"];
        let (lo, hi) = (r["lower"].as_f64().unwrap(), r["upper"].as_f64().unwrap());
        assert!(lo <= 0.90 && 0.90 <= hi, "[{lo}, {hi}]");
        assert_eq!(r["method"], "welch_log");
        assert_eq!(
            (r["n_base"].as_u64(), r["n_new"].as_u64()),
            (Some(3), Some(3))
        );
        assert!(r["p_band"].as_f64().unwrap() <= 0.05 / 2.0, "{r}");
    }
    // the markdown says so too, and exits the same way
    let o = tokenmeter(&["compare", &a, &b], dir.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("**slower**"), "{}", stdout(&o));
    assert!(stdout(&o).contains("Holm"), "{}", stdout(&o));
    assert!(stderr(&o).contains("slower"), "{}", stderr(&o));
}

#[test]
fn one_run_a_side_shows_its_interval_and_never_gates() {
    // Repetitions within one run share its state of the machine: a 10% shift between two single runs is what
    // separate runs on a shared machine show with no change at all, so it must not fail the job.
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.json", &constructed(1.0, 0.03, 8, 1));
    let b = write(dir.path(), "b.json", &constructed(0.9, 0.03, 8, 2));
    let (code, v) = compare_json(&[&a, &b], dir.path());
    assert_eq!(code, Some(0), "{v}");
    assert!(gating(&v).is_empty());
    assert_eq!(v["family"]["gated"], 0);
    for m in t_per_s(&v) {
        // the within-run interval is shown, with its verdict, and says why it does not gate
        assert_eq!(m["verdict"], "slower", "{m}");
        assert_eq!(m["ratio"]["n_base"], 8);
        assert!(
            m["note"].as_str().unwrap().contains("one run on a side"),
            "{m}"
        );
    }
    let md = stdout(&tokenmeter(&["compare", &a, &b], dir.path()));
    assert!(md.contains("slower (not gated)"), "{md}");
}

#[test]
fn a_one_percent_shift_within_realistic_noise_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let a = side(dir.path(), "a", 1.0, 0.03, 10, 4, 3);
    let b = side(dir.path(), "b", 0.99, 0.03, 10, 4, 13);
    let (code, v) = compare_json(&[&a, &b], dir.path());
    assert_eq!(code, Some(0), "{v}");
    let ms = gating(&v);
    assert_eq!(ms.len(), 2);
    for m in ms {
        assert_eq!(m["verdict"], "unchanged", "{m}");
    }
}

#[test]
fn faster_passes_unless_any_change_fails() {
    let dir = tempfile::tempdir().unwrap();
    let a = side(dir.path(), "a", 1.0, 0.01, 6, 3, 1);
    let b = side(dir.path(), "b", 1.2, 0.01, 6, 3, 11);
    let (code, v) = compare_json(&[&a, &b], dir.path());
    assert_eq!(code, Some(0));
    assert_eq!(v["counts"]["faster"], 2);
    let o = tokenmeter(&["compare", "--fail-on", "any-change", &a, &b], dir.path());
    assert_eq!(o.status.code(), Some(1));
    let o = tokenmeter(
        &["compare", "--fail-on", "slower,colour", &a, &b],
        dir.path(),
    );
    assert_one_line_error(&o, "colour");
}

#[test]
fn noisy_samples_say_what_they_could_not_detect() {
    let dir = tempfile::tempdir().unwrap();
    let a = side(dir.path(), "a", 1.0, 0.15, 3, 3, 1);
    let b = side(dir.path(), "b", 1.0, 0.15, 3, 3, 11);
    let o = tokenmeter(&["compare", &a, &b], dir.path());
    let md = stdout(&o);
    assert!(md.contains("### Sensitivity"), "{md}");
    assert!(md.contains("runs per side would reach it"), "{md}");
    let (_, v) = compare_json(&[&a, &b], dir.path());
    let ms = gating(&v);
    assert_eq!(ms.len(), 2);
    for m in ms {
        assert!(m["underpowered"].as_bool().unwrap());
        // the rule needs the whole interval beyond the band: never below the threshold
        assert!(m["ratio"]["detectable"].as_f64().unwrap() > 0.04);
        assert!(m["ratio"]["samples_needed"].as_u64().unwrap() > 3);
    }
}
