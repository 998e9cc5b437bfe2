//! Charts as inline SVG, drawn with plotters' SVG backend. A chart is drawn in layers of one geometry — the axes
//! and legend, then each series' line, each bar or marker, each limit and each marked point — joined into one
//! `<svg>`, each layer in a `<g>` whose data attributes hold the values it draws, so that a reader (or a test) can
//! take the numbers back out. Readable in black and white: each series has its own dash pattern and marker shape
//! besides its colour, bars their own fill pattern and a value label.

use super::figures::{Chart, Kind, Point, RuleAxis};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::fmt::Write;
use std::ops::Range;

/// Width of every chart, px.
pub const WIDTH: u32 = 760;
const PLOT_HEIGHT: u32 = 400;
const LEGEND_ROW: u32 = 20;
const FONT: &str = "sans-serif";

type Ctx<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;
type Area<'b> = DrawingArea<SVGBackend<'b>, Shift>;

/// Colours told apart by most colour-blind readers (after Okabe and Ito), dark enough to print.
const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 90, 181),
    RGBColor(213, 94, 0),
    RGBColor(0, 130, 95),
    RGBColor(150, 60, 150),
    RGBColor(40, 40, 40),
    RGBColor(170, 120, 0),
];

#[derive(Clone, Copy, PartialEq)]
enum Dash {
    Solid,
    Dashed,
    Dotted,
    Long,
}

#[derive(Clone, Copy, PartialEq)]
enum Marker {
    Circle,
    Triangle,
    Square,
    Cross,
}

/// How series `i` is drawn: the first 16 series differ in dash and marker together, whatever their colour.
#[derive(Clone, Copy)]
struct Look {
    color: RGBColor,
    dash: Dash,
    marker: Marker,
}

fn look(i: usize) -> Look {
    const DASHES: [Dash; 4] = [Dash::Solid, Dash::Dashed, Dash::Dotted, Dash::Long];
    const MARKERS: [Marker; 4] = [
        Marker::Circle,
        Marker::Triangle,
        Marker::Square,
        Marker::Cross,
    ];
    Look {
        color: PALETTE[i % PALETTE.len()],
        dash: DASHES[i % 4],
        marker: MARKERS[(i + i / 4) % 4],
    }
}

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

struct Geometry {
    x: Range<f64>,
    y: Range<f64>,
    x_label_area: u32,
    y_label_area: u32,
    height: u32,
}

fn span(lo: f64, hi: f64, headroom: f64) -> Range<f64> {
    let lo = lo.min(0.0);
    let hi = if hi > lo { hi * headroom } else { lo + 1.0 };
    lo..hi
}

fn geometry(c: &Chart) -> Geometry {
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

/// Decimals of an axis's tick labels: one more than its tick step (about a tenth of its span) needs.
fn tick_decimals(r: &Range<f64>) -> usize {
    let step = (r.end - r.start) / 10.0;
    if step >= 1.0 || step <= 0.0 {
        0
    } else {
        (-step.log10()).ceil() as usize
    }
}

fn axes(c: &Chart, root: &Area<'_>, ctx: &mut Ctx<'_, '_>) -> Result<(), String> {
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

/// Shading of a band: the first kind darker than the second (both light enough for the lines over them).
fn band_shade(kind: usize) -> RGBColor {
    if kind == 0 {
        RGBColor(205, 205, 205)
    } else {
        RGBColor(235, 238, 244)
    }
}

/// Pixels on and off of a dash pattern; `None` for a solid line.
fn dash_pattern(d: Dash) -> Option<(i32, i32)> {
    match d {
        Dash::Solid => None,
        Dash::Dashed => Some((7, 4)),
        Dash::Dotted => Some((2, 3)),
        Dash::Long => Some((14, 4)),
    }
}

/// Pixel segments `(from, to)` of a dash pattern over `len` pixels.
fn dash_segments(d: Dash, len: i32) -> Vec<(i32, i32)> {
    let Some((on, off)) = dash_pattern(d) else {
        return vec![(0, len)];
    };
    (0..len)
        .step_by((on + off) as usize)
        .map(|a| (a, (a + on).min(len)))
        .collect()
}

/// A marker in pixel coordinates of `area`.
fn marker(area: &Area<'_>, lk: Look, (x, y): (i32, i32)) -> Result<(), String> {
    let c = lk.color;
    match lk.marker {
        Marker::Circle => area.draw(&Circle::new((x, y), 4, c.filled())),
        Marker::Triangle => area.draw(&TriangleMarker::new((x, y), 6, c.filled())),
        Marker::Square => area.draw(&Rectangle::new(
            [(x - 4, y - 4), (x + 4, y + 4)],
            c.stroke_width(2),
        )),
        Marker::Cross => area.draw(&Cross::new((x, y), 4, c.stroke_width(2))),
    }
    .map_err(err)
}

/// Bar fill patterns: solid, vertical stripes, hollow.
fn bar_glyph(area: &Area<'_>, i: usize, a: (i32, i32), b: (i32, i32)) -> Result<(), String> {
    let c = look(i).color;
    match i % 3 {
        0 => area.draw(&Rectangle::new([a, b], c.filled())).map_err(err),
        1 => {
            area.draw(&Rectangle::new([a, b], c.stroke_width(2)))
                .map_err(err)?;
            let mut x = a.0 + 3;
            while x < b.0 {
                area.draw(&PathElement::new(
                    vec![(x, a.1), (x, b.1)],
                    c.stroke_width(2),
                ))
                .map_err(err)?;
                x += 5;
            }
            Ok(())
        }
        _ => area
            .draw(&Rectangle::new(
                [(a.0 + 1, a.1 + 1), (b.0 - 1, b.1 - 1)],
                c.stroke_width(3),
            ))
            .map_err(err),
    }
}

fn line(ctx: &mut Ctx<'_, '_>, i: usize, points: &[Point]) -> Result<(), String> {
    let lk = look(i);
    let style = lk.color.stroke_width(2);
    let xy: Vec<(f64, f64)> = points.iter().map(|p| (p.x, p.y)).collect();
    let Some((on, off)) = dash_pattern(lk.dash) else {
        ctx.draw_series(std::iter::once(PathElement::new(xy, style)))
            .map_err(err)?;
        return Ok(());
    };
    ctx.draw_series(std::iter::once(DashedPathElement::new(xy, on, off, style)))
        .map_err(err)?;
    Ok(())
}

fn point_marker(root: &Area<'_>, ctx: &Ctx<'_, '_>, i: usize, p: &Point) -> Result<(), String> {
    marker(root, look(i), ctx.backend_coord(&(p.x, p.y)))
}

/// Bar `s` of `n` in its category, with its value above it.
fn bar(root: &Area<'_>, ctx: &Ctx<'_, '_>, s: usize, n: usize, p: &Point) -> Result<(), String> {
    let width = 0.8 / n as f64;
    let left = p.x - 0.4 + s as f64 * width;
    let (x0, y0) = ctx.backend_coord(&(left + width * 0.06, p.y));
    let (x1, y1) = ctx.backend_coord(&(left + width * 0.94, ctx.y_range().start));
    bar_glyph(root, s, (x0, y0), (x1, y1))?;
    root.draw(&Text::new(
        number(p.y),
        ((x0 + x1) / 2, y0 - 3),
        text_style(14, HPos::Center, VPos::Bottom),
    ))
    .map_err(err)
}

/// Tornado bar of series `s` (0: the input lowered, 1: raised) from the baseline to its value, with the value (or
/// its label, e.g. "never") at its end.
fn tornado_bar(
    root: &Area<'_>,
    ctx: &Ctx<'_, '_>,
    s: usize,
    baseline: f64,
    p: &Point,
) -> Result<(), String> {
    let (top, bottom) = if s == 0 {
        (p.y + 0.38, p.y + 0.02)
    } else {
        (p.y - 0.02, p.y - 0.38)
    };
    let (xa, ya) = ctx.backend_coord(&(baseline.min(p.x), top));
    let (xb, yb) = ctx.backend_coord(&(baseline.max(p.x), bottom));
    bar_glyph(root, s, (xa, ya), (xb.max(xa + 1), yb))?;
    let text = if p.label.is_empty() {
        number(p.x)
    } else {
        p.label.clone()
    };
    let (at, h) = if p.x >= baseline {
        ((xb + 4, (ya + yb) / 2), HPos::Left)
    } else {
        ((xa - 4, (ya + yb) / 2), HPos::Right)
    };
    root.draw(&Text::new(text, at, text_style(13, h, VPos::Center)))
        .map_err(err)
}

/// The chart with every x as its log10 (for a logarithmic x axis; values ≤ 0 cannot be drawn there and are left
/// out of the drawing, never moved).
fn log_x(c: &Chart) -> Chart {
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
        let _ = writeln!(
            out,
            "<g class=\"band\" data-x0=\"{}\" data-x1=\"{}\" data-label=\"{}\">",
            ob.x0,
            ob.x1,
            escape(&b.label)
        );
        out += &layer(&g, |_, ctx| {
            let yr = ctx.y_range();
            ctx.draw_series(std::iter::once(Rectangle::new(
                [(b.x0, yr.start), (b.x1, yr.end)],
                band_shade(b.kind).filled(),
            )))
            .map_err(err)
            .map(|_| ())
        })?;
        out += "</g>\n";
    }
    for (rule, orule) in c.rules.iter().zip(&orig.rules) {
        let _ = writeln!(
            out,
            "<g class=\"rule\" data-axis=\"{}\" data-value=\"{}\" data-label=\"{}\">",
            if rule.axis == RuleAxis::X { "x" } else { "y" },
            orule.value,
            escape(&rule.label)
        );
        out += &layer(&g, |root, ctx| {
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
    }
    let n = c.series.len();
    for (i, (s, os)) in c.series.iter().zip(&orig.series).enumerate() {
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
            s.line && matches!(c.kind, Kind::Lines)
        );
        if s.line && matches!(c.kind, Kind::Lines) {
            out += &layer(&g, |_, ctx| line(ctx, i, &s.points))?;
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
                out += &layer(&g, |root, ctx| match c.kind {
                    Kind::Bars { .. } => bar(root, ctx, i, n, p),
                    Kind::Tornado { baseline, .. } => tornado_bar(root, ctx, i, baseline, p),
                    Kind::Lines => point_marker(root, ctx, i, p),
                })?;
                out += "</g>\n";
            }
        }
        out += "</g>\n";
    }
    for (m, om) in c.marks.iter().zip(&orig.marks) {
        let _ = writeln!(
            out,
            "<g class=\"mark\" data-x=\"{}\" data-y=\"{}\" data-label=\"{}\">",
            om.x,
            om.y,
            escape(&m.label)
        );
        out += &layer(&g, |root, ctx| {
            let at = ctx.backend_coord(&(m.x, m.y));
            root.draw(&Circle::new(at, 7, BLACK.stroke_width(2)))
                .map_err(err)
        })?;
        out += "</g>\n";
    }
    out += "</svg>";
    Ok(out)
}
