//! Bench cases judged on interleaved rounds, on separate runs and on one run a side.

use super::load_source;
use crate::analysis::compare::verdict::ONE_RUN;
use crate::analysis::compare::{compare, Input, MetricComparison, Options, Source, Verdict};
use crate::results::ResultFile;
use crate::stats::ratio::Method;

/// Round `i` of `f` with every case's repetitions at `fast` and `disturbed` t/s, drifting up 5% a round.
fn drifting_round(f: &ResultFile, i: usize, fast: f64, disturbed: f64) -> Source {
    let mut r = f.clone();
    let drift = 1.0 + 0.05 * i as f64;
    for c in &mut r.cases {
        c.summary.samples_ts = vec![fast * drift, disturbed * drift];
    }
    load_source(&format!("round-{i:02}.json"), r)
}

/// `v` with every case's first device measuring `j` joules per token.
fn with_energy(v: &[Source], j: f64) -> Vec<Source> {
    let mut v = v.to_vec();
    for s in &mut v {
        if let Input::Result(r) = &mut s.input {
            for c in &mut r.cases {
                c.energy[0].total.j_per_token = Some(j);
            }
        }
    }
    v
}

/// The first joined case's energy per token, comparing `b` with `n` as separate runs.
fn energy(b: &[Source], n: &[Source]) -> Option<MetricComparison> {
    let c = compare(b, n, &Options::default()).unwrap();
    c.joined[0]
        .metrics
        .iter()
        .find(|m| m.metric == "J/token")
        .cloned()
}

#[test]
fn interleaved_bench_rounds_are_judged_on_each_rounds_fastest_repetition() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("results/baselines/ci-small/run-1.json");
    let f = crate::results::read_result(&p).unwrap();
    // eight rounds drifting together on both sides; each run's second repetition disturbed (slower); the
    // new side's fastest is 10% below the base's, ±1% alternately. Means of the repetitions would say 0.8.
    let round = |i: usize, fast: f64, disturbed: f64| drifting_round(&f, i, fast, disturbed);
    let base: Vec<Source> = (0..8).map(|i| round(i, 1000.0, 500.0)).collect();
    let new: Vec<Source> = (0..8)
        .map(|i| round(i, 900.0 * if i % 2 == 0 { 1.01 } else { 0.99 }, 300.0))
        .collect();
    let paired = Options {
        paired: true,
        ..Options::default()
    };
    let c = compare(&base, &new, &paired).unwrap();
    assert_eq!(c.joined.len(), 2);
    for j in &c.joined {
        let m = &j.metrics[0];
        let r = m.ratio.as_ref().unwrap();
        assert_eq!(
            (r.method, r.n_base, r.n_new),
            (Method::PairedSignedRank, 8, 8)
        );
        assert!((r.ratio - 0.9).abs() < 0.002, "{r:?}");
        assert!(r.lower.unwrap() < 0.9 && 0.9 < r.upper.unwrap(), "{r:?}");
        assert!(m.gating);
        assert_eq!(m.verdict, Verdict::Slower);
    }
    assert_eq!(c.counts.slower, 2);
    assert!(c.joined.iter().all(|j| j.metrics[0].note.is_none()));
    // a repetition with no finite rate (a zero-length timing) is no round's fastest
    let mut inf = base.clone();
    if let Input::Result(r) = &mut inf[0].input {
        for c in &mut r.cases {
            c.summary.samples_ts.push(f64::INFINITY);
        }
    }
    let i = compare(&inf, &new, &paired).unwrap();
    for (a, b) in i.joined.iter().zip(&c.joined) {
        assert_eq!(a.metrics[0].ratio, b.metrics[0].ratio);
    }
    // a round where one side has no repetition of a case is left out of that case, and the note says so
    let mut gap = new.clone();
    if let Input::Result(r) = &mut gap[7].input {
        r.cases[0].summary.samples_ts.clear();
    }
    let c = compare(&base, &gap, &paired).unwrap();
    let m = &c.joined[0].metrics[0];
    assert_eq!(m.ratio.as_ref().unwrap().n_base, 7);
    assert_eq!(m.note.as_deref(), Some("7 of 8 rounds have both sides"));
    assert_eq!(c.joined[1].metrics[0].ratio.as_ref().unwrap().n_base, 8);
    // one run on a side (even with three on the other): its within-run interval, shown, never gated
    for (b, n) in [(&base[..1], &new[..3]), (&base[..3], &new[..1])] {
        let c = compare(b, n, &Options::default()).unwrap();
        for j in &c.joined {
            let m = &j.metrics[0];
            assert!(!m.gating, "{m:?}");
            assert_eq!(m.note.as_deref(), Some(ONE_RUN));
        }
        assert_eq!(c.family.gated, 0);
    }
    // the same files as separate runs: each run's geometric mean of its repetitions is one sample
    let sep = compare(&base, &new, &Options::default()).unwrap();
    for j in &sep.joined {
        let r = j.metrics[0].ratio.as_ref().unwrap();
        assert_eq!((r.method, r.n_base), (Method::WelchLog, 8));
        let gm = |fast: f64, disturbed: f64| (fast * disturbed).sqrt();
        assert!(
            (r.ratio - gm(900.0, 300.0) / gm(1000.0, 500.0)).abs() < 0.01,
            "{r:?}"
        );
    }
    // a repetition with no rate (zero) is no sample of its run's geometric mean
    let mut zeroed = base.clone();
    for s in &mut zeroed {
        if let Input::Result(r) = &mut s.input {
            for c in &mut r.cases {
                c.summary.samples_ts.push(0.0);
            }
        }
    }
    let z = compare(&zeroed, &new, &Options::default()).unwrap();
    for (a, b) in z.joined.iter().zip(&sep.joined) {
        assert_eq!(
            a.metrics[0].ratio.as_ref().unwrap().ratio,
            b.metrics[0].ratio.as_ref().unwrap().ratio
        );
    }
    // energy per token: shown, never tested; on one side only it says so
    assert!(energy(&base, &new).is_none());
    let one = energy(&with_energy(&base, 2.0), &new).unwrap();
    assert_eq!((one.base, one.new, one.gating), (Some(2.0), None, false));
    assert_eq!(one.note.as_deref(), Some("measured on one side only"));
    let one = energy(&base, &with_energy(&new, 3.0)).unwrap();
    assert_eq!((one.base, one.new), (None, Some(3.0)));
    let both = energy(&with_energy(&base, 2.0), &with_energy(&new, 3.0)).unwrap();
    assert_eq!(
        (both.base, both.new, both.tested),
        (Some(2.0), Some(3.0), false)
    );
    assert_eq!(
        both.note.as_deref(),
        Some("one reading per side: not tested")
    );
    assert!((both.ratio.unwrap().ratio - 1.5).abs() < 1e-12);
}

#[test]
fn a_llama_bench_record_joins_on_the_same_keys_as_a_case_with_its_repack_read_in_each_spelling() {
    use crate::analysis::compare::bench::{
        case_from_llama_bench, llama_bench_repack, model_key, test_name,
    };
    use crate::results::llama_bench::LlamaBenchRecord;
    assert_eq!(
        model_key(Some("llama 1B Q4_0"), Some(1_000), None),
        "llama 1B Q4_0 (1000 params, ? bytes)"
    );
    assert_eq!(test_name(512, 0, 0), "pp512");
    assert_eq!(test_name(0, 128, 4096), "tg128 @ d4096");
    let mut r = LlamaBenchRecord {
        build_commit: None,
        build_number: None,
        cpu_info: None,
        gpu_info: None,
        backends: None,
        model_filename: None,
        model_type: Some("qwen2 0.5B Q4_0".into()),
        model_size: Some(7),
        model_n_params: Some(5),
        n_batch: Some(2048),
        n_ubatch: None,
        n_threads: Some(2),
        type_k: Some("f16".into()),
        type_v: None,
        n_gpu_layers: Some(99),
        flash_attn: Some(0),
        n_prompt: 64,
        n_gen: 0,
        n_depth: 0,
        test_time: None,
        avg_ns: None,
        stddev_ns: None,
        avg_ts: None,
        stddev_ts: None,
        samples_ns: vec![],
        samples_ts: vec![],
        other: Default::default(),
    };
    let key = case_from_llama_bench(&r);
    assert_eq!(key["model"], "qwen2 0.5B Q4_0 (5 params, 7 bytes)");
    assert_eq!(
        (
            &key["n_threads"][..],
            &key["n_ubatch"][..],
            &key["type_v"][..]
        ),
        ("2", "?", "?")
    );
    assert_eq!((&key["n_prompt"][..], &key["n_gen"][..]), ("64", "0"));
    assert_eq!(key.len(), 12);
    // absent: llama.cpp's default, on
    assert_eq!(llama_bench_repack(&r), "1");
    for (v, on) in [
        (serde_json::json!(false), "0"),
        (serde_json::json!(true), "1"),
        (serde_json::json!(0), "0"),
        (serde_json::json!(1), "1"),
        (serde_json::json!("0"), "0"),
        (serde_json::json!("false"), "0"),
        (serde_json::json!("1"), "1"),
    ] {
        r.other.insert("repack".into(), v.clone());
        assert_eq!(llama_bench_repack(&r), on, "{v}");
        assert_eq!(case_from_llama_bench(&r)["repack"], on);
    }
}
