//! `report` end to end through the real binary, on the committed reference results (and copies of them edited to
//! stand for a second machine, context depths or measured energy): the page is parsed as XML, and each chart's
//! series must hold the input files' figures.

#[path = "../common/mod.rs"]
mod common;

mod bench;
mod cost;
mod load;
mod machines;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use tokenmeter::results::read_result;

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

const SLO_LOAD: &str = "results/reference/slo-goodput-qwen2.5-0.5b-q4_0/load.json";
const CPU_BENCH: &str = "results/reference/telemetry-cpu-qwen2.5-0.5b-q4_0/bench.json";
const CPU_LOAD: &str = "results/reference/telemetry-cpu-qwen2.5-0.5b-q4_0/load.json";
const ROUNDS: &str = "results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs `report ARGS -o dir/report.html` with the repository's models.toml; returns the page.
fn html(dir: &Path, args: &[&str]) -> String {
    let out = dir.join("report.html");
    let config = repo("models.toml");
    let mut all = vec!["report", "--config", s(&config), "-o", s(&out)];
    all.extend_from_slice(args);
    let o = tokenmeter(&all, dir);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::read_to_string(out).unwrap()
}

/// `cost --result RESULT -o json ARGS` with the repository's models.toml.
fn cost_json(dir: &Path, result: &Path, args: &[&str]) -> Value {
    let config = repo("models.toml");
    let mut all = vec![
        "cost",
        "--config",
        s(&config),
        "--result",
        s(result),
        "-o",
        "json",
    ];
    all.extend_from_slice(args);
    let o = tokenmeter(&all, dir);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

fn parse(html: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse_with_options(
        html,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        },
    )
    .expect("the page is well-formed XML")
}

fn by_id<'a>(doc: &'a roxmltree::Document<'a>, id: &str) -> Option<roxmltree::Node<'a, 'a>> {
    doc.descendants().find(|n| n.attribute("id") == Some(id))
}

fn has_class(n: &roxmltree::Node, class: &str) -> bool {
    n.attribute("class") == Some(class)
}

/// A marker's `(x, y, label)`.
type Marked = (f64, f64, String);

/// `(name, markers)` of each series of the chart `id`, from its markers' data attributes.
fn series(doc: &roxmltree::Document, id: &str) -> Vec<(String, Vec<Marked>)> {
    let chart = by_id(doc, id).unwrap_or_else(|| panic!("no chart {id}"));
    assert_eq!(chart.tag_name().name(), "svg");
    chart
        .descendants()
        .filter(|n| has_class(n, "series"))
        .map(|g| {
            let points = g
                .children()
                .filter(|n| has_class(n, "point"))
                .map(|p| {
                    let num = |k: &str| p.attribute(k).unwrap().parse::<f64>().unwrap();
                    (
                        num("data-x"),
                        num("data-y"),
                        p.attribute("data-label").unwrap().to_string(),
                    )
                })
                .collect();
            (g.attribute("data-name").unwrap().to_string(), points)
        })
        .collect()
}

/// The `data-points` of each series (every point, markers or not).
fn curves(doc: &roxmltree::Document, id: &str) -> Vec<(String, Vec<(f64, f64)>)> {
    let chart = by_id(doc, id).unwrap_or_else(|| panic!("no chart {id}"));
    chart
        .descendants()
        .filter(|n| has_class(n, "series"))
        .map(|g| {
            let pts = g
                .attribute("data-points")
                .unwrap()
                .split_whitespace()
                .map(|xy| {
                    let (x, y) = xy.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect();
            (g.attribute("data-name").unwrap().to_string(), pts)
        })
        .collect()
}

fn absent_sentence(doc: &roxmltree::Document, id: &str) -> Option<String> {
    let n = by_id(doc, &format!("figure-{id}"))?;
    has_class(&n, "absent").then(|| {
        n.descendants()
            .filter(|d| d.is_text())
            .map(|d| d.text().unwrap())
            .collect()
    })
}

fn edit(src: &str, dir: &Path, name: &str, f: impl FnOnce(&mut Value)) -> PathBuf {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(repo(src)).unwrap()).unwrap();
    f(&mut v);
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    path
}

/// A copy of `src` measured on another machine (host, CPU and start time changed).
fn other_machine(src: &str, dir: &Path, name: &str) -> PathBuf {
    edit(src, dir, name, |v| {
        v["host"]["hostname"] = "gpu-box".into();
        v["host"]["cpu_model"] = "Other CPU 9000".into();
        v["build"]["devices"][0]["description"] = "Other CPU 9000".into();
        v["started_at"] = "2026-11-20T10:00:00Z".into();
    })
}
