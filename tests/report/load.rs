//! The charts and notes that come from `load` results: throughput against latency with the SLO, energy per token,
//! the inter-token latency distributions, and where a row's goodput and energy come from.

use super::*;

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
