//! `load` output: one row (or record) per level, then the operating point.

use super::{absent_notes, fixed, percentile_ms, percentile_trio_ms, Format, ABSENT};
use crate::analysis::load::missed_objectives;
use crate::results::load::{LevelSummary, LoadSweep};
use crate::stats::Percentile;
use comfy_table::{presets::ASCII_MARKDOWN, CellAlignment, Table};

/// `met`, `missed ttft_p95`, with the low-count checks and unfinished requests named.
fn slo_cell(s: &LevelSummary) -> String {
    let Some(met) = s.slo_met else {
        return ABSENT.into();
    };
    let mut parts = vec![if met {
        "met".to_string()
    } else {
        format!("missed {}", missed_objectives(s).join(", "))
    }];
    for c in s.slo_checks.iter().filter(|c| c.low_sample_count) {
        parts.push(format!("{} n={}", c.objective, c.count));
    }
    if s.requests_not_completed > 0 {
        parts.push(format!("{} unfinished", s.requests_not_completed));
    }
    if s.interrupted {
        parts.push("interrupted".into());
    }
    parts.join("; ")
}

fn level_name(s: &LevelSummary) -> String {
    let name = match (s.concurrency, s.rate) {
        (Some(c), _) => format!("c={c}"),
        (_, Some(r)) => format!("{r}/s ({} slots)", s.slots),
        _ => ABSENT.into(),
    };
    if s.replicate {
        name + " (run again)"
    } else {
        name
    }
}

fn markdown(sweep: &LoadSweep) -> String {
    let mut t = Table::new();
    t.load_preset(ASCII_MARKDOWN).set_header([
        "level",
        "done/arrived",
        "req/s",
        "output t/s",
        "goodput t/s",
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
            fixed(s.goodput_output_tokens_per_s, 2),
            format!("{:.2}", s.total_tokens_per_s),
            percentile_trio_ms(&s.ttft_ms.ms),
            percentile_trio_ms(&s.itl_ms.ms),
            percentile_trio_ms(&s.e2e_ms.ms),
            percentile_ms(&s.queue_ms.ms, Percentile::P95),
            slo_cell(s),
            fixed(l.energy.first().and_then(|e| e.avg_power_w), 1),
            fixed(l.energy.first().and_then(|e| e.j_per_token), 4),
        ]);
    }
    for i in 1..6 {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut out = t.to_string() + "\n";
    let windows: Vec<String> = sweep
        .levels
        .iter()
        .filter_map(|l| {
            let s = &l.summary;
            let warmup = s.warmup_s.map_or(String::new(), |w| {
                format!(
                    "warm-up {w:.2} s ({} requests not measured), ",
                    s.requests_warmup
                )
            });
            Some(format!(
                "{}: {warmup}arrivals over {:.2} s, drained {:.2} s",
                level_name(s),
                s.arrival_window_s?,
                s.drain_s.unwrap_or(0.0)
            ))
        })
        .collect();
    if !windows.is_empty() {
        out += &format!(
            "
rates over each level's measured arrival window (after a closed loop's staggered warm-up, until \
             --duration or the request count stopped arrivals); the requests that arrived in it were then served \
             to their end, those unfinished after --duration's drain bound count as not done: {}\n",
            windows.join("; ")
        );
    }
    out += &absent_notes(sweep.levels.iter().flat_map(|l| l.energy.iter()));
    if !sweep.slo.is_empty() {
        let slo: Vec<String> = sweep
            .slo
            .iter()
            .map(|t| format!("{} ≤ {} ms", t.objective(), t.max_ms))
            .collect();
        out += &match &sweep.operating_point {
            Some(op) => format!(
                "\noperating point (SLO {}, highest goodput among levels meeting it over all arrivals): {} — \
                 goodput {} output t/s ({} req/s); {:.2} output t/s, {:.2} total t/s, {:.2} req/s in all\n",
                slo.join(", "),
                level_name(&sweep.levels[op.level_index].summary),
                fixed(op.goodput_output_tokens_per_s, 2),
                fixed(op.goodput_requests_per_s, 2),
                op.output_tokens_per_s,
                op.total_tokens_per_s,
                op.requests_per_s
            ),
            None => format!(
                "\noperating point (SLO {}): none — no uninterrupted level met the SLO over all arrivals\n",
                slo.join(", ")
            ),
        };
    }
    if let Some(stop) = &sweep.stopped_early {
        out += &format!(
            "\nsweep stopped after {}: {}; not run: {}\n",
            stop.after,
            stop.reason,
            stop.levels_not_run.join(", ")
        );
    }
    out
}

fn csv(sweep: &LoadSweep) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let metrics = ["ttft_ms", "itl_ms", "e2e_ms", "queue_ms"];
    let stats = [
        "p50", "p90", "p95", "p99", "p999", "min", "max", "mean", "count",
    ];
    let mut header: Vec<String> = [
        "concurrency",
        "rate",
        "slots",
        "requests_started",
        "requests_completed",
        "requests_warmup",
        "duration_s",
        "warmup_s",
        "arrival_window_s",
        "drain_s",
        "requests_per_s",
        "output_tokens_per_s",
        "goodput_output_tokens_per_s",
        "goodput_requests_per_s",
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
            s.requests_warmup.to_string(),
            s.duration_s.to_string(),
            opt(s.warmup_s),
            opt(s.arrival_window_s),
            opt(s.drain_s),
            s.requests_per_s.to_string(),
            s.output_tokens_per_s.to_string(),
            opt(s.goodput_output_tokens_per_s),
            opt(s.goodput_requests_per_s),
            s.total_tokens_per_s.to_string(),
            s.slo_met.map(|b| b.to_string()).unwrap_or_default(),
        ];
        for d in [&s.ttft_ms, &s.itl_ms, &s.e2e_ms, &s.queue_ms] {
            let p = &d.ms;
            row.extend([p.p50, p.p90, p.p95, p.p99, p.p999, p.min, p.max, p.mean].map(opt));
            row.push(p.count.to_string());
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
