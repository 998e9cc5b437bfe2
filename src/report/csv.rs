//! `-o csv`: llama-bench's columns; sample lists are space-separated inside one field.

use super::Exporter;
use crate::results::CaseRecord;

pub struct Csv;

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn joined<T: ToString>(v: &[T]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

impl Exporter for Csv {
    fn render(&self, records: &[CaseRecord]) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
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
            "type_k",
            "type_v",
            "n_gpu_layers",
            "offloaded",
            "no_kv_offload",
            "flash_attn",
            "use_mmap",
            "repack",
            "embeddings",
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
            "test",
            "model_sha256",
            "repetitions",
            "complete",
            "numerics",
            "numerics_nmse",
            "numerics_kl",
        ])
        .expect("in-memory csv");
        for r in records {
            let s = &r.summary;
            w.write_record([
                r.build_commit.clone(),
                opt(r.build_number),
                r.cpu_info.clone(),
                r.gpu_info.clone(),
                r.backends.clone(),
                r.model_filename.clone(),
                r.model_type.clone(),
                r.model_size.to_string(),
                r.model_n_params.to_string(),
                r.n_batch.to_string(),
                r.n_ubatch.to_string(),
                r.n_threads.to_string(),
                r.type_k.clone(),
                r.type_v.clone(),
                r.n_gpu_layers.to_string(),
                r.offloaded.map(|o| o.cell()).unwrap_or_default(),
                r.no_kv_offload.to_string(),
                r.flash_attn.to_string(),
                r.use_mmap.to_string(),
                r.repack.to_string(),
                r.embeddings.to_string(),
                r.n_prompt.to_string(),
                r.n_gen.to_string(),
                r.n_depth.to_string(),
                r.test_time.clone(),
                opt(s.avg_ns),
                opt(s.stddev_ns),
                opt(s.avg_ts),
                opt(s.stddev_ts),
                joined(&s.samples_ns),
                joined(&s.samples_ts),
                r.test.clone(),
                r.model_sha256.clone().unwrap_or_default(),
                r.repetitions.to_string(),
                r.complete.to_string(),
                numerics_verdict(r),
                opt(r
                    .numerics
                    .as_ref()
                    .and_then(|n| n.distance.as_ref())
                    .map(|d| d.nmse)),
                opt(r
                    .numerics
                    .as_ref()
                    .and_then(|n| n.distance.as_ref())
                    .map(|d| d.kl_divergence)),
            ])
            .expect("in-memory csv");
        }
        String::from_utf8(w.into_inner().expect("in-memory csv")).expect("csv is utf-8")
    }
}

/// `passed`, `failed`, `not_verified`, or empty for a result written before the gate.
fn numerics_verdict(r: &CaseRecord) -> String {
    use crate::results::record::NumericsVerdict as V;
    match r.numerics.as_ref().map(|n| n.verdict) {
        Some(V::Passed) => "passed",
        Some(V::Failed) => "failed",
        Some(V::NotVerified) => "not_verified",
        None => "",
    }
    .to_string()
}
