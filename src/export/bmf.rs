//! Bencher Metric Format: `{"<benchmark>": {"<measure>": {"value", "lower_value", "upper_value"}}}`, the bounds
//! present only where the figure has a confidence interval.

use super::Measure;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
struct Metric {
    value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    lower_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upper_value: Option<f64>,
}

pub fn render(measures: &[Measure]) -> Vec<u8> {
    let mut doc: BTreeMap<&str, BTreeMap<&str, Metric>> = BTreeMap::new();
    for m in measures {
        doc.entry(&m.benchmark).or_default().insert(
            &m.measure,
            Metric {
                value: m.value,
                lower_value: m.interval.map(|i| i.0),
                upper_value: m.interval.map(|i| i.1),
            },
        );
    }
    let mut bytes = serde_json::to_vec_pretty(&doc).expect("BMF serializes");
    bytes.push(b'\n');
    bytes
}
