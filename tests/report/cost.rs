//! The charts and tables of the cost model: cumulative cost and its break-even, a row that cannot be priced, and
//! the sensitivity tornado and its markdown table.

use super::*;

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
