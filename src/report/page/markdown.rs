//! The page as markdown: the same tables, notes, sources and assumptions as the HTML; the charts are left out
//! (a line says so) and each is listed with its series and sources, or the sentence why it was not drawn.

use super::figures::Figure;
use super::{ledger_table, sensitivity_table, Page};
use std::fmt::Write;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn table(out: &mut String, header: &[String], rows: &[Vec<String>]) {
    let _ = writeln!(
        out,
        "| {} |",
        header
            .iter()
            .map(|h| cell(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
    for r in rows {
        let _ = writeln!(
            out,
            "| {} |",
            r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
        );
    }
    out.push('\n');
}

pub fn render_page(page: &Page) -> String {
    let mut out = String::new();
    out.push_str("# tokenmeter report\n\n");
    let machines = super::gather::machines(&page.rows);
    let _ = writeln!(
        out,
        "{} result file(s) from {} machine(s); ratios against {}.\n",
        page.files.len(),
        machines.len(),
        page.reference_machine
    );
    for r in &page.remarks {
        let _ = writeln!(out, "- {r}");
    }
    if !page.remarks.is_empty() {
        out.push('\n');
    }
    out.push_str("## Comparison\n\n");
    table(&mut out, &page.header(), &page.cells());
    for n in page.notes() {
        let _ = writeln!(out, "- {n}");
    }
    out.push_str("\n## Charts\n\n");
    out.push_str(
        "Charts are left out of the markdown report; `tokenmeter report … -o report.html` draws them. Each is \
         listed here with its data's sources.\n\n",
    );
    for f in &page.figures {
        match f {
            Figure::Chart(c) => {
                let _ = writeln!(out, "### {}\n", c.title);
                for s in &c.series {
                    let _ = writeln!(out, "- series: {} ({} points)", s.name, s.points.len());
                }
                for s in &c.sources {
                    let _ = writeln!(out, "- source: {s}");
                }
                out.push('\n');
            }
            Figure::Absent { title, why, .. } => {
                let _ = writeln!(out, "### {title}\n\nNot drawn — {why}.\n");
            }
        }
    }
    out.push_str("## Provenance\n\n");
    table(
        &mut out,
        &["Row", "Figure", "Value", "Source"].map(String::from),
        &page
            .provenance()
            .into_iter()
            .map(Vec::from)
            .collect::<Vec<_>>(),
    );
    for f in &page.files {
        let _ = writeln!(out, "- read: {f}");
    }
    for f in &page.skipped {
        let _ = writeln!(out, "- left out: {f}");
    }
    out.push_str("\n## Cost model assumptions\n\n");
    let ledgers = page.ledgers();
    if ledgers.is_empty() {
        out.push_str("No row was priced (the notes under the comparison say why).\n");
    }
    for (name, report) in ledgers {
        let _ = writeln!(out, "### {name}\n");
        for n in &report.notes {
            let _ = writeln!(out, "- {n}");
        }
        if !report.notes.is_empty() {
            out.push('\n');
        }
        let (header, rows) = ledger_table(report);
        table(&mut out, &header, &rows);
        if let Some((caption, header, rows)) = sensitivity_table(report) {
            let _ = writeln!(out, "{caption}\n");
            table(&mut out, &header, &rows);
        }
    }
    out
}
