//! placeholder
use serde::{Deserialize, Serialize};
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
    pub flash_attn: Option<i8>,
    pub n_prompt: u32,
    pub n_gen: u32,
    pub n_depth: u32,
    pub test_time: Option<String>,
    pub avg_ns: Option<f64>,
    pub stddev_ns: Option<f64>,
    pub avg_ts: Option<f64>,
    pub stddev_ts: Option<f64>,
    pub samples_ns: Vec<u64>,
    pub samples_ts: Vec<f64>,
    pub other: BTreeMap<String, serde_json::Value>,
}
pub fn looks_like(text: &str) -> bool {
    let _ = text;
    false
}
pub fn read_str(text: &str) -> Result<Vec<LlamaBenchRecord>, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}
