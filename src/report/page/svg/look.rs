//! How each series looks, so that series stay apart in black and white: its colour (a palette most colour-blind
//! readers tell apart), dash pattern and marker shape; and the shades of the phase bands.

use plotters::style::RGBColor;

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
pub(super) enum Dash {
    Solid,
    Dashed,
    Dotted,
    Long,
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Marker {
    Circle,
    Triangle,
    Square,
    Cross,
}

/// How series `i` is drawn: the first 16 series differ in dash and marker together, whatever their colour.
#[derive(Clone, Copy)]
pub(super) struct Look {
    pub(super) color: RGBColor,
    pub(super) dash: Dash,
    pub(super) marker: Marker,
}

pub(super) fn look(i: usize) -> Look {
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

/// Shading of a band: the first kind darker than the second (both light enough for the lines over them).
pub(super) fn band_shade(kind: usize) -> RGBColor {
    if kind == 0 {
        RGBColor(205, 205, 205)
    } else {
        RGBColor(235, 238, 244)
    }
}

/// Pixels on and off of a dash pattern; `None` for a solid line.
pub(super) fn dash_pattern(d: Dash) -> Option<(i32, i32)> {
    match d {
        Dash::Solid => None,
        Dash::Dashed => Some((7, 4)),
        Dash::Dotted => Some((2, 3)),
        Dash::Long => Some((14, 4)),
    }
}

/// Pixel segments `(from, to)` of a dash pattern over `len` pixels.
pub(super) fn dash_segments(d: Dash, len: i32) -> Vec<(i32, i32)> {
    let Some((on, off)) = dash_pattern(d) else {
        return vec![(0, len)];
    };
    (0..len)
        .step_by((on + off) as usize)
        .map(|a| (a, (a + on).min(len)))
        .collect()
}
