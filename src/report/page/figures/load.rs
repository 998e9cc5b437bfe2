//! The charts of `load` results: throughput against a latency's p95 per load level (with the SLO and the operating
//! point), the inter-token latency distribution, and energy per output token against concurrency.

use super::{
    absent, row_name, sweep_name, Chart, Figure, Kind, Mark, Point, Rule, RuleAxis, Series,
};
use crate::cost::measured::load_work_device;
use crate::report::page::gather::{self, level_label, level_load, Row, Source};
use crate::results::load::{LevelRecord, LoadSweep};
use crate::results::slo::Metric;
use crate::stats::{LatencyHistogram, Percentile};

/// Goodput and output t/s against a latency's p95, one point per level of each `load` sweep; the SLO's p95
/// limit on that latency drawn, the operating point marked.
pub fn throughput_latency(sources: &[Source], rows: &[Row], metric: Metric) -> Figure {
    let (id, title, x_label) = match metric {
        Metric::Itl => (
            "throughput-itl",
            "Throughput against inter-token latency (p95), per load level",
            "ITL p95 (ms)",
        ),
        _ => (
            "throughput-ttft",
            "Throughput against time to first token (p95), per load level",
            "TTFT p95 (ms)",
        ),
    };
    let mut series = Vec::new();
    let mut rules = Vec::new();
    let mut marks = Vec::new();
    let mut from = Vec::new();
    for row in rows {
        for &i in &row.load {
            let Some(sweep) = &sources[i].result.load else {
                continue;
            };
            let name = sweep_name(rows, row, sources, i);
            series.extend(latency_curves(
                &sources[i].path,
                &name,
                sweep,
                metric,
                &mut from,
            ));
            for rule in slo_rules(sweep, metric) {
                if !rules.contains(&rule) {
                    rules.push(rule);
                }
            }
            marks.extend(operating_mark(&name, sweep, metric));
        }
    }
    if series.is_empty() {
        return absent(
            id,
            title,
            "no load result in the input (measure with tokenmeter load … --slo …)",
        );
    }
    Figure::Chart(Chart {
        id: id.into(),
        title: title.into(),
        x_label: x_label.into(),
        y_label: "output tokens/s (goodput: requests that met the SLO)".into(),
        kind: Kind::Lines,
        series,
        rules,
        marks,
        bands: Vec::new(),
        x_log: false,
        sources: from,
    })
}

/// A level's p95 of the latency `metric` (TTFT unless ITL); `None` when no request reached it.
fn p95(level: &LevelRecord, metric: Metric) -> Option<f64> {
    match metric {
        Metric::Itl => level.summary.itl_ms.ms.p95,
        _ => level.summary.ttft_ms.ms.p95,
    }
}

/// The goodput curve of a sweep (when any level has a goodput) and its output tokens/s curve, against the p95 of
/// `metric`; each level's source, or why it is not drawn, pushed on `from`.
fn latency_curves(
    path: &str,
    name: &str,
    sweep: &LoadSweep,
    metric: Metric,
    from: &mut Vec<String>,
) -> Vec<Series> {
    let field = if metric == Metric::Itl {
        "itl_ms"
    } else {
        "ttft_ms"
    };
    let mut output = Vec::new();
    let mut good = Vec::new();
    for (l, level) in sweep.levels.iter().enumerate() {
        let Some(x) = p95(level, metric) else {
            from.push(format!(
                "{path} load.levels[{l}]: no {field} p95 (no request reached it): not drawn"
            ));
            continue;
        };
        let label = level_label(level);
        output.push(Point {
            x,
            y: level.summary.output_tokens_per_s,
            label: label.clone(),
        });
        if let Some(g) = level.summary.goodput_output_tokens_per_s {
            good.push(Point { x, y: g, label });
        }
        from.push(format!(
            "{path} load.levels[{l}] ({}): {field}.p95, output_tokens_per_s, goodput_output_tokens_per_s",
            level_label(level)
        ));
    }
    let mut series = Vec::new();
    if !good.is_empty() {
        series.push(Series {
            name: format!("{name}: goodput"),
            points: good,
            line: true,
            markers: true,
        });
    }
    series.push(Series {
        name: format!("{name}: output tokens/s"),
        points: output,
        line: true,
        markers: true,
    });
    series
}

/// The sweep's SLO limits on the p95 of `metric`, as lines across the x axis.
fn slo_rules(sweep: &LoadSweep, metric: Metric) -> Vec<Rule> {
    sweep
        .slo
        .iter()
        .filter(|t| t.metric == metric && t.percentile == Percentile::P95)
        .map(|t| Rule {
            axis: RuleAxis::X,
            value: t.max_ms,
            label: format!("SLO {} ≤ {} ms", t.objective(), t.max_ms),
        })
        .collect()
}

/// The sweep's operating point at its level's p95 of `metric` and its goodput (its output t/s without one);
/// `None` without an operating point or when that level has no p95.
fn operating_mark(name: &str, sweep: &LoadSweep, metric: Metric) -> Option<Mark> {
    let op = sweep.operating_point.as_ref()?;
    let level = sweep.levels.get(op.level_index)?;
    let x = p95(level, metric)?;
    Some(Mark {
        x,
        y: op
            .goodput_output_tokens_per_s
            .unwrap_or(op.output_tokens_per_s),
        label: format!("operating point: {name}, {}", level_label(level)),
    })
}

/// The empirical CDF of every inter-token gap, from the stored HdrHistograms: per row the fastest tg test's runs
/// merged, and per load level.
pub fn itl_cdf(sources: &[Source], rows: &[Row]) -> Figure {
    const ID: &str = "itl-cdf";
    const TITLE: &str = "Inter-token latency distribution (CDF)";
    let mut series = Vec::new();
    let mut from = Vec::new();
    let curve = |h: &LatencyHistogram| -> Vec<Point> {
        h.cdf_ms()
            .into_iter()
            .map(|(x, y)| Point {
                x,
                y,
                label: String::new(),
            })
            .collect()
    };
    for row in rows {
        if let Some(tg) = &row.tg_ts {
            let mut merged = LatencyHistogram::new();
            let mut runs = Vec::new();
            // the cases the row's tg figure is the mean of: one test, one thread count
            for &(i, k) in &row.tg_cases {
                let c = &sources[i].result.cases[k];
                match LatencyHistogram::from_base64(&c.summary.itl_ms.hdr_base64) {
                    Ok(h) => {
                        merged.merge(&h);
                        runs.push(format!("{} cases[{k}].itl_ms.hdr_base64", sources[i].path));
                    }
                    Err(e) => from.push(format!(
                        "{} cases[{k}].itl_ms.hdr_base64: {e}: left out",
                        sources[i].path
                    )),
                }
            }
            if !merged.is_empty() {
                series.push(Series {
                    name: format!("{}: bench {}", row_name(rows, row), tg.label),
                    points: curve(&merged),
                    line: true,
                    markers: false,
                });
                from.push(format!(
                    "{} bench {}: {}",
                    row_name(rows, row),
                    tg.label,
                    runs.join(", ")
                ));
            }
        }
        for &i in &row.load {
            let Some(sweep) = &sources[i].result.load else {
                continue;
            };
            for (l, level) in sweep.levels.iter().enumerate() {
                let at = format!("{} load.levels[{l}].itl_ms.hdr_base64", sources[i].path);
                match LatencyHistogram::from_base64(&level.summary.itl_ms.hdr_base64) {
                    Ok(h) if !h.is_empty() => {
                        series.push(Series {
                            name: format!(
                                "{}: load {}",
                                sweep_name(rows, row, sources, i),
                                level_label(level)
                            ),
                            points: curve(&h),
                            line: true,
                            markers: false,
                        });
                        from.push(at);
                    }
                    Ok(_) => {}
                    Err(e) => from.push(format!("{at}: {e}: left out")),
                }
            }
        }
    }
    if series.is_empty() {
        return absent(
            ID,
            TITLE,
            "no generated tokens in the result files (no tg case and no load level with a token gap)",
        );
    }
    Figure::Chart(Chart {
        id: ID.into(),
        title: TITLE.into(),
        x_label: "inter-token latency (ms, logarithmic)".into(),
        y_label: "fraction of token gaps at or below".into(),
        kind: Kind::Lines,
        series,
        rules: Vec::new(),
        marks: Vec::new(),
        bands: Vec::new(),
        x_log: true,
        sources: from,
    })
}

fn concurrency_axis(sweep: &LoadSweep) -> &'static str {
    if sweep.levels.iter().all(|l| l.summary.concurrency.is_some()) {
        "concurrency"
    } else {
        "arrival rate"
    }
}

/// Joules per output token of each load level on the devices that did the work.
pub fn energy_concurrency(sources: &[Source], rows: &[Row]) -> Figure {
    const ID: &str = "energy-concurrency";
    const TITLE: &str = "Energy per output token against concurrency";
    let mut series = Vec::new();
    let mut from = Vec::new();
    let mut why: Vec<String> = Vec::new();
    let mut axes: Vec<&str> = Vec::new();
    for row in rows {
        for &i in &row.load {
            let r = &sources[i].result;
            let Some(sweep) = &r.load else { continue };
            let mut points = Vec::new();
            for (l, level) in sweep.levels.iter().enumerate() {
                if let Some(f) = gather::level_j_per_token(&sources[i], l) {
                    points.push(Point {
                        x: level_load(level),
                        y: f.value,
                        label: level_label(level),
                    });
                    from.push(f.source);
                }
            }
            if points.is_empty() {
                let reason = r
                    .telemetry
                    .as_ref()
                    .and_then(|t| t.energy_absent_reason.clone())
                    .unwrap_or_else(|| {
                        format!(
                            "energy: no level measured it on the {}",
                            load_work_device(r).label()
                        )
                    });
                let line = format!("{}: {reason}", row_name(rows, row));
                if !why.contains(&line) {
                    why.push(line);
                }
                continue;
            }
            let axis = concurrency_axis(sweep);
            if !axes.contains(&axis) {
                axes.push(axis);
            }
            series.push(Series {
                name: sweep_name(rows, row, sources, i),
                points,
                line: true,
                markers: true,
            });
        }
    }
    if series.is_empty() {
        return absent(
            ID,
            TITLE,
            if why.is_empty() {
                "no load result in the input (measure with tokenmeter load)".to_string()
            } else {
                why.join("; ")
            },
        );
    }
    from.extend(why.into_iter().map(|w| format!("not drawn: {w}")));
    let x_label = match axes.as_slice() {
        ["concurrency"] => "concurrency (requests in flight)",
        ["arrival rate"] => "arrival rate (requests/s)",
        _ => "concurrency (requests in flight) or arrival rate (requests/s, open loop)",
    };
    Figure::Chart(Chart {
        id: ID.into(),
        title: TITLE.into(),
        x_label: x_label.into(),
        y_label: "energy per output token (J)".into(),
        kind: Kind::Lines,
        series,
        rules: Vec::new(),
        marks: Vec::new(),
        bands: Vec::new(),
        x_log: false,
        sources: from,
    })
}
