//! github-action-benchmark's custom formats: `customBiggerIsBetter` and `customSmallerIsBetter`, each an array of
//! `{"name", "unit", "value", "range", "extra"}`. The tool takes one direction per file, so this makes two
//! documents (`-bigger`, `-smaller`). `range` (`± 1.23`, the half-width of the 95% confidence interval) is present
//! only where the figure has one; `extra` gives the sample count and the source file and case.

use super::{Document, Measure};
use serde::Serialize;

#[derive(Serialize)]
struct Entry {
    name: String,
    unit: &'static str,
    value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    range: Option<String>,
    extra: String,
}

fn entries(measures: &[Measure], bigger: bool) -> Vec<u8> {
    let list: Vec<Entry> = measures
        .iter()
        .filter(|m| m.bigger_is_better == bigger)
        .map(|m| Entry {
            name: format!("{} {}", m.benchmark, m.measure),
            unit: m.unit,
            value: m.value,
            range: m
                .interval
                .map(|(lo, hi)| format!("± {}", round((hi - lo) / 2.0))),
            extra: format!("{}; {}", m.samples, m.source),
        })
        .collect();
    let mut bytes = serde_json::to_vec_pretty(&list).expect("entries serialize");
    bytes.push(b'\n');
    bytes
}

/// Four significant digits, as a range is read.
fn round(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let digits = (3 - x.abs().log10().floor() as i32).max(0) as usize;
    format!("{x:.digits$}")
}

pub fn render(measures: &[Measure]) -> Vec<Document> {
    vec![
        Document {
            suffix: Some("-bigger"),
            bytes: entries(measures, true),
        },
        Document {
            suffix: Some("-smaller"),
            bytes: entries(measures, false),
        },
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn ranges_keep_four_significant_digits() {
        assert_eq!(super::round(1.23456), "1.235");
        assert_eq!(super::round(1234.567), "1235");
        assert_eq!(super::round(0.0012346), "0.001235");
    }
}
