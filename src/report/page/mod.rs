//! The `report` page: result files from any number of machines merged into one page — the comparison table
//! first, then the charts, then where every figure came from and the cost model's assumptions. Pure: it receives
//! result files already read and the cost model's outcomes (`commands::report` reads and writes files), gathers
//! rows (`gather`), chart data (`figures`), and renders them as self-contained HTML (`html`, charts as inline SVG
//! from `svg`) or markdown (`markdown`).

pub mod figures;
pub mod gather;
pub mod html;
pub mod markdown;
mod svg;

use crate::cost::analysis::CloudCash;
use crate::cost::CostReport;
pub use figures::Figure;
pub use gather::{Measure, Row, Source};

/// A row the cost model priced: its report and the month-by-month cash against each cloud offering.
#[derive(Debug, Clone)]
pub struct Priced {
    pub report: CostReport,
    pub cumulative: Vec<CloudCash>,
}

/// The cost model's outcome for one row.
#[derive(Debug, Clone)]
pub enum RowCost {
    Priced(Box<Priced>),
    /// Why it could not be priced, in one sentence.
    Unpriced(String),
}

/// Everything the page shows.
pub struct Page {
    /// The result files merged, as named.
    pub files: Vec<String>,
    /// Files left out (duplicates, files that are not result files), each with why.
    pub skipped: Vec<String>,
    pub rows: Vec<Row>,
    /// One per row.
    pub costs: Vec<RowCost>,
    /// The machine ratios are taken against.
    pub reference_machine: String,
    pub figures: Vec<Figure>,
    /// How the results were made, shown under the heading (e.g. what a profile did not measure, and why).
    pub remarks: Vec<String>,
}

/// The machine `--relative-to` names: its number in the table's order of machines (1 = the first), or text its
/// name contains; the first machine when not given.
pub fn reference_machine(rows: &[Row], want: Option<&str>) -> Result<String, String> {
    let machines = gather::machines(rows);
    let Some(first) = machines.first() else {
        return Err("no machine in the result files".into());
    };
    let Some(want) = want else {
        return Ok(first.to_string());
    };
    if let Ok(n) = want.parse::<usize>() {
        return machines
            .get(n.wrapping_sub(1))
            .map(|m| m.to_string())
            .ok_or_else(|| {
                format!(
                    "--relative-to {n}: there are {} machine(s): {}",
                    machines.len(),
                    machines.join(", ")
                )
            });
    }
    let matching: Vec<&&str> = machines.iter().filter(|m| m.contains(want)).collect();
    match matching.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(format!(
            "--relative-to '{want}': no machine's name contains it ({})",
            machines.join(", ")
        )),
        many => {
            Err(format!(
            "--relative-to '{want}': {} machines match ({}); give more of the name or the number",
            many.len(),
            many.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", ")
        ))
        }
    }
}

impl Page {
    /// The page of `rows` (from `gather::rows(sources)`) and their costs (one per row).
    pub fn new(
        sources: &[Source],
        rows: Vec<Row>,
        skipped: Vec<String>,
        costs: Vec<RowCost>,
        relative_to: Option<&str>,
    ) -> Result<Page, String> {
        let reference_machine = reference_machine(&rows, relative_to)?;
        let figures = figures::all(sources, &rows, &costs);
        Ok(Page {
            files: sources.iter().map(|s| s.path.clone()).collect(),
            skipped,
            remarks: Vec::new(),
            rows,
            costs,
            reference_machine,
            figures,
        })
    }

    /// The row of the reference machine with `row`'s model.
    fn reference_row(&self, row: &Row) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.machine == self.reference_machine && r.model_key == row.model_key)
    }

    /// `value / reference value` of the same figure (same test or level label) on the reference machine.
    fn ratio(&self, row: &Row, pick: fn(&Row) -> &Option<Measure>) -> Option<f64> {
        let mine = pick(row).as_ref()?;
        let theirs = pick(self.reference_row(row)?).as_ref()?;
        (mine.label == theirs.label && theirs.value > 0.0).then(|| mine.value / theirs.value)
    }

    fn priced(&self, i: usize) -> Option<&Priced> {
        match self.costs.get(i)? {
            RowCost::Priced(p) => Some(p),
            RowCost::Unpriced(_) => None,
        }
    }

    /// The reference cloud of the first priced row (every row is priced against the same selection).
    pub fn reference_cloud(&self) -> Option<String> {
        (0..self.rows.len()).find_map(|i| self.priced(i)?.report.reference_cloud.clone())
    }

    /// The comparison table's header.
    pub fn header(&self) -> Vec<String> {
        let cloud = self
            .reference_cloud()
            .unwrap_or_else(|| "the reference cloud".into());
        [
            "Machine",
            "Device",
            "llama.cpp build",
            "Model",
            "pp t/s",
            "tg t/s",
            "Goodput at the SLO (output t/s)",
            "J/token",
            "Roofline (share of memory bandwidth)",
            "$ per 1M output tokens",
        ]
        .into_iter()
        .map(String::from)
        .chain(std::iter::once(format!("Break-even against {cloud}")))
        .collect()
    }

    /// The comparison table's cells, one row per machine and model; absent figures are `—`.
    pub fn cells(&self) -> Vec<Vec<String>> {
        let ratio = |r: Option<f64>| r.map(|x| format!(" · {x:.2}×")).unwrap_or_default();
        let with_label = |m: &Option<Measure>, rx: Option<f64>, unit: &str| match m {
            Some(m) => format!(
                "{}{unit} ({}){}",
                super::fixed(Some(m.value), decimals(m.value)),
                m.label,
                ratio(rx)
            ),
            None => super::ABSENT.into(),
        };
        self.rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let cost = self.priced(i).map(|p| &p.report);
                let usd = cost.and_then(|c| c.local.usd_per_1m_output);
                let ref_usd = self
                    .reference_row(r)
                    .and_then(|rr| self.rows.iter().position(|x| std::ptr::eq(x, rr)))
                    .and_then(|k| self.priced(k))
                    .and_then(|p| p.report.local.usd_per_1m_output);
                let usd_ratio = match (usd, ref_usd) {
                    (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                    _ => None,
                };
                let break_even = match cost {
                    Some(c) => match c.clouds.first().and_then(|cl| cl.break_even) {
                        Some(b) => format!("month {} ({:.1} months)", b.month, b.after_months),
                        None if c.clouds.is_empty() => super::ABSENT.into(),
                        None => format!("never within {} months", c.horizon_months),
                    },
                    None => super::ABSENT.into(),
                };
                vec![
                    r.machine.clone(),
                    r.device.clone(),
                    r.build.clone(),
                    r.model.clone(),
                    with_label(&r.pp_ts, self.ratio(r, |r| &r.pp_ts), ""),
                    with_label(&r.tg_ts, self.ratio(r, |r| &r.tg_ts), ""),
                    with_label(
                        &r.goodput_tokens_per_s,
                        self.ratio(r, |r| &r.goodput_tokens_per_s),
                        "",
                    ),
                    with_label(&r.j_per_token, self.ratio(r, |r| &r.j_per_token), " J"),
                    match &r.roofline_fraction {
                        Some(m) => format!("{:.1}% ({})", m.value * 100.0, m.label),
                        None => super::ABSENT.into(),
                    },
                    match usd {
                        Some(u) => format!("${u:.2}{}", ratio(usd_ratio)),
                        None => super::ABSENT.into(),
                    },
                    break_even,
                ]
            })
            .collect()
    }

    /// Sentences under the table: what ratios are against, why figures are absent, how each row was priced.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = vec![format!(
            "Ratios (×) are against {} running the same model and test.",
            self.reference_machine
        )];
        let mut push = |n: String| {
            if !notes.contains(&n) {
                notes.push(n);
            }
        };
        for (i, r) in self.rows.iter().enumerate() {
            let name = figures::row_name(&self.rows, r);
            if r.j_per_token.is_none() {
                if let Some(why) = &r.energy_absent {
                    push(format!("{name}: J/token not measured — {why}"));
                }
            }
            if r.pp_ts.is_none() && r.tg_ts.is_none() {
                push(format!(
                    "{name}: pp and tg t/s not measured (no bench result for this machine and model)"
                ));
            }
            if let Some(why) = &r.goodput_absent {
                push(format!("{name}: goodput not measured — {why}"));
            }
            match &self.costs[i] {
                RowCost::Unpriced(why) => push(format!("{name}: cost not computed — {why}")),
                RowCost::Priced(p) => {
                    let c = &p.report;
                    let mut line = format!(
                        "{name}: cost from {} ({}), hardware '{}', workload '{}'",
                        c.result_file, c.basis_label, c.hardware, c.workload
                    );
                    if let Some(why) = &c.shape_mismatch {
                        line += &format!("; shape mismatch: {why}");
                    }
                    push(line);
                }
            }
        }
        notes
    }

    /// Every figure of the table with its source: (row, figure, value, source).
    pub fn provenance(&self) -> Vec<[String; 4]> {
        let mut out = Vec::new();
        for (i, r) in self.rows.iter().enumerate() {
            let name = figures::row_name(&self.rows, r);
            let measures = [
                ("pp t/s", &r.pp_ts),
                ("tg t/s", &r.tg_ts),
                ("goodput (output t/s)", &r.goodput_tokens_per_s),
                ("J/token", &r.j_per_token),
                ("roofline fraction", &r.roofline_fraction),
            ];
            for (what, m) in measures {
                if let Some(m) = m {
                    out.push([
                        name.clone(),
                        format!("{what}, {}", m.label),
                        super::fixed(Some(m.value), decimals(m.value).max(3)),
                        format!("measured: {}", m.source),
                    ]);
                }
            }
            if let Some(p) = self.priced(i) {
                if let Some(u) = p.report.local.usd_per_1m_output {
                    out.push([
                        name.clone(),
                        "$ per 1M output tokens".into(),
                        format!("{u:.4}"),
                        format!(
                            "cost model on {}: its assumptions below",
                            p.report.result_file
                        ),
                    ]);
                }
            }
        }
        out
    }

    /// Each priced row's assumptions ledger, with the row's name.
    pub fn ledgers(&self) -> Vec<(String, &CostReport)> {
        self.rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| Some((figures::row_name(&self.rows, r), &self.priced(i)?.report)))
            .collect()
    }
}

/// Decimals for three significant digits or so.
fn decimals(v: f64) -> usize {
    match v.abs() {
        a if a >= 100.0 => 1,
        a if a >= 1.0 => 2,
        _ => 4,
    }
}

/// How a ledger entry's value is printed.
pub fn ledger_value(v: f64) -> String {
    if v != 0.0 && (v.abs() < 0.01 || v.abs() >= 1e7) {
        format!("{v:.3e}")
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

/// The caption, header and rows of a priced row's sensitivity table (break-even month with each input moved), as
/// both renderers print it; `None` when the cost model made none.
pub fn sensitivity_table(r: &CostReport) -> Option<(String, [String; 4], Vec<Vec<String>>)> {
    let t = r.sensitivity.as_ref()?;
    let pct = t.step_fraction * 100.0;
    let caption = format!(
        "Sensitivity against {}: each input moved ±{pct:.0}%, break-even month (months elapsed; — never within {} months).",
        r.reference_cloud.as_deref().unwrap_or("the reference cloud"),
        t.horizon_months
    );
    let months =
        |m: Option<f64>| m.map_or_else(|| super::ABSENT.to_string(), |m| format!("{m:.1}"));
    let rows = t
        .rows
        .iter()
        .map(|r| {
            vec![
                r.input.to_string(),
                months(r.break_even_after_months_low),
                months(r.break_even_after_months_high),
                format!("{:.1}", r.effect_months),
            ]
        })
        .collect();
    Some((
        caption,
        [
            "Input".to_string(),
            format!("At −{pct:.0}%"),
            format!("At +{pct:.0}%"),
            "Effect (months)".to_string(),
        ],
        rows,
    ))
}

/// The header and rows of a priced row's assumptions ledger, as both renderers print it.
pub fn ledger_table(r: &CostReport) -> ([String; 5], Vec<Vec<String>>) {
    let rows = r
        .assumptions
        .iter()
        .map(|e| {
            vec![
                e.input.clone(),
                ledger_value(e.value),
                e.unit.clone(),
                e.source_kind.label().into(),
                e.source.clone(),
            ]
        })
        .collect();
    (
        ["Input", "Value", "Unit", "Kind", "Source"].map(String::from),
        rows,
    )
}
