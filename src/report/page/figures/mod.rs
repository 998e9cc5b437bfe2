//! Chart data: each chart's series of points as the result files (and the cost model) give them, with the files
//! and cases they came from; or, where nothing was measured, the one sentence that says why the chart is left out.
//! Each chart is made in the file of the command that measured its data: `bench` (speed per test, against context
//! depth, power over time), `load` (throughput against latency, the ITL distribution, energy against concurrency)
//! and `cost` (cumulative cost, sensitivity); `chart` holds the types they are made of.

mod bench;
mod chart;
mod cost;
mod load;
#[cfg(test)]
mod tests;

use super::gather::{model_name, Row, Source};
use super::RowCost;
use crate::results::slo::Metric;
pub use bench::{power_time, tg_depth, throughput_bars};
use chart::absent;
pub use chart::{Band, Chart, Figure, Kind, Mark, Point, Rule, RuleAxis, Series};
pub use cost::{cumulative_cost, sensitivity};
pub use load::{energy_concurrency, itl_cdf, throughput_latency};

/// How a row is named in legends: the machine, and the model when the page holds several.
pub fn row_name(rows: &[Row], row: &Row) -> String {
    let several_models = rows.iter().any(|r| r.model_key != rows[0].model_key);
    if several_models {
        format!("{} — {}", row.machine, row.model)
    } else {
        row.machine.clone()
    }
}

/// A load file's series name: its row's, and the file's directory and name when the row has several load files.
fn sweep_name(rows: &[Row], row: &Row, sources: &[Source], i: usize) -> String {
    let base = row_name(rows, row);
    if row.load.len() > 1 {
        let path = std::path::Path::new(&sources[i].path);
        let dir = path
            .parent()
            .and_then(|d| d.file_name())
            .map(|d| format!("{}/", d.to_string_lossy()))
            .unwrap_or_default();
        format!("{base} [{dir}{}]", model_name(&sources[i].path))
    } else {
        base
    }
}

/// Every chart, in page order.
pub fn all(sources: &[Source], rows: &[Row], costs: &[RowCost]) -> Vec<Figure> {
    vec![
        throughput_bars(rows),
        tg_depth(sources, rows),
        throughput_latency(sources, rows, Metric::Ttft),
        throughput_latency(sources, rows, Metric::Itl),
        itl_cdf(sources, rows),
        energy_concurrency(sources, rows),
        power_time(sources, rows),
        cumulative_cost(rows, costs),
        sensitivity(rows, costs),
    ]
}

/// `text` in lines of at most `width` characters, broken after `-`, `_` or `.` where it can be (a longer piece
/// stays whole).
pub fn wrap(text: &str, width: usize) -> String {
    let mut pieces: Vec<String> = Vec::new();
    let mut piece = String::new();
    for ch in text.chars() {
        piece.push(ch);
        if "-_.".contains(ch) {
            pieces.push(std::mem::take(&mut piece));
        }
    }
    if !piece.is_empty() {
        pieces.push(piece);
    }
    let mut lines: Vec<String> = Vec::new();
    for p in pieces {
        match lines.last_mut() {
            Some(line) if line.chars().count() + p.chars().count() <= width => line.push_str(&p),
            _ => lines.push(p),
        }
    }
    lines.join("\n")
}
