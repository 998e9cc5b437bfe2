//! The sections of `tokenmeter cost`'s markdown, one function each, in the order the document shows them. A
//! section the report has nothing for (no cloud offering, no hybrid plan) writes nothing.

use super::format::{break_even, grouped, months, num, opt, table, usd, usd_unit};
use crate::cost::CostReport;
use crate::report::ABSENT;

/// `line` and a line break.
fn push(s: &mut String, line: String) {
    s.push_str(&line);
    s.push('\n');
}

/// The title (model, hardware, workload), a shape mismatch priced anyway, the result file and its notes.
pub(super) fn heading(s: &mut String, r: &CostReport) {
    push(
        s,
        format!(
            "# Cost of {} on {} for workload {}",
            std::path::Path::new(&r.model)
                .file_name()
                .map_or_else(|| r.model.clone(), |n| n.to_string_lossy().into_owned()),
            r.hardware,
            r.workload
        ),
    );
    push(s, String::new());
    if let Some(why) = &r.shape_mismatch {
        push(
            s,
            format!("**shape mismatch, priced anyway (--allow-shape-mismatch):** {why}"),
        );
        push(s, String::new());
    }
    push(s, format!("result: {} ({})", r.result_file, r.basis_label));
    for n in &r.notes {
        push(s, format!("note: {n}"));
    }
    push(s, String::new());
}

/// The measured throughput, the device time and capacity it gives, the serving energy and idle power; then the
/// SLO estimates.
pub(super) fn throughput(s: &mut String, r: &CostReport) {
    push(s, "## Throughput and capacity".into());
    push(s, String::new());
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
    slo_estimates(s, r);
    push(s, String::new());
}

/// Each SLO objective's single-stream estimate against its limit.
fn slo_estimates(s: &mut String, r: &CostReport) {
    if r.slo.is_empty() {
        return;
    }
    push(s, String::new());
    push(
        s,
        "SLO, single-stream estimate (no queueing; `load` measures percentiles under load):".into(),
    );
    push(s, String::new());
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

/// The local cost per month, item by item, with the utilisation and the price per 1M tokens it comes to.
pub(super) fn local(s: &mut String, r: &CostReport) {
    let l = &r.local;
    push(
        s,
        format!(
            "## Local cost per month: {} device(s) for the busiest hour, {} requests/day",
            l.devices,
            grouped(l.requests_per_day)
        ),
    );
    push(s, String::new());
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
        s,
        format!(
            "\nutilisation {:.1}% · local {} per 1M input tokens · {} per 1M output tokens",
            l.utilisation_fraction * 100.0,
            opt(l.usd_per_1m_input, usd_unit),
            opt(l.usd_per_1m_output, usd_unit)
        ),
    );
    push(s, String::new());
}

/// Local against each cloud offering: the monthly costs, their difference and the break-even.
pub(super) fn clouds(s: &mut String, r: &CostReport) {
    if r.clouds.is_empty() {
        return;
    }
    push(s, "## Local against the cloud".into());
    push(s, String::new());
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
        push(s, format!("\nnote: {n}"));
    }
    push(s, String::new());
}

/// The break-even and the monthly difference against the reference cloud with each input moved down and up.
pub(super) fn sensitivity(s: &mut String, r: &CostReport) {
    let (Some(t), Some(reference)) = (&r.sensitivity, &r.reference_cloud) else {
        return;
    };
    push(
        s,
        format!(
            "## Sensitivity: each input ±{:.0}%, against {reference}, ranked by effect on break-even",
            t.step_fraction * 100.0
        ),
    );
    push(s, String::new());
    push(
        s,
        format!(
            "base: break-even {}, local − cloud {}/month",
            match t.break_even_after_months {
                Some(m) => format!("after {m:.1} months"),
                None => format!("never (within {} months)", t.horizon_months),
            },
            usd(t.local_minus_cloud_usd_per_month)
        ),
    );
    push(s, String::new());
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
    push(s, String::new());
}

/// The fallback plan: a simulated year's cost with each number of local devices, the optimum named.
pub(super) fn hybrid_fallback(s: &mut String, r: &CostReport) {
    let Some(h) = &r.hybrid else {
        return;
    };
    push(
        s,
        format!(
            "## Hybrid, fallback pattern: {} hours simulated (seed {}, noise ±{:.0}%), overflow to {}",
            h.hours,
            h.shape.seed,
            h.shape.noise_fraction * 100.0,
            r.reference_cloud.as_deref().unwrap_or(ABSENT)
        ),
    );
    push(s, String::new());
    push(
        s,
        format!(
            "{} requests in the year; busiest hour {} requests; one device serves {} requests/hour",
            grouped(h.requests_per_year),
            grouped(h.peak_requests_per_hour),
            grouped(h.device_capacity_requests_per_hour)
        ),
    );
    if h.truncated {
        push(
            s,
            format!(
                "note: all-local needs {} devices; the table stops at {}",
                h.all_local_devices,
                h.rows.len() - 1
            ),
        );
    }
    push(s, String::new());
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
    push(s, line);
    push(s, String::new());
}

/// The tiered plan: simple requests local, the rest to the cloud, against all of either.
pub(super) fn hybrid_tiered(s: &mut String, r: &CostReport) {
    let Some(t) = &r.tiered else {
        return;
    };
    push(
        s,
        format!(
            "## Hybrid, tiered pattern: {:.0}% simple requests local, the rest to {}",
            t.simple_share_fraction * 100.0,
            r.reference_cloud.as_deref().unwrap_or(ABSENT)
        ),
    );
    push(s, String::new());
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
    push(s, String::new());
}

/// Every input the cost model used: its value, unit, kind and source.
pub(super) fn assumptions(s: &mut String, r: &CostReport) {
    push(s, "## Assumptions".into());
    push(s, String::new());
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
}
