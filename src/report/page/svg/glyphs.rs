//! What marks a point: a series' marker, its line with its dash pattern, a bar with its fill pattern and value, a
//! tornado bar from the baseline.

use super::look::{dash_pattern, look, Look, Marker};
use super::{err, number, text_style, Area, Ctx};
use crate::report::page::figures::Point;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

/// A marker in pixel coordinates of `area`.
pub(super) fn marker(area: &Area<'_>, lk: Look, (x, y): (i32, i32)) -> Result<(), String> {
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
pub(super) fn bar_glyph(
    area: &Area<'_>,
    i: usize,
    a: (i32, i32),
    b: (i32, i32),
) -> Result<(), String> {
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

pub(super) fn line(ctx: &mut Ctx<'_, '_>, i: usize, points: &[Point]) -> Result<(), String> {
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

pub(super) fn point_marker(
    root: &Area<'_>,
    ctx: &Ctx<'_, '_>,
    i: usize,
    p: &Point,
) -> Result<(), String> {
    marker(root, look(i), ctx.backend_coord(&(p.x, p.y)))
}

/// Bar `s` of `n` in its category, with its value above it.
pub(super) fn bar(
    root: &Area<'_>,
    ctx: &Ctx<'_, '_>,
    s: usize,
    n: usize,
    p: &Point,
) -> Result<(), String> {
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
pub(super) fn tornado_bar(
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
