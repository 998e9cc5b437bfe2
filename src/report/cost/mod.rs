//! Text reports of the cost model: `tokenmeter cost` (markdown tables with units) and `tokenmeter decide` (one line
//! per dimension). Money is rounded here and only here: `format` prints numbers and tables, `sections` writes each
//! part of the cost document.

mod format;
mod sections;

use super::ABSENT;
use crate::cost::decide::Decision;
use crate::cost::CostReport;
pub use format::{num, usd, usd_unit};

/// `cost`: the heading, throughput and capacity, the local cost, then those the report holds of the comparison with
/// each cloud, the sensitivity and the hybrid plans, and last the assumptions.
pub fn cost_markdown(r: &CostReport) -> String {
    let mut s = String::new();
    sections::heading(&mut s, r);
    sections::throughput(&mut s, r);
    sections::local(&mut s, r);
    sections::clouds(&mut s, r);
    sections::sensitivity(&mut s, r);
    sections::hybrid_fallback(&mut s, r);
    sections::hybrid_tiered(&mut s, r);
    sections::assumptions(&mut s, r);
    s
}

/// `decide`: one line per dimension, then the recommendation.
pub fn decision_text(d: &Decision) -> String {
    let mut s = String::new();
    for (i, l) in d.lines.iter().enumerate() {
        let answer = match (&l.answer, &l.source) {
            (Some(a), Some(src)) => format!("{a} ({src})"),
            _ => ABSENT.to_string(),
        };
        let mark = if l.on_path { "→" } else { " " };
        s.push_str(&format!(
            "{}. {:<17} {:<36} {mark} {}\n",
            i + 1,
            l.dimension,
            answer,
            l.verdict
        ));
    }
    s.push_str(&format!("recommendation: {}\n", d.recommendation));
    s
}
