//! `tokenmeter export`: Bencher's metric format, github-action-benchmark's custom formats and llama-bench's record,
//! from committed result files (and copies of them changed to show one behaviour each).

mod common;

use common::{assert_one_line_error, stderr, stdout, tokenmeter};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tokenmeter::results::llama_bench;

const REFERENCE: &str = "results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn round1() -> PathBuf {
    repo(&format!("{REFERENCE}/tokenmeter-round1.result.json"))
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Runs `export` and parses what it printed.
fn export_json(result: &Path, format: &str, dir: &Path) -> Value {
    let o = tokenmeter(
        &["export", result.to_str().unwrap(), "--format", format],
        dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

/// A copy of a committed result file in `dir`, changed by `edit`.
fn edited(src: &Path, dir: &Path, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(src).unwrap()).unwrap();
    edit(&mut v);
    let path = dir.join("edited.result.json");
    std::fs::write(&path, v.to_string()).unwrap();
    path
}

#[test]
fn bmf_names_each_case_and_brackets_each_mean_with_its_interval() {
    let dir = tempdir();
    let bmf = export_json(&round1(), "bmf", dir.path());
    let doc = bmf.as_object().unwrap();
    let names: Vec<&String> = doc.keys().collect();
    assert_eq!(
        names,
        ["qwen2.5-0.5b-q4_0/pp512/t=2", "qwen2.5-0.5b-q4_0/tg128/t=2"]
    );
    let file = tokenmeter::results::read_result(&round1()).unwrap();
    for (name, case) in names.iter().zip(&file.cases) {
        let measures = doc[*name].as_object().unwrap();
        for (measure, m) in measures {
            let (lo, v, hi) = (
                m["lower_value"].as_f64().unwrap(),
                m["value"].as_f64().unwrap(),
                m["upper_value"].as_f64().unwrap(),
            );
            assert!(lo <= v && v <= hi, "{name} {measure}: {lo} {v} {hi}");
        }
        // throughput is llama-bench's avg_ts: the mean of the per-repetition rates
        assert_eq!(
            measures["throughput"]["value"].as_f64(),
            case.summary.avg_ts
        );
        assert!(measures.contains_key("ttft"));
        assert_eq!(measures.contains_key("itl"), case.n_gen > 1);
        assert!(!measures.contains_key("energy"), "no energy was measured");
    }
}

#[test]
fn a_single_repetition_has_a_value_and_no_bounds() {
    let dir = tempdir();
    // a schema-2 file: its summaries are recomputed from the samples left
    let path = edited(&round1(), dir.path(), |v| {
        for c in v["cases"].as_array_mut().unwrap() {
            c["samples"].as_array_mut().unwrap().truncate(1);
        }
    });
    let bmf = export_json(&path, "bmf", dir.path());
    let throughput = &bmf["qwen2.5-0.5b-q4_0/pp512/t=2"]["throughput"];
    assert!(throughput["value"].as_f64().unwrap() > 0.0);
    assert_eq!(throughput.get("lower_value"), None);
    assert_eq!(throughput.get("upper_value"), None);
    // a generation of 128 tokens still has many gaps, so ITL keeps its interval
    assert!(bmf["qwen2.5-0.5b-q4_0/tg128/t=2"]["itl"]
        .get("lower_value")
        .is_some());
}

#[test]
fn energy_per_token_is_exported_only_for_the_case_that_measured_it() {
    let dir = tempdir();
    let path = edited(
        &repo("tests/golden/result-v4-bench.json"),
        dir.path(),
        |v| {
            v["cases"][0]["energy"][0]["total"]["j_per_token"] = Value::from(0.25);
        },
    );
    let bmf = export_json(&path, "bmf", dir.path());
    let doc = bmf.as_object().unwrap();
    let with_energy: Vec<&String> = doc
        .iter()
        .filter(|(_, m)| m.get("energy").is_some())
        .map(|(k, _)| k)
        .collect();
    assert_eq!(with_energy.len(), 1, "{bmf:#}");
    let energy = &doc[with_energy[0]]["energy"];
    assert_eq!(energy["value"].as_f64(), Some(0.25));
    assert_eq!(energy.get("lower_value"), None);
}

#[test]
fn bmf_of_a_load_result_has_each_levels_throughput_and_p95_latencies() {
    let dir = tempdir();
    let bmf = export_json(&repo("tests/golden/result-v4-load.json"), "bmf", dir.path());
    let doc = bmf.as_object().unwrap();
    assert_eq!(
        doc.keys().collect::<Vec<_>>(),
        ["tiny/load/c=1", "tiny/load/c=2"]
    );
    for m in doc.values() {
        for key in ["throughput", "ttft-p95", "itl-p95"] {
            assert!(m[key]["value"].as_f64().unwrap() > 0.0, "{key}: {m}");
            assert_eq!(
                m[key].get("lower_value"),
                None,
                "a percentile has no interval"
            );
        }
    }
}

#[test]
fn gab_writes_a_bigger_and_a_smaller_is_better_array() {
    let dir = tempdir();
    let out = dir.path().join("bench.json");
    let o = tokenmeter(
        &[
            "export",
            round1().to_str().unwrap(),
            "--format",
            "gab",
            "--out",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let read = |name: &str| -> Vec<Value> {
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let bigger = read("bench-bigger.json");
    let smaller = read("bench-smaller.json");
    assert_eq!(bigger.len(), 2, "throughput of both cases");
    assert_eq!(
        smaller.len(),
        3,
        "ttft of both cases, itl of the generation"
    );
    for e in bigger.iter().chain(&smaller) {
        let keys: BTreeSet<&str> = e.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            keys,
            BTreeSet::from(["name", "unit", "value", "range", "extra"]),
            "{e}"
        );
        assert!(e["range"].as_str().unwrap().starts_with("± "), "{e}");
        let extra = e["extra"].as_str().unwrap();
        assert!(extra.contains("tokenmeter-round1.result.json"), "{extra}");
    }
    assert_eq!(bigger[0]["name"], "qwen2.5-0.5b-q4_0/pp512/t=2 throughput");
    assert_eq!(bigger[0]["unit"], "t/s");
    assert!(bigger[0]["extra"]
        .as_str()
        .unwrap()
        .starts_with("5 repetitions"));
    assert!(smaller.iter().all(|e| e["unit"] == "ms"));
}

#[test]
fn gab_without_out_is_refused_with_exit_2() {
    let dir = tempdir();
    let o = tokenmeter(
        &["export", round1().to_str().unwrap(), "--format", "gab"],
        dir.path(),
    );
    assert_one_line_error(&o, "--out");
}

#[test]
fn llama_bench_jsonl_has_every_field_of_llama_benchs_record_and_reads_back() {
    let dir = tempdir();
    let out = dir.path().join("cases.jsonl");
    let o = tokenmeter(
        &[
            "export",
            round1().to_str().unwrap(),
            "--format",
            "llama-bench-jsonl",
            "--out",
            out.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    let reference: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(repo(&format!("{REFERENCE}/llama-bench-round1.json"))).unwrap(),
    )
    .unwrap();
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let mut ours = keys(&v);
        let mut theirs = keys(&reference[0]);
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs);
        for (k, x) in v.as_object().unwrap() {
            let want = &reference[0][k];
            let same_type = std::mem::discriminant(x) == std::mem::discriminant(want);
            assert!(same_type, "{k}: {x} where llama-bench writes {want}");
        }
    }
    let file = tokenmeter::results::read_result(&round1()).unwrap();
    let records = llama_bench::read_str(&text).unwrap();
    assert_eq!(records.len(), file.cases.len());
    for (r, c) in records.iter().zip(&file.cases) {
        assert_eq!(
            (r.n_prompt, r.n_gen, r.n_depth),
            (c.n_prompt, c.n_gen, c.n_depth)
        );
        assert_eq!(r.samples_ns, c.summary.samples_ns);
        assert_eq!(r.samples_ts, c.summary.samples_ts);
        assert_eq!(r.avg_ts, c.summary.avg_ts);
    }
}

#[test]
fn llama_bench_csv_has_llama_benchs_columns_and_reads_back() {
    let dir = tempdir();
    let o = tokenmeter(
        &[
            "export",
            round1().to_str().unwrap(),
            "--format",
            "llama-bench-csv",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let expected: Vec<&str> = llama_bench::FIELDS
        .iter()
        .copied()
        .filter(|f| !f.starts_with("samples_"))
        .collect();
    assert_eq!(header, expected);
    assert!(text.lines().nth(1).unwrap().starts_with('"'));
    let records = llama_bench::read_str(&text).unwrap();
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.samples_ns.is_empty()));
    assert_eq!((records[1].n_prompt, records[1].n_gen), (0, 128));
}

#[test]
fn a_load_result_has_no_llama_bench_cases() {
    let dir = tempdir();
    let o = tokenmeter(
        &[
            "export",
            repo("tests/golden/result-v4-load.json").to_str().unwrap(),
            "--format",
            "llama-bench-jsonl",
        ],
        dir.path(),
    );
    assert_one_line_error(
        &o,
        "result-v4-load.json: a load result has no llama-bench cases",
    );
}

#[test]
fn an_unreadable_or_foreign_file_is_one_line_naming_it_with_exit_2() {
    let dir = tempdir();
    let o = tokenmeter(&["export", "missing.json", "--format", "bmf"], dir.path());
    assert_one_line_error(&o, "missing.json");
    let llama = repo(&format!("{REFERENCE}/llama-bench-round1.json"));
    let o = tokenmeter(
        &["export", llama.to_str().unwrap(), "--format", "bmf"],
        dir.path(),
    );
    assert_one_line_error(
        &o,
        "llama-bench-round1.json: llama-bench output, not a tokenmeter result file",
    );
    let o = tokenmeter(
        &["export", round1().to_str().unwrap(), "--format", "xml"],
        dir.path(),
    );
    assert_one_line_error(&o, "--format xml");
}
