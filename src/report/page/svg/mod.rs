//! Charts as inline SVG, drawn with plotters' SVG backend. A chart is drawn in layers of one geometry — the axes
//! and legend, then each series' line, each bar or marker, each limit and each marked point — joined into one
//! `<svg>`, each layer in a `<g>` whose data attributes hold the values it draws, so that a reader (or a test) can
//! take the numbers back out. Readable in black and white: each series has its own dash pattern and marker shape
//! besides its colour, bars their own fill pattern and a value label.
//!
//! `geometry` places the chart, `axes` draws its frame and legend, `glyphs` each point's mark and `look` how each
//! series is told apart; this file joins the layers.

mod axes;
mod geometry;
mod glyphs;
mod look;

use super::figures::{Band, Chart, Kind, Mark, Rule, RuleAxis, Series};
use axes::axes;
use geometry::{geometry, log_x, Geometry};
use glyphs::{bar, line, point_marker, tornado_bar};
use look::band_shade;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::fmt::Write;

/// Width of every chart, px.
pub const WIDTH: u32 = 760;
const PLOT_HEIGHT: u32 = 400;
const LEGEND_ROW: u32 = 20;
const FONT: &str = "sans-serif";

type Ctx<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;
type Area<'b> = DrawingArea<SVGBackend<'b>, Shift>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Text for an SVG attribute or element.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// A tick or value label: about three significant digits.
fn number(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// One layer: the drawing `what` makes on the chart's geometry, without the `<svg>` element around it.
fn layer<F>(g: &Geometry, what: F) -> Result<String, String>
where
    F: FnOnce(&Area<'_>, &mut Ctx<'_, '_>) -> Result<(), String>,
{
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (WIDTH, g.height)).into_drawing_area();
        let (plot, _) = root.split_vertically(PLOT_HEIGHT);
        let mut ctx = ChartBuilder::on(&plot)
            .margin(14)
            .x_label_area_size(g.x_label_area)
            .y_label_area_size(g.y_label_area)
            .build_cartesian_2d(g.x.clone(), g.y.clone())
            .map_err(err)?;
        what(&root, &mut ctx)?;
        root.present().map_err(err)?;
    }
    let body = buf.split_once('\n').map_or("", |(_, rest)| rest);
    Ok(body.trim_end().trim_end_matches("</svg>").to_string())
}

fn text_style(size: i32, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font()).pos(Pos::new(h, v))
}

/// The chart as one `<svg>` element whose layers carry the data drawn.
pub fn render(orig: &Chart) -> Result<String, String> {
    // drawn from `c` (x in log10 on a logarithmic axis); the data attributes keep `orig`'s values
    let logged;
    let c = if orig.x_log {
        logged = log_x(orig);
        &logged
    } else {
        orig
    };
    let g = geometry(c);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg class=\"chart\" id=\"{}\" width=\"{WIDTH}\" height=\"{}\" viewBox=\"0 0 {WIDTH} {}\" role=\"img\" aria-label=\"{}\">\n<g class=\"axes\">\n",
        escape(&c.id),
        g.height,
        g.height,
        escape(&c.title)
    );
    out += &layer(&g, |root, ctx| axes(c, root, ctx))?;
    out += "</g>\n";
    for (b, ob) in c.bands.iter().zip(&orig.bands) {
        out += &band_group(&g, b, ob)?;
    }
    for (rule, orule) in c.rules.iter().zip(&orig.rules) {
        out += &rule_group(&g, rule, orule)?;
    }
    let n = c.series.len();
    for (i, (s, os)) in c.series.iter().zip(&orig.series).enumerate() {
        out += &series_group(&g, &c.kind, (i, n), s, os)?;
    }
    for (m, om) in c.marks.iter().zip(&orig.marks) {
        out += &mark_group(&g, m, om)?;
    }
    out += "</svg>";
    Ok(out)
}

/// A band's `<g>`: its span shaded over the plot's height; `ob` is the band as given (x not in log10).
fn band_group(g: &Geometry, b: &Band, ob: &Band) -> Result<String, String> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<g class=\"band\" data-x0=\"{}\" data-x1=\"{}\" data-label=\"{}\">",
        ob.x0,
        ob.x1,
        escape(&b.label)
    );
    out += &layer(g, |_, ctx| {
        let yr = ctx.y_range();
        ctx.draw_series(std::iter::once(Rectangle::new(
            [(b.x0, yr.start), (b.x1, yr.end)],
            band_shade(b.kind).filled(),
        )))
        .map_err(err)
        .map(|_| ())
    })?;
    out += "</g>\n";
    Ok(out)
}

/// A limit's `<g>`: a dashed line across the plot with its label beside it; `orule` is the limit as given.
fn rule_group(g: &Geometry, rule: &Rule, orule: &Rule) -> Result<String, String> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<g class=\"rule\" data-axis=\"{}\" data-value=\"{}\" data-label=\"{}\">",
        if rule.axis == RuleAxis::X { "x" } else { "y" },
        orule.value,
        escape(&rule.label)
    );
    out += &layer(g, |root, ctx| {
        let (xr, yr) = (ctx.x_range(), ctx.y_range());
        let ends = match rule.axis {
            RuleAxis::X => [(rule.value, yr.start), (rule.value, yr.end)],
            RuleAxis::Y => [(xr.start, rule.value), (xr.end, rule.value)],
        };
        ctx.draw_series(std::iter::once(DashedPathElement::new(
            ends,
            7,
            4,
            BLACK.stroke_width(1),
        )))
        .map_err(err)?;
        let at = match rule.axis {
            RuleAxis::X => (rule.value, yr.end),
            RuleAxis::Y => (xr.start, rule.value),
        };
        let (px, py) = ctx.backend_coord(&at);
        // beside the line, on the side with room for the text
        let right_half = rule.axis == RuleAxis::X && rule.value > (xr.start + xr.end) / 2.0;
        let (dx, h) = if right_half {
            (-4, HPos::Right)
        } else {
            (4, HPos::Left)
        };
        root.draw(&Text::new(
            rule.label.clone(),
            (px + dx, py + 4),
            text_style(14, h, VPos::Top),
        ))
        .map_err(err)
    })?;
    out += "</g>\n";
    Ok(out)
}

/// Series `i` of `n`'s `<g>`: its line (on a line chart), then a `<g>` per point with its marker or bar; `os` is
/// the series as given.
fn series_group(
    g: &Geometry,
    kind: &Kind,
    (i, n): (usize, usize),
    s: &Series,
    os: &Series,
) -> Result<String, String> {
    let mut out = String::new();
    let pts: Vec<String> = os
        .points
        .iter()
        .map(|p| format!("{},{}", p.x, p.y))
        .collect();
    let _ = writeln!(
        out,
        "<g class=\"series\" data-series=\"{i}\" data-name=\"{}\" data-points=\"{}\" data-line=\"{}\">",
        escape(&s.name),
        pts.join(" "),
        s.line && matches!(kind, Kind::Lines)
    );
    if s.line && matches!(kind, Kind::Lines) {
        out += &layer(g, |_, ctx| line(ctx, i, &s.points))?;
    }
    if s.markers || !s.line {
        for (p, op) in s.points.iter().zip(&os.points) {
            let _ = writeln!(
                out,
                "<g class=\"point\" data-x=\"{}\" data-y=\"{}\" data-label=\"{}\">",
                op.x,
                op.y,
                escape(&p.label)
            );
            out += &layer(g, |root, ctx| match kind {
                Kind::Bars { .. } => bar(root, ctx, i, n, p),
                Kind::Tornado { baseline, .. } => tornado_bar(root, ctx, i, *baseline, p),
                Kind::Lines => point_marker(root, ctx, i, p),
            })?;
            out += "</g>\n";
        }
    }
    out += "</g>\n";
    Ok(out)
}

/// A marked point's `<g>`: a ring around it; `om` is the mark as given.
fn mark_group(g: &Geometry, m: &Mark, om: &Mark) -> Result<String, String> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<g class=\"mark\" data-x=\"{}\" data-y=\"{}\" data-label=\"{}\">",
        om.x,
        om.y,
        escape(&m.label)
    );
    out += &layer(g, |root, ctx| {
        let at = ctx.backend_coord(&(m.x, m.y));
        root.draw(&Circle::new(at, 7, BLACK.stroke_width(2)))
            .map_err(err)
    })?;
    out += "</g>\n";
    Ok(out)
}
