//! What compare reads and how it joins it: llama-bench output and exports, cases on one side only, a different
//! model, a saved baseline by name, bad input, and what else differs between the runs.

use crate::common::{assert_one_line_error, stderr, stdout, tokenmeter};
use crate::{compare_json, constructed, reference, side, write};
use serde_json::Value;

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
