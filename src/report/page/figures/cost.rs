//! The charts of the cost model: cumulative cost by month, local against each cloud offering, and the sensitivity
//! tornado of the break-even month.

use super::{absent, row_name, Chart, Figure, Kind, Mark, Point, Rule, RuleAxis, Series};
use crate::report::page::gather::Row;
use crate::report::page::{Priced, RowCost};

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
    let priced: Vec<(&Row, &Priced)> = rows
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
