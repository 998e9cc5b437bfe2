//! The page as one self-contained HTML file: styles inline, charts as inline SVG, no script, no link, no font or
//! image from anywhere else; well-formed XML, so that any XML parser reads it; print styles keep figures and
//! table rows whole on a page.

use super::figures::Figure;
use super::svg::{escape, render};
use super::{ledger_table, sensitivity_table, Page};
use std::fmt::Write;

const STYLE: &str = "
body { font-family: sans-serif; color: #111; line-height: 1.35; margin: 24px auto; max-width: 1120px; padding: 0 12px; }
h1 { font-size: 24px; margin-bottom: 4px; }
h2 { font-size: 19px; margin-top: 28px; border-bottom: 1px solid #999; }
h3 { font-size: 15px; margin: 18px 0 4px; }
table { border-collapse: collapse; font-size: 12.5px; margin: 8px 0 12px; }
th, td { border: 1px solid #aaa; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #eee; }
p.meta, ul.notes, ul.sources { font-size: 13px; }
ul.sources { color: #333; font-size: 11.5px; margin-top: 2px; }
figure { margin: 14px 0 26px; }
figcaption { font-weight: bold; margin-bottom: 4px; }
svg.chart { max-width: 100%; height: auto; border: 1px solid #ccc; background: #fff; }
p.absent { font-style: italic; }
@page { size: A4; margin: 12mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; }
  figure, tr, p.absent { break-inside: avoid; }
  h2, h3, figcaption { break-after: avoid; }
  svg.chart { border: none; }
}
";

/// A table; `attr` is its `id` or `class` attribute.
fn table(out: &mut String, attr: &str, header: &[String], rows: &[Vec<String>]) {
    let _ = writeln!(out, "<table {attr}>\n<thead><tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{}</td>", escape(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

fn list(out: &mut String, class: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = writeln!(out, "<ul class=\"{class}\">");
    for i in items {
        let _ = writeln!(out, "<li>{}</li>", escape(i));
    }
    out.push_str("</ul>\n");
}

/// The whole page.
pub fn render_page(page: &Page) -> String {
    let mut out = String::with_capacity(256 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n");
    out.push_str("<title>tokenmeter report</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<h1>tokenmeter report</h1>\n");
    let machines = super::gather::machines(&page.rows).len();
    let _ = writeln!(
        out,
        "<p class=\"meta\">{} result file(s) from {} machine(s); ratios against {}.</p>",
        page.files.len(),
        machines,
        escape(&page.reference_machine)
    );
    if !page.remarks.is_empty() {
        out.push_str("<ul class=\"notes\" id=\"remarks\">\n");
        for r in &page.remarks {
            let _ = writeln!(out, "<li>{}</li>", escape(r));
        }
        out.push_str("</ul>\n");
    }

    out.push_str("<h2>Comparison</h2>\n");
    table(&mut out, "id=\"comparison\"", &page.header(), &page.cells());
    list(&mut out, "notes", &page.notes());

    out.push_str("<h2>Charts</h2>\n");
    for f in &page.figures {
        match f {
            Figure::Chart(c) => {
                let _ = writeln!(
                    out,
                    "<figure id=\"figure-{}\">\n<figcaption>{}</figcaption>",
                    escape(&c.id),
                    escape(&c.title)
                );
                match render(c) {
                    Ok(svg) => out.push_str(&svg),
                    Err(e) => {
                        let _ = write!(
                            out,
                            "<p class=\"absent\">Not drawn: the chart could not be rendered ({}).</p>",
                            escape(&e)
                        );
                    }
                }
                out.push('\n');
                list(
                    &mut out,
                    "sources",
                    &c.sources
                        .iter()
                        .map(|s| format!("Source: {s}"))
                        .collect::<Vec<_>>(),
                );
                out.push_str("</figure>\n");
            }
            Figure::Absent { id, title, why } => {
                let _ = writeln!(
                    out,
                    "<p class=\"absent\" id=\"figure-{}\"><b>{}</b>: not drawn — {}.</p>",
                    escape(id),
                    escape(title),
                    escape(why)
                );
            }
        }
    }

    out.push_str("<h2>Provenance</h2>\n");
    table(
        &mut out,
        "id=\"provenance\"",
        &["Row", "Figure", "Value", "Source"].map(String::from),
        &page
            .provenance()
            .into_iter()
            .map(Vec::from)
            .collect::<Vec<_>>(),
    );
    list(
        &mut out,
        "sources",
        &page
            .files
            .iter()
            .map(|f| format!("Read: {f}"))
            .collect::<Vec<_>>(),
    );
    list(
        &mut out,
        "sources",
        &page
            .skipped
            .iter()
            .map(|f| format!("Left out: {f}"))
            .collect::<Vec<_>>(),
    );

    out.push_str("<h2>Cost model assumptions</h2>\n");
    let ledgers = page.ledgers();
    if ledgers.is_empty() {
        out.push_str(
            "<p class=\"absent\">No row was priced (the notes under the comparison say why).</p>\n",
        );
    }
    for (name, report) in ledgers {
        let _ = writeln!(out, "<h3>{}</h3>", escape(&name));
        list(&mut out, "notes", &report.notes);
        let (header, rows) = ledger_table(report);
        table(&mut out, "class=\"ledger\"", &header, &rows);
        if let Some((caption, header, rows)) = sensitivity_table(report) {
            let _ = writeln!(out, "<p class=\"meta\">{}</p>", escape(&caption));
            table(&mut out, "class=\"sensitivity\"", &header, &rows);
        }
    }
    out.push_str("</body>\n</html>\n");
    out
}
