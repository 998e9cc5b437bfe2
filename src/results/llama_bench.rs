//! llama-bench's own record (`-o json`, `-o jsonl`, `-o csv`): read from any version of llama-bench, built from a
//! tokenmeter case, and written in llama-bench's field order. The known fields are typed; every other field is
//! kept as read, so a record round-trips.

use super::file::{ResultFile, ResultFileError};
use super::record::CaseRecord;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlamaBenchRecord {
    pub build_commit: Option<String>,
    pub build_number: Option<i64>,
    pub cpu_info: Option<String>,
    pub gpu_info: Option<String>,
    pub backends: Option<String>,
    pub model_filename: Option<String>,
    pub model_type: Option<String>,
    pub model_size: Option<u64>,
    pub model_n_params: Option<u64>,
    pub n_batch: Option<u32>,
    pub n_ubatch: Option<u32>,
    pub n_threads: Option<u32>,
    pub type_k: Option<String>,
    pub type_v: Option<String>,
    pub n_gpu_layers: Option<i32>,
    /// -1 auto, 0 off, 1 on; older versions' bool reads as 0 or 1.
    pub flash_attn: Option<i8>,
    pub n_prompt: u32,
    pub n_gen: u32,
    /// Absent in versions before context depths: 0.
    pub n_depth: u32,
    pub test_time: Option<String>,
    pub avg_ns: Option<f64>,
    pub stddev_ns: Option<f64>,
    pub avg_ts: Option<f64>,
    pub stddev_ts: Option<f64>,
    /// Empty when the format has none (CSV).
    pub samples_ns: Vec<u64>,
    pub samples_ts: Vec<f64>,
    /// Every other field, kept as read (cpu_mask, poll, split_mode, …), so a record round-trips.
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlamaBenchFormat {
    Json,
    Jsonl,
    Csv,
}

/// The fields of the current llama-bench's record, in the order it writes them.
pub const FIELDS: &[&str] = &[
    "build_commit",
    "build_number",
    "cpu_info",
    "gpu_info",
    "backends",
    "model_filename",
    "model_type",
    "model_size",
    "model_n_params",
    "n_batch",
    "n_ubatch",
    "n_threads",
    "cpu_mask",
    "cpu_strict",
    "poll",
    "type_k",
    "type_v",
    "n_gpu_layers",
    "n_cpu_moe",
    "split_mode",
    "main_gpu",
    "no_kv_offload",
    "flash_attn",
    "devices",
    "tensor_split",
    "tensor_buft_overrides",
    "load_mode",
    "lazy_mode",
    "embeddings",
    "no_op_offload",
    "no_host",
    "repack",
    "fit_target",
    "fit_min_ctx",
    "n_prompt",
    "n_gen",
    "n_depth",
    "test_time",
    "avg_ns",
    "stddev_ns",
    "avg_ts",
    "stddev_ts",
    "samples_ns",
    "samples_ts",
];

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

/// How a CSV value is typed in llama-bench's JSON (its `get_field_type`, plus the backend flags of older versions).
#[derive(Clone, Copy, PartialEq)]
enum FieldType {
    Int,
    Bool,
    Float,
    Str,
}

fn field_type(name: &str) -> FieldType {
    match name {
        "build_number" | "n_batch" | "n_ubatch" | "n_threads" | "poll" | "model_size"
        | "model_n_params" | "n_gpu_layers" | "main_gpu" | "n_prompt" | "n_gen" | "n_depth"
        | "avg_ns" | "stddev_ns" | "no_op_offload" | "n_cpu_moe" | "fit_target" | "fit_min_ctx"
        | "flash_attn" => FieldType::Int,
        "f16_kv" | "no_kv_offload" | "cpu_strict" | "use_mmap" | "embeddings" | "no_host"
        | "repack" | "cuda" | "vulkan" | "kompute" | "metal" | "sycl" | "rpc" | "gpu_blas"
        | "blas" | "opencl" => FieldType::Bool,
        "avg_ts" | "stddev_ts" => FieldType::Float,
        _ => FieldType::Str,
    }
}

/// Which of llama-bench's formats `text` is in, from its first non-blank character.
pub fn detect(text: &str) -> LlamaBenchFormat {
    match text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .chars()
        .next()
    {
        Some('[') => LlamaBenchFormat::Json,
        Some('{') => LlamaBenchFormat::Jsonl,
        _ => LlamaBenchFormat::Csv,
    }
}

/// Whether `text` looks like llama-bench output (not a tokenmeter result file: those are a JSON object with
/// `schema_version`).
pub fn looks_like(text: &str) -> bool {
    let text = text.trim_start_matches('\u{feff}').trim_start();
    match detect(text) {
        LlamaBenchFormat::Json => true,
        LlamaBenchFormat::Jsonl => {
            let first = text.lines().next().unwrap_or("");
            match serde_json::from_str::<Map<String, Value>>(first) {
                Ok(obj) => !obj.contains_key("schema_version") && obj.contains_key("n_prompt"),
                Err(_) => false,
            }
        }
        LlamaBenchFormat::Csv => csv_header(text).is_some(),
    }
}

/// The header of CSV text when it names the columns llama-bench always writes.
fn csv_header(text: &str) -> Option<csv::StringRecord> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    let header = reader.records().next()?.ok()?;
    let has = |name: &str| header.iter().any(|h| h.trim() == name);
    (has("n_prompt") && has("n_gen")).then_some(header)
}

/// Reads llama-bench output; the format is detected from the content (a `[` → JSON array, `{` → JSONL, else CSV
/// with a header containing n_prompt and n_gen).
pub fn read_str(text: &str) -> Result<Vec<LlamaBenchRecord>, String> {
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err("empty: no llama-bench records".into());
    }
    match detect(text) {
        LlamaBenchFormat::Json => read_json(text),
        LlamaBenchFormat::Jsonl => read_jsonl(text),
        LlamaBenchFormat::Csv => read_csv(text),
    }
}

/// `read_str` on a file, its errors naming the file.
pub fn read_path(path: &Path) -> Result<Vec<LlamaBenchRecord>, ResultFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| ResultFileError::Io {
        path: path.to_path_buf(),
        what: format!("cannot read: {e}"),
    })?;
    read_str(&text).map_err(|what| ResultFileError::Io {
        path: path.to_path_buf(),
        what: format!("not llama-bench output: {what}"),
    })
}

fn one_line(s: impl std::fmt::Display) -> String {
    crate::text::one_line(&s.to_string())
}

fn read_json(text: &str) -> Result<Vec<LlamaBenchRecord>, String> {
    let values: Vec<Value> =
        serde_json::from_str(text).map_err(|e| format!("JSON array: {}", one_line(e)))?;
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| from_value(v).map_err(|e| format!("record {}: {e}", i + 1)))
        .collect()
}

fn read_jsonl(text: &str) -> Result<Vec<LlamaBenchRecord>, String> {
    let mut records = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    loop {
        let start = stream.byte_offset();
        let line = || {
            let rest = &text[start..];
            let skipped = rest.len() - rest.trim_start().len();
            text[..start + skipped].matches('\n').count() + 1
        };
        match stream.next() {
            None => break,
            Some(Ok(v)) => {
                records.push(from_value(v).map_err(|e| format!("line {}: {e}", line()))?)
            }
            Some(Err(e)) => return Err(format!("line {}: {}", e.line(), one_line(e))),
        }
    }
    Ok(records)
}

fn read_csv(text: &str) -> Result<Vec<LlamaBenchRecord>, String> {
    let header = csv_header(text).ok_or(
        "not llama-bench output: expected a JSON array, JSON lines or CSV whose header names n_prompt and n_gen",
    )?;
    let names: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let mut records = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| match e.position() {
            Some(p) => format!("line {}: {}", p.line(), one_line(&e)),
            None => one_line(&e),
        })?;
        let line = row.position().map_or(0, |p| p.line());
        let mut map = Map::new();
        for (name, raw) in names.iter().zip(row.iter()) {
            map.insert(name.clone(), csv_value(name, raw));
        }
        records.push(from_value(Value::Object(map)).map_err(|e| format!("line {line}: {e}"))?);
    }
    Ok(records)
}

/// A CSV cell as llama-bench's JSON would have typed it; a cell that does not parse as its type stays a string
/// (and is refused if it is a typed field of the record).
fn csv_value(name: &str, raw: &str) -> Value {
    let s = raw.trim();
    let parsed = match field_type(name) {
        FieldType::Str => None,
        _ if s.is_empty() => Some(Value::Null),
        FieldType::Int => s
            .parse::<i64>()
            .ok()
            .map(Value::from)
            .or_else(|| s.parse::<u64>().ok().map(Value::from)),
        FieldType::Float => s
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(Value::from),
        FieldType::Bool => match s {
            "1" | "true" => Some(Value::Bool(true)),
            "0" | "false" => Some(Value::Bool(false)),
            _ => None,
        },
    };
    parsed.unwrap_or_else(|| Value::String(raw.to_string()))
}

/// Takes a field out of `map`, `None` when absent or null.
fn take(map: &mut Map<String, Value>, name: &str) -> Option<Value> {
    map.remove(name).filter(|v| !v.is_null())
}

fn string(map: &mut Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match take(map, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(format!("{name}: expected a string, got {}", short(&v))),
    }
}

fn integer<T: TryFrom<i64> + TryFrom<u64>>(
    map: &mut Map<String, Value>,
    name: &str,
) -> Result<Option<T>, String> {
    let Some(v) = take(map, name) else {
        return Ok(None);
    };
    let out_of_range = || {
        format!(
            "{name}: expected an integer from {} to {}, got {}",
            range_of::<T>().0,
            range_of::<T>().1,
            short(&v)
        )
    };
    if let Some(i) = v.as_i64() {
        T::try_from(i).map(Some).map_err(|_| out_of_range())
    } else if let Some(u) = v.as_u64() {
        T::try_from(u).map(Some).map_err(|_| out_of_range())
    } else {
        Err(out_of_range())
    }
}

/// The range of an integer type, found by probing (the types here are the standard signed and unsigned ones).
fn range_of<T: TryFrom<i64> + TryFrom<u64>>() -> (i128, i128) {
    let min = [i64::MIN, i32::MIN as i64, i8::MIN as i64, 0]
        .into_iter()
        .find(|&x| T::try_from(x).is_ok())
        .unwrap_or(0) as i128;
    let max = [
        u64::MAX,
        i64::MAX as u64,
        u32::MAX as u64,
        i32::MAX as u64,
        i8::MAX as u64,
    ]
    .into_iter()
    .find(|&x| T::try_from(x).is_ok())
    .unwrap_or(0) as i128;
    (min, max)
}

fn number(map: &mut Map<String, Value>, name: &str) -> Result<Option<f64>, String> {
    match take(map, name) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .filter(|x| x.is_finite())
            .map(Some)
            .ok_or_else(|| format!("{name}: expected a number, got {}", short(&v))),
    }
}

fn array<T>(
    map: &mut Map<String, Value>,
    name: &str,
    item: impl Fn(&Value) -> Option<T>,
    what: &str,
) -> Result<Vec<T>, String> {
    match take(map, name) {
        None => Ok(Vec::new()),
        Some(Value::Array(xs)) => xs
            .iter()
            .enumerate()
            .map(|(i, x)| {
                item(x).ok_or_else(|| format!("{name}[{i}]: expected {what}, got {}", short(x)))
            })
            .collect(),
        Some(v) => Err(format!("{name}: expected an array, got {}", short(&v))),
    }
}

/// A value for an error message, cut to a readable length.
fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

fn from_value(v: Value) -> Result<LlamaBenchRecord, String> {
    let Value::Object(mut m) = v else {
        return Err(format!("expected a record object, got {}", short(&v)));
    };
    let required = |m: &mut Map<String, Value>, name: &str| -> Result<u32, String> {
        integer::<u32>(m, name)?.ok_or_else(|| format!("missing {name}"))
    };
    let flash_attn = match take(&mut m, "flash_attn") {
        Some(Value::Bool(b)) => Some(i8::from(b)),
        Some(v) => {
            m.insert("flash_attn".into(), v);
            let fa = integer::<i8>(&mut m, "flash_attn")?;
            if let Some(x) = fa.filter(|x| !(-1..=1).contains(x)) {
                return Err(format!("flash_attn: expected -1, 0 or 1, got {x}"));
            }
            fa
        }
        None => None,
    };
    Ok(LlamaBenchRecord {
        n_prompt: required(&mut m, "n_prompt")?,
        n_gen: required(&mut m, "n_gen")?,
        n_depth: integer(&mut m, "n_depth")?.unwrap_or(0),
        build_commit: string(&mut m, "build_commit")?,
        build_number: integer(&mut m, "build_number")?,
        cpu_info: string(&mut m, "cpu_info")?,
        gpu_info: string(&mut m, "gpu_info")?,
        backends: string(&mut m, "backends")?,
        model_filename: string(&mut m, "model_filename")?,
        model_type: string(&mut m, "model_type")?,
        model_size: integer(&mut m, "model_size")?,
        model_n_params: integer(&mut m, "model_n_params")?,
        n_batch: integer(&mut m, "n_batch")?,
        n_ubatch: integer(&mut m, "n_ubatch")?,
        n_threads: integer(&mut m, "n_threads")?,
        type_k: string(&mut m, "type_k")?,
        type_v: string(&mut m, "type_v")?,
        n_gpu_layers: integer(&mut m, "n_gpu_layers")?,
        flash_attn,
        test_time: string(&mut m, "test_time")?,
        avg_ns: number(&mut m, "avg_ns")?,
        stddev_ns: number(&mut m, "stddev_ns")?,
        avg_ts: number(&mut m, "avg_ts")?,
        stddev_ts: number(&mut m, "stddev_ts")?,
        samples_ns: array(&mut m, "samples_ns", Value::as_u64, "a whole number of ns")?,
        samples_ts: array(
            &mut m,
            "samples_ts",
            |x| x.as_f64().filter(|x| x.is_finite()),
            "a number",
        )?,
        other: m.into_iter().collect(),
    })
}

/// A whole number of ns as llama-bench writes it (an integer), other values as they are.
fn ns_value(x: f64) -> Value {
    if x.fract() == 0.0 && x >= 0.0 && x < u64::MAX as f64 {
        Value::from(x as u64)
    } else {
        Value::from(x)
    }
}

impl LlamaBenchRecord {
    /// The record's fields as JSON values in llama-bench's order; fields llama-bench does not know follow, sorted.
    /// Absent fields are left out.
    pub fn fields(&self) -> Vec<(String, Value)> {
        let s = |x: &Option<String>| x.clone().map(Value::from);
        let mut out = Vec::new();
        for &name in FIELDS {
            let v = match name {
                "build_commit" => s(&self.build_commit),
                "build_number" => self.build_number.map(Value::from),
                "cpu_info" => s(&self.cpu_info),
                "gpu_info" => s(&self.gpu_info),
                "backends" => s(&self.backends),
                "model_filename" => s(&self.model_filename),
                "model_type" => s(&self.model_type),
                "model_size" => self.model_size.map(Value::from),
                "model_n_params" => self.model_n_params.map(Value::from),
                "n_batch" => self.n_batch.map(Value::from),
                "n_ubatch" => self.n_ubatch.map(Value::from),
                "n_threads" => self.n_threads.map(Value::from),
                "type_k" => s(&self.type_k),
                "type_v" => s(&self.type_v),
                "n_gpu_layers" => self.n_gpu_layers.map(Value::from),
                "flash_attn" => self.flash_attn.map(Value::from),
                "n_prompt" => Some(Value::from(self.n_prompt)),
                "n_gen" => Some(Value::from(self.n_gen)),
                "n_depth" => Some(Value::from(self.n_depth)),
                "test_time" => s(&self.test_time),
                "avg_ns" => self.avg_ns.map(ns_value),
                "stddev_ns" => self.stddev_ns.map(ns_value),
                "avg_ts" => self.avg_ts.map(Value::from),
                "stddev_ts" => self.stddev_ts.map(Value::from),
                "samples_ns" => Some(Value::from(self.samples_ns.clone())),
                "samples_ts" => Some(Value::from(self.samples_ts.clone())),
                other => self.other.get(other).cloned(),
            };
            if let Some(v) = v {
                out.push((name.to_string(), v));
            }
        }
        for (k, v) in &self.other {
            if !FIELDS.contains(&k.as_str()) {
                out.push((k.clone(), v.clone()));
            }
        }
        out
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE: [&str; 6] = [
        include_str!("../../results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0/llama-bench-round1.json"),
        include_str!("../../results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0/llama-bench-round2.json"),
        include_str!("../../results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0/llama-bench-round3.json"),
        include_str!("../../results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0/llama-bench-round4.json"),
        include_str!("../../results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0/llama-bench-round5.json"),
        include_str!("../../results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0/llama-bench-round6.json"),
    ];
    const TOKENMETER: &str = include_str!(
        "../../results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0/tokenmeter-round1.result.json"
    );

    fn tokenmeter_file() -> ResultFile {
        super::super::file::read_result_str(TOKENMETER, Path::new("tokenmeter-round1.result.json"))
            .unwrap()
    }

    #[test]
    fn every_committed_llama_bench_json_reads_with_its_tests_and_samples() {
        for text in REFERENCE {
            assert!(looks_like(text));
            let r = read_str(text).unwrap();
            assert_eq!(r.len(), 2);
            assert_eq!((r[0].n_prompt, r[0].n_gen, r[0].n_depth), (512, 0, 0));
            assert_eq!((r[1].n_prompt, r[1].n_gen, r[1].n_depth), (0, 128, 0));
            for x in &r {
                assert_eq!(x.samples_ns.len(), 5);
                assert_eq!(x.samples_ts.len(), 5);
                assert_eq!(x.flash_attn, Some(-1));
                assert_eq!(x.n_threads, Some(2));
                assert_eq!(x.model_type.as_deref(), Some("qwen2 1B Q4_0"));
                assert_eq!(x.other["cpu_mask"], Value::from("0x0"));
                assert_eq!(x.other["poll"], Value::from(50));
                assert!(x.avg_ts.unwrap() > 0.0);
            }
        }
        let r = read_str(REFERENCE[0]).unwrap();
        assert_eq!(r[0].avg_ns, Some(2904469515.0));
        assert_eq!(r[0].samples_ns[0], 2607551551);
        assert_eq!(r[0].samples_ts[0], 196.353);
        // every field of the record is either typed or kept
        let keys: Vec<String> = r[0].fields().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, FIELDS);
    }

    /// Reference round 1's first record as `llama-bench -o csv` writes it.
    const CSV: &str = "build_commit,build_number,cpu_info,gpu_info,backends,model_filename,model_type,model_size,\
model_n_params,n_batch,n_ubatch,n_threads,cpu_mask,cpu_strict,poll,type_k,type_v,n_gpu_layers,n_cpu_moe,split_mode,\
main_gpu,no_kv_offload,flash_attn,devices,tensor_split,tensor_buft_overrides,load_mode,lazy_mode,embeddings,\
no_op_offload,no_host,repack,fit_target,fit_min_ctx,n_prompt,n_gen,n_depth,test_time,avg_ns,stddev_ns,avg_ts,stddev_ts
\"llama-cpp-sys-2-0.1.161\",\"0\",\"AMD EPYC\",\"\",\"CPU\",\"/tmp/qwen2.5-0.5b-q4_0.gguf\",\"qwen2 1B Q4_0\",\
\"278139392\",\"494032768\",\"2048\",\"512\",\"2\",\"0x0\",\"0\",\"50\",\"f16\",\"f16\",\"-1\",\"0\",\"layer\",\"0\",\
\"0\",\"-1\",\"auto\",\"0.00\",\"none\",\"auto\",\"auto\",\"0\",\"0\",\"0\",\"1\",\"0\",\"0\",\"512\",\"0\",\"0\",\
\"2026-11-25T03:59:33Z\",\"2904469515\",\"352990592\",\"178.244826\",\"20.247865\"
\"llama-cpp-sys-2-0.1.161\",\"0\",\"AMD EPYC\",\"\",\"CPU\",\"/tmp/a \"\"quoted\"\", name.gguf\",\"qwen2 1B Q4_0\",\
\"278139392\",\"494032768\",\"2048\",\"512\",\"2\",\"0x0\",\"0\",\"50\",\"f16\",\"f16\",\"-1\",\"0\",\"layer\",\"0\",\
\"0\",\"-1\",\"auto\",\"0.00\",\"none\",\"auto\",\"auto\",\"0\",\"0\",\"0\",\"1\",\"0\",\"0\",\"0\",\"128\",\"0\",\
\"2026-11-25T03:59:50Z\",\"3199503974\",\"172796860\",\"40.097943\",\"2.123520\"
";

    #[test]
    fn csv_in_llama_benchs_style_reads_as_the_json_does_without_samples() {
        assert!(looks_like(CSV));
        assert_eq!(detect(CSV), LlamaBenchFormat::Csv);
        let r = read_str(CSV).unwrap();
        let json = &read_str(REFERENCE[0]).unwrap()[0];
        let expected = LlamaBenchRecord {
            samples_ns: vec![],
            samples_ts: vec![],
            ..json.clone()
        };
        assert_eq!(r[0], expected);
        assert_eq!(
            r[1].model_filename.as_deref(),
            Some("/tmp/a \"quoted\", name.gguf")
        );
        assert_eq!((r[1].n_prompt, r[1].n_gen), (0, 128));
        assert_eq!(r[1].stddev_ts, Some(2.12352));
    }

    #[test]
    fn jsonl_reads_one_record_per_line() {
        let json = read_str(REFERENCE[1]).unwrap();
        let mut out = Vec::new();
        write_jsonl(&json, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text
            .starts_with("{\"build_commit\": \"llama-cpp-sys-2-0.1.161\", \"build_number\": 0,"));
        assert!(looks_like(&text));
        assert_eq!(detect(&text), LlamaBenchFormat::Jsonl);
        assert_eq!(read_str(&text).unwrap(), json);
    }

    #[test]
    fn an_old_record_with_bool_flash_attn_and_no_depth_reads() {
        let old = r#"[{"build_commit": "3b2c5f3", "build_number": 2954, "cuda": false, "vulkan": false,
            "kompute": false, "metal": true, "sycl": false, "rpc": "0", "gpu_blas": true, "blas": true,
            "cpu_info": "Apple M2", "gpu_info": "Apple M2", "model_filename": "models/7B/q4_0.gguf",
            "model_type": "llama 7B Q4_0", "model_size": 3825065984, "model_n_params": 6738415616,
            "n_batch": 2048, "n_ubatch": 512, "n_threads": 4, "type_k": "f16", "type_v": "f16",
            "n_gpu_layers": 99, "split_mode": "layer", "main_gpu": 0, "no_kv_offload": false,
            "flash_attn": true, "tensor_split": "0.00", "use_mmap": true, "embeddings": false,
            "n_prompt": 0, "n_gen": 128, "test_time": "2024-05-21T10:00:00Z", "avg_ns": 3330000000,
            "stddev_ns": 10000000, "avg_ts": 38.44, "stddev_ts": 0.12,
            "samples_ns": [3320000000, 3340000000], "samples_ts": [38.55, 38.32]}]"#;
        let r = &read_str(old).unwrap()[0];
        assert_eq!(r.flash_attn, Some(1));
        assert_eq!(r.n_depth, 0);
        assert_eq!(r.build_number, Some(2954));
        assert_eq!(r.other["metal"], Value::Bool(true));
        assert_eq!(r.other["use_mmap"], Value::Bool(true));
        assert_eq!(r.samples_ns, vec![3320000000, 3340000000]);
        // written back, llama-bench's fields come first and the old ones after
        let mut out = Vec::new();
        write_jsonl(std::slice::from_ref(r), &mut out).unwrap();
        assert_eq!(&read_str(std::str::from_utf8(&out).unwrap()).unwrap()[0], r);
    }

    #[test]
    fn from_case_round_trips_through_jsonl_and_csv() {
        let file = tokenmeter_file();
        let records: Vec<LlamaBenchRecord> =
            file.cases.iter().map(|c| from_case(&file, c)).collect();
        let r = &records[0];
        assert_eq!(r.build_commit.as_deref(), Some("llama-cpp-sys-2-0.1.161"));
        assert_eq!(r.build_number, Some(0));
        assert_eq!(r.test_time.as_deref(), Some("2026-11-25T03:59:01Z"));
        assert_eq!(r.samples_ns, file.cases[0].summary.samples_ns);
        let keys: Vec<String> = r.fields().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, FIELDS, "every field llama-bench writes, in its order");

        let mut jsonl = Vec::new();
        write_jsonl(&records, &mut jsonl).unwrap();
        assert_eq!(
            read_str(std::str::from_utf8(&jsonl).unwrap()).unwrap(),
            records
        );

        let mut csv = Vec::new();
        write_csv(&records, &mut csv).unwrap();
        let csv = String::from_utf8(csv).unwrap();
        assert_eq!(csv.lines().next().unwrap(), CSV.lines().next().unwrap());
        let without_samples: Vec<LlamaBenchRecord> = records
            .iter()
            .map(|r| LlamaBenchRecord {
                samples_ns: vec![],
                samples_ts: vec![],
                ..r.clone()
            })
            .collect();
        assert_eq!(read_str(&csv).unwrap(), without_samples);
    }

    #[test]
    fn a_tokenmeter_result_file_is_not_llama_bench_output() {
        assert!(!looks_like(TOKENMETER));
        assert!(!looks_like(
            "{\"schema_version\": 4, \"n_prompt\": 1, \"n_gen\": 2}"
        ));
        assert!(!looks_like("a,b\n1,2\n"));
    }

    #[test]
    fn hostile_input_is_one_line_error_naming_what_is_wrong() {
        let cases = [
            ("", "empty"),
            ("[{\"n_prompt\": 5", "JSON array"),
            ("[{\"n_gen\": 5}]", "record 1: missing n_prompt"),
            ("[{\"n_prompt\": 1e400, \"n_gen\": 1}]", "JSON array"),
            (
                "[{\"n_prompt\": 99999999999, \"n_gen\": 1}]",
                "record 1: n_prompt: expected an integer from 0 to 4294967295",
            ),
            (
                "[{\"n_prompt\": -1, \"n_gen\": 1}]",
                "n_prompt: expected an integer",
            ),
            (
                "[{\"n_prompt\": \"5\", \"n_gen\": 1}]",
                "n_prompt: expected an integer",
            ),
            (
                "[{\"n_prompt\": 1, \"n_gen\": 1, \"flash_attn\": 7}]",
                "flash_attn: expected -1, 0 or 1",
            ),
            (
                "[{\"n_prompt\": 1, \"n_gen\": 1, \"flash_attn\": 300}]",
                "flash_attn: expected an integer",
            ),
            (
                "[{\"n_prompt\": 1, \"n_gen\": 1, \"samples_ns\": [1, -2]}]",
                "samples_ns[1]",
            ),
            (
                "[{\"n_prompt\": 1, \"n_gen\": 1, \"avg_ts\": \"fast\"}]",
                "avg_ts: expected a number",
            ),
            (
                "[{\"n_prompt\": 1, \"n_gen\": 1, \"model_type\": 3}]",
                "model_type: expected a string",
            ),
            ("[1]", "record 1: expected a record object"),
            (
                "{\"n_prompt\": 1, \"n_gen\": 1}\n\n{\"n_gen\": 1}\n",
                "line 3: missing n_prompt",
            ),
            ("{\"n_prompt\": 1, \"n_gen\": 1}\n{\"n_pro", "line 2"),
            (
                "n_prompt,n_gen\n\"1\",\"2\"\n\"x\",\"2\"\n",
                "line 3: n_prompt: expected an integer",
            ),
            ("n_prompt,n_gen\n\"1\",\"2\",\"3\"\n", "line 2"),
            ("hello\n", "not llama-bench output"),
        ];
        for (text, needle) in cases {
            let e = read_str(text).unwrap_err();
            assert!(e.contains(needle), "{text:?}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn read_path_names_the_file() {
        let dir =
            std::env::temp_dir().join(format!("tokenmeter-llama-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("broken.json");
        std::fs::write(&path, "[{\"n_gen\": 1}]").unwrap();
        let e = read_path(&path).unwrap_err().to_string();
        assert!(
            e.contains("broken.json") && e.contains("missing n_prompt"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// What the `llama_bench` fuzz target asserts of any text.
    fn holds_for(text: &str) {
        let _ = looks_like(text);
        match read_str(text) {
            Err(e) => assert!(!e.is_empty() && !e.contains('\n'), "{e:?}"),
            Ok(records) if records.is_empty() => {}
            Ok(records) => {
                let mut jsonl = Vec::new();
                write_jsonl(&records, &mut jsonl).unwrap();
                let again = read_str(std::str::from_utf8(&jsonl).unwrap());
                assert_eq!(again.as_ref(), Ok(&records), "{text:?}");
                write_csv(&records, &mut Vec::new()).unwrap();
            }
        }
    }

    #[test]
    fn the_fuzz_seeds_and_every_truncation_of_them_read_or_fail_in_one_line() {
        let seeds = [
            include_str!("../../fuzz/corpus/llama_bench/llama-bench.json"),
            include_str!("../../fuzz/corpus/llama_bench/llama-bench.csv"),
            include_str!("../../fuzz/corpus/llama_bench/from-tokenmeter.jsonl"),
            include_str!("../../fuzz/corpus/llama_bench/old-version.json"),
        ];
        for seed in seeds {
            assert!(!read_str(seed).unwrap().is_empty());
            for end in (0..seed.len()).filter(|&i| seed.is_char_boundary(i)) {
                holds_for(&seed[..end]);
            }
        }
    }
}
