//! What a chart holds, whatever draws it: series of points, limits drawn across it, shaded spans, marked points,
//! its kind (lines, grouped bars, tornado) and the sources of its points; or, for a figure left out, why.

#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    /// What the point is (`c=4`, `month 7`); may be empty.
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
    /// Joined by a line (else markers only).
    pub line: bool,
    /// A marker on each point.
    pub markers: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleAxis {
    X,
    Y,
}

/// A limit drawn across the chart (an SLO).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub axis: RuleAxis,
    pub value: f64,
    pub label: String,
}

/// A span of x shaded behind the series: `kind` 0 is shaded darker than 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub x0: f64,
    pub x1: f64,
    pub kind: usize,
    /// What the shading means (`prompt processing`).
    pub label: String,
}

/// A point called out (the operating point, a break-even crossing).
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub x: f64,
    pub y: f64,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Lines,
    /// Grouped bars: a point's x is its category's index; one bar per series in each category.
    Bars {
        categories: Vec<String>,
    },
    /// Horizontal bars from `baseline` to each point's x; a point's y is its category's index (0 at the bottom).
    Tornado {
        categories: Vec<String>,
        baseline: f64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub id: String,
    pub title: String,
    /// Axis titles with their units.
    pub x_label: String,
    pub y_label: String,
    pub kind: Kind,
    pub series: Vec<Series>,
    pub rules: Vec<Rule>,
    pub marks: Vec<Mark>,
    /// Spans of x shaded behind the series (phases).
    pub bands: Vec<Band>,
    /// A logarithmic x axis.
    pub x_log: bool,
    /// Where the points came from.
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    Chart(Chart),
    /// Not drawn: nothing was measured for it, and why.
    Absent {
        id: String,
        title: String,
        why: String,
    },
}

impl Figure {
    pub fn id(&self) -> &str {
        match self {
            Figure::Chart(c) => &c.id,
            Figure::Absent { id, .. } => id,
        }
    }

    pub fn title(&self) -> &str {
        match self {
            Figure::Chart(c) => &c.title,
            Figure::Absent { title, .. } => title,
        }
    }
}

pub(super) fn absent(id: &str, title: &str, why: impl Into<String>) -> Figure {
    Figure::Absent {
        id: id.into(),
        title: title.into(),
        why: why.into(),
    }
}
