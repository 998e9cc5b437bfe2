//! llama-bench's own record (`-o json`, `-o jsonl`, `-o csv`): read from any version of llama-bench, built from a
//! tokenmeter case, and written in llama-bench's field order. The known fields are typed; every other field is
//! kept as read, so a record round-trips.
//!
//! This module holds the record and its field order; `read` detects the format and reads it, `decode` types a
//! record's fields, and `write` builds records from tokenmeter cases and writes them.

mod decode;
mod read;
#[cfg(test)]
mod tests;
mod write;

pub use read::{detect, looks_like, read_path, read_str};
pub use write::{build_commit, from_case, write_csv, write_jsonl};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

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
