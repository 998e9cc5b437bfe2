//! `report` end to end through the real binary, on the committed reference results (and copies of them edited to
//! stand for a second machine, context depths or measured energy): the page is parsed as XML, and each chart's
//! series must hold the input files' figures.

mod common;
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

#[test]
fn throughput_latency_curve_has_one_point_per_level_with_its_goodput() {
    let dir = tempfile::tempdir().unwrap();
    let page = html(dir.path(), &[s(&repo(SLO_LOAD))]);
    let doc = parse(&page);
    let file = read_result(&repo(SLO_LOAD)).unwrap();
    let sweep = file.load.as_ref().unwrap();
    let all = series(&doc, "throughput-ttft");
    let good = &all.iter().find(|(n, _)| n.ends_with("goodput")).unwrap().1;
    let out = &all
        .iter()
        .find(|(n, _)| n.ends_with("output tokens/s"))
        .unwrap()
        .1;
    assert_eq!(good.len(), sweep.levels.len());
    assert_eq!(out.len(), sweep.levels.len());
    for (l, level) in sweep.levels.iter().enumerate() {
        let x = level.summary.ttft_ms.ms.p95.unwrap();
        assert_eq!(good[l].0, x);
        assert_eq!(
            good[l].1,
            level.summary.goodput_output_tokens_per_s.unwrap()
        );
        assert_eq!(out[l].1, level.summary.output_tokens_per_s);
        assert_eq!(good[l].2, format!("rate {}/s", level.summary.rate.unwrap()));
    }
    // the SLO's TTFT limit is drawn, and the operating point marked at its level
    let chart = by_id(&doc, "throughput-ttft").unwrap();
    let rules: Vec<f64> = chart
        .descendants()
        .filter(|n| has_class(n, "rule"))
        .map(|n| n.attribute("data-value").unwrap().parse().unwrap())
        .collect();
    assert_eq!(rules, vec![2000.0]);
    let op = sweep.operating_point.as_ref().unwrap();
    let mark = chart.descendants().find(|n| has_class(n, "mark")).unwrap();
    let level = &sweep.levels[op.level_index];
    assert_eq!(
        mark.attribute("data-x").unwrap().parse::<f64>().unwrap(),
        level.summary.ttft_ms.ms.p95.unwrap()
    );
    assert_eq!(
        mark.attribute("data-y").unwrap().parse::<f64>().unwrap(),
        op.goodput_output_tokens_per_s.unwrap()
    );
    // against ITL p95 too, with its limit
    let itl = series(&doc, "throughput-itl");
    let good = &itl.iter().find(|(n, _)| n.ends_with("goodput")).unwrap().1;
    for (l, level) in sweep.levels.iter().enumerate() {
        assert_eq!(good[l].0, level.summary.itl_ms.ms.p95.unwrap());
    }
}

#[test]
fn bars_hold_each_machines_pp_and_tg_and_the_table_has_a_row_per_machine() {
    let dir = tempfile::tempdir().unwrap();
    let other = other_machine(CPU_BENCH, dir.path(), "other.json");
    let page = html(dir.path(), &[s(&repo(CPU_BENCH)), s(&other)]);
    let doc = parse(&page);
    let bars = series(&doc, "throughput-bars");
    assert_eq!(bars.len(), 2, "{bars:?}");
    for (name, file) in [
        ("vm · AMD EPYC", repo(CPU_BENCH)),
        ("gpu-box · Other CPU 9000", other),
    ] {
        let r = read_result(&file).unwrap();
        let (_, points) = bars.iter().find(|(n, _)| n == name).unwrap();
        let got: Vec<(String, f64)> = points.iter().map(|p| (p.2.clone(), p.1)).collect();
        let want: Vec<(String, f64)> = r
            .cases
            .iter()
            .map(|c| (c.test.clone(), c.summary.avg_ts.unwrap()))
            .collect();
        assert_eq!(got, want);
    }
    let table = by_id(&doc, "comparison").unwrap();
    let rows: Vec<_> = table
        .descendants()
        .filter(|n| n.has_tag_name("tr"))
        .collect();
    assert_eq!(rows.len(), 3, "header and one row per machine");
    let text: String = rows[2]
        .descendants()
        .filter(|d| d.is_text())
        .map(|d| d.text().unwrap())
        .collect();
    assert!(text.contains("gpu-box"), "{text}");
    assert!(text.contains("1.00×"), "same samples, same speed: {text}");
}

#[test]
fn name_equals_path_names_a_machine_that_shares_host_and_cpu_with_another() {
    // Two VMs with the same host name and CPU: only the names given on the command line tell them apart.
    let dir = tempfile::tempdir().unwrap();
    let copy = edit(CPU_BENCH, dir.path(), "second-vm.json", |v| {
        v["started_at"] = "2026-11-20T10:00:00Z".into();
    });
    let first = format!("first-vm={}", s(&repo(CPU_BENCH)));
    let second = format!("second-vm={}", s(&copy));
    let page = html(dir.path(), &[&first, &second]);
    let doc = parse(&page);
    let bars = series(&doc, "throughput-bars");
    let names: Vec<&str> = bars.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["first-vm", "second-vm"]);
    let unnamed = html(dir.path(), &[s(&repo(CPU_BENCH)), s(&copy)]);
    let bars = series(&parse(&unnamed), "throughput-bars");
    assert_eq!(bars.len(), 1, "unnamed, they are one machine");
}

#[test]
fn ratios_are_against_the_machine_relative_to_names() {
    let dir = tempfile::tempdir().unwrap();
    let other = edit(CPU_BENCH, dir.path(), "slower.json", |v| {
        v["host"]["hostname"] = "slow".into();
        v["started_at"] = "2026-11-20T10:00:00Z".into();
        for c in v["cases"].as_array_mut().unwrap() {
            for s in c["samples"].as_array_mut().unwrap() {
                // twice the time per repetition: half the t/s
                for k in ["prompt_ns", "gen_ns", "total_ns"] {
                    if let Some(x) = s[k].as_u64() {
                        s[k] = (2 * x).into();
                    }
                }
                if let Some(ts) = s["gen_token_ns"].as_array_mut() {
                    for t in ts {
                        *t = (2 * t.as_u64().unwrap()).into();
                    }
                }
            }
        }
    });
    let page = html(
        dir.path(),
        &[s(&repo(CPU_BENCH)), s(&other), "--relative-to", "slow"],
    );
    let doc = parse(&page);
    let table = by_id(&doc, "comparison").unwrap();
    let first: String = table
        .descendants()
        .filter(|n| n.has_tag_name("tr"))
        .nth(1)
        .unwrap()
        .descendants()
        .filter(|d| d.is_text())
        .map(|d| d.text().unwrap())
        .collect();
    assert!(first.contains("2.00×"), "{first}");
}

#[test]
fn absent_energy_gives_the_sentence_and_no_chart() {
    let dir = tempfile::tempdir().unwrap();
    let page = html(dir.path(), &[s(&repo(CPU_BENCH)), s(&repo(CPU_LOAD))]);
    let doc = parse(&page);
    let why = absent_sentence(&doc, "energy-concurrency").expect("an absent sentence");
    assert!(why.contains("no NVIDIA GPU"), "{why}");
    assert!(
        by_id(&doc, "energy-concurrency").is_none(),
        "no chart drawn"
    );
    let depth = absent_sentence(&doc, "tg-depth").expect("no depth cases");
    assert!(depth.contains("-d"), "{depth}");
    assert!(by_id(&doc, "tg-depth").is_none());
    // the table says — and why, never 0
    let text: String = doc
        .descendants()
        .filter(|d| d.is_text())
        .map(|d| d.text().unwrap())
        .collect();
    assert!(
        text.contains("J/token not measured — energy: absent"),
        "{text}"
    );
}

#[test]
fn energy_chart_holds_each_levels_measured_joules_per_token() {
    let dir = tempfile::tempdir().unwrap();
    let load = edit(CPU_LOAD, dir.path(), "load-energy.json", |v| {
        v["telemetry"]["energy_absent_reason"] = Value::Null;
        for (i, l) in v["load"]["levels"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .enumerate()
        {
            l["energy"] = serde_json::json!([{
                "source": "rapl",
                "device": "RAPL package-0 (intel-rapl:0)",
                "j_per_token": 2.0 - 0.5 * i as f64,
                "flags": [],
                "samples": []
            }]);
        }
    });
    let page = html(dir.path(), &[s(&load)]);
    let doc = parse(&page);
    let r = read_result(&load).unwrap();
    let levels = &r.load.as_ref().unwrap().levels;
    let all = series(&doc, "energy-concurrency");
    assert_eq!(all.len(), 1);
    let got: Vec<(f64, f64)> = all[0].1.iter().map(|p| (p.0, p.1)).collect();
    let want: Vec<(f64, f64)> = levels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let x = l
                .summary
                .concurrency
                .map(f64::from)
                .or(l.summary.rate)
                .unwrap();
            (x, 2.0 - 0.5 * i as f64)
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn depth_chart_holds_tg_speed_at_each_depth() {
    let dir = tempfile::tempdir().unwrap();
    let bench = edit(CPU_BENCH, dir.path(), "depth.json", |v| {
        let cases = v["cases"].as_array_mut().unwrap();
        let tg = cases.iter().find(|c| c["n_prompt"] == 0).unwrap().clone();
        for d in [512, 1024] {
            let mut c = tg.clone();
            c["n_depth"] = d.into();
            c["test"] = format!("tg128 @ d{d}").into();
            cases.push(c);
        }
    });
    let page = html(dir.path(), &[s(&bench)]);
    let doc = parse(&page);
    let r = read_result(&bench).unwrap();
    let all = series(&doc, "tg-depth");
    assert_eq!(all.len(), 1);
    let want: Vec<(f64, f64)> = r
        .cases
        .iter()
        .filter(|c| c.n_prompt == 0)
        .map(|c| (c.n_depth as f64, c.summary.avg_ts.unwrap()))
        .collect();
    let got: Vec<(f64, f64)> = all[0].1.iter().map(|p| (p.0, p.1)).collect();
    assert_eq!(got, want);
    assert_eq!(depth_line(&doc), ["true"], "three depths are joined");
}

/// Each tg-depth series' `data-line`: whether its points are joined.
fn depth_line(doc: &roxmltree::Document) -> Vec<String> {
    by_id(doc, "tg-depth")
        .unwrap()
        .descendants()
        .filter(|n| has_class(n, "series"))
        .map(|g| g.attribute("data-line").unwrap().to_string())
        .collect()
}

#[test]
fn two_depths_are_drawn_as_points_without_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let bench = edit(CPU_BENCH, dir.path(), "depth.json", |v| {
        let cases = v["cases"].as_array_mut().unwrap();
        let mut c = cases.iter().find(|c| c["n_prompt"] == 0).unwrap().clone();
        c["n_depth"] = 4096.into();
        c["test"] = "tg128 @ d4096".into();
        cases.push(c);
    });
    let doc_text = html(dir.path(), &[s(&bench)]);
    let doc = parse(&doc_text);
    assert_eq!(series(&doc, "tg-depth")[0].1.len(), 2, "both depths drawn");
    assert_eq!(depth_line(&doc), ["false"]);
}

#[test]
fn itl_cdf_comes_from_the_stored_histograms() {
    let dir = tempfile::tempdir().unwrap();
    let page = html(dir.path(), &[s(&repo(CPU_BENCH)), s(&repo(SLO_LOAD))]);
    let doc = parse(&page);
    let load = read_result(&repo(SLO_LOAD)).unwrap();
    let bench = read_result(&repo(CPU_BENCH)).unwrap();
    let all = curves(&doc, "itl-cdf");
    // one curve for the bench tg test, one per load level
    assert_eq!(all.len(), 1 + load.load.as_ref().unwrap().levels.len());
    for (name, pts) in &all {
        assert_eq!(pts.last().unwrap().1, 1.0, "{name} ends at 1");
        assert!(
            pts.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1),
            "{name} rises"
        );
    }
    // the bench curve's median is the file's p50 (at the histogram's precision)
    let tg = bench.cases.iter().find(|c| c.n_prompt == 0).unwrap();
    let p50 = tg.summary.itl_ms.ms.p50.unwrap();
    let curve = &all[0].1;
    let at = curve.iter().find(|p| p.1 >= 0.5).unwrap().0;
    assert!((at - p50).abs() <= p50 * 2e-3, "{at} vs {p50}");
}

#[test]
fn the_bench_itl_curve_holds_only_the_thread_count_of_the_rows_tg_figure() {
    // The same file with a second tg128 case at one thread: the row's tg figure is the mean of one test at one
    // thread count, and the ITL curve must be made of the same case(s), never both thread counts pooled.
    let dir = tempfile::tempdir().unwrap();
    let two_counts = edit(CPU_BENCH, dir.path(), "threads.json", |v| {
        let cases = v["cases"].as_array_mut().unwrap();
        let mut other = cases.iter().find(|c| c["n_prompt"] == 0).unwrap().clone();
        other["n_threads"] = 1.into();
        cases.push(other);
    });
    let page = html(dir.path(), &[s(&two_counts)]);
    let doc = parse(&page);
    let texts = |n: roxmltree::Node| -> Vec<String> {
        n.descendants()
            .filter(|d| d.is_text())
            .map(|d| d.text().unwrap().to_string())
            .collect()
    };
    let provenance = texts(by_id(&doc, "provenance").unwrap()).join(" ");
    let tg_cases: Vec<usize> = [1, 2]
        .into_iter()
        .filter(|k| provenance.contains(&format!("cases[{k}].avg_ts")))
        .collect();
    assert_eq!(tg_cases.len(), 1, "{provenance}");
    let sources = texts(by_id(&doc, "figure-itl-cdf").unwrap()).join(" ");
    for k in [1, 2] {
        assert_eq!(
            sources.contains(&format!("cases[{k}].itl_ms")),
            tg_cases.contains(&k),
            "case {k}: {sources}"
        );
    }
}

#[test]
fn cumulative_cost_crosses_where_cost_says_it_breaks_even() {
    let dir = tempfile::tempdir().unwrap();
    let clouds = [
        "--cloud",
        "gpt-4o",
        "--cloud",
        "gpt-4o-mini",
        "--workload",
        "support-chat",
    ];
    let bench = repo(CPU_BENCH);
    let mut args = vec![s(&bench)];
    args.extend_from_slice(&clouds);
    let page = html(dir.path(), &args);
    let doc = parse(&page);
    let cost = cost_json(dir.path(), &bench, &clouds);
    let all = curves(&doc, "cumulative-cost");
    let names: Vec<&str> = all.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "local: vm · AMD EPYC",
            "cloud: openai/gpt-4o",
            "cloud: openai/gpt-4o-mini"
        ]
    );
    let horizon = cost["horizon_months"].as_f64().unwrap();
    assert_eq!(all[1].1.last().unwrap().0, horizon);
    let chart = by_id(&doc, "cumulative-cost").unwrap();
    let marks: Vec<f64> = chart
        .descendants()
        .filter(|n| has_class(n, "mark"))
        .map(|n| n.attribute("data-x").unwrap().parse().unwrap())
        .collect();
    match cost["clouds"][0]["break_even"]["after_months"].as_f64() {
        Some(month) => assert_eq!(marks, vec![month]),
        None => assert!(marks.is_empty()),
    }
    // the table's $ per 1M output tokens is cost's
    let usd = cost["local"]["usd_per_1m_output"].as_f64().unwrap();
    assert!(page.contains(&format!("${usd:.2}")), "{usd}");
}

#[test]
fn a_row_the_cost_model_cannot_price_says_why_and_draws_no_cost_chart() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("empty.toml");
    std::fs::write(&config, "").unwrap();
    let out = dir.path().join("r.html");
    let o = tokenmeter(
        &[
            "report",
            s(&repo(CPU_BENCH)),
            "--config",
            s(&config),
            "-o",
            s(&out),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let page = std::fs::read_to_string(out).unwrap();
    let doc = parse(&page);
    assert!(page.contains("cost not computed — "), "{page}");
    assert!(by_id(&doc, "cumulative-cost").is_none());
    assert!(absent_sentence(&doc, "cumulative-cost").is_some());
}

#[test]
fn the_page_references_nothing_outside_itself() {
    let dir = tempfile::tempdir().unwrap();
    let page = html(
        dir.path(),
        &[s(&repo(CPU_BENCH)), s(&repo(CPU_LOAD)), s(&repo(SLO_LOAD))],
    );
    parse(&page);
    let lower = page.to_lowercase();
    for banned in [
        "http:", "https:", "@import", "url(", "src=", "href=", "<script", "<link", "<img",
        "<iframe",
    ] {
        assert!(!lower.contains(banned), "the page contains {banned}");
    }
    assert!(lower.contains("@media print"));
}

#[test]
fn directories_are_searched_and_the_same_run_is_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let copies = dir.path().join("copies");
    std::fs::create_dir(&copies).unwrap();
    std::fs::copy(repo(CPU_BENCH), copies.join("a.json")).unwrap();
    std::fs::copy(repo(CPU_BENCH), copies.join("b.json")).unwrap();
    let out = dir.path().join("r.md");
    let o = tokenmeter(
        &["report", s(&repo(ROUNDS)), s(&copies), "-o", s(&out)],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // six rounds and one of the two copies; twelve llama-bench and -o json files, and the other copy, left out
    assert!(
        stderr(&o).contains("(7 result file(s); 13 left out)"),
        "{}",
        stderr(&o)
    );
    let md = std::fs::read_to_string(out).unwrap();
    assert!(md.contains("b.json: the same content as"), "{md}");
    // the same model (sha256) on the same machine: the rounds and the copy pool into one row
    assert!(md.contains("mean of 7 runs"), "{md}");
    assert!(
        md.contains("Charts are left out of the markdown report"),
        "{md}"
    );
    assert!(md.contains("| Machine | Device |"), "{md}");
}

#[test]
fn a_file_that_is_not_a_result_is_one_line_naming_it_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = repo(&format!("{ROUNDS}/llama-bench-round1.json"));
    let o = tokenmeter(&["report", s(&bad)], dir.path());
    assert_one_line_error(&o, "llama-bench-round1.json");
    let o = tokenmeter(&["report", s(&repo(CPU_BENCH)), "-o", "r.pdf"], dir.path());
    assert_one_line_error(&o, "r.pdf");
}

#[test]
fn tornado_bars_are_the_cost_models_sensitivity_rows() {
    let dir = tempfile::tempdir().unwrap();
    let bench = repo(CPU_BENCH);
    let pick = [
        "--workload",
        "internal-docs",
        "--cloud",
        "claude-sonnet-4-20250514",
    ];
    let mut args = vec![s(&bench)];
    args.extend_from_slice(&pick);
    let page = html(dir.path(), &args);
    let doc = parse(&page);
    let cost = cost_json(dir.path(), &bench, &pick);
    let t = &cost["sensitivity"];
    let rows = t["rows"].as_array().unwrap();
    let never = t["horizon_months"].as_f64().unwrap() + 1.0;
    let all = series(&doc, "sensitivity");
    assert_eq!(all.len(), 2, "lowered and raised");
    for (s, key) in all.iter().zip([
        "break_even_after_months_low",
        "break_even_after_months_high",
    ]) {
        // the largest effect at the top (the highest y)
        let want: Vec<(f64, f64)> = rows
            .iter()
            .enumerate()
            .map(|(k, r)| {
                (
                    r[key].as_f64().unwrap_or(never),
                    (rows.len() - 1 - k) as f64,
                )
            })
            .collect();
        let got: Vec<(f64, f64)> = s.1.iter().map(|p| (p.0, p.1)).collect();
        assert_eq!(got, want, "{}", s.0);
    }
    let chart = by_id(&doc, "sensitivity").unwrap();
    let baseline: f64 = chart
        .descendants()
        .find(|n| has_class(n, "rule"))
        .unwrap()
        .attribute("data-value")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        baseline,
        t["break_even_after_months"].as_f64().unwrap_or(never)
    );
}

#[test]
fn power_over_time_holds_the_readings_with_each_repetitions_phases_shaded() {
    let dir = tempfile::tempdir().unwrap();
    let bench = edit(CPU_BENCH, dir.path(), "power.json", |v| {
        v["telemetry"]["energy_absent_reason"] = Value::Null;
        // readings every 0.5 s over the pp512 case's window, 20 W plus a ramp
        let samples: Vec<Value> = (0..36)
            .map(|k| serde_json::json!({ "t_ns": k * 500_000_000u64, "power_w": 20.0 + k as f64 }))
            .collect();
        v["cases"][0]["energy"] = serde_json::json!([{
            "total": {
                "source": "rapl",
                "device": "RAPL package-0 (intel-rapl:0)",
                "flags": [],
                "samples": samples
            },
            "prompt": null,
            "generation": null
        }]);
    });
    let page = html(dir.path(), &[s(&bench)]);
    let doc = parse(&page);
    let all = curves(&doc, "power-time");
    assert_eq!(all.len(), 1);
    let want: Vec<(f64, f64)> = (0..36)
        .map(|k| ((k * 500_000_000u64) as f64 / 1e9, 20.0 + k as f64))
        .collect();
    assert_eq!(all[0].1, want);
    // pp512: one prompt band per repetition, from its start to the end of its prompt
    let r = read_result(&bench).unwrap();
    let chart = by_id(&doc, "power-time").unwrap();
    let bands: Vec<(f64, f64, String)> = chart
        .descendants()
        .filter(|n| has_class(n, "band"))
        .map(|n| {
            let num = |k: &str| n.attribute(k).unwrap().parse::<f64>().unwrap();
            (
                num("data-x0"),
                num("data-x1"),
                n.attribute("data-label").unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(f64, f64, String)> = r.cases[0]
        .samples
        .iter()
        .map(|s| {
            let start = s.start_ns.unwrap();
            (
                start as f64 / 1e9,
                (start + s.prompt_ns.unwrap()) as f64 / 1e9,
                "prompt processing".to_string(),
            )
        })
        .collect();
    assert_eq!(bands, expected);
}

#[test]
fn no_power_readings_gives_the_sentence_and_no_power_chart() {
    let dir = tempfile::tempdir().unwrap();
    let page = html(dir.path(), &[s(&repo(CPU_BENCH))]);
    let doc = parse(&page);
    let why = absent_sentence(&doc, "power-time").expect("an absent sentence");
    assert!(why.contains("no RAPL"), "{why}");
    assert!(by_id(&doc, "power-time").is_none());
}

#[test]
fn the_markdown_page_has_the_sensitivity_table_the_html_has() {
    let dir = tempfile::tempdir().unwrap();
    let page = html(dir.path(), &[s(&repo(CPU_BENCH))]);
    let doc = parse(&page);
    let html_rows: Vec<String> = doc
        .descendants()
        .filter(|n| has_class(n, "sensitivity"))
        .flat_map(|t| t.descendants().filter(|n| n.has_tag_name("tr")).skip(1))
        .map(|tr| {
            tr.children()
                .filter(|c| c.has_tag_name("td"))
                .map(|c| c.text().unwrap_or_default().to_string())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect();
    assert!(!html_rows.is_empty(), "the HTML has a sensitivity table");
    let md = dir.path().join("report.md");
    let config = repo("models.toml");
    let o = tokenmeter(
        &[
            "report",
            "--config",
            s(&config),
            "-o",
            s(&md),
            s(&repo(CPU_BENCH)),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(md).unwrap();
    assert!(text.contains("Sensitivity against"), "{text}");
    for row in html_rows {
        assert!(
            text.contains(&format!("| {row} |")),
            "markdown lacks the row {row}"
        );
    }
}

#[test]
fn a_missing_goodput_says_which_of_its_reasons_holds() {
    let dir = tempfile::tempdir().unwrap();
    let notes = |args: &[&str]| -> String {
        let page = html(dir.path(), args);
        let doc = parse(&page);
        doc.descendants()
            .filter(|n| has_class(n, "notes"))
            .flat_map(|n| n.descendants().filter_map(|d| d.text()).map(str::to_string))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let bench_only = notes(&[s(&repo(CPU_BENCH))]);
    assert!(
        bench_only.contains("goodput not measured — no load result for this machine and model"),
        "{bench_only}"
    );
    // an operating point written before goodput was recorded
    let old = notes(&[s(&repo(CPU_BENCH)), s(&repo(CPU_LOAD))]);
    assert!(old.contains("predates goodput (schema < 4)"), "{old}");
    let no_slo = edit(SLO_LOAD, dir.path(), "no-slo.json", |v| {
        v["load"]["slo"] = Value::Array(Vec::new());
        v["load"]["operating_point"] = Value::Null;
        for l in v["load"]["levels"].as_array_mut().unwrap() {
            l["goodput_output_tokens_per_s"] = Value::Null;
            l["goodput_requests_per_s"] = Value::Null;
            l["slo_met"] = Value::Null;
            l["slo_checks"] = Value::Array(Vec::new());
        }
    });
    let without = notes(&[s(&no_slo)]);
    assert!(without.contains("run without an SLO"), "{without}");
}

#[test]
fn a_rows_goodput_and_level_energy_come_from_one_file_and_level() {
    let dir = tempfile::tempdir().unwrap();
    let with_energy = |j: f64| {
        move |v: &mut Value| {
            v["telemetry"]["energy_absent_reason"] = Value::Null;
            for l in v["load"]["levels"].as_array_mut().unwrap() {
                l["energy"] = serde_json::json!([{
                    "source": "rapl",
                    "device": "RAPL package-0 (intel-rapl:0)",
                    "j_per_token": j,
                    "flags": [],
                    "samples": []
                }]);
            }
        }
    };
    // Two sweeps of one model on one machine; the second's operating point has the higher goodput.
    let low = edit(SLO_LOAD, dir.path(), "a-low.json", with_energy(1.0));
    let high = edit(SLO_LOAD, dir.path(), "b-high.json", |v| {
        with_energy(3.0)(v);
        v["started_at"] = "2026-11-30T10:00:00Z".into();
        // the same requests at twice the speed: every timestamp and the level's length halved
        let half = |x: &mut Value| {
            if let Some(f) = x.as_f64() {
                *x = if x.is_u64() {
                    Value::from((f / 2.0).round() as u64)
                } else {
                    Value::from(f / 2.0)
                };
            }
        };
        for l in v["load"]["levels"].as_array_mut().unwrap() {
            half(&mut l["duration_s"]);
            for r in l["requests"].as_array_mut().unwrap() {
                half(&mut r["arrival_ns"]);
                half(&mut r["admitted_ns"]);
                for t in r["token_ns"].as_array_mut().unwrap() {
                    half(t);
                }
            }
        }
    });
    let page = html(dir.path(), &[s(&low), s(&high)]);
    let doc = parse(&page);
    let rows: Vec<Vec<String>> = by_id(&doc, "provenance")
        .unwrap()
        .descendants()
        .filter(|n| n.has_tag_name("tr"))
        .map(|tr| {
            tr.children()
                .filter(|c| c.is_element())
                .map(|c| {
                    c.descendants()
                        .filter(|d| d.is_text())
                        .filter_map(|d| d.text())
                        .collect()
                })
                .collect()
        })
        .collect();
    let source_of = |what: &str| -> String {
        rows.iter()
            .find(|r| r.iter().any(|c| c.starts_with(what)))
            .unwrap_or_else(|| panic!("no {what} in {rows:?}"))
            .last()
            .unwrap()
            .clone()
    };
    let goodput = source_of("goodput");
    let energy = source_of("J/token");
    assert!(goodput.contains("b-high.json"), "{goodput}");
    assert!(
        energy.contains("b-high.json load.levels[0]"),
        "energy from the goodput's file and level: {energy}"
    );
    let j: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| r.iter().any(|c| c.starts_with("J/token")))
        .collect();
    assert!(j[0].iter().any(|c| c == "3.000"), "{j:?}");
}
