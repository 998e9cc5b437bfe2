//! Reading llama-bench output: which format a text is in (JSON array, JSON lines or CSV), whether it is
//! llama-bench output at all, and its records, each error one line naming the record or line.

use super::decode::from_value;
use super::{LlamaBenchFormat, LlamaBenchRecord};
use crate::results::file::ResultFileError;
use serde_json::{Map, Value};
use std::path::Path;

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
