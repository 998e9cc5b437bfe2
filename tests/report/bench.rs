//! The charts that come from `bench` results alone: generation speed against context depth, and power over time
//! with each repetition's phases shaded.

use super::*;

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
