//! `tokenmeter decide`: gathers the six answers (flags, then the `[decision]` table, then what the workload and a
//! measured result say) and walks the decision graph.

use super::cost::{measured, report, Loaded, Selection};
use crate::config::decision::{CostVerdict, DecisionTable};
use crate::cost::decide::{decide, volume_pattern_of, Answer, Answers, Decision, PAYBACK_MONTHS};
use crate::cost::Demand;
use crate::report::cost::{decision_text, usd};
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct DecideOptions {
    pub selection: Selection,
    /// Answers given as flags (they override the `[decision]` table).
    pub flags: DecisionTable,
    pub result: Option<PathBuf>,
    pub json: bool,
}

fn pick<T: Copy>(flag: Option<T>, table: Option<T>) -> Option<Answer<T>> {
    flag.map(|value| Answer {
        value,
        source: "flag".into(),
    })
    .or_else(|| {
        table.map(|value| Answer {
            value,
            source: "[decision]".into(),
        })
    })
}

pub fn answers(o: &DecideOptions) -> anyhow::Result<Answers> {
    let loaded = Loaded::read(&o.selection)?;
    let table = loaded.config.decision.clone().unwrap_or_default();
    let f = &o.flags;
    let mut a = Answers {
        data_sensitivity: pick(f.data_sensitivity, table.data_sensitivity),
        latency: pick(f.latency, table.latency),
        volume_pattern: pick(f.volume_pattern, table.volume_pattern),
        capability: pick(f.capability, table.capability),
        cost: pick(f.cost, table.cost),
        team: pick(f.team, table.team),
        simple_share_fraction: None,
        latency_evidence: None,
    };
    let workload = if loaded.config.workload.is_empty() && o.selection.workload.is_none() {
        None
    } else {
        Some(loaded.workload(&o.selection)?.0)
    };
    if let Some(w) = &workload {
        let d = Demand::from_workload(w.entry);
        a.simple_share_fraction = w.entry.simple_share_fraction;
        if a.volume_pattern.is_none() {
            let (value, why) = volume_pattern_of(
                d.requests_per_day,
                d.peak_to_mean,
                d.growth_per_month_fraction,
            );
            a.volume_pattern = Some(Answer {
                value,
                source: format!("workload {}: {why}", w.entry.name),
            });
        }
    }
    if let Some(result) = &o.result {
        let m = measured(result, &o.selection)?;
        let r = report(&loaded, &o.selection, &m, result, None)?;
        let latency: Vec<String> = r
            .slo
            .iter()
            .map(|c| {
                format!(
                    "{} ≈ {} vs {:.0} ms {}",
                    c.objective,
                    c.single_stream_estimate_ms
                        .map_or_else(|| "—".to_string(), |e| format!("{e:.0} ms")),
                    c.max_ms,
                    if c.met { "met" } else { "NOT met" }
                )
            })
            .collect();
        a.latency_evidence = Some(if latency.is_empty() {
            format!(
                "measured, single-stream: {:.2} s per request",
                r.device_seconds_per_request
            )
        } else {
            format!("measured, single-stream: {}", latency.join("; "))
        });
        if a.cost.is_none() {
            if let Some(c) = r.clouds.first() {
                let pays_back = c
                    .break_even
                    .is_some_and(|b| b.after_months <= PAYBACK_MONTHS);
                let value = if c.local_minus_cloud_usd_per_month < 0.0 && pays_back {
                    CostVerdict::LocalCheaper
                } else {
                    CostVerdict::CloudCheaper
                };
                let shape = match r.shape_mismatch {
                    Some(_) => " (a load run of another shape, --allow-shape-mismatch)",
                    None => "",
                };
                a.cost = Some(Answer {
                    value,
                    source: format!(
                        "measured{shape}: local on {} {}/month vs {}/{} {}/month, break-even {}",
                        r.hardware,
                        usd(c.local_usd_per_month),
                        c.provider,
                        c.model,
                        usd(c.cloud_usd_per_month),
                        c.break_even
                            .map(|b| format!("month {}", b.month))
                            .unwrap_or_else(|| "never".into())
                    ),
                });
            }
        }
    }
    Ok(a)
}

pub fn run(o: &DecideOptions) -> anyhow::Result<String> {
    let a = answers(o)?;
    let d: Decision = decide(&a)?;
    Ok(if o.json {
        serde_json::to_string_pretty(&d)? + "\n"
    } else {
        decision_text(&d)
    })
}
