//! The result file is an interface: every schema version's golden file must stay readable, and other versions
//! are refused with a one-line error.

use std::path::Path;
use tokenmeter::results::{read_result, SCHEMA_VERSION};

#[test]
fn golden_v2_load_file_holds_levels_and_an_operating_point() {
    let r = read_result(Path::new("tests/golden/result-v2-load.json")).unwrap();
    let sweep = r.load.expect("a load sweep");
    assert!(!sweep.levels.is_empty());
    for l in &sweep.levels {
        let completed = l.requests.iter().filter(|q| q.completed).count();
        assert_eq!(l.summary.requests_completed, completed);
    }
    assert!(sweep.operating_point.is_some());
}

#[test]
fn golden_v1_file_reads_and_its_summaries_match_its_samples() {
    let r = read_result(Path::new("tests/golden/result-v1.json")).unwrap();
    assert_eq!(r.schema_version, SCHEMA_VERSION, "migrated on reading");
    assert!(!r.cases.is_empty());
    assert!(r.load.is_none());
    for c in &r.cases {
        let recomputed = tokenmeter::results::summarize(&c.test(), &c.samples);
        assert_eq!(recomputed, c.summary, "{}", c.test);
    }
}

#[test]
fn golden_v2_files_read_as_the_current_version_without_telemetry() {
    for golden in [
        "tests/golden/result-v2-bench.json",
        "tests/golden/result-v2-load.json",
    ] {
        let r = read_result(Path::new(golden)).unwrap();
        assert_eq!(r.schema_version, SCHEMA_VERSION, "{golden}");
        assert_eq!(r.telemetry, None, "{golden}");
        assert!(r
            .cases
            .iter()
            .all(|c| c.energy.is_empty() && c.roofline.is_none()));
    }
}

#[test]
fn golden_v3_files_hold_telemetry_per_case_and_level() {
    let r = read_result(Path::new("tests/golden/result-v3-bench.json")).unwrap();
    let t = r.telemetry.as_ref().expect("telemetry");
    assert!(t.memory_bandwidth.is_some());
    for c in &r.cases {
        assert_eq!(
            tokenmeter::results::summarize(&c.test(), &c.samples),
            c.summary
        );
        assert!(!c.energy.is_empty());
        assert!(c.samples.iter().all(|s| s.start_ns.is_some()));
    }
    assert!(r.cases.iter().any(|c| c.roofline.is_some()));
    let r = read_result(Path::new("tests/golden/result-v3-load.json")).unwrap();
    assert!(r.telemetry.is_some());
    for l in &r.load.expect("a load sweep").levels {
        assert!(!l.energy.is_empty());
        assert!(l.process.is_some());
    }
}

/// Each case's summary, computed now from its raw samples, against the figures the file itself stores (as
/// written when it was measured, not as reading it recomputed them).
fn assert_recomputes_what_the_file_stores(path: &str) {
    let r = read_result(Path::new(path)).unwrap();
    let raw: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let stored = raw["cases"].as_array().unwrap();
    assert_eq!(stored.len(), r.cases.len());
    let close = |a: f64, b: &serde_json::Value, what: &str| {
        let b = b
            .as_f64()
            .unwrap_or_else(|| panic!("{path}: {what} stored"));
        assert!(
            (a - b).abs() <= 1e-9 * a.abs().max(1.0),
            "{path}: {what} {a} vs stored {b}"
        );
    };
    for (c, f) in r.cases.iter().zip(stored) {
        let s = tokenmeter::results::summarize(&c.test(), &c.samples);
        let t = &c.test;
        close(s.avg_ts.unwrap(), &f["avg_ts"], &format!("{t} avg_ts"));
        close(
            s.stddev_ts.unwrap(),
            &f["stddev_ts"],
            &format!("{t} stddev_ts"),
        );
        assert_eq!(s.avg_ns, f["avg_ns"].as_u64(), "{path}: {t} avg_ns");
        let rates = f["samples_ts"].as_array().unwrap();
        assert_eq!(s.samples_ts.len(), rates.len(), "{path}: {t}");
        for (a, b) in s.samples_ts.iter().zip(rates) {
            close(*a, b, &format!("{t} samples_ts"));
        }
        for (d, key) in [(&s.ttft_ms, "ttft_ms"), (&s.itl_ms, "itl_ms")] {
            if let Some(p50) = d.ms.p50 {
                close(p50, &f[key]["p50"], &format!("{t} {key}.p50"));
                assert_eq!(
                    Some(d.ms.count),
                    f[key]["count"].as_u64(),
                    "{path}: {t} {key}"
                );
            }
        }
    }
}

#[test]
fn golden_v4_figures_recompute_from_the_raw_samples() {
    use tokenmeter::analysis::load::{operating_point, summarize_level, LevelSamples};
    let r = read_result(Path::new("tests/golden/result-v4-bench.json")).unwrap();
    assert_eq!(
        r.schema_version, SCHEMA_VERSION,
        "read as the current version"
    );
    assert!(!r.cases.is_empty());
    for c in &r.cases {
        // version 4 ran with llama.cpp's default extra buffer types and had no numerics gate
        assert!(c.repack);
        assert_eq!((c.numerics.as_ref(), c.numerics_failed), (None, false));
        assert!(c.weight_buffers_mib.is_empty());
    }
    assert_recomputes_what_the_file_stores("tests/golden/result-v4-bench.json");
    for c in &r.cases {
        assert_eq!(c.summary.ttft_ms.ms.count, c.samples.len() as u64);
    }
    let r = read_result(Path::new("tests/golden/result-v4-load.json")).unwrap();
    let sweep = r.load.expect("a load sweep");
    assert!(!sweep.slo.is_empty());
    for l in &sweep.levels {
        let recomputed = summarize_level(
            &LevelSamples {
                arrivals: l.summary.concurrency.map_or_else(
                    || panic!("closed-loop golden"),
                    |concurrency| tokenmeter::results::load::Arrivals::Closed { concurrency },
                ),
                requests: &l.requests,
                duration_ns: (l.summary.duration_s * 1e9).round() as u64,
                window_ns: l.summary.window_end_ns(),
                warmup_ns: l.summary.warmup_ns(),
                prompt_tokens_processed: l.prompt_tokens_processed,
                interrupted: l.summary.interrupted,
            },
            &sweep.slo,
        );
        // rates divide by the stored duration, which is rounded to seconds in the file
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(1.0);
        assert!(close(
            recomputed.output_tokens_per_s,
            l.summary.output_tokens_per_s
        ));
        assert_eq!(recomputed.slo_checks, l.summary.slo_checks);
        assert_eq!(recomputed.slo_met, l.summary.slo_met);
        assert_eq!(recomputed.ttft_ms, l.summary.ttft_ms);
        assert_eq!(recomputed.itl_ms, l.summary.itl_ms);
        assert!(l.start_ns.is_some());
    }
    assert_eq!(operating_point(&sweep.levels), sweep.operating_point);
}

#[test]
fn older_files_gain_low_sample_flags_and_recomputed_bench_summaries() {
    let r = read_result(Path::new("tests/golden/result-v3-bench.json")).unwrap();
    for c in &r.cases {
        assert_eq!(
            tokenmeter::results::summarize(&c.test(), &c.samples),
            c.summary
        );
        if c.n_prompt > 0 && c.n_gen > 0 {
            let prompt_end = c
                .samples
                .iter()
                .map(|s| s.prompt_ns.unwrap())
                .max()
                .unwrap() as f64;
            let max = c.summary.ttft_ms.ms.max.unwrap() * 1e6;
            assert!(
                (max - prompt_end).abs() <= prompt_end * 2e-3,
                "TTFT is the prompt's end"
            );
        }
        let p = &c.summary.ttft_ms.ms;
        assert_eq!(
            p.low_sample_count,
            tokenmeter::stats::Percentiles::low_counts(p.count)
        );
        assert!(!p.low_sample_count.is_empty(), "a handful of repetitions");
    }
    let r = read_result(Path::new("tests/golden/result-v3-load.json")).unwrap();
    for l in &r.load.unwrap().levels {
        let p = &l.summary.ttft_ms.ms;
        assert_eq!(
            p.low_sample_count,
            tokenmeter::stats::Percentiles::low_counts(p.count)
        );
        assert_eq!(
            l.summary.goodput_output_tokens_per_s, None,
            "not in version 3"
        );
    }
}

#[test]
fn current_schema_round_trips_through_a_file() {
    for golden in [
        "tests/golden/result-v2-bench.json",
        "tests/golden/result-v2-load.json",
        "tests/golden/result-v3-bench.json",
        "tests/golden/result-v3-load.json",
        "tests/golden/result-v4-bench.json",
        "tests/golden/result-v4-load.json",
    ] {
        round_trip(golden);
    }
}

fn round_trip(golden: &str) {
    let r = read_result(Path::new(golden)).unwrap();
    assert_eq!(r.schema_version, SCHEMA_VERSION);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copy.json");
    r.write(&path).unwrap();
    assert_eq!(read_result(&path).unwrap(), r);
}

#[test]
fn another_schema_version_is_refused_naming_the_file() {
    let text = std::fs::read_to_string("tests/golden/result-v1.json").unwrap();
    let v2 = text.replacen("\"schema_version\": 1", "\"schema_version\": 99", 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.json");
    std::fs::write(&path, v2).unwrap();
    let e = read_result(&path).unwrap_err().to_string();
    assert!(
        e.contains("future.json") && e.contains("schema_version 99"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1);
}

#[test]
fn a_file_that_is_not_a_result_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.json");
    std::fs::write(&path, "{\"hello\": 1}").unwrap();
    let e = read_result(&path).unwrap_err().to_string();
    assert!(e.contains("x.json") && e.contains("schema_version"), "{e}");
}

#[test]
fn a_truncated_result_file_is_reported_never_half_read() {
    let text = std::fs::read_to_string("tests/golden/result-v4-bench.json").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.json");
    for keep in [text.len() / 3, text.len() - 2] {
        std::fs::write(&path, &text[..keep]).unwrap();
        let e = read_result(&path).unwrap_err().to_string();
        assert!(
            e.contains("cut.json") && e.contains("not a tokenmeter result file"),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1);
    }
}

#[test]
fn a_file_whose_times_go_backwards_is_refused_in_every_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("back.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("tests/golden/result-v3-load.json").unwrap())
            .unwrap();
    let stamps = v["load"]["levels"][0]["requests"][0]["token_ns"]
        .as_array_mut()
        .unwrap();
    stamps.reverse();
    std::fs::write(&path, v.to_string()).unwrap();
    let e = read_result(&path).unwrap_err().to_string();
    assert!(
        e.contains("back.json") && e.contains("load.levels[0].requests[0]: times go backwards"),
        "{e}"
    );
    let mut v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("tests/golden/result-v4-bench.json").unwrap(),
    )
    .unwrap();
    let case = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["n_gen"].as_u64().unwrap() > 1)
        .unwrap();
    v["cases"][case]["samples"][0]["gen_token_ns"]
        .as_array_mut()
        .unwrap()
        .reverse();
    std::fs::write(&path, v.to_string()).unwrap();
    let e = read_result(&path).unwrap_err().to_string();
    assert!(
        e.contains(&format!(
            "cases[{case}].samples[0]: token times go backwards"
        )),
        "{e}"
    );
}

#[test]
fn golden_v5_bench_file_holds_repack_weight_buffers_and_numerics_per_case() {
    use tokenmeter::results::record::NumericsVerdict;
    let r = read_result(Path::new("tests/golden/result-v5-bench.json")).unwrap();
    assert_eq!(
        r.schema_version, SCHEMA_VERSION,
        "version 5 reads as the current one"
    );
    let repack: Vec<bool> = r.cases.iter().map(|c| c.repack).collect();
    assert_eq!(repack, [false, false, true, true]);
    for c in &r.cases {
        assert_eq!(
            tokenmeter::results::summarize(&c.test(), &c.samples),
            c.summary,
            "{}",
            c.test
        );
        let n = c.numerics.as_ref().expect("a numerics record");
        assert_eq!(n.verdict, NumericsVerdict::Passed);
        let d = n.distance.as_ref().unwrap();
        assert!(d.nmse <= n.nmse_max && d.kl_divergence <= n.kl_max);
        assert_eq!(n.positions, [3, 7, 11, 13, 15]);
        assert!(!c.numerics_failed);
        assert_eq!(c.weight_buffers_mib.contains_key("CPU_REPACK"), c.repack);
        assert!(c.weight_buffers_mib["CPU_Mapped"] > 0.0);
    }
}

#[test]
fn golden_v6_bench_file_records_each_units_limits_and_the_signal_that_stopped_it() {
    let path = "tests/golden/result-v6-bench.json";
    let r = read_result(Path::new(path)).unwrap();
    assert_eq!(r.schema_version, 6);
    assert!(r.interrupted);
    assert_eq!(r.interrupted_by.as_deref(), Some("SIGTERM"));
    let tests: Vec<&str> = r.cases.iter().map(|c| c.test.as_str()).collect();
    assert_eq!(tests, ["pp16"], "the case in flight at SIGTERM is left out");
    let limits = r.cases[0].limits.as_ref().expect("a case's limits");
    assert_eq!((limits.timeout_s, limits.stall_s), (120.0, 30.0));
    assert!(limits.estimate_s.is_some_and(|e| e > 0.0));
    assert_eq!(r.failed.len(), 1);
    assert_eq!(r.failed[0].label, "tiny-long.gguf tg8 t=1");
    assert!(r.failed[0]
        .reason
        .starts_with("worker killed by signal 6 (SIGABRT"));
    let failed = r.failed[0].limits.as_ref().expect("a failed unit's limits");
    assert_eq!((failed.timeout_s, failed.stall_s), (120.0, 30.0));
    assert_recomputes_what_the_file_stores(path);
}

#[test]
fn golden_v5_file_reads_without_limits_or_a_signal() {
    let r = read_result(Path::new("tests/golden/result-v5-bench.json")).unwrap();
    assert_eq!(r.interrupted_by, None);
    assert!(r.cases.iter().all(|c| c.limits.is_none()));
}
