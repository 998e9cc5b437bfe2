//! Writing llama-bench's records: one built from a tokenmeter case (llama-bench's defaults for the fields
//! tokenmeter does not vary), and records written as `llama-bench -o jsonl` and `-o csv` write them.

use super::LlamaBenchRecord;
use crate::results::file::ResultFile;
use crate::results::record::CaseRecord;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;

/// llama-bench's defaults for the fields tokenmeter does not vary (llama-bench's `cmd_params_defaults`, as the
/// reference run in `results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0/` wrote them, 2026-11).
const DEFAULTS: &[(&str, DefaultValue)] = &[
    ("cpu_mask", DefaultValue::Str("0x0")),
    ("cpu_strict", DefaultValue::Bool(false)),
    ("poll", DefaultValue::Int(50)),
    ("n_cpu_moe", DefaultValue::Int(0)),
    ("split_mode", DefaultValue::Str("layer")),
    ("main_gpu", DefaultValue::Int(0)),
    ("devices", DefaultValue::Str("auto")),
    ("tensor_split", DefaultValue::Str("0.00")),
    ("tensor_buft_overrides", DefaultValue::Str("none")),
    ("lazy_mode", DefaultValue::Str("auto")),
    ("no_op_offload", DefaultValue::Int(0)),
    ("no_host", DefaultValue::Bool(false)),
    ("repack", DefaultValue::Bool(true)),
    ("fit_target", DefaultValue::Int(0)),
    ("fit_min_ctx", DefaultValue::Int(0)),
];

enum DefaultValue {
    Str(&'static str),
    Bool(bool),
    Int(i64),
}

/// The llama.cpp commit of a tokenmeter case as llama-bench names it: the vendored tree carries no commit
/// (`unknown`), and `scripts/llama-bench.sh` builds llama-bench from it naming the crate,
/// `llama-cpp-sys-2-<version>`.
pub fn build_commit(file: &ResultFile, case: &CaseRecord) -> String {
    if case.build_commit == "unknown" {
        format!("llama-cpp-sys-2-{}", file.build.llama_cpp_sys_version)
    } else {
        case.build_commit.clone()
    }
}

/// llama-bench's record for one tokenmeter case: every field llama-bench writes, in its order when written.
/// Values come from the case (host, build, parameters and samples); the fields tokenmeter does not vary get
/// llama-bench's defaults for what tokenmeter ran. A build without a build number gets 0, as llama-bench writes
/// for one; the vendored tree's `unknown` commit becomes `llama-cpp-sys-2-<version>`, as `scripts/llama-bench.sh`
/// names a llama-bench built from it; `test_time` is written as llama-bench writes it (UTC, whole seconds).
pub fn from_case(file: &ResultFile, case: &CaseRecord) -> LlamaBenchRecord {
    let mut other: BTreeMap<String, Value> = DEFAULTS
        .iter()
        .map(|(k, d)| {
            let v = match d {
                DefaultValue::Str(s) => Value::from(*s),
                DefaultValue::Bool(b) => Value::from(*b),
                DefaultValue::Int(i) => Value::from(*i),
            };
            (k.to_string(), v)
        })
        .collect();
    other.insert("no_kv_offload".into(), Value::from(case.no_kv_offload));
    other.insert("repack".into(), Value::from(case.repack));
    other.insert("embeddings".into(), Value::from(case.embeddings));
    // llama-bench's load mode: `auto` memory-maps the model (its default); tokenmeter's `--mmap 0` reads it.
    let load_mode = if case.use_mmap { "auto" } else { "read" };
    other.insert("load_mode".into(), Value::from(load_mode));
    let build_commit = build_commit(file, case);
    let test_time = chrono::DateTime::parse_from_rfc3339(&case.test_time)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        })
        .unwrap_or_else(|_| case.test_time.clone());
    let s = &case.summary;
    LlamaBenchRecord {
        build_commit: Some(build_commit),
        build_number: Some(
            case.build_number
                .map_or(0, |n| n.min(i64::MAX as u64) as i64),
        ),
        cpu_info: Some(case.cpu_info.clone()),
        gpu_info: Some(case.gpu_info.clone()),
        backends: Some(case.backends.clone()),
        model_filename: Some(case.model_filename.clone()),
        model_type: Some(case.model_type.clone()),
        model_size: Some(case.model_size),
        model_n_params: Some(case.model_n_params),
        n_batch: Some(case.n_batch),
        n_ubatch: Some(case.n_ubatch),
        n_threads: Some(case.n_threads),
        type_k: Some(case.type_k.clone()),
        type_v: Some(case.type_v.clone()),
        n_gpu_layers: Some(case.n_gpu_layers),
        flash_attn: Some(case.flash_attn),
        n_prompt: case.n_prompt,
        n_gen: case.n_gen,
        n_depth: case.n_depth,
        test_time: Some(test_time),
        avg_ns: s.avg_ns.map(|x| x as f64),
        stddev_ns: s.stddev_ns.map(|x| x as f64),
        avg_ts: s.avg_ts,
        stddev_ts: s.stddev_ts,
        samples_ns: s.samples_ns.clone(),
        samples_ts: s.samples_ts.clone(),
        other,
    }
}

/// One record per line, as `llama-bench -o jsonl` writes them.
pub fn write_jsonl(records: &[LlamaBenchRecord], out: &mut dyn Write) -> std::io::Result<()> {
    for r in records {
        let fields: Vec<String> = r
            .fields()
            .into_iter()
            .map(|(k, v)| format!("{}: {}", Value::from(k), v))
            .collect();
        writeln!(out, "{{{}}}", fields.join(", "))?;
    }
    Ok(())
}

/// A header of field names, then each record's values double-quoted (`"` doubled inside) as `llama-bench -o csv`
/// writes them: bools as 0 or 1, no samples. The columns are every field any record has.
pub fn write_csv(records: &[LlamaBenchRecord], out: &mut dyn Write) -> std::io::Result<()> {
    let rows: Vec<Vec<(String, Value)>> = records.iter().map(LlamaBenchRecord::fields).collect();
    let mut columns: Vec<String> = Vec::new();
    for (k, _) in rows.iter().flatten() {
        if k != "samples_ns" && k != "samples_ts" && !columns.contains(k) {
            columns.push(k.clone());
        }
    }
    writeln!(out, "{}", columns.join(","))?;
    for row in &rows {
        let cells: Vec<String> = columns
            .iter()
            .map(|c| {
                let text = match row.iter().find(|(k, _)| k == c).map(|(_, v)| v) {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Bool(b)) => u8::from(*b).to_string(),
                    Some(v) => v.to_string(),
                };
                format!("\"{}\"", text.replace('"', "\"\""))
            })
            .collect();
        writeln!(out, "{}", cells.join(","))?;
    }
    Ok(())
}
