//! `tokenmeter profile` end to end on models synthesized here: the phases, their result files, the report, the
//! time budget, memory fit and Ctrl-C.

mod common;

use common::{assert_one_line_error, stderr, stdout, synth_tiny, tokenmeter};
use serde_json::Value;
use std::path::Path;

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_quick_profile_writes_bench_and_load_results_the_summary_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let out = dir.path().join("profile");
    let o = tokenmeter(
        &[
            "profile",
            "--quick",
            "--models",
            model.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "-t",
            "1",
            "--telemetry",
            "off",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));

    let bench = read(&out.join("tiny-bench.json"));
    assert_eq!(bench["kind"], "bench");
    let tests: Vec<&str> = bench["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["test"].as_str().unwrap())
        .collect();
    assert_eq!(tests, ["pp512", "tg128"]);
    for c in bench["cases"].as_array().unwrap() {
        assert_eq!(
            c["samples_ts"].as_array().unwrap().len(),
            3,
            "--quick: 3 repetitions"
        );
    }

    let load = read(&out.join("tiny-load.json"));
    assert_eq!(load["parameters"]["until_saturated"], true);
    let sweep = &load["load"];
    assert_eq!(
        sweep["slo"].as_array().unwrap().len(),
        2,
        "the default SLO has two terms"
    );
    let all = sweep["levels"].as_array().unwrap();
    // a level the saturation rule would stop on for its rise alone is run a second time, right after the first
    for (k, l) in all
        .iter()
        .enumerate()
        .filter(|(_, l)| l["replicate"] == true)
    {
        assert!(
            k > 0 && all[k - 1]["concurrency"] == l["concurrency"],
            "{l}"
        );
        assert_ne!(all[k - 1]["seed"], l["seed"]);
    }
    let levels: Vec<u64> = all
        .iter()
        .filter(|l| l["replicate"] != true)
        .map(|l| l["concurrency"].as_u64().unwrap())
        .collect();
    assert_eq!(levels[0], 1);
    assert!(levels.windows(2).all(|w| w[1] == 2 * w[0]), "{levels:?}");
    // The sweep ends at saturation (a level that missed the SLO or did not raise goodput), at the budget, or
    // at the top level; whichever it was is recorded.
    if levels.len() < 9 {
        let stop = &sweep["stopped_early"];
        assert_eq!(
            stop["after"].as_str().unwrap(),
            format!("c={}", levels.last().unwrap())
        );
        assert!(!stop["reason"].as_str().unwrap().is_empty());
        assert_eq!(
            stop["levels_not_run"][0].as_str().unwrap(),
            format!("c={}", levels.last().unwrap() * 2)
        );
    }

    // The tiny shape's trained context (2048) is shorter than the depth test: skipped, with why.
    assert!(!out.join("tiny-depth.json").exists());
    let summary = std::fs::read_to_string(out.join("profile.md")).unwrap();
    assert!(summary.contains("command: "), "{summary}");
    let depth_row = summary
        .lines()
        .find(|l| l.contains("tg128 @ d4096"))
        .expect("a row for the depth phase");
    assert!(
        depth_row.contains("skipped: the model's trained context (2048 tokens)"),
        "{depth_row}"
    );
    let printed = stdout(&o);
    for row in summary.lines().filter(|l| l.starts_with("| ")) {
        assert!(printed.contains(row), "the printed summary has {row}");
    }

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let doc = roxmltree::Document::parse(html.trim_start_matches("<!DOCTYPE html>\n")).unwrap();
    let remarks = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("remarks"))
        .expect("the report lists what the profile did not measure");
    let text: String = remarks.descendants().filter_map(|n| n.text()).collect();
    assert!(
        text.contains("bench tg128 @ d4096 of tiny not measured"),
        "{text}"
    );
    assert!(
        doc.descendants().any(
            |n| n.attribute("id") == Some("figure-throughput-ttft") && n.has_tag_name("figure")
        ),
        "the load sweep is drawn"
    );
    assert!(out.join("report.md").exists());
}

#[test]
fn a_budget_too_short_for_any_phase_skips_them_all_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let out = dir.path().join("profile");
    let o = tokenmeter(
        &[
            "profile",
            "--models",
            model.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--budget",
            "1ms",
            "--telemetry",
            "off",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: the time budget of "), "{err}");
    let summary = std::fs::read_to_string(out.join("profile.md")).unwrap();
    let rows: Vec<&str> = summary.lines().filter(|l| l.contains("| tiny |")).collect();
    assert_eq!(rows.len(), 3, "{summary}");
    assert!(rows.iter().all(|r| r.contains("skipped")), "{summary}");
    assert!(!out.join("tiny-bench.json").exists());
}

#[test]
fn models_that_do_not_fit_free_memory_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("profile");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_tokenmeter"))
        .args(["profile", "--quick", "-o", out.to_str().unwrap()])
        .current_dir(dir.path())
        .env("TOKENMETER_CACHE_DIR", dir.path().join("cache"))
        .env("TOKENMETER_FREE_MEMORY_BYTES", (200u64 << 20).to_string())
        .output()
        .unwrap();
    assert_one_line_error(&o, "no model fits this device");
    let err = stderr(&o);
    for shape in [
        "llama-3.2-1b-q4_0",
        "llama-3.1-8b-q4_0",
        "llama-3.1-70b-q4_0",
    ] {
        assert!(err.contains(shape), "{err}");
    }
    assert!(err.contains("200.0 MiB free"), "{err}");
    assert!(!out.exists(), "nothing is created");
    assert!(
        !dir.path().join("cache").join("models").exists(),
        "nothing is synthesized"
    );
}

#[test]
fn a_profile_refuses_a_directory_that_already_holds_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("profile");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("old.json"), "{}").unwrap();
    let o = tokenmeter(
        &["profile", "--quick", "-o", out.to_str().unwrap()],
        dir.path(),
    );
    assert_one_line_error(&o, "exists and is not empty");
}

#[test]
fn ctrl_c_keeps_the_finished_phases_and_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("small.gguf");
    let s = tokenmeter(
        &["synth", "--shape", "small", "-o", model.to_str().unwrap()],
        dir.path(),
    );
    assert!(s.status.success(), "{}", stderr(&s));
    let out = dir.path().join("profile");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_tokenmeter"))
        .args([
            "profile",
            "--quick",
            "--models",
            model.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "-t",
            "1",
            "--telemetry",
            "off",
        ])
        .current_dir(dir.path())
        .env("TOKENMETER_CACHE_DIR", dir.path().join("cache"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let bench = out.join("small-bench.json");
    let start = std::time::Instant::now();
    while !bench.exists() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(300),
            "the bench phase never finished"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(stderr(&o).contains("interrupted"), "{}", stderr(&o));
    assert_eq!(
        read(&bench)["interrupted"],
        false,
        "the finished phase is whole"
    );
    let summary = std::fs::read_to_string(out.join("profile.md")).unwrap();
    assert!(summary.contains("interrupted (Ctrl-C)"), "{summary}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("small-bench.json"),
        "the report covers what was finished"
    );
}

#[test]
fn load_until_saturated_needs_rising_levels() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let o = tokenmeter(
        &[
            "load",
            "-m",
            model.to_str().unwrap(),
            "-c",
            "4,2",
            "--until-saturated",
        ],
        dir.path(),
    );
    assert_one_line_error(&o, "--until-saturated: the levels must rise");
}

#[test]
fn a_profile_ends_within_its_budget_plus_a_tenth_and_keeps_an_operating_point() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("small.gguf");
    let s = tokenmeter(
        &["synth", "--shape", "small", "-o", model.to_str().unwrap()],
        dir.path(),
    );
    assert!(s.status.success(), "{}", stderr(&s));
    // The host's memory bandwidth is measured once per boot into the cache (tens of seconds where first touching
    // gigabytes is slow, as in some VMs); measured here first, as any earlier run on the host would have.
    let warm = tokenmeter(
        &[
            "bench",
            "-m",
            model.to_str().unwrap(),
            "-p",
            "0",
            "-n",
            "4",
            "-r",
            "1",
        ],
        dir.path(),
    );
    assert!(warm.status.success(), "{}", stderr(&warm));
    let out = dir.path().join("profile");
    let budget = std::time::Duration::from_secs(40);
    let start = std::time::Instant::now();
    // Without --quick: five repetitions, 128-token outputs and a sweep up to c=256 would take this machine
    // longer than the budget; each phase stops at its deadline instead.
    let o = tokenmeter(
        &[
            "profile",
            "--models",
            model.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--budget",
            "40s",
            "-t",
            "1",
            "--telemetry",
            "off",
        ],
        dir.path(),
    );
    let wall = start.elapsed();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        wall <= budget.mul_f64(1.1),
        "took {wall:?} on a budget of {budget:?}\n{}",
        std::fs::read_to_string(out.join("profile.md")).unwrap_or_default()
    );
    let load = read(&out.join("small-load.json"));
    let sweep = &load["load"];
    let op = &sweep["operating_point"];
    let reason = sweep["stopped_early"]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        op.is_object() || !reason.is_empty(),
        "an operating point, or why no level met the SLO: {sweep}"
    );
}
