//! How the cost reports print numbers and tables: money rounded to whole dollars or cents, unit prices and plain
//! figures to significant digits, absent figures as `—`, and markdown tables with right-aligned figures.

use crate::cost::breakeven::BreakEven;
use crate::report::ABSENT;
use comfy_table::{presets::ASCII_MARKDOWN, CellAlignment, Table};

/// `1234567.891` → `1,234,568` (whole units, thousands separated).
pub(super) fn grouped(x: f64) -> String {
    let neg = x < 0.0;
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if neg && out != "0" {
        format!("-{out}")
    } else {
        out
    }
}

/// Dollars: whole dollars from $1,000, cents below.
pub fn usd(x: f64) -> String {
    if x < 0.0 && format!("{x:.2}") != "-0.00" {
        return format!("-{}", usd(-x));
    }
    if x.abs() >= 1000.0 {
        format!("${}", grouped(x))
    } else {
        format!("${x:.2}")
    }
}

/// Small unit prices ($ per 1M tokens): four significant digits.
pub fn usd_unit(x: f64) -> String {
    if x == 0.0 {
        return "$0".into();
    }
    let decimals = (3 - x.abs().log10().floor() as i32).clamp(0, 6) as usize;
    format!("${x:.decimals$}")
}

/// A plain number for tables: six significant digits, trailing zeros dropped.
pub fn num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let decimals = (5 - x.abs().log10().floor() as i32).clamp(0, 9) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

pub(super) fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map(f).unwrap_or_else(|| ABSENT.into())
}

pub(super) fn break_even(b: Option<BreakEven>, horizon: u32) -> String {
    match b {
        Some(b) => format!("month {} ({:.1} months)", b.month, b.after_months),
        None => format!("never (within {horizon} months)"),
    }
}

pub(super) fn months(m: Option<f64>) -> String {
    opt(m, |m| format!("{m:.1}"))
}

pub(super) fn table(header: &[&str], rows: Vec<Vec<String>>, right: &[usize]) -> String {
    let mut t = Table::new();
    t.load_preset(ASCII_MARKDOWN).set_header(header.to_vec());
    for r in rows {
        t.add_row(r);
    }
    for &i in right {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t.to_string() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_rounded_only_for_print() {
        assert_eq!(usd(15_000.0), "$15,000");
        assert_eq!(usd(-1_234_567.8), "-$1,234,568");
        assert_eq!(usd(-5.0), "-$5.00");
        assert_eq!(usd(499.996), "$500.00");
        assert_eq!(usd_unit(0.123456), "$0.1235");
        assert_eq!(usd_unit(12.5), "$12.50");
        assert_eq!(grouped(999.4), "999");
        assert_eq!(num(8001.953601953603), "8001.95");
        assert_eq!(num(30.416666666666668), "30.4167");
        assert_eq!(num(0.165), "0.165");
        assert_eq!(num(100000.0), "100000");
    }
}
