//! Energy and idle power summed over the devices that did the work, each sum with the fields it came from; a sum
//! is absent when any working device lacks its figure.

use super::{Figure, WorkDevice};
use crate::results::telemetry::{EnergyRecord, IdleBaseline};
use crate::results::ResultFile;

/// Joules per token summed over the working devices' records, with the fields it came from; `None` when no
/// working device has a record or one of them has no figure (a partial sum would undercount).
pub fn j_per_token<'a>(
    work: WorkDevice,
    records: impl Iterator<Item = (&'a EnergyRecord, String)>,
) -> Option<Figure> {
    let mine: Vec<(Option<f64>, String)> = records
        .filter(|(r, _)| work.is(r.source, r.device.as_deref()))
        .map(|(r, at)| {
            let j = r.j_per_token.filter(|j| j.is_finite() && *j > 0.0);
            (j, format!("{at} ({})", r.device.as_deref().unwrap_or("?")))
        })
        .collect();
    sum_of_all(mine)
}

/// The sum of every figure with their sources joined; `None` when there is none or any is absent.
fn sum_of_all(figures: Vec<(Option<f64>, String)>) -> Option<Figure> {
    let values: Option<Vec<f64>> = figures.iter().map(|m| m.0).collect();
    let values = values.filter(|v| !v.is_empty())?;
    Some(Figure {
        value: values.iter().sum(),
        source: figures
            .iter()
            .map(|m| m.1.as_str())
            .collect::<Vec<_>>()
            .join(" + "),
    })
}

/// The working devices' idle power summed from `telemetry.idle`; `None` unless every working device that has a
/// baseline measured one (and at least one did).
pub(super) fn idle_power(r: &ResultFile, file: &str, work: WorkDevice) -> Option<Figure> {
    let idle: &[IdleBaseline] = r.telemetry.as_ref().map_or(&[], |t| &t.idle);
    let mine: Vec<(Option<f64>, String)> = idle
        .iter()
        .enumerate()
        .filter(|(_, b)| work.is(b.source, Some(&b.device)))
        .map(|(k, b)| {
            (
                b.idle_power_w.filter(|w| w.is_finite() && *w >= 0.0),
                format!("{file} telemetry.idle[{k}].idle_power_w ({})", b.device),
            )
        })
        .collect();
    sum_of_all(mine)
}
