//! `tokenmeter compare`: verdicts on constructed result files, llama-bench input, load levels, baselines,
//! bad input, and an interleaved run of the real binary.

mod common;

use common::{assert_one_line_error, stderr, stdout, synth_tiny, tokenmeter};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::path::{Path, PathBuf};
use tokenmeter::results::record::RepSample;
use tokenmeter::results::{read_result, summarize, ResultFile};

const REF: &str = "results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0";

fn reference(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(REF).join(name)
}

/// The committed bench result with every repetition replaced: the case's first repetition's times divided by
/// `speed` and by a seeded factor of mean 1 and relative spread `cv`, `reps` times.
fn constructed(speed: f64, cv: f64, reps: usize, seed: u64) -> ResultFile {
    let mut f = read_result(&reference("tokenmeter-round1.result.json")).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for c in &mut f.cases {
        let first = c.samples[0].clone();
        c.samples = (0..reps)
            .map(|_| {
                let jitter = 1.0 + cv * (rng.random::<f64>() * 2.0 - 1.0) * 3f64.sqrt();
                let k = jitter / speed;
                let scale = |ns: u64| (ns as f64 * k).round() as u64;
                RepSample {
                    prompt_ns: first.prompt_ns.map(scale),
                    gen_ns: first.gen_ns.map(scale),
                    total_ns: scale(first.total_ns),
                    gen_token_ns: first.gen_token_ns.iter().map(|&t| scale(t)).collect(),
                    start_ns: None,
                }
            })
            .collect();
        c.repetitions = reps as u32;
        c.summary = summarize(&c.test(), &c.samples);
    }
    f
}

fn write(dir: &Path, name: &str, f: &ResultFile) -> String {
    let p = dir.join(name);
    f.write(&p).unwrap();
    p.to_str().unwrap().to_string()
}

fn compare_json(args: &[&str], cwd: &Path) -> (Option<i32>, Value) {
    let mut all = vec!["compare", "-o", "json"];
    all.extend_from_slice(args);
    let o = tokenmeter(&all, cwd);
    let v: Value = serde_json::from_str(&stdout(&o))
        .unwrap_or_else(|e| panic!("{e}: {} {}", stdout(&o), stderr(&o)));
    (o.status.code(), v)
}

fn gating(v: &Value) -> Vec<&Value> {
    v["joined"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|j| j["metrics"].as_array().unwrap())
        .filter(|m| m["gating"].as_bool().unwrap())
        .collect()
}

/// `runs` result files of a side in `dir/name/` (one per run, seeds from `seed`), the directory's path.
fn side(dir: &Path, name: &str, speed: f64, cv: f64, reps: usize, runs: u64, seed: u64) -> String {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    for r in 0..runs {
        write(
            &d,
            &format!("run-{r}.json"),
            &constructed(speed, cv, reps, seed + r),
        );
    }
    d.to_str().unwrap().to_string()
}

fn t_per_s(v: &Value) -> Vec<&Value> {
    v["joined"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| &j["metrics"][0])
        .inspect(|m| assert_eq!(m["metric"], "t/s"))
        .collect()
}

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

#[test]
fn llama_bench_json_joins_the_tokenmeter_cases_of_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let lb = reference("llama-bench-round1.json");
    let tm = reference("tokenmeter-round1.result.json");
    let (code, v) = compare_json(&[lb.to_str().unwrap(), tm.to_str().unwrap()], dir.path());
    assert_ne!(code, Some(2), "{v}");
    let labels: Vec<&str> = v["joined"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["pp512", "tg128"]);
    for j in v["joined"].as_array().unwrap() {
        let m = &j["metrics"][0];
        assert_eq!(m["ratio"]["n_base"], 5);
        assert_eq!(m["ratio"]["n_new"], 5);
    }
    assert!(v["only_base"].as_array().unwrap().is_empty());
    assert!(v["only_new"].as_array().unwrap().is_empty());
    // same machine, same model, same llama.cpp tree: a regression check with no build difference
    assert_eq!(v["kind"], "regression check", "{}", v["systems_differ"]);
    assert!(
        v["environment"].as_array().unwrap().is_empty(),
        "{}",
        v["environment"]
    );
}

#[test]
fn cases_on_one_side_are_listed_and_a_different_model_needs_ignore_model() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = constructed(1.0, 0.02, 5, 1);
    f.cases.truncate(1);
    let a = write(dir.path(), "a.json", &f);
    let b = write(dir.path(), "b.json", &constructed(1.0, 0.02, 5, 2));
    let (_, v) = compare_json(&[&a, &b], dir.path());
    assert_eq!(v["joined"].as_array().unwrap().len(), 1);
    assert_eq!(v["only_new"][0]["label"], "tg128");

    let mut other = constructed(1.0, 0.02, 5, 3);
    for c in &mut other.cases {
        c.model_n_params += 1000;
    }
    let c = write(dir.path(), "c.json", &other);
    let o = tokenmeter(&["compare", &b, &c], dir.path());
    assert_one_line_error(&o, "share no case");
    let (code, v) = compare_json(&["--ignore-model", &b, &c], dir.path());
    assert_eq!(code, Some(0));
    assert_eq!(v["kind"], "comparison between systems");
    assert_eq!(v["joined"].as_array().unwrap().len(), 2);
}

#[test]
fn load_levels_join_on_arrivals_and_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let load = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("results/reference/slo-goodput-qwen2.5-0.5b-q4_0/load.json");
    let f = read_result(&load).unwrap();
    let base_levels = &f.load.as_ref().unwrap().levels;
    assert_eq!(base_levels.len(), 3, "rates 0.5, 2 and 8 per second");
    // The candidate: the levels in another order, rate 8 not run, rate 0.5 with other output lengths (so not the
    // same level), and rate 2 served twice as fast (every timestamp and its length halved).
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&load).unwrap()).unwrap();
    v["started_at"] = "2026-11-30T10:00:00Z".into();
    let levels = v["load"]["levels"].as_array_mut().unwrap();
    levels.truncate(2);
    levels.swap(0, 1);
    levels[1]["output_tokens"] = serde_json::json!({"fixed": 33});
    let half = |x: &mut Value| {
        if let Some(n) = x.as_u64() {
            *x = Value::from(n / 2);
        } else if let Some(f) = x.as_f64() {
            *x = Value::from(f / 2.0);
        }
    };
    half(&mut levels[0]["duration_s"]);
    for r in levels[0]["requests"].as_array_mut().unwrap() {
        half(&mut r["arrival_ns"]);
        half(&mut r["admitted_ns"]);
        for t in r["token_ns"].as_array_mut().unwrap() {
            half(t);
        }
    }
    v["load"]["operating_point"] = Value::Null;
    let candidate = dir.path().join("candidate.json");
    std::fs::write(&candidate, serde_json::to_string(&v).unwrap()).unwrap();
    let c = read_result(&candidate).unwrap();
    let cand_levels = &c.load.as_ref().unwrap().levels;

    let (code, out) = compare_json(
        &[load.to_str().unwrap(), candidate.to_str().unwrap()],
        dir.path(),
    );
    assert!(code == Some(0) || code == Some(1), "{out}");
    let joined = out["joined"].as_array().unwrap();
    assert_eq!(
        joined.len(),
        1,
        "only rate 2/s is in both with the same lengths: {out}"
    );
    let j = &joined[0];
    assert_eq!(j["kind"], "load");
    assert!(j["label"].as_str().unwrap().contains('2'), "{}", j["label"]);
    let names: Vec<&str> = j["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["metric"].as_str().unwrap())
        .collect();
    for want in ["goodput", "output t/s", "ttft_p50", "ttft_p95", "itl_p99"] {
        assert!(names.contains(&want), "{names:?}");
    }
    // each side's figure from its own file's level at rate 2/s
    let goodput = &j["metrics"][0];
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9 * b.max(1.0);
    let base = base_levels[1].summary.goodput_requests_per_s.unwrap();
    // the candidate's level as its raw requests give it (the file's stored summary was not edited)
    let l = &cand_levels[0];
    let new = tokenmeter::analysis::load::summarize_level(
        &tokenmeter::analysis::load::LevelSamples {
            arrivals: tokenmeter::results::load::Arrivals::Open {
                rate_per_s: 2.0,
                slots: l.summary.slots,
            },
            requests: &l.requests,
            duration_ns: (l.summary.duration_s * 1e9).round() as u64,
            window_ns: None,
            warmup_ns: 0,
            prompt_tokens_processed: l.prompt_tokens_processed,
            interrupted: false,
        },
        &c.load.as_ref().unwrap().slo,
    )
    .goodput_requests_per_s
    .unwrap();
    assert!(close(goodput["base"].as_f64().unwrap(), base), "{goodput}");
    assert!(close(goodput["new"].as_f64().unwrap(), new), "{goodput}");
    assert!(
        new > 1.5 * base,
        "twice as fast serves more per second: {new} vs {base}"
    );
    // a p99 from fewer than 100 requests is shown but not tested
    let p99 = j["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "ttft_p99")
        .unwrap();
    assert!(base_levels[1].requests.len() < 100);
    assert_eq!(p99["tested"], false);
}

#[test]
fn a_saved_baseline_is_found_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let bdir = dir.path().join("baselines");
    std::fs::create_dir_all(&bdir).unwrap();
    let f = constructed(1.0, 0.02, 5, 1);
    write(&bdir, "main.json", &f);
    let new = write(dir.path(), "new.json", &constructed(1.0, 0.02, 5, 2));
    let o = tokenmeter(
        &[
            "compare",
            "--baseline",
            "main",
            "--baseline-dir",
            bdir.to_str().unwrap(),
            &new,
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("main.json"));
    let o = tokenmeter(
        &[
            "compare",
            "--baseline",
            "nope",
            "--baseline-dir",
            bdir.to_str().unwrap(),
            &new,
        ],
        dir.path(),
    );
    assert_one_line_error(&o, "nope");
    // a baseline of several runs is a directory of result files under the baseline directory: it gates
    side(&bdir, "runs", 1.0, 0.02, 5, 3, 1);
    let new_runs = side(dir.path(), "new-runs", 0.9, 0.02, 5, 3, 11);
    let (code, v) = compare_json(
        &[
            "--baseline",
            "runs",
            "--baseline-dir",
            bdir.to_str().unwrap(),
            &new_runs,
        ],
        dir.path(),
    );
    assert_eq!(code, Some(1), "{v}");
    assert_eq!(v["base"].as_array().unwrap().len(), 3);
    assert_eq!(v["counts"]["slower"], 2);
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "a.json", &constructed(1.0, 0.02, 5, 1));
    let future = dir.path().join("future.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&good).unwrap()).unwrap();
    v["schema_version"] = 99.into();
    std::fs::write(&future, v.to_string()).unwrap();
    let o = tokenmeter(&["compare", &good, future.to_str().unwrap()], dir.path());
    assert_one_line_error(&o, "future.json");
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{ not json").unwrap();
    let o = tokenmeter(&["compare", &good, garbage.to_str().unwrap()], dir.path());
    assert_one_line_error(&o, "garbage.json");
    let o = tokenmeter(&["compare", &good], dir.path());
    assert_one_line_error(&o, "BASE and NEW");
    let o = tokenmeter(&["compare", "--noise", "lots", &good, &good], dir.path());
    assert_one_line_error(&o, "--noise");
    let o = tokenmeter(&["compare", "--ignore", "colour", &good, &good], dir.path());
    assert_one_line_error(&o, "colour");
}

/// `compare --interleave` of the tiny model against itself with `extra` options; the kept rounds per side and
/// compare's stderr.
fn interleave_tiny(dir: &Path, name: &str, extra: &[&str]) -> (std::process::Output, usize) {
    let model = synth_tiny(dir, "tiny.gguf", "q4_0", 1);
    let keep = dir.join(name);
    let mut args = vec!["compare", "--interleave", "--keep", keep.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-o", "json", "--", "bench", "-m", model.to_str().unwrap()]);
    args.extend_from_slice(&[
        "-p",
        "8",
        "-n",
        "4",
        "-r",
        "2",
        "--telemetry",
        "off",
        "--in-process",
    ]);
    let o = tokenmeter(&args, dir);
    let kept = |side: &str| std::fs::read_dir(keep.join(side)).map_or(0, |d| d.count());
    assert_eq!(kept("base"), kept("new"), "{}", stderr(&o));
    (o, kept("base"))
}

#[test]
fn interleave_adds_rounds_while_a_gated_figure_is_underpowered_up_to_max_rounds() {
    let dir = tempfile::tempdir().unwrap();
    // --noise 0: any spread leaves a figure underpowered, so the rounds go on to --max-rounds and say so
    let (o, kept) = interleave_tiny(
        dir.path(),
        "noise0",
        &["--noise", "0", "--rounds", "6", "--max-rounds", "8"],
    );
    let err = stderr(&o);
    assert_eq!(kept, 8, "{err}");
    assert!(err.contains("after 6 rounds, underpowered: "), "{err}");
    assert!(
        err.contains("stopped at --max-rounds 8: still underpowered: "),
        "{err}"
    );
    assert!(
        err.contains("pp8 t/s ±") && err.contains("tg4 t/s ±"),
        "{err}"
    );
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(gating(&v).len(), 2, "{v}");
    for m in gating(&v) {
        assert_eq!(m["ratio"]["n_base"], 8, "{m}");
        assert_eq!(m["underpowered"], true, "{m}");
    }
    // a band wide enough for any spread of six rounds: they are powered, and no seventh round runs
    let (o, kept) = interleave_tiny(
        dir.path(),
        "noise99",
        &["--noise", "99%", "--rounds", "6", "--max-rounds", "8"],
    );
    let err = stderr(&o);
    assert_eq!(kept, 6, "{err}");
    assert!(!err.contains("more rounds"), "{err}");
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(gating(&v).iter().all(|m| m["underpowered"] == false), "{v}");
    // too few rounds for any interval (6 at --alpha 0.05): more until there are enough
    let (o, kept) = interleave_tiny(dir.path(), "few", &["--rounds", "2", "--max-rounds", "7"]);
    let err = stderr(&o);
    assert!(kept == 6 || kept == 7, "{kept}: {err}");
    assert!(err.contains("after 2 rounds, fewer than the 6 rounds a verdict needs: more rounds, up to --max-rounds 7"), "{err}");
    // fewer rounds at most than at least is refused
    let (o, kept) = interleave_tiny(dir.path(), "bad", &["--rounds", "3", "--max-rounds", "2"]);
    assert_eq!(kept, 0);
    assert_one_line_error(&o, "--max-rounds: 2 is fewer than --rounds (3)");
}

#[test]
fn interleave_runs_both_sides_alternately_and_pairs_the_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("rounds");
    let (o, _) = interleave_tiny(
        dir.path(),
        "rounds",
        &[
            "--rounds",
            "3",
            "--max-rounds",
            "3",
            "--ignore",
            "n_threads",
            "--base-args",
            "-t 1",
            "--new-args",
            "-t 2",
        ],
    );
    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["paired"], true);
    for side in ["base", "new"] {
        for r in 0..3 {
            assert!(keep.join(side).join(format!("round-{r:02}.json")).exists());
        }
    }
    let base = read_result(&keep.join("base/round-00.json")).unwrap();
    assert!(base.cases.iter().all(|c| c.n_threads == 1));
    let new = read_result(&keep.join("new/round-00.json")).unwrap();
    assert!(new.cases.iter().all(|c| c.n_threads == 2));
    for m in gating(&v) {
        assert_eq!(m["ratio"]["method"], "paired_signed_rank");
        assert_eq!(m["ratio"]["n_base"], 3);
    }
    // the rounds alternate which side goes first
    let err = stderr(&o);
    let rounds: Vec<&str> = err.lines().filter(|l| l.starts_with("round ")).collect();
    assert_eq!(rounds.len(), 3, "{err}");
    assert!(
        rounds[0].contains(": base") && rounds[1].contains(": new"),
        "{err}"
    );
    // and the kept rounds re-read as a paired comparison give the same verdicts
    let (_, again) = compare_json(
        &[
            "--paired",
            "--ignore",
            "n_threads",
            keep.join("base").to_str().unwrap(),
            keep.join("new").to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(again["counts"], v["counts"]);
}

#[test]
fn a_llama_bench_export_reads_back_through_compare_as_the_same_cases() {
    let dir = tempfile::tempdir().unwrap();
    let tm = reference("tokenmeter-round1.result.json");
    for (format, name) in [
        ("llama-bench-jsonl", "x.jsonl"),
        ("llama-bench-csv", "x.csv"),
    ] {
        let out = dir.path().join(name);
        let o = tokenmeter(
            &[
                "export",
                tm.to_str().unwrap(),
                "--format",
                format,
                "--out",
                out.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let (code, v) = compare_json(&[out.to_str().unwrap(), tm.to_str().unwrap()], dir.path());
        assert_eq!(code, Some(0), "{v}");
        let joined = v["joined"].as_array().unwrap();
        assert_eq!(joined.len(), 2, "{format}");
        for j in joined {
            let m = &j["metrics"][0];
            let r = m["ratio"]["ratio"].as_f64().unwrap();
            assert!((r - 1.0).abs() < 1e-3, "{format}: {r}");
            assert_eq!(m["verdict"], "unchanged");
        }
        // JSONL keeps the samples (a test per case); CSV has only the means (one figure: untested)
        let tested = joined[0]["metrics"][0]["tested"].as_bool().unwrap();
        assert_eq!(tested, format == "llama-bench-jsonl", "{format}");
    }
}

#[test]
fn what_else_changed_lists_the_gpu_driver_and_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = constructed(1.0, 0.02, 5, 1);
    let mut b = constructed(1.0, 0.02, 5, 2);
    for (f, driver) in [(&mut a, "550.54.15"), (&mut b, "560.35.03")] {
        let t = f.telemetry.get_or_insert_with(Default::default);
        t.drivers = vec![format!("NVIDIA H100 80GB HBM3 (GPU 0): {driver}")];
    }
    b.parameters["warmup_runs"] = 3.into();
    let (pa, pb) = (
        write(dir.path(), "a.json", &a),
        write(dir.path(), "b.json", &b),
    );
    let (_, v) = compare_json(&[&pa, &pb], dir.path());
    let fields: Vec<&str> = v["environment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"drivers"), "{fields:?}");
    assert!(fields.contains(&"parameter warmup_runs"), "{fields:?}");
    let md = stdout(&tokenmeter(&["compare", &pa, &pb], dir.path()));
    assert!(md.contains("560.35.03"), "{md}");
}

#[test]
fn interleaved_rounds_are_judged_on_each_rounds_fastest_repetition() {
    // every base round has one repetition that something else slowed to half speed; the new side is a steady 10%
    // slower: on the fastest repetitions that is a 10% loss, on the means it would look like a gain
    let dir = tempfile::tempdir().unwrap();
    for side in ["base", "new"] {
        std::fs::create_dir_all(dir.path().join(side)).unwrap();
    }
    for round in 0..8 {
        let mut base = constructed(1.0, 0.0, 2, 1);
        for c in &mut base.cases {
            let slow = |ns: u64| ns * 2;
            let s = &mut c.samples[1];
            s.total_ns = slow(s.total_ns);
            s.prompt_ns = s.prompt_ns.map(slow);
            s.gen_ns = s.gen_ns.map(slow);
            s.gen_token_ns = s.gen_token_ns.iter().map(|&t| slow(t)).collect();
            c.summary = summarize(&c.test(), &c.samples);
        }
        let new = constructed(0.9, 0.0, 2, 2);
        write(
            &dir.path().join("base"),
            &format!("round-{round:02}.json"),
            &base,
        );
        write(
            &dir.path().join("new"),
            &format!("round-{round:02}.json"),
            &new,
        );
    }
    let (b, n) = (dir.path().join("base"), dir.path().join("new"));
    let (code, v) = compare_json(
        &["--paired", b.to_str().unwrap(), n.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(code, Some(1), "{v}");
    for m in gating(&v) {
        assert_eq!(m["ratio"]["method"], "paired_signed_rank");
        assert!(
            (m["ratio"]["ratio"].as_f64().unwrap() - 0.9).abs() < 0.01,
            "{m}"
        );
        assert_eq!(m["verdict"], "slower");
    }
}
