//! Which levels a sweep of rising load runs and which one is the operating point: why a level is ineligible,
//! the saturation rule (with its replicate of a level it would stop on) and the highest goodput among the levels
//! that met the SLO.

use crate::results::load::{LevelRecord, LevelSummary, OperatingPoint};

/// The objectives a level missed, in the SLO's order.
pub fn missed_objectives(s: &LevelSummary) -> Vec<&str> {
    s.slo_checks
        .iter()
        .filter(|c| !c.met)
        .map(|c| c.objective.as_str())
        .collect()
}

/// Why a level cannot be the operating point, if it cannot.
pub fn ineligible(s: &LevelSummary) -> Option<String> {
    if s.interrupted {
        return Some("interrupted".into());
    }
    match s.slo_met {
        None => Some("no SLO".into()),
        Some(false) => Some(format!("missed {}", missed_objectives(s).join(", "))),
        Some(true) => None,
    }
}

/// Least rise of goodput (or, without an SLO, output t/s) over the best lower level for a rising sweep to go on:
/// smaller changes are within a run's noise.
pub const SATURATION_MIN_GAIN: f64 = 0.05;

/// The rate the saturation rule follows: goodput (output t/s when no SLO was given).
fn sweep_rate(s: &LevelSummary) -> f64 {
    match s.slo_met {
        Some(_) => s.goodput_output_tokens_per_s.unwrap_or(0.0),
        None => s.output_tokens_per_s,
    }
}

/// The last level of `levels` (with its replicate, when the last is one) and the levels below it.
fn last_level(levels: &[LevelSummary]) -> Option<(Vec<&LevelSummary>, &[LevelSummary])> {
    let (last, lower) = levels.split_last()?;
    match lower.split_last() {
        Some((first, below)) if last.replicate => Some((vec![first, last], below)),
        _ => Some((vec![last], lower)),
    }
}

/// Why a sweep of rising load should add no level after the last of `levels`: that level missed the SLO or was
/// interrupted, or its goodput (output t/s when no SLO was given) rose less than [`SATURATION_MIN_GAIN`] above
/// the best lower level's. A level run twice ([`needs_replicate`]) is judged on the mean of its runs' rates (a
/// missed SLO or an interruption in either ends the sweep). `None`: keep going.
pub fn saturation(
    levels: &[LevelSummary],
    label: impl Fn(&LevelSummary) -> String,
) -> Option<String> {
    let (runs, lower) = last_level(levels)?;
    for run in &runs {
        match ineligible(run) {
            Some(why) if why != "no SLO" => return Some(why),
            _ => {}
        }
    }
    let rate = runs.iter().map(|s| sweep_rate(s)).sum::<f64>() / runs.len() as f64;
    let what = if runs[0].slo_met.is_some() {
        "goodput"
    } else {
        "output"
    };
    let best = lower
        .iter()
        .filter(|s| !s.interrupted && !s.replicate)
        .max_by(|a, b| sweep_rate(a).total_cmp(&sweep_rate(b)))?;
    (rate < sweep_rate(best) * (1.0 + SATURATION_MIN_GAIN)).then(|| {
        let runs_note = if runs.len() > 1 {
            format!(
                " (mean of two runs: {})",
                runs.iter()
                    .map(|s| format!("{:.1}", sweep_rate(s)))
                    .collect::<Vec<_>>()
                    .join(" and ")
            )
        } else {
            String::new()
        };
        format!(
            "{what} {rate:.1} t/s{runs_note} is not {:.0}% above {}'s {:.1} t/s",
            SATURATION_MIN_GAIN * 100.0,
            label(best),
            sweep_rate(best)
        )
    })
}

/// Whether the sweep should run its last level once more before stopping: the saturation rule would stop on
/// that level's rise alone (it met the SLO, or there is none, and was not interrupted), and it has not been run
/// twice yet. One comparison of two single runs within a few percent is mostly noise; the second run's rate is
/// averaged with the first's.
pub fn needs_replicate(levels: &[LevelSummary]) -> bool {
    let Some(last) = levels.last() else {
        return false;
    };
    !last.replicate
        && levels.len() > 1
        && matches!(ineligible(last).as_deref(), None | Some("no SLO"))
        && saturation(levels, |_| String::new()).is_some()
}

/// The level with the highest goodput (output tokens/s of requests meeting every term) among those that met
/// the SLO over all arrivals and were not interrupted; ties go to the earlier level.
pub fn operating_point(levels: &[LevelRecord]) -> Option<OperatingPoint> {
    let goodput = |l: &LevelRecord| l.summary.goodput_output_tokens_per_s.unwrap_or(0.0);
    levels
        .iter()
        .enumerate()
        .filter(|(_, l)| ineligible(&l.summary).is_none() && !l.summary.replicate)
        .fold(None::<(usize, &LevelRecord)>, |best, (i, l)| match best {
            Some((_, b)) if goodput(b) >= goodput(l) => best,
            _ => Some((i, l)),
        })
        .map(|(i, l)| {
            let s = &l.summary;
            OperatingPoint {
                level_index: i,
                concurrency: s.concurrency,
                rate: s.rate,
                requests_per_s: s.requests_per_s,
                output_tokens_per_s: s.output_tokens_per_s,
                total_tokens_per_s: s.total_tokens_per_s,
                goodput_requests_per_s: s.goodput_requests_per_s,
                goodput_output_tokens_per_s: s.goodput_output_tokens_per_s,
                requests_not_completed: s.requests_not_completed,
            }
        })
}
