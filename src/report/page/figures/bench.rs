//! The charts of `bench` results: prompt processing and generation speed per model and machine, generation speed
//! against context depth, and power over time of one case with its phases shaded.

use super::{absent, row_name, wrap, Band, Chart, Figure, Kind, Point, Series};
use crate::report::page::gather::{self, model_key, Row, Source};
use crate::report::page::svg;

/// pp and tg t/s per model (categories) and machine (series).
pub fn throughput_bars(rows: &[Row]) -> Figure {
    const ID: &str = "throughput-bars";
    const TITLE: &str = "Prompt processing and generation speed per model and machine";
    let mut categories: Vec<(String, String)> = Vec::new();
    for r in rows {
        for m in [&r.pp_ts, &r.tg_ts].into_iter().flatten() {
            let key = (r.model_key.clone(), m.label.clone());
            if !categories.contains(&key) {
                categories.push(key);
            }
        }
    }
    if categories.is_empty() {
        return absent(
            ID,
            TITLE,
            "no complete pp or tg case (tokenmeter bench) at depth 0 in the result files",
        );
    }
    let several_models = rows.iter().any(|r| r.model_key != rows[0].model_key);
    let machines = gather::machines(rows);
    let mut sources = Vec::new();
    let series = machines
        .iter()
        .map(|machine| {
            let mut points = Vec::new();
            for r in rows.iter().filter(|r| r.machine == *machine) {
                for m in [&r.pp_ts, &r.tg_ts].into_iter().flatten() {
                    let x = categories
                        .iter()
                        .position(|c| c.0 == r.model_key && c.1 == m.label)
                        .expect("every measure has its category");
                    points.push(Point {
                        x: x as f64,
                        y: m.value,
                        label: m.label.clone(),
                    });
                    sources.push(format!("{machine}, {}: {}", m.label, m.source));
                }
            }
            Series {
                name: machine.to_string(),
                points,
                line: false,
                markers: true,
            }
        })
        .collect();
    // characters that fit under one bar group at the labels' size
    let width = (svg::WIDTH as usize * 85 / 100 / categories.len() / 8).max(8);
    Figure::Chart(Chart {
        id: ID.into(),
        title: TITLE.into(),
        x_label: "test".into(),
        y_label: "tokens/s (mean of repetitions' t/s)".into(),
        kind: Kind::Bars {
            categories: categories
                .into_iter()
                .map(|(key, test)| {
                    if several_models {
                        let model = rows
                            .iter()
                            .find(|r| r.model_key == key)
                            .map_or(key.as_str(), |r| r.model.as_str());
                        let model = model.strip_suffix(".gguf").unwrap_or(model);
                        format!("{test}\n{}", wrap(model, width))
                    } else {
                        test
                    }
                })
                .collect(),
        },
        series,
        rules: Vec::new(),
        marks: Vec::new(),
        bands: Vec::new(),
        x_log: false,
        sources,
    })
}

/// `(n_gen, n_threads)` of a tg test.
type TgKey = (u32, u32);
/// `(n_depth, avg_ts, source)` of one tg case.
type DepthRun = (u32, f64, String);

/// tg t/s against the context depth (cases run with `-d`).
pub fn tg_depth(sources: &[Source], rows: &[Row]) -> Figure {
    const ID: &str = "tg-depth";
    const TITLE: &str = "Generation speed against context depth";
    let mut series = Vec::new();
    let mut from = Vec::new();
    for row in rows {
        // per tg test and thread count, its runs at every depth
        let mut groups: Vec<(TgKey, Vec<DepthRun>)> = Vec::new();
        for &i in &row.bench {
            for (k, c) in sources[i].result.cases.iter().enumerate() {
                let ts = c.usable_ts();
                if c.n_prompt != 0
                    || c.n_gen == 0
                    || model_key(&sources[i].result, &c.model_filename) != row.model_key
                {
                    continue;
                }
                let Some(ts) = ts else { continue };
                let key = (c.n_gen, c.n_threads);
                let at = format!("{} cases[{k}].avg_ts ({})", sources[i].path, c.test);
                match groups.iter_mut().find(|g| g.0 == key) {
                    Some(g) => g.1.push((c.n_depth, ts, at)),
                    None => groups.push((key, vec![(c.n_depth, ts, at)])),
                }
            }
        }
        for ((n_gen, threads), runs) in groups {
            let mut depths: Vec<u32> = runs.iter().map(|r| r.0).collect();
            depths.sort_unstable();
            depths.dedup();
            if !depths.iter().any(|&d| d > 0) {
                continue;
            }
            let points = depths
                .iter()
                .map(|&d| {
                    let at: Vec<&(u32, f64, String)> = runs.iter().filter(|r| r.0 == d).collect();
                    Point {
                        x: d as f64,
                        y: crate::stats::mean(&at.iter().map(|r| r.1).collect::<Vec<f64>>())
                            .unwrap_or(f64::NAN),
                        label: format!("d{d}"),
                    }
                })
                .collect();
            from.extend(runs.iter().map(|r| r.2.clone()));
            series.push(Series {
                name: format!("{} (tg{n_gen}, {threads} threads)", row_name(rows, row)),
                // Two depths joined by a line would draw a straight fall the data does not show: points only.
                line: depths.len() >= 3,
                points,
                markers: true,
            });
        }
    }
    if series.is_empty() {
        return absent(
            ID,
            TITLE,
            "no tg case at a context depth above 0 in the result files (measure with tokenmeter bench -d 0,1024,4096)",
        );
    }
    Figure::Chart(Chart {
        id: ID.into(),
        title: TITLE.into(),
        x_label: "context depth (tokens already in the KV cache)".into(),
        y_label: "generation tokens/s".into(),
        kind: Kind::Lines,
        series,
        rules: Vec::new(),
        marks: Vec::new(),
        bands: Vec::new(),
        x_log: false,
        sources: from,
    })
}

/// Power over time of one `bench` case (the first with power readings on the devices that did the work, a
/// prompt-and-generation case preferred), each repetition's prompt processing and generation shaded.
pub fn power_time(sources: &[Source], rows: &[Row]) -> Figure {
    const ID: &str = "power-time";
    const TITLE: &str = "Power over time";
    let mut candidates = Vec::new();
    for row in rows {
        for &i in &row.bench {
            for (k, c) in sources[i].result.cases.iter().enumerate() {
                if model_key(&sources[i].result, &c.model_filename) != row.model_key {
                    continue;
                }
                let work = crate::cost::WorkDevice::of_case(c);
                for (e, en) in c.energy.iter().enumerate() {
                    let readings: Vec<(f64, f64)> = en
                        .total
                        .samples
                        .iter()
                        .filter_map(|s| Some((s.t_ns as f64 / 1e9, s.power_w?)))
                        .collect();
                    let ours = work.is(en.total.source, en.total.device.as_deref());
                    if readings.len() >= 2 && ours {
                        let pg = c.n_prompt > 0 && c.n_gen > 0;
                        candidates.push((pg, row, i, k, e, readings));
                    }
                }
            }
        }
    }
    let Some(pos) = candidates
        .iter()
        .position(|c| c.0)
        .or((!candidates.is_empty()).then_some(0))
    else {
        let why = rows
            .iter()
            .find_map(|r| r.energy_absent.clone())
            .unwrap_or_else(|| {
                "no bench case holds power readings of the devices that did the work".into()
            });
        return absent(ID, TITLE, why);
    };
    let (_, row, i, k, e, readings) = candidates.swap_remove(pos);
    let c = &sources[i].result.cases[k];
    let device = c.energy[e]
        .total
        .device
        .clone()
        .unwrap_or_else(|| "device".into());
    let mut bands = Vec::new();
    for s in &c.samples {
        let Some(start) = s.start_ns else { continue };
        let t = |ns: u64| ns as f64 / 1e9;
        let prompt_end = start + s.prompt_ns.unwrap_or(0);
        if s.prompt_ns.is_some() {
            bands.push(Band {
                x0: t(start),
                x1: t(prompt_end),
                kind: 0,
                label: "prompt processing".into(),
            });
        }
        if s.gen_ns.is_some() {
            bands.push(Band {
                x0: t(prompt_end),
                x1: t(start + s.total_ns),
                kind: 1,
                label: "generation".into(),
            });
        }
    }
    Figure::Chart(Chart {
        id: ID.into(),
        title: format!("{TITLE}: {}, {} on {device}", row_name(rows, row), c.test),
        x_label: "time since the case's window began (s)".into(),
        y_label: "power (W)".into(),
        kind: Kind::Lines,
        series: vec![Series {
            name: device.clone(),
            points: readings
                .into_iter()
                .map(|(x, y)| Point {
                    x,
                    y,
                    label: String::new(),
                })
                .collect(),
            line: true,
            markers: false,
        }],
        rules: Vec::new(),
        marks: Vec::new(),
        bands,
        x_log: false,
        sources: vec![format!(
            "{} cases[{k}].energy[{e}].total.samples (power_w, t_ns); phases from cases[{k}].samples (start_ns, prompt_ns, total_ns)",
            sources[i].path
        )],
    })
}
