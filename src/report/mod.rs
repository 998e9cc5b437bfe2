//! Output formats for benchmark records: one exporter per format behind one trait. Reads records only.

pub mod compare;
pub mod cost;
mod csv;
mod json;
pub mod load;
mod markdown;
pub mod page;

use crate::results::telemetry::EnergyRecord;
use crate::results::CaseRecord;
use crate::stats::{Percentile, Percentiles};

/// Renders a set of case records as text.
pub trait Exporter {
    fn render(&self, records: &[CaseRecord]) -> String;
}

/// `-o md|csv|json|jsonl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Csv,
    Json,
    JsonLines,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "md" => Format::Markdown,
            "csv" => Format::Csv,
            "json" => Format::Json,
            "jsonl" => Format::JsonLines,
            _ => return None,
        })
    }

    pub fn exporter(self) -> Box<dyn Exporter> {
        match self {
            Format::Markdown => Box::new(markdown::Markdown),
            Format::Csv => Box::new(csv::Csv),
            Format::Json => Box::new(json::Json { lines: false }),
            Format::JsonLines => Box::new(json::Json { lines: true }),
        }
    }
}

pub use crate::text::ABSENT;

/// A figure with `decimals`, or `ABSENT`.
pub fn fixed(v: Option<f64>, decimals: usize) -> String {
    v.map(|x| format!("{x:.decimals$}"))
        .unwrap_or_else(|| ABSENT.into())
}

/// Milliseconds to three significant digits (`0.412`, `4.12`, `41.2`, `412.0`), or `ABSENT`.
pub fn ms(v: Option<f64>) -> String {
    let decimals = match v {
        Some(x) if x.abs() < 1.0 => 3,
        Some(x) if x.abs() < 10.0 => 2,
        _ => 1,
    };
    fixed(v, decimals)
}

/// A latency percentile in ms, `(n=4)` after it when it came from fewer samples than it needs.
pub fn percentile_ms(p: &Percentiles, q: Percentile) -> String {
    let mut text = ms(p.get(q));
    if p.is_low(q) {
        text += &format!(" (n={})", p.count);
    }
    text
}

/// `p50 / p95 / p99` in ms, `(n=4)` after them when any came from fewer samples than it needs.
pub fn percentile_trio_ms(p: &Percentiles) -> String {
    let qs = [Percentile::P50, Percentile::P95, Percentile::P99];
    let mut text = qs.map(|q| ms(p.get(q))).join(" / ");
    if qs.into_iter().any(|q| p.is_low(q)) {
        text += &format!(" (n={})", p.count);
    }
    text
}

/// The distinct reasons energy was not measured, one line each, for under a table.
pub fn absent_notes<'a>(records: impl Iterator<Item = &'a EnergyRecord>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for r in records {
        if let Some(reason) = r.absent_reason.as_deref() {
            if !seen.contains(&reason) {
                seen.push(reason);
            }
        }
    }
    seen.iter().map(|r| format!("\n{r}\n")).collect()
}

/// Bytes as llama-bench prints model sizes: MiB below one GiB, GiB above.
pub fn human_bytes(bytes: u64) -> String {
    let mib = bytes as f64 / (1u64 << 20) as f64;
    if mib < 1024.0 {
        format!("{mib:.2} MiB")
    } else {
        format!("{:.2} GiB", mib / 1024.0)
    }
}

/// Parameter counts as llama-bench prints them: millions or billions.
pub fn human_params(n: u64) -> String {
    if n < 1_000_000_000 {
        format!("{:.2} M", n as f64 / 1e6)
    } else {
        format!("{:.2} B", n as f64 / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_counts_use_llama_bench_units() {
        assert_eq!(human_bytes(491_400_032), "468.64 MiB");
        assert_eq!(human_bytes(3_825_065_984), "3.56 GiB");
        assert_eq!(human_params(494_032_768), "494.03 M");
        assert_eq!(human_params(6_738_415_616), "6.74 B");
    }
}
