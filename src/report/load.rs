//! `load` output: one row (or record) per level, then the operating point.

use super::{absent_notes, fixed, Format, ABSENT};
use crate::results::load::{LevelSummary, LoadSweep};
use crate::stats::Percentiles;
use comfy_table::{presets::ASCII_MARKDOWN, CellAlignment, Table};

fn ms(v: Option<f64>) -> String {
    fixed(v, 1)
}

fn trio(p: &Percentiles) -> String {
    format!("{} / {} / {}", ms(p.p50), ms(p.p95), ms(p.p99))
}

fn level_name(s: &LevelSummary) -> String {
    match (s.concurrency, s.rate) {
        (Some(c), _) => format!("c={c}"),
        (_, Some(r)) => format!("{r}/s ({} slots)", s.slots),
        _ => ABSENT.into(),
    }
}

fn markdown(sweep: &LoadSweep) -> String {
    let mut t = Table::new();
    t.load_preset(ASCII_MARKDOWN).set_header([
        "level",
        "requests done",
        "req/s",
        "output t/s",
        "total t/s",
        "TTFT p50/p95/p99 ms",
        "ITL p50/p95/p99 ms",
        "E2E p50/p95/p99 ms",
        "queue p95 ms",
        "SLO",
        "avg W",
        "J/output token",
    ]);
    for l in &sweep.levels {
        let s = &l.summary;
        t.add_row([
            level_name(s),
            format!("{}/{}", s.requests_completed, s.requests_started),
            format!("{:.2}", s.requests_per_s),
            format!("{:.2}", s.output_tokens_per_s),
            format!("{:.2}", s.total_tokens_per_s),
            trio(&s.ttft_ms.ms),
            trio(&s.itl_ms.ms),
            trio(&s.e2e_ms.ms),
            ms(s.queue_ms.ms.p95),
            match s.slo_met {
                Some(true) => "met".into(),
                Some(false) => "missed".into(),
                None => ABSENT.into(),
            },
            fixed(l.energy.first().and_then(|e| e.avg_power_w), 1),
            fixed(l.energy.first().and_then(|e| e.j_per_token), 4),
        ]);
    }
    for i in 1..5 {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut out = t.to_string() + "\n";
    out += &absent_notes(sweep.levels.iter().flat_map(|l| l.energy.iter()));
    if !sweep.slo.is_empty() {
        let slo: Vec<String> = sweep
            .slo
            .iter()
            .map(|t| format!("{}_{} ≤ {} ms", t.metric, t.percentile, t.max_ms))
            .collect();
        out += &match &sweep.operating_point {
            Some(op) => format!(
                "\noperating point (SLO {}): {} — {:.2} output t/s, {:.2} total t/s, {:.2} req/s\n",
                slo.join(", "),
                level_name(&sweep.levels[op.level_index].summary),
                op.output_tokens_per_s,
                op.total_tokens_per_s,
                op.requests_per_s
            ),
            None => format!(
                "\noperating point (SLO {}): none — no level met the SLO\n",
                slo.join(", ")
            ),
        };
    }
    out
}

fn csv(sweep: &LoadSweep) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let metrics = ["ttft_ms", "itl_ms", "e2e_ms", "queue_ms"];
    let stats = ["p50", "p90", "p95", "p99", "p999", "min", "max", "mean"];
    let mut header: Vec<String> = [
        "concurrency",
        "rate",
        "slots",
        "requests_started",
        "requests_completed",
        "duration_s",
        "requests_per_s",
        "output_tokens_per_s",
        "total_tokens_per_s",
        "slo_met",
    ]
    .map(String::from)
    .to_vec();
    for m in metrics {
        header.extend(stats.iter().map(|s| format!("{m}_{s}")));
    }
    w.write_record(&header).expect("in-memory csv");
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for l in &sweep.levels {
        let s = &l.summary;
        let mut row = vec![
            s.concurrency.map(|c| c.to_string()).unwrap_or_default(),
            opt(s.rate),
            s.slots.to_string(),
            s.requests_started.to_string(),
            s.requests_completed.to_string(),
            s.duration_s.to_string(),
            s.requests_per_s.to_string(),
            s.output_tokens_per_s.to_string(),
            s.total_tokens_per_s.to_string(),
            s.slo_met.map(|b| b.to_string()).unwrap_or_default(),
        ];
        for d in [&s.ttft_ms, &s.itl_ms, &s.e2e_ms, &s.queue_ms] {
            let p = &d.ms;
            row.extend([p.p50, p.p90, p.p95, p.p99, p.p999, p.min, p.max, p.mean].map(opt));
        }
        w.write_record(&row).expect("in-memory csv");
    }
    String::from_utf8(w.into_inner().expect("in-memory csv")).expect("utf-8")
}

/// Renders a sweep in `format`; JSON records are the level summaries (the raw requests stay in the result file).
pub fn render(format: Format, sweep: &LoadSweep) -> String {
    let summaries: Vec<&LevelSummary> = sweep.levels.iter().map(|l| &l.summary).collect();
    match format {
        Format::Markdown => markdown(sweep),
        Format::Csv => csv(sweep),
        Format::Json => serde_json::to_string_pretty(&summaries).expect("serializes") + "\n",
        Format::JsonLines => summaries
            .iter()
            .map(|s| serde_json::to_string(s).expect("serializes") + "\n")
            .collect(),
    }
}
