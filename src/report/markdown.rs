//! `-o md` (the default): llama-bench's markdown table. Parameters that vary between cases, or differ from
//! llama-bench's defaults, get their own column.

use super::{
    absent_notes, fixed, human_bytes, human_params, percentile_ms, percentile_trio_ms, Exporter,
    ABSENT,
};
use crate::results::warnings::NOISY_CV;
use crate::results::CaseRecord;
use crate::stats::Percentile;
use comfy_table::{presets::ASCII_MARKDOWN, CellAlignment, Table};

pub struct Markdown;

type Column = (
    &'static str,
    fn(&CaseRecord) -> String,
    Option<&'static str>,
);

/// Optional columns: header, value, llama-bench's default (shown when any record differs or values vary).
const OPTIONAL: &[Column] = &[
    ("ngl", |r| r.n_gpu_layers.to_string(), None),
    (
        "offloaded",
        |r| r.offloaded.map_or(ABSENT.to_string(), |o| o.cell()),
        None,
    ),
    ("n_batch", |r| r.n_batch.to_string(), Some("2048")),
    ("n_ubatch", |r| r.n_ubatch.to_string(), Some("512")),
    ("type_k", |r| r.type_k.clone(), Some("f16")),
    ("type_v", |r| r.type_v.clone(), Some("f16")),
    ("fa", |r| r.flash_attn.to_string(), Some("-1")),
    ("nkvo", |r| u8::from(r.no_kv_offload).to_string(), Some("0")),
    ("mmap", |r| u8::from(r.use_mmap).to_string(), Some("1")),
    ("repack", |r| u8::from(r.repack).to_string(), Some("1")),
];

/// The numerics gate's cell: `ok`, `FAIL` or `—`.
fn numerics(r: &CaseRecord) -> String {
    r.numerics.as_ref().map_or(ABSENT, |n| n.cell()).to_string()
}

fn rate(r: &CaseRecord) -> String {
    let s = &r.summary;
    let mut text = format!("{} ± {}", fixed(s.avg_ts, 2), fixed(s.stddev_ts, 2));
    if s.cv_ts.is_some_and(|cv| cv > NOISY_CV) {
        text.push_str(" (noisy)");
    }
    if !r.complete {
        text.push_str(" (partial)");
    }
    text
}

impl Exporter for Markdown {
    fn render(&self, records: &[CaseRecord]) -> String {
        let gpu = records.iter().any(|r| r.backends != "CPU");
        let shown: Vec<&Column> = OPTIONAL
            .iter()
            .filter(|(name, value, default)| {
                let first = records.first().map(value);
                let varies = records.iter().any(|r| Some(value(r)) != first);
                let differs = match default {
                    Some(d) => records.iter().any(|r| value(r) != *d),
                    None => matches!(*name, "ngl" | "offloaded") && gpu,
                };
                varies || differs
            })
            .collect();
        let mut header = vec!["model", "size", "params", "backend", "threads"];
        header.extend(shown.iter().map(|c| c.0));
        header.extend(["test", "t/s", "numerics"]);
        let mut table = Table::new();
        table.load_preset(ASCII_MARKDOWN).set_header(header.clone());
        for r in records {
            let mut row = vec![
                r.model_type.clone(),
                human_bytes(r.model_size),
                human_params(r.model_n_params),
                r.backends.clone(),
                r.n_threads.to_string(),
            ];
            row.extend(shown.iter().map(|c| (c.1)(r)));
            row.extend([r.test.clone(), rate(r), numerics(r)]);
            table.add_row(row);
        }
        for (i, name) in header.iter().enumerate() {
            if !matches!(*name, "model" | "backend" | "test" | "type_k" | "type_v") {
                if let Some(col) = table.column_mut(i) {
                    col.set_cell_alignment(CellAlignment::Right);
                }
            }
        }
        table.to_string()
            + "\n"
            + &devices_note(records)
            + &numerics_note(records)
            + &latency_table(records)
            + &energy_table(records)
    }
}

/// Under the table, for an offloaded run: the GPU devices and, per case, the buffers that hold the weights.
fn devices_note(records: &[CaseRecord]) -> String {
    let Some(first) = records.iter().find(|r| r.backends != "CPU") else {
        return String::new();
    };
    let mut out = format!("\ndevices: {} ({})\n", first.gpu_info, first.backends);
    let mut seen = Vec::new();
    for r in records {
        if r.weight_buffers_mib.is_empty() || seen.contains(&&r.weight_buffers_mib) {
            continue;
        }
        seen.push(&r.weight_buffers_mib);
        let buffers: Vec<String> = r
            .weight_buffers_mib
            .iter()
            .map(|(name, mib)| format!("{name} {mib:.1} MiB"))
            .collect();
        out += &format!("weights, ngl {}: {}\n", r.n_gpu_layers, buffers.join(", "));
    }
    out
}

/// Under the table: what the numerics column compared, the largest distances seen, and each failure or skip.
fn numerics_note(records: &[CaseRecord]) -> String {
    let gated: Vec<&crate::results::record::Numerics> =
        records.iter().filter_map(|r| r.numerics.as_ref()).collect();
    let Some(first) = gated.iter().find(|n| n.distance.is_some()) else {
        return match gated.iter().find_map(|n| n.reason.as_ref()) {
            Some(why) => format!("\nnumerics: not verified ({why})\n"),
            None => String::new(),
        };
    };
    let worst = |f: fn(&crate::stats::numerics::LogitsDistance) -> f64| {
        gated
            .iter()
            .filter_map(|n| n.distance.as_ref().map(f))
            .fold(0.0f64, f64::max)
    };
    let mut out = format!(
        "\nnumerics: logits of a fixed prompt against {} on the same weights; largest NMSE {:.1e} (limit {:.0e}), \
         KL {:.1e} nats (limit {:.0e})\n",
        first.reference.as_deref().unwrap_or("the CPU reference"),
        worst(|d| d.nmse),
        first.nmse_max,
        worst(|d| d.kl_divergence),
        first.kl_max
    );
    for r in records {
        if let Some(n) = r.numerics.as_ref().filter(|n| n.cell() != "ok") {
            if let Some(why) = &n.reason {
                out += &format!("- {} {}: {} ({why})\n", r.model_type, r.test, n.cell());
            }
        }
    }
    out
}

/// Energy per case and phase, and generation against the memory-bandwidth roofline; `—` where nothing was
/// measured, with the reason under the table.
fn energy_table(records: &[CaseRecord]) -> String {
    let mut table = Table::new();
    table.load_preset(ASCII_MARKDOWN).set_header([
        "model",
        "test",
        "device",
        "energy J",
        "avg W",
        "peak W",
        "pp J/token",
        "tg J/token",
        "coverage",
        "roofline",
    ]);
    for r in records {
        let roofline = r
            .roofline
            .as_ref()
            .map(|x| fixed(x.fraction, 2))
            .unwrap_or_else(|| ABSENT.into());
        for e in &r.energy {
            let t = &e.total;
            table.add_row([
                r.model_type.clone(),
                r.test.clone(),
                t.device.clone().unwrap_or_else(|| ABSENT.into()),
                fixed(t.energy_j, 2),
                fixed(t.avg_power_w, 1),
                fixed(t.peak_power_w, 1),
                fixed(e.prompt.as_ref().and_then(|p| p.j_per_token), 4),
                fixed(e.generation.as_ref().and_then(|g| g.j_per_token), 4),
                fixed(t.coverage.map(|c| c * 100.0), 0)
                    + if t.coverage.is_some() { "%" } else { "" },
                roofline.clone(),
            ]);
        }
    }
    for i in 3..10 {
        if let Some(col) = table.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut out = format!("\n{table}\n");
    out += &absent_notes(
        records
            .iter()
            .flat_map(|r| r.energy.iter().map(|e| &e.total)),
    );
    let bandwidth: Vec<String> = records
        .iter()
        .filter_map(|r| r.roofline.as_ref())
        .map(|x| format!("{:.1} GB/s ({})", x.bandwidth_gb_per_s, x.bandwidth_source))
        .collect();
    if let Some(b) = bandwidth.first() {
        out +=
            &format!("\nroofline: tg t/s × weight bytes read per token ÷ memory bandwidth {b}\n");
    }
    for r in records {
        let Some(x) = r.roofline.as_ref() else {
            continue;
        };
        if let (Some(c), Some(binding)) = (&x.compute, &x.binding) {
            out += &format!(
                "{} {}: compute ceiling {} t/s ({:.1} GB/s, {}), memory ceiling {} t/s; {binding} binds, tg at {} of it\n",
                r.model_type,
                r.test,
                fixed(c.tg_ceiling_t_per_s, 0),
                c.gb_per_s,
                c.source,
                fixed(
                    (x.bytes_per_token > 0)
                        .then(|| x.bandwidth_gb_per_s * 1e9 / x.bytes_per_token as f64),
                    0
                ),
                fixed(x.tighter_fraction, 2)
            );
        }
    }
    out
}

/// Latency of the cases that produce tokens: TTFT (the end of prompt processing, or of the first decode without
/// a prompt), the gaps between output tokens and the whole timed region, with `(n=…)` beside percentiles that
/// came from fewer samples than they need.
fn latency_table(records: &[CaseRecord]) -> String {
    let shown: Vec<&CaseRecord> = records.iter().filter(|r| r.n_gen > 0).collect();
    if shown.is_empty() {
        return String::new();
    }
    let mut table = Table::new();
    table.load_preset(ASCII_MARKDOWN).set_header([
        "model",
        "test",
        "TTFT p50 ms",
        "ITL p50/p95/p99 ms",
        "E2E p50 ms",
    ]);
    for r in shown {
        let s = &r.summary;
        table.add_row([
            r.model_type.clone(),
            r.test.clone(),
            percentile_ms(&s.ttft_ms.ms, Percentile::P50),
            percentile_trio_ms(&s.itl_ms.ms),
            percentile_ms(&s.e2e_ms.ms, Percentile::P50),
        ]);
    }
    for i in 2..5 {
        if let Some(col) = table.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    format!("\n{table}\n")
}
