//! The chart's frame: the mesh with its tick labels and axis titles, the category names of bars and tornado rows,
//! and the legend below the plot.

use super::glyphs::{bar_glyph, marker};
use super::look::{band_shade, dash_segments, look, Dash};
use super::{err, number, text_style, Area, Ctx, FONT, LEGEND_ROW, PLOT_HEIGHT};
use crate::report::page::figures::{Chart, Kind};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::ops::Range;

/// Decimals of an axis's tick labels: one more than its tick step (about a tenth of its span) needs.
fn tick_decimals(r: &Range<f64>) -> usize {
    let step = (r.end - r.start) / 10.0;
    if step >= 1.0 || step <= 0.0 {
        0
    } else {
        (-step.log10()).ceil() as usize
    }
}

pub(super) fn axes(c: &Chart, root: &Area<'_>, ctx: &mut Ctx<'_, '_>) -> Result<(), String> {
    root.fill(&WHITE).map_err(err)?;
    let (xd, yd) = (tick_decimals(&ctx.x_range()), tick_decimals(&ctx.y_range()));
    let log = c.x_log;
    let fmt_x = move |v: &f64| {
        if log {
            number(10f64.powf(*v))
        } else {
            format!("{v:.xd$}")
        }
    };
    let fmt = move |v: &f64| format!("{v:.yd$}");
    let blank = |_: &f64| String::new();
    let bars = matches!(c.kind, Kind::Bars { .. });
    let mut mesh = ctx.configure_mesh();
    mesh.x_desc(c.x_label.as_str())
        .y_desc(c.y_label.as_str())
        .axis_desc_style((FONT, 17))
        .label_style((FONT, 15))
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(215, 215, 215))
        .max_light_lines(2)
        .y_label_formatter(&fmt);
    if bars {
        mesh.disable_x_mesh().x_labels(2).x_label_formatter(&blank);
    } else {
        mesh.x_label_formatter(&fmt_x);
    }
    if let Kind::Tornado { .. } = c.kind {
        mesh.disable_y_mesh().y_labels(2).y_label_formatter(&blank);
    }
    mesh.draw().map_err(err)?;
    if let Kind::Bars { categories } = &c.kind {
        let y0 = ctx.y_range().start;
        for (i, name) in categories.iter().enumerate() {
            let (px, py) = ctx.backend_coord(&(i as f64, y0));
            for (l, line) in name.lines().enumerate() {
                root.draw(&Text::new(
                    line.to_string(),
                    (px, py + 6 + 15 * l as i32),
                    text_style(15, HPos::Center, VPos::Top),
                ))
                .map_err(err)?;
            }
        }
    }
    if let Kind::Tornado { categories, .. } = &c.kind {
        let x0 = ctx.x_range().start;
        for (k, name) in categories.iter().enumerate() {
            let (px, py) = ctx.backend_coord(&(x0, k as f64));
            root.draw(&Text::new(
                name.clone(),
                (px - 8, py),
                text_style(15, HPos::Right, VPos::Center),
            ))
            .map_err(err)?;
        }
    }
    legend(c, root)
}

/// One row per series below the plot: its line (dash pattern), marker or fill, and name.
fn legend(c: &Chart, root: &Area<'_>) -> Result<(), String> {
    let mut y = PLOT_HEIGHT as i32 + 10;
    let x = 90;
    let bars = matches!(c.kind, Kind::Bars { .. } | Kind::Tornado { .. });
    for (i, s) in c.series.iter().enumerate() {
        let lk = look(i);
        if bars {
            bar_glyph(root, i, (x, y - 6), (x + 24, y + 6))?;
        } else {
            if s.line {
                for (a, b) in dash_segments(lk.dash, 30) {
                    root.draw(&PathElement::new(
                        vec![(x + a, y), (x + b, y)],
                        lk.color.stroke_width(2),
                    ))
                    .map_err(err)?;
                }
            }
            if s.markers || !s.line {
                marker(root, lk, (x + 15, y))?;
            }
        }
        root.draw(&Text::new(
            s.name.clone(),
            (x + 40, y),
            text_style(15, HPos::Left, VPos::Center),
        ))
        .map_err(err)?;
        y += LEGEND_ROW as i32;
    }
    if !c.rules.is_empty() {
        for (a, b) in dash_segments(Dash::Dashed, 30) {
            root.draw(&PathElement::new(
                vec![(x + a, y), (x + b, y)],
                BLACK.stroke_width(1),
            ))
            .map_err(err)?;
        }
        let what = if matches!(c.kind, Kind::Tornado { .. }) {
            "break-even with every input as configured"
        } else {
            "limit (SLO)"
        };
        root.draw(&Text::new(
            what.to_string(),
            (x + 40, y),
            text_style(15, HPos::Left, VPos::Center),
        ))
        .map_err(err)?;
        y += LEGEND_ROW as i32;
    }
    let mut kinds: Vec<(usize, &str)> = Vec::new();
    for b in &c.bands {
        if !kinds.iter().any(|k| k.0 == b.kind) {
            kinds.push((b.kind, &b.label));
        }
    }
    for (kind, label) in kinds {
        root.draw(&Rectangle::new(
            [(x, y - 6), (x + 30, y + 6)],
            band_shade(kind).filled(),
        ))
        .map_err(err)?;
        root.draw(&Text::new(
            format!("{label} (shaded)"),
            (x + 40, y),
            text_style(15, HPos::Left, VPos::Center),
        ))
        .map_err(err)?;
        y += LEGEND_ROW as i32;
    }
    if !c.marks.is_empty() {
        root.draw(&Circle::new((x + 15, y), 7, BLACK.stroke_width(2)))
            .map_err(err)?;
        let what = if c.id == "cumulative-cost" {
            "break-even month (against the reference cloud)"
        } else {
            "SLO operating point (highest goodput that met the SLO)"
        };
        root.draw(&Text::new(
            what.to_string(),
            (x + 40, y),
            text_style(15, HPos::Left, VPos::Center),
        ))
        .map_err(err)?;
    }
    Ok(())
}
