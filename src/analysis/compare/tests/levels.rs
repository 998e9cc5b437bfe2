//! `load` levels judged on censored figures, under different SLOs, on separate runs and on paired rounds.

use super::{load_source, reference_load};
use crate::analysis::compare::{compare, Options, Source, Verdict};
use crate::stats::ratio::Method;

#[test]
fn unserved_requests_count_against_a_side_as_the_slo_counts_them() {
    let base = reference_load();
    let mut new = base.clone();
    // the rate=2/s level: 27 of its 51 requests got a first token; three more never do on the new side, so
    // its median falls among the unserved
    let level = &mut new.load.as_mut().unwrap().levels[1];
    assert_eq!(level.requests.len(), 51);
    for r in level
        .requests
        .iter_mut()
        .filter(|r| !r.token_ns.is_empty())
        .take(3)
    {
        r.token_ns.clear();
        r.admitted_ns = None;
        r.completed = false;
    }
    let c = compare(
        &[load_source("base.json", base)],
        &[load_source("new.json", new)],
        &Options::default(),
    )
    .unwrap();
    let j = c
        .joined
        .iter()
        .find(|j| j.label.contains("rate=2/s"))
        .unwrap();
    let m = |name: &str| j.metrics.iter().find(|m| m.metric == name).unwrap();
    // served requests alone would give the new side a TTFT p50 from its 24 served requests; censored, it falls
    // among the unserved ones (beyond every measured TTFT): no figure, never "faster", and goodput drops
    assert!(m("ttft_p50").base.is_some());
    assert_eq!(m("ttft_p50").new, None, "{:?}", m("ttft_p50"));
    assert_ne!(m("ttft_p50").verdict, Verdict::Faster);
    assert!(m("ttft_p50")
        .note
        .as_ref()
        .unwrap()
        .contains("never served"));
    assert!(m("goodput").new.unwrap() <= m("goodput").base.unwrap());
}

#[test]
fn different_slos_leave_goodput_out_and_say_why() {
    let base = reference_load();
    let mut new = base.clone();
    new.load.as_mut().unwrap().slo[0].max_ms *= 2.0;
    let c = compare(
        &[load_source("base.json", base)],
        &[load_source("new.json", new)],
        &Options::default(),
    )
    .unwrap();
    for j in &c.joined {
        let g = j.metrics.iter().find(|m| m.metric == "goodput").unwrap();
        assert_eq!((g.base, g.new, g.gating), (None, None, false));
        assert!(g.note.as_ref().unwrap().contains("different SLOs"), "{g:?}");
    }
}

#[test]
fn separate_load_runs_are_replicated_by_run_and_paired_rounds_by_round() {
    let f = reference_load();
    let sources = |n: usize| -> Vec<Source> {
        (0..n)
            .map(|i| load_source(&format!("run{i}.json"), f.clone()))
            .collect()
    };
    // one run a side: within-run bootstrap, not gated
    let one = compare(&sources(1), &sources(1), &Options::default()).unwrap();
    assert!(one
        .joined
        .iter()
        .all(|j| j.metrics.iter().all(|m| !m.gating)));
    assert_eq!(one.family.gated, 0);
    // three runs a side: each run's goodput one sample; goodput gates
    let three = compare(&sources(3), &sources(3), &Options::default()).unwrap();
    for j in &three.joined {
        let g = &j.metrics[0];
        assert_eq!(g.metric, "goodput");
        assert!(g.gating, "{g:?}");
        let r = g.ratio.as_ref().unwrap();
        assert_eq!((r.method, r.n_base, r.n_new), (Method::WelchLog, 3, 3));
        // the other figures are reported only
        assert!(j.metrics[1..].iter().all(|m| !m.gating));
    }
    // paired rounds: round by round
    let paired = Options {
        paired: true,
        ..Options::default()
    };
    let p = compare(&sources(6), &sources(6), &paired).unwrap();
    let r = p.joined[0].metrics[0].ratio.as_ref().unwrap();
    assert_eq!((r.method, r.n_base), (Method::PairedSignedRank, 6));
    // --fail-on names another figure: it gates too
    let named = Options {
        gate: ["ttft_p50".to_string()].into_iter().collect(),
        ..Options::default()
    };
    let c = compare(&sources(3), &sources(3), &named).unwrap();
    let gated: Vec<&str> = c
        .joined
        .iter()
        .find(|j| j.label.contains("rate=2/s"))
        .unwrap()
        .metrics
        .iter()
        .filter(|m| m.gating)
        .map(|m| m.metric.as_str())
        .collect();
    assert_eq!(gated, ["goodput", "ttft_p50"]);
}
