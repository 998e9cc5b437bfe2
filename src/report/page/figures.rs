//! Chart data: each chart's series of points as the result files (and the cost model) give them, with the files
//! and cases they came from; or, where nothing was measured, the one sentence that says why the chart is left out.

use super::gather::{level_label, level_load, model_key, model_name, Row, Source};
use super::RowCost;
use crate::cost::measured::load_work_device;
use crate::results::load::LoadSweep;
use crate::results::slo::Metric;
use crate::stats::{LatencyHistogram, Percentile};

#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    /// What the point is (`c=4`, `month 7`); may be empty.
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
    /// Joined by a line (else markers only).
    pub line: bool,
    /// A marker on each point.
    pub markers: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleAxis {
    X,
    Y,
}

/// A limit drawn across the chart (an SLO).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub axis: RuleAxis,
    pub value: f64,
    pub label: String,
}

/// A span of x shaded behind the series: `kind` 0 is shaded darker than 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub x0: f64,
    pub x1: f64,
    pub kind: usize,
    /// What the shading means (`prompt processing`).
    pub label: String,
}

/// A point called out (the operating point, a break-even crossing).
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub x: f64,
    pub y: f64,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Lines,
    /// Grouped bars: a point's x is its category's index; one bar per series in each category.
    Bars {
        categories: Vec<String>,
    },
    /// Horizontal bars from `baseline` to each point's x; a point's y is its category's index (0 at the bottom).
    Tornado {
        categories: Vec<String>,
        baseline: f64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub id: String,
    pub title: String,
    /// Axis titles with their units.
    pub x_label: String,
    pub y_label: String,
    pub kind: Kind,
    pub series: Vec<Series>,
    pub rules: Vec<Rule>,
    pub marks: Vec<Mark>,
    /// Spans of x shaded behind the series (phases).
    pub bands: Vec<Band>,
    /// A logarithmic x axis.
    pub x_log: bool,
    /// Where the points came from.
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    Chart(Chart),
    /// Not drawn: nothing was measured for it, and why.
    Absent {
        id: String,
        title: String,
        why: String,
    },
}

impl Figure {
    pub fn id(&self) -> &str {
        match self {
            Figure::Chart(c) => &c.id,
            Figure::Absent { id, .. } => id,
        }
    }

    pub fn title(&self) -> &str {
        match self {
            Figure::Chart(c) => &c.title,
            Figure::Absent { title, .. } => title,
        }
    }
}

fn absent(id: &str, title: &str, why: impl Into<String>) -> Figure {
    Figure::Absent {
        id: id.into(),
        title: title.into(),
        why: why.into(),
    }
}

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

/// pp and tg t/s per model (categories) and machine (series).
pub fn throughput_bars(rows: &[Row]) -> Figure {
    const ID: &str = "throughput-bars";
    const TITLE: &str = "Prompt processing and generation speed per model and machine";
    let mut categories: Vec<(String, String)> = Vec::new();
    for r in rows {
        for m in [&r.pp_ts, &r.tg_ts].into_iter().flatten() {
            let key = (r.model_key.clone(), m.label.clone());
            if !categories.contains(&key) {
                categories.push(key);
            }
        }
    }
    if categories.is_empty() {
        return absent(
            ID,
            TITLE,
            "no complete pp or tg case (tokenmeter bench) at depth 0 in the result files",
        );
    }
    let several_models = rows.iter().any(|r| r.model_key != rows[0].model_key);
    let machines = super::gather::machines(rows);
    let mut sources = Vec::new();
    let series = machines
        .iter()
        .map(|machine| {
            let mut points = Vec::new();
            for r in rows.iter().filter(|r| r.machine == *machine) {
                for m in [&r.pp_ts, &r.tg_ts].into_iter().flatten() {
                    let x = categories
                        .iter()
                        .position(|c| c.0 == r.model_key && c.1 == m.label)
                        .expect("every measure has its category");
                    points.push(Point {
                        x: x as f64,
                        y: m.value,
                        label: m.label.clone(),
                    });
                    sources.push(format!("{machine}, {}: {}", m.label, m.source));
                }
            }
            Series {
                name: machine.to_string(),
                points,
                line: false,
                markers: true,
            }
        })
        .collect();
    // characters that fit under one bar group at the labels' size
    let width = (super::svg::WIDTH as usize * 85 / 100 / categories.len() / 8).max(8);
    Figure::Chart(Chart {
        id: ID.into(),
        title: TITLE.into(),
        x_label: "test".into(),
        y_label: "tokens/s (mean of repetitions' t/s)".into(),
        kind: Kind::Bars {
            categories: categories
                .into_iter()
                .map(|(key, test)| {
                    if several_models {
                        let model = rows
                            .iter()
                            .find(|r| r.model_key == key)
                            .map_or(key.as_str(), |r| r.model.as_str());
                        let model = model.strip_suffix(".gguf").unwrap_or(model);
                        format!("{test}\n{}", wrap(model, width))
                    } else {
                        test
                    }
                })
                .collect(),
        },
        series,
        rules: Vec::new(),
        marks: Vec::new(),
        bands: Vec::new(),
        x_log: false,
        sources,
    })
}

/// `(n_gen, n_threads)` of a tg test.
type TgKey = (u32, u32);
/// `(n_depth, avg_ts, source)` of one tg case.
type DepthRun = (u32, f64, String);

/// tg t/s against the context depth (cases run with `-d`).
pub fn tg_depth(sources: &[Source], rows: &[Row]) -> Figure {
    const ID: &str = "tg-depth";
    const TITLE: &str = "Generation speed against context depth";
    let mut series = Vec::new();
    let mut from = Vec::new();
    for row in rows {
        // per tg test and thread count, its runs at every depth
        let mut groups: Vec<(TgKey, Vec<DepthRun>)> = Vec::new();
        for &i in &row.bench {
            for (k, c) in sources[i].result.cases.iter().enumerate() {
                let ts = c.usable_ts();
                if c.n_prompt != 0
                    || c.n_gen == 0
                    || model_key(&sources[i].result, &c.model_filename) != row.model_key
                {
                    continue;
                }
                let Some(ts) = ts else { continue };
                let key = (c.n_gen, c.n_threads);
                let at = format!("{} cases[{k}].avg_ts ({})", sources[i].path, c.test);
                match groups.iter_mut().find(|g| g.0 == key) {
                    Some(g) => g.1.push((c.n_depth, ts, at)),
                    None => groups.push((key, vec![(c.n_depth, ts, at)])),
                }
            }
        }
        for ((n_gen, threads), runs) in groups {
            let mut depths: Vec<u32> = runs.iter().map(|r| r.0).collect();
            depths.sort_unstable();
            depths.dedup();
            if !depths.iter().any(|&d| d > 0) {
                continue;
            }
            let points = depths
                .iter()
                .map(|&d| {
                    let at: Vec<&(u32, f64, String)> = runs.iter().filter(|r| r.0 == d).collect();
                    Point {
                        x: d as f64,
                        y: crate::stats::mean(&at.iter().map(|r| r.1).collect::<Vec<f64>>())
                            .unwrap_or(f64::NAN),
                        label: format!("d{d}"),
                    }
                })
                .collect();
            from.extend(runs.iter().map(|r| r.2.clone()));
            series.push(Series {
                name: format!("{} (tg{n_gen}, {threads} threads)", row_name(rows, row)),
                // Two depths joined by a line would draw a straight fall the data does not show: points only.
                line: depths.len() >= 3,
                points,
                markers: true,
            });
        }
    }
    if series.is_empty() {
        return absent(
            ID,
            TITLE,
            "no tg case at a context depth above 0 in the result files (measure with tokenmeter bench -d 0,1024,4096)",
        );
    }
    Figure::Chart(Chart {
        id: ID.into(),
        title: TITLE.into(),
        x_label: "context depth (tokens already in the KV cache)".into(),
        y_label: "generation tokens/s".into(),
        kind: Kind::Lines,
        series,
        rules: Vec::new(),
        marks: Vec::new(),
        bands: Vec::new(),
        x_log: false,
        sources: from,
    })
}

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
            let p95 = |l: &crate::results::load::LevelRecord| match metric {
                Metric::Itl => l.summary.itl_ms.ms.p95,
                _ => l.summary.ttft_ms.ms.p95,
            };
            let field = if metric == Metric::Itl {
                "itl_ms"
            } else {
                "ttft_ms"
            };
            let mut output = Vec::new();
            let mut good = Vec::new();
            for (l, level) in sweep.levels.iter().enumerate() {
                let Some(x) = p95(level) else {
                    from.push(format!(
                        "{} load.levels[{l}]: no {field} p95 (no request reached it): not drawn",
                        sources[i].path
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
                    "{} load.levels[{l}] ({}): {field}.p95, output_tokens_per_s, goodput_output_tokens_per_s",
                    sources[i].path,
                    level_label(level)
                ));
            }
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
            for t in sweep
                .slo
                .iter()
                .filter(|t| t.metric == metric && t.percentile == Percentile::P95)
            {
                let rule = Rule {
                    axis: RuleAxis::X,
                    value: t.max_ms,
                    label: format!("SLO {} ≤ {} ms", t.objective(), t.max_ms),
                };
                if !rules.contains(&rule) {
                    rules.push(rule);
                }
            }
            if let Some(op) = &sweep.operating_point {
                if let Some(level) = sweep.levels.get(op.level_index) {
                    if let Some(x) = p95(level) {
                        marks.push(Mark {
                            x,
                            y: op
                                .goodput_output_tokens_per_s
                                .unwrap_or(op.output_tokens_per_s),
                            label: format!("operating point: {name}, {}", level_label(level)),
                        });
                    }
                }
            }
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
                if let Some(f) = super::gather::level_j_per_token(&sources[i], l) {
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

/// Linear interpolation of `y` over points sorted by `x` (the last point's value past the end).
fn interpolate(points: &[(f64, f64)], x: f64) -> Option<f64> {
    let i = points.windows(2).position(|w| w[0].0 <= x && x <= w[1].0);
    match i {
        Some(i) => {
            let (a, b) = (points[i], points[i + 1]);
            if b.0 == a.0 {
                return Some(b.1);
            }
            Some(a.1 + (x - a.0) / (b.0 - a.0) * (b.1 - a.1))
        }
        None => points.last().map(|p| p.1),
    }
}

/// Cumulative cash by month, local (each priced row) against each cloud offering, break-even crossings marked.
pub fn cumulative_cost(rows: &[Row], costs: &[RowCost]) -> Figure {
    const ID: &str = "cumulative-cost";
    const TITLE: &str = "Cumulative cost by month: local against each cloud offering";
    let priced: Vec<(&Row, &super::Priced)> = rows
        .iter()
        .zip(costs)
        .filter_map(|(r, c)| match c {
            RowCost::Priced(p) => Some((r, p.as_ref())),
            RowCost::Unpriced(_) => None,
        })
        .collect();
    let Some((_, first)) = priced.first() else {
        let why: Vec<String> = rows
            .iter()
            .zip(costs)
            .filter_map(|(r, c)| match c {
                RowCost::Unpriced(why) => Some(format!("{}: {why}", row_name(rows, r))),
                RowCost::Priced(_) => None,
            })
            .collect();
        return absent(
            ID,
            TITLE,
            if why.is_empty() {
                "no result to price".to_string()
            } else {
                format!("the cost model priced no row ({})", why.join("; "))
            },
        );
    };
    let mut series = Vec::new();
    let mut marks = Vec::new();
    let mut from = Vec::new();
    for (row, p) in &priced {
        let Some(local) = p.cumulative.first() else {
            continue;
        };
        let name = row_name(rows, row);
        let curve: Vec<(f64, f64)> = local
            .points
            .iter()
            .map(|c| (c.after_months, c.local_usd))
            .collect();
        series.push(Series {
            name: format!("local: {name}"),
            points: curve
                .iter()
                .map(|&(x, y)| Point {
                    x,
                    y,
                    label: String::new(),
                })
                .collect(),
            line: true,
            markers: false,
        });
        from.push(format!(
            "local: {name}: cost model on {} ({}), hardware '{}', workload '{}'",
            p.report.result_file, p.report.basis_label, p.report.hardware, p.report.workload
        ));
        if let (Some(c), Some(reference)) = (p.report.clouds.first(), &p.report.reference_cloud) {
            if let Some(be) = &c.break_even {
                if let Some(y) = interpolate(&curve, be.after_months) {
                    marks.push(Mark {
                        x: be.after_months,
                        y,
                        label: format!("break-even: {name} vs {reference}, month {}", be.month),
                    });
                }
            }
        }
    }
    for cloud in &first.cumulative {
        series.push(Series {
            name: format!("cloud: {}", cloud.cloud),
            points: cloud
                .points
                .iter()
                .map(|c| Point {
                    x: c.after_months,
                    y: c.cloud_usd,
                    label: String::new(),
                })
                .collect(),
            line: true,
            markers: false,
        });
    }
    from.push(format!(
        "clouds: workload '{}' at each offering's prices (models.toml [[cloud]])",
        first.report.workload
    ));
    Figure::Chart(Chart {
        id: ID.into(),
        title: TITLE.into(),
        x_label: "months from the start".into(),
        y_label: "cumulative cost (USD)".into(),
        kind: Kind::Lines,
        series,
        rules: Vec::new(),
        marks,
        bands: Vec::new(),
        x_log: false,
        sources: from,
    })
}

/// The sensitivity tornado of the first priced row: the break-even month with each input moved down and up by the
/// cost model's step, the inputs ranked by effect (the largest at the top).
pub fn sensitivity(rows: &[Row], costs: &[RowCost]) -> Figure {
    const ID: &str = "sensitivity";
    const TITLE: &str = "Sensitivity of the break-even month to each input (tornado)";
    let Some((row, p)) = rows.iter().zip(costs).find_map(|(r, c)| match c {
        RowCost::Priced(p) => Some((r, p.as_ref())),
        RowCost::Unpriced(_) => None,
    }) else {
        return absent(
            ID,
            TITLE,
            "the cost model priced no row (the notes under the comparison say why)",
        );
    };
    let report = &p.report;
    let (Some(t), Some(cloud)) = (&report.sensitivity, &report.reference_cloud) else {
        return absent(ID, TITLE, "no cloud offering to break even against");
    };
    let never = t.horizon_months as f64 + 1.0;
    let moved = t.rows.iter().any(|r| {
        r.break_even_after_months_low.is_some() || r.break_even_after_months_high.is_some()
    });
    if t.break_even_after_months.is_none() && !moved {
        return absent(
            ID,
            TITLE,
            format!(
                "{} never breaks even against {cloud} within {} months, at the configured values or with any input moved ±{:.0}%: nothing to rank",
                row_name(rows, row),
                t.horizon_months,
                t.step_fraction * 100.0
            ),
        );
    }
    let n = t.rows.len();
    let point = |k: usize, v: Option<f64>| Point {
        x: v.unwrap_or(never),
        y: (n - 1 - k) as f64,
        label: if v.is_some() {
            String::new()
        } else {
            "never".into()
        },
    };
    let pct = t.step_fraction * 100.0;
    let series = vec![
        Series {
            name: format!("input −{pct:.0}%"),
            points: t
                .rows
                .iter()
                .enumerate()
                .map(|(k, r)| point(k, r.break_even_after_months_low))
                .collect(),
            line: false,
            markers: true,
        },
        Series {
            name: format!("input +{pct:.0}%"),
            points: t
                .rows
                .iter()
                .enumerate()
                .map(|(k, r)| point(k, r.break_even_after_months_high))
                .collect(),
            line: false,
            markers: true,
        },
    ];
    let baseline = t.break_even_after_months.unwrap_or(never);
    let base_label = match t.break_even_after_months {
        Some(m) => format!("as configured: {m:.1} months"),
        None => format!("as configured: never within {} months", t.horizon_months),
    };
    Figure::Chart(Chart {
        id: ID.into(),
        title: format!("{TITLE}: {} against {cloud}", row_name(rows, row)),
        x_label: format!("break-even (months elapsed; never is drawn at {never:.0})"),
        y_label: String::new(),
        kind: Kind::Tornado {
            categories: t.rows.iter().rev().map(|r| r.input.to_string()).collect(),
            baseline,
        },
        series,
        rules: vec![Rule {
            axis: RuleAxis::X,
            value: baseline,
            label: base_label,
        }],
        marks: Vec::new(),
        bands: Vec::new(),
        x_log: false,
        sources: vec![format!(
            "cost model on {} (hardware '{}', workload '{}'): each input moved ±{pct:.0}%, the others held",
            report.result_file, report.hardware, report.workload
        )],
    })
}

/// Power over time of one `bench` case (the first with power readings on the devices that did the work, a
/// prompt-and-generation case preferred), each repetition's prompt processing and generation shaded.
pub fn power_time(sources: &[Source], rows: &[Row]) -> Figure {
    const ID: &str = "power-time";
    const TITLE: &str = "Power over time";
    let mut candidates = Vec::new();
    for row in rows {
        for &i in &row.bench {
            for (k, c) in sources[i].result.cases.iter().enumerate() {
                if model_key(&sources[i].result, &c.model_filename) != row.model_key {
                    continue;
                }
                let work = crate::cost::WorkDevice::of_case(c);
                for (e, en) in c.energy.iter().enumerate() {
                    let readings: Vec<(f64, f64)> = en
                        .total
                        .samples
                        .iter()
                        .filter_map(|s| Some((s.t_ns as f64 / 1e9, s.power_w?)))
                        .collect();
                    let ours = work.is(en.total.source, en.total.device.as_deref());
                    if readings.len() >= 2 && ours {
                        let pg = c.n_prompt > 0 && c.n_gen > 0;
                        candidates.push((pg, row, i, k, e, readings));
                    }
                }
            }
        }
    }
    let Some(pos) = candidates
        .iter()
        .position(|c| c.0)
        .or((!candidates.is_empty()).then_some(0))
    else {
        let why = rows
            .iter()
            .find_map(|r| r.energy_absent.clone())
            .unwrap_or_else(|| {
                "no bench case holds power readings of the devices that did the work".into()
            });
        return absent(ID, TITLE, why);
    };
    let (_, row, i, k, e, readings) = candidates.swap_remove(pos);
    let c = &sources[i].result.cases[k];
    let device = c.energy[e]
        .total
        .device
        .clone()
        .unwrap_or_else(|| "device".into());
    let mut bands = Vec::new();
    for s in &c.samples {
        let Some(start) = s.start_ns else { continue };
        let t = |ns: u64| ns as f64 / 1e9;
        let prompt_end = start + s.prompt_ns.unwrap_or(0);
        if s.prompt_ns.is_some() {
            bands.push(Band {
                x0: t(start),
                x1: t(prompt_end),
                kind: 0,
                label: "prompt processing".into(),
            });
        }
        if s.gen_ns.is_some() {
            bands.push(Band {
                x0: t(prompt_end),
                x1: t(start + s.total_ns),
                kind: 1,
                label: "generation".into(),
            });
        }
    }
    Figure::Chart(Chart {
        id: ID.into(),
        title: format!("{TITLE}: {}, {} on {device}", row_name(rows, row), c.test),
        x_label: "time since the case's window began (s)".into(),
        y_label: "power (W)".into(),
        kind: Kind::Lines,
        series: vec![Series {
            name: device.clone(),
            points: readings
                .into_iter()
                .map(|(x, y)| Point {
                    x,
                    y,
                    label: String::new(),
                })
                .collect(),
            line: true,
            markers: false,
        }],
        rules: Vec::new(),
        marks: Vec::new(),
        bands,
        x_log: false,
        sources: vec![format!(
            "{} cases[{k}].energy[{e}].total.samples (power_w, t_ns); phases from cases[{k}].samples (start_ns, prompt_ns, total_ns)",
            sources[i].path
        )],
    })
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn long_model_names_wrap_after_separators() {
        assert_eq!(
            wrap("qwen2.5-0.5b-q4_0-seed1", 14),
            "qwen2.5-0.5b-\nq4_0-seed1"
        );
        assert_eq!(wrap("tiny", 14), "tiny");
        assert_eq!(
            wrap("averyveryverylongname", 8),
            "averyveryverylongname",
            "a piece longer than the width stays whole"
        );
        assert!(wrap("llama-3.2-1b-q4_0-seed1", 10)
            .lines()
            .all(|l| l.len() <= 10));
    }
}
