//! `compare -o md`: the verdict table a person reads in a CI log or a pull-request comment.

use crate::analysis::compare::{Comparison, MetricComparison, Verdict};
use crate::stats::ratio::Method;
use std::fmt::Write;

fn num(x: Option<f64>) -> String {
    match x {
        None => "—".into(),
        Some(v) if v.abs() >= 100.0 => format!("{v:.1}"),
        Some(v) if v.abs() >= 1.0 => format!("{v:.2}"),
        Some(v) => format!("{v:.4}"),
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::WelchLog => "Welch's t on the logs of each run's figure",
        Method::PairedSignedRank => {
            "Hodges–Lehmann estimate of the interleaved rounds' log ratios, each round's fastest repetition, \
             signed-rank interval"
        }
        Method::Bootstrap => "bootstrap over requests",
        Method::Single => "one figure per side",
    }
}

fn verdict_cell(m: &MetricComparison) -> String {
    let v = m.verdict.name();
    match (m.verdict, m.tested) {
        (Verdict::Slower | Verdict::Faster, true) if !m.gating => format!("{v} (not gated)"),
        (Verdict::Slower, _) => format!("**{v}**"),
        (Verdict::Faster, _) => format!("*{v}*"),
        (_, false) => format!("{v} (untested)"),
        _ => v.to_string(),
    }
}

fn escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The files of a side; more than three in one directory as the directory and their count.
fn sources(paths: &[String]) -> String {
    let parent = |p: &String| {
        std::path::Path::new(p)
            .parent()
            .map(|d| d.display().to_string())
    };
    match paths.first().map(parent) {
        Some(Some(dir))
            if paths.len() > 3 && paths.iter().all(|p| parent(p).as_ref() == Some(&dir)) =>
        {
            format!("{} files in {dir}/", paths.len())
        }
        _ => paths.join(", "),
    }
}

/// The comparison as markdown: what was compared and how, the table of figures, then notes, underpowered figures,
/// cases on one side only and what else differed, each where there is any, and last the totals.
pub fn markdown(c: &Comparison) -> String {
    let mut s = String::new();
    preamble(&mut s, c);
    table(&mut s, c);
    notes(&mut s, c);
    sensitivity(&mut s, c);
    one_side_only(&mut s, c);
    environment(&mut s, c);
    totals(&mut s, c);
    s
}

/// The sides' files, why the check may not gate, and how a change is judged and gated.
fn preamble(s: &mut String, c: &Comparison) {
    let _ = writeln!(s, "## tokenmeter compare: {}", c.kind);
    let _ = writeln!(s);
    let _ = writeln!(s, "- base: {}", sources(&c.base));
    let _ = writeln!(s, "- new: {}", sources(&c.new));
    for why in &c.systems_differ {
        let _ = writeln!(s, "- not a regression check: {why}");
    }
    let mut methods: Vec<Method> = c
        .joined
        .iter()
        .flat_map(|j| {
            j.metrics
                .iter()
                .filter_map(|m| m.ratio.as_ref().map(|r| r.method))
        })
        .filter(|m| *m != Method::Single)
        .collect();
    methods.sort_by_key(|m| method_name(*m));
    methods.dedup();
    let _ = writeln!(
        s,
        "- a change counts when its {:.0}% confidence interval lies wholly beyond ±{} ({}){}",
        (1.0 - c.alpha) * 100.0,
        pct(c.noise),
        methods
            .iter()
            .map(|m| method_name(*m))
            .collect::<Vec<_>>()
            .join("; "),
        if c.ignored_keys.is_empty() {
            String::new()
        } else {
            format!("; joined ignoring {}", c.ignored_keys.join(", "))
        }
    );
    if !c.paired {
        let _ = writeln!(
            s,
            "- separate runs: each run is one sample (its repetitions or requests do not see the machine's speed change between runs), so a side needs two or more runs to gate; on a shared machine use --interleave"
        );
    }
    let f = &c.family;
    let _ = writeln!(
        s,
        "- gated: {} figure(s) (each case's t/s, each level's goodput, and what --fail-on names), Holm's correction over them holding the chance of any false alarm at {}{}",
        f.gated,
        c.alpha,
        if f.kept_unchanged > 0 {
            format!("; {} beyond the band on its own kept unchanged by it", f.kept_unchanged)
        } else {
            String::new()
        }
    );
}

/// One row per figure of each joined case: both sides, the ratio, its interval, the verdict and what was detectable.
fn table(s: &mut String, c: &Comparison) {
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "| case | metric | base | new | new/base | {:.0}% CI | verdict | detectable | n base/new |",
        (1.0 - c.alpha) * 100.0
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---|---|---:|---:|");
    for j in &c.joined {
        for m in &j.metrics {
            let r = m.ratio.as_ref();
            let ci = match r.and_then(|r| r.lower.zip(r.upper)) {
                Some((lo, hi)) => format!("{:.3}–{:.3}", lo, hi),
                None => "—".into(),
            };
            let detectable = r.and_then(|r| r.detectable).map_or("—".into(), |d| {
                if m.underpowered {
                    format!("{} ⚠", pct(d))
                } else {
                    pct(d)
                }
            });
            let n = r.map_or("—".into(), |r| format!("{}/{}", r.n_base, r.n_new));
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                escape(&j.label),
                if m.metric == m.unit {
                    m.metric.clone()
                } else {
                    format!("{} ({})", m.metric, m.unit)
                },
                num(m.base),
                num(m.new),
                r.map_or("—".into(), |r| format!("{:.3}", r.ratio)),
                ci,
                verdict_cell(m),
                detectable,
                n,
            );
        }
    }
}

/// Each figure's note, one line each.
fn notes(s: &mut String, c: &Comparison) {
    let notes: Vec<String> = c
        .joined
        .iter()
        .flat_map(|j| {
            j.metrics.iter().filter_map(move |m| {
                m.note
                    .as_ref()
                    .map(|n| format!("{} {}: {n}", j.label, m.metric))
            })
        })
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(s);
        for n in notes {
            let _ = writeln!(s, "- {n}");
        }
    }
}

/// The gated figures whose samples could not detect twice the threshold, with the samples that would.
fn sensitivity(s: &mut String, c: &Comparison) {
    let weak: Vec<String> = c
        .joined
        .iter()
        .flat_map(|j| {
            j.metrics.iter().filter(|m| m.gating && m.underpowered).map(move |m| {
                let r = m.ratio.as_ref().expect("an underpowered figure has a ratio");
                let unit = match r.method {
                    Method::PairedSignedRank => "rounds",
                    Method::Bootstrap => "requests",
                    _ => "runs",
                };
                let need = r
                    .samples_needed
                    .map_or(String::new(), |n| format!("; about {n} {unit} per side would reach it"));
                format!(
                    "{} {}: the smallest change these samples detect (80% power, the whole interval beyond ±{}) is {}, above twice the threshold{need}",
                    j.label,
                    m.metric,
                    pct(c.noise),
                    pct(r.detectable.unwrap_or(f64::NAN))
                )
            })
        })
        .collect();
    if !weak.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "### Sensitivity");
        let _ = writeln!(s);
        for w in weak {
            let _ = writeln!(s, "- {w}");
        }
    }
}

/// The cases only one side has, with the files they came from.
fn one_side_only(s: &mut String, c: &Comparison) {
    if !c.only_base.is_empty() || !c.only_new.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "### On one side only");
        let _ = writeln!(s);
        for (side, list) in [("base", &c.only_base), ("new", &c.only_new)] {
            for o in list.iter() {
                let _ = writeln!(
                    s,
                    "- {side} only: {} {} ({})",
                    o.kind,
                    o.label,
                    o.sources.join(", ")
                );
            }
        }
    }
}

/// The system and build fields that differ between the sides.
fn environment(s: &mut String, c: &Comparison) {
    if !c.environment.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "### What else changed");
        let _ = writeln!(s);
        let _ = writeln!(s, "| | base | new |");
        let _ = writeln!(s, "|---|---|---|");
        for d in &c.environment {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                escape(&d.field),
                escape(&d.base.join(", ")),
                escape(&d.new.join(", "))
            );
        }
    }
}

/// How many figures are slower, faster and unchanged, and how many of them were underpowered.
fn totals(s: &mut String, c: &Comparison) {
    let _ = writeln!(s);
    let n = &c.counts;
    let _ = writeln!(
        s,
        "**{} slower, {} faster, {} unchanged**{}",
        n.slower,
        n.faster,
        n.unchanged,
        if n.underpowered > 0 {
            format!(
                " ({} of them could not have detected a {} change)",
                n.underpowered,
                pct(2.0 * c.noise)
            )
        } else {
            String::new()
        }
    );
}
