//! Text reports of the cost model: `tokenmeter cost` (markdown tables with units) and `tokenmeter decide` (one line
//! per dimension). Money is rounded here and only here.

use super::ABSENT;
use crate::cost::breakeven::BreakEven;
use crate::cost::decide::Decision;
use crate::cost::CostReport;
use comfy_table::{presets::ASCII_MARKDOWN, CellAlignment, Table};

/// `1234567.891` → `1,234,568` (whole units, thousands separated).
fn grouped(x: f64) -> String {
    let neg = x < 0.0;
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if neg && out != "0" {
        format!("-{out}")
    } else {
        out
    }
}

/// Dollars: whole dollars from $1,000, cents below.
pub fn usd(x: f64) -> String {
    if x < 0.0 && format!("{x:.2}") != "-0.00" {
        return format!("-{}", usd(-x));
    }
    if x.abs() >= 1000.0 {
        format!("${}", grouped(x))
    } else {
        format!("${x:.2}")
    }
}

/// Small unit prices ($ per 1M tokens): four significant digits.
pub fn usd_unit(x: f64) -> String {
    if x == 0.0 {
        return "$0".into();
    }
    let decimals = (3 - x.abs().log10().floor() as i32).clamp(0, 6) as usize;
    format!("${x:.decimals$}")
}

/// A plain number for tables: six significant digits, trailing zeros dropped.
pub fn num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let decimals = (5 - x.abs().log10().floor() as i32).clamp(0, 9) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map(f).unwrap_or_else(|| ABSENT.into())
}

fn break_even(b: Option<BreakEven>, horizon: u32) -> String {
    match b {
        Some(b) => format!("month {} ({:.1} months)", b.month, b.after_months),
        None => format!("never (within {horizon} months)"),
    }
}

fn months(m: Option<f64>) -> String {
    opt(m, |m| format!("{m:.1}"))
}

fn table(header: &[&str], rows: Vec<Vec<String>>, right: &[usize]) -> String {
    let mut t = Table::new();
    t.load_preset(ASCII_MARKDOWN).set_header(header.to_vec());
    for r in rows {
        t.add_row(r);
    }
    for &i in right {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t.to_string() + "\n"
}

pub fn cost_markdown(r: &CostReport) -> String {
    let mut s = String::new();
    let push = |s: &mut String, line: String| {
        s.push_str(&line);
        s.push('\n');
    };
    push(
        &mut s,
        format!(
            "# Cost of {} on {} for workload {}",
            std::path::Path::new(&r.model)
                .file_name()
                .map_or_else(|| r.model.clone(), |n| n.to_string_lossy().into_owned()),
            r.hardware,
            r.workload
        ),
    );
    push(&mut s, String::new());
    if let Some(why) = &r.shape_mismatch {
        push(
            &mut s,
            format!("**shape mismatch, priced anyway (--allow-shape-mismatch):** {why}"),
        );
        push(&mut s, String::new());
    }
    push(
        &mut s,
        format!("result: {} ({})", r.result_file, r.basis_label),
    );
    for n in &r.notes {
        push(&mut s, format!("note: {n}"));
    }
    push(&mut s, String::new());

    push(&mut s, "## Throughput and capacity".into());
    push(&mut s, String::new());
    let find = |name: &str| r.assumptions.iter().find(|e| e.input == name);
    let mut rows = Vec::new();
    for (label, name) in [
        ("input (prompt)", "input throughput"),
        ("output (generation)", "output throughput"),
        (
            "output at the SLO operating point",
            "output throughput at the SLO operating point",
        ),
    ] {
        if let Some(e) = find(name) {
            rows.push(vec![
                label.to_string(),
                format!("{:.2} tokens/s", e.value),
                e.source.clone(),
            ]);
        }
    }
    rows.push(vec![
        "device time per request".into(),
        format!("{:.3} s", r.device_seconds_per_request),
        r.basis_label.clone(),
    ]);
    rows.push(vec![
        "capacity per device".into(),
        format!(
            "{} requests/day",
            grouped(r.device_capacity_requests_per_day)
        ),
        "busy every hour".into(),
    ]);
    rows.push(vec![
        "busiest hour".into(),
        format!("{:.2} requests/s", r.peak_requests_per_s),
        "workload volume × peak-to-mean".into(),
    ]);
    rows.push(vec![
        "serving energy".into(),
        format!(
            "{:.2} J/request ({} J/output token)",
            r.serving_energy_j_per_request,
            opt(r.serving_energy_j_per_output_token, |j| format!("{j:.3}"))
        ),
        r.energy_basis.clone(),
    ]);
    if r.idle_measured {
        if let Some(e) = r
            .assumptions
            .iter()
            .find(|e| e.input.starts_with("idle power ("))
        {
            rows.push(vec![
                "idle power".into(),
                format!("{:.2} W", e.value),
                format!("measured: {}", e.source),
            ]);
        }
    }
    s.push_str(&table(&["figure", "value", "source"], rows, &[1]));
    if !r.slo.is_empty() {
        push(&mut s, String::new());
        push(
            &mut s,
            "SLO, single-stream estimate (no queueing; `load` measures percentiles under load):"
                .into(),
        );
        push(&mut s, String::new());
        let rows = r
            .slo
            .iter()
            .map(|c| {
                vec![
                    c.objective.clone(),
                    opt(c.single_stream_estimate_ms, |e| format!("{e:.1} ms")),
                    format!("{:.0} ms", c.max_ms),
                    if c.met { "yes" } else { "no" }.to_string(),
                ]
            })
            .collect();
        s.push_str(&table(
            &["objective", "estimate", "limit", "met"],
            rows,
            &[1, 2],
        ));
    }
    push(&mut s, String::new());

    let l = &r.local;
    push(
        &mut s,
        format!(
            "## Local cost per month: {} device(s) for the busiest hour, {} requests/day",
            l.devices,
            grouped(l.requests_per_day)
        ),
    );
    push(&mut s, String::new());
    let rows = vec![
        vec![
            "hardware (amortised or rented)".into(),
            usd(l.hardware_usd_per_month),
        ],
        vec![
            format!("energy ({} kWh incl. PUE)", grouped(l.energy_kwh_per_month)),
            opt(l.energy_usd_per_month, usd).replace(ABSENT, "included in rent"),
        ],
        vec!["operations".into(), usd(l.ops_usd_per_month)],
        vec!["total".into(), usd(l.total_usd_per_month)],
    ];
    s.push_str(&table(&["item", "USD/month"], rows, &[1]));
    push(
        &mut s,
        format!(
            "\nutilisation {:.1}% · local {} per 1M input tokens · {} per 1M output tokens",
            l.utilisation_fraction * 100.0,
            opt(l.usd_per_1m_input, usd_unit),
            opt(l.usd_per_1m_output, usd_unit)
        ),
    );
    push(&mut s, String::new());

    if !r.clouds.is_empty() {
        push(&mut s, "## Local against the cloud".into());
        push(&mut s, String::new());
        let rows = r
            .clouds
            .iter()
            .map(|c| {
                vec![
                    format!("{}/{}", c.provider, c.model),
                    c.price_applied.label().to_string(),
                    usd(c.cloud_usd_per_month),
                    usd(c.local_usd_per_month),
                    usd(c.local_minus_cloud_usd_per_month),
                    break_even(c.break_even, r.horizon_months),
                    opt(c.break_even_requests_per_day, grouped).replace(ABSENT, "never"),
                ]
            })
            .collect();
        s.push_str(&table(
            &[
                "cloud",
                "price",
                "cloud USD/month",
                "local USD/month",
                "local − cloud",
                "break-even (cumulative, purchase up front)",
                "break-even volume (requests/day)",
            ],
            rows,
            &[2, 3, 4, 6],
        ));
        for n in r.clouds.iter().filter_map(|c| c.price_note.as_ref()) {
            push(&mut s, format!("\nnote: {n}"));
        }
        push(&mut s, String::new());
    }

    if let (Some(t), Some(reference)) = (&r.sensitivity, &r.reference_cloud) {
        push(
            &mut s,
            format!(
                "## Sensitivity: each input ±{:.0}%, against {reference}, ranked by effect on break-even",
                t.step_fraction * 100.0
            ),
        );
        push(&mut s, String::new());
        push(
            &mut s,
            format!(
                "base: break-even {}, local − cloud {}/month",
                match t.break_even_after_months {
                    Some(m) => format!("after {m:.1} months"),
                    None => format!("never (within {} months)", t.horizon_months),
                },
                usd(t.local_minus_cloud_usd_per_month)
            ),
        );
        push(&mut s, String::new());
        let rows = t
            .rows
            .iter()
            .map(|row| {
                vec![
                    row.input.to_string(),
                    months(row.break_even_after_months_low).replace(ABSENT, "never"),
                    months(row.break_even_after_months_high).replace(ABSENT, "never"),
                    usd(row.local_minus_cloud_usd_per_month_low),
                    usd(row.local_minus_cloud_usd_per_month_high),
                    format!("{:.1}", row.effect_months),
                ]
            })
            .collect();
        s.push_str(&table(
            &[
                "input",
                "break-even at −20% (months)",
                "at +20%",
                "local − cloud at −20% (USD/month)",
                "at +20%",
                "effect (months)",
            ],
            rows,
            &[1, 2, 3, 4, 5],
        ));
        push(&mut s, String::new());
    }

    if let Some(h) = &r.hybrid {
        push(
            &mut s,
            format!(
                "## Hybrid, fallback pattern: {} hours simulated (seed {}, noise ±{:.0}%), overflow to {}",
                h.hours,
                h.shape.seed,
                h.shape.noise_fraction * 100.0,
                r.reference_cloud.as_deref().unwrap_or(ABSENT)
            ),
        );
        push(&mut s, String::new());
        push(
            &mut s,
            format!(
                "{} requests in the year; busiest hour {} requests; one device serves {} requests/hour",
                grouped(h.requests_per_year),
                grouped(h.peak_requests_per_hour),
                grouped(h.device_capacity_requests_per_hour)
            ),
        );
        if h.truncated {
            push(
                &mut s,
                format!(
                    "note: all-local needs {} devices; the table stops at {}",
                    h.all_local_devices,
                    h.rows.len() - 1
                ),
            );
        }
        push(&mut s, String::new());
        let rows = h
            .rows
            .iter()
            .map(|row| {
                let mark = if row.devices == h.optimal_devices {
                    " ← optimal"
                } else {
                    ""
                };
                vec![
                    format!("{}{mark}", row.devices),
                    usd(row.local_usd_per_year),
                    usd(row.cloud_usd_per_year),
                    usd(row.total_usd_per_year),
                    format!("{:.1}%", row.overflow_share_fraction * 100.0),
                    months(row.break_even_after_months)
                        .replace(ABSENT, if row.devices == 0 { ABSENT } else { "never" }),
                ]
            })
            .collect();
        s.push_str(&table(
            &[
                "local devices",
                "local USD/year",
                "cloud USD/year",
                "total USD/year",
                "overflow",
                "break-even vs all-cloud (months)",
            ],
            rows,
            &[1, 2, 3, 4, 5],
        ));
        let o = h.optimal();
        let line = if o.devices == 0 {
            format!(
                "\noptimal: no local devices (all cloud), {}/year",
                usd(o.total_usd_per_year)
            )
        } else {
            format!(
                "\noptimal: {} device(s), {}/year, {:.1}% of requests overflow to the cloud, break-even after {} months",
                o.devices,
                usd(o.total_usd_per_year),
                o.overflow_share_fraction * 100.0,
                months(o.break_even_after_months).replace(ABSENT, "never")
            )
        };
        push(&mut s, line);
        push(&mut s, String::new());
    }

    if let Some(t) = &r.tiered {
        push(
            &mut s,
            format!(
                "## Hybrid, tiered pattern: {:.0}% simple requests local, the rest to {}",
                t.simple_share_fraction * 100.0,
                r.reference_cloud.as_deref().unwrap_or(ABSENT)
            ),
        );
        push(&mut s, String::new());
        let rows = vec![
            vec![
                format!("local ({} device(s))", t.local.devices),
                grouped(t.local_requests_per_day),
                usd(t.local.total_usd_per_month),
            ],
            vec![
                "cloud".into(),
                grouped(t.cloud_requests_per_day),
                usd(t.cloud_usd_per_month),
            ],
            vec![
                "tiered total".into(),
                String::new(),
                usd(t.total_usd_per_month),
            ],
            vec![
                "all cloud".into(),
                String::new(),
                usd(t.all_cloud_usd_per_month),
            ],
            vec![
                "all local".into(),
                String::new(),
                usd(t.all_local_usd_per_month),
            ],
        ];
        s.push_str(&table(
            &["route", "requests/day", "USD/month"],
            rows,
            &[1, 2],
        ));
        push(&mut s, String::new());
    }

    push(&mut s, "## Assumptions".into());
    push(&mut s, String::new());
    let rows = r
        .assumptions
        .iter()
        .map(|e| {
            vec![
                e.input.clone(),
                num(e.value),
                e.unit.clone(),
                e.source_kind.label().to_string(),
                e.source.clone(),
            ]
        })
        .collect();
    s.push_str(&table(
        &["input", "value", "unit", "kind", "source"],
        rows,
        &[1],
    ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_rounded_only_for_print() {
        assert_eq!(usd(15_000.0), "$15,000");
        assert_eq!(usd(-1_234_567.8), "-$1,234,568");
        assert_eq!(usd(-5.0), "-$5.00");
        assert_eq!(usd(499.996), "$500.00");
        assert_eq!(usd_unit(0.123456), "$0.1235");
        assert_eq!(usd_unit(12.5), "$12.50");
        assert_eq!(grouped(999.4), "999");
        assert_eq!(num(8001.953601953603), "8001.95");
        assert_eq!(num(30.416666666666668), "30.4167");
        assert_eq!(num(0.165), "0.165");
        assert_eq!(num(100000.0), "100000");
    }
}
