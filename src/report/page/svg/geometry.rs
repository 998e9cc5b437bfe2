//! Where a chart is drawn: the ranges of its axes (with headroom, the baseline and every limit and mark in view),
//! the room for axis labels and the legend's rows, and the logarithmic x axis's values.

use super::{LEGEND_ROW, PLOT_HEIGHT};
use crate::report::page::figures::{Chart, Kind, RuleAxis};
use std::ops::Range;

pub(super) struct Geometry {
    pub(super) x: Range<f64>,
    pub(super) y: Range<f64>,
    pub(super) x_label_area: u32,
    pub(super) y_label_area: u32,
    pub(super) height: u32,
}

fn span(lo: f64, hi: f64, headroom: f64) -> Range<f64> {
    let lo = lo.min(0.0);
    let hi = if hi > lo { hi * headroom } else { lo + 1.0 };
    lo..hi
}

pub(super) fn geometry(c: &Chart) -> Geometry {
    let points = || c.series.iter().flat_map(|s| s.points.iter());
    let max = |it: &mut dyn Iterator<Item = f64>| {
        it.filter(|v| v.is_finite())
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let min = |it: &mut dyn Iterator<Item = f64>| {
        it.filter(|v| v.is_finite()).fold(f64::INFINITY, f64::min)
    };
    let rule = |axis: RuleAxis| {
        c.rules
            .iter()
            .filter(move |r| r.axis == axis)
            .map(|r| r.value)
    };
    let band_kinds = {
        let mut k: Vec<usize> = c.bands.iter().map(|b| b.kind).collect();
        k.sort_unstable();
        k.dedup();
        k.len() as u32
    };
    let legend_rows = c.series.len() as u32
        + u32::from(!c.rules.is_empty())
        + u32::from(!c.marks.is_empty())
        + band_kinds;
    let (x, x_label_area) = match &c.kind {
        Kind::Tornado { baseline, .. } => {
            let xs = || points().map(|p| p.x).chain(std::iter::once(*baseline));
            (span(min(&mut xs()), max(&mut xs()), 1.12), 48)
        }
        Kind::Bars { categories } => {
            let lines = categories
                .iter()
                .map(|c| c.lines().count())
                .max()
                .unwrap_or(1) as u32;
            (
                -0.5..categories.len() as f64 - 0.5,
                48 + 15 * lines.saturating_sub(1),
            )
        }
        Kind::Lines => {
            let xs = || {
                points()
                    .map(|p| p.x)
                    .chain(c.bands.iter().flat_map(|b| [b.x0, b.x1]))
                    .chain(rule(RuleAxis::X))
                    .chain(c.marks.iter().map(|m| m.x))
            };
            let (lo, hi) = (min(&mut xs()), max(&mut xs()));
            let x = if c.x_log && lo.is_finite() && hi.is_finite() {
                // log10 values: a tenth of a decade either side
                lo - 0.1..hi.max(lo + 0.5) + 0.1
            } else {
                span(lo, hi, 1.08)
            };
            (x, 48)
        }
    };
    let ys = || {
        points()
            .map(|p| p.y)
            .chain(rule(RuleAxis::Y))
            .chain(c.marks.iter().map(|m| m.y))
    };
    let headroom = if matches!(c.kind, Kind::Bars { .. }) {
        1.15
    } else {
        1.1
    };
    let (y, y_label_area) = match &c.kind {
        Kind::Tornado { categories, .. } => (-0.5..categories.len() as f64 - 0.5, 150),
        _ => (span(min(&mut ys()), max(&mut ys()), headroom), 80),
    };
    Geometry {
        x,
        y,
        x_label_area,
        y_label_area,
        height: PLOT_HEIGHT + 12 + legend_rows * LEGEND_ROW,
    }
}

/// The chart with every x as its log10 (for a logarithmic x axis; values ≤ 0 cannot be drawn there and are left
/// out of the drawing, never moved).
pub(super) fn log_x(c: &Chart) -> Chart {
    let lg = |x: f64| if x > 0.0 { x.log10() } else { f64::NAN };
    let mut d = c.clone();
    for s in &mut d.series {
        for p in &mut s.points {
            p.x = lg(p.x);
        }
    }
    for r in d.rules.iter_mut().filter(|r| r.axis == RuleAxis::X) {
        r.value = lg(r.value);
    }
    for m in &mut d.marks {
        m.x = lg(m.x);
    }
    for b in &mut d.bands {
        b.x0 = lg(b.x0);
        b.x1 = lg(b.x1);
    }
    d
}
