//! A `bench` result's measured figures: the chosen model's fastest pp and tg cases at the shallowest depth for
//! the single-stream speeds, and each phase's energy from the chosen case or else a pg case.

use super::energy::{idle_power, j_per_token};
use super::{devices_of, Figure, Measured, MeasuredError, WorkDevice};
use crate::results::telemetry::{CaseEnergy, EnergyRecord};
use crate::results::{CaseRecord, ResultFile};

/// The `bench` cases' figures for one model (`model`, a substring of its path; needed when the file holds several).
pub(super) fn from_bench(
    r: &ResultFile,
    file: &str,
    model: Option<&str>,
) -> Result<Measured, MeasuredError> {
    let chosen = choose_model(r, file, model)?;
    let cases: Vec<(usize, &CaseRecord)> = r
        .cases
        .iter()
        .enumerate()
        .filter(|(_, c)| c.model_filename == chosen)
        .collect();
    let figure = |(i, c, v): (usize, &CaseRecord, f64)| Figure {
        value: v,
        source: format!(
            "{file} cases[{i}] ({}, {} threads) avg_ts",
            c.test, c.n_threads
        ),
    };
    let tg = best(&cases, |c| c.n_prompt == 0 && c.n_gen > 0).ok_or(MeasuredError::NoCase {
        file: file.into(),
        what: "generation (tg)",
        flag: "-n > 0",
    })?;
    let pp = best(&cases, |c| c.n_prompt > 0 && c.n_gen == 0).ok_or(MeasuredError::NoCase {
        file: file.into(),
        what: "prompt processing (pp)",
        flag: "-p > 0",
    })?;
    let work = WorkDevice::of_case(tg.1);
    // The chosen case first, then the pg cases (prompt and generation in one repetition) at the shallowest depth.
    let pg = shallowest_pg_cases(&cases);
    let prompt_cases: Vec<(usize, &CaseRecord)> = std::iter::once((pp.0, pp.1))
        .chain(pg.iter().copied())
        .collect();
    let generation_cases: Vec<(usize, &CaseRecord)> = std::iter::once((tg.0, tg.1))
        .chain(pg.iter().copied())
        .collect();
    let prompt_energy = phase_energy(&prompt_cases, file, work, "prompt", |e| e.prompt.as_ref());
    let generation_energy = phase_energy(&generation_cases, file, work, "generation", |e| {
        e.generation.as_ref()
    });
    Ok(Measured {
        file: file.into(),
        model: chosen.into(),
        devices: devices_of(r),
        input_tokens_per_s: figure(pp),
        output_tokens_per_s: figure(tg),
        operating_point_output_tokens_per_s: None,
        operating_point_total_tokens_per_s: None,
        operating_point_requests_per_s: None,
        work_device: work,
        prompt_energy_j_per_token: prompt_energy,
        generation_energy_j_per_token: generation_energy,
        level_energy_j_per_output_token: None,
        level_energy_j_per_good_request: None,
        idle_power_w: idle_power(r, file, work),
        load_shape: None,
    })
}

/// The model whose cases are used: the first (sorted) whose name contains `model`, else the only one.
fn choose_model<'a>(
    r: &'a ResultFile,
    file: &str,
    model: Option<&str>,
) -> Result<&'a str, MeasuredError> {
    let names: Vec<&str> = {
        let mut v: Vec<&str> = r.cases.iter().map(|c| c.model_filename.as_str()).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    match model {
        Some(want) => names
            .iter()
            .copied()
            .find(|n| n.contains(want))
            .ok_or_else(|| MeasuredError::NoModel {
                file: file.into(),
                wanted: want.into(),
                names: names.join(", "),
            }),
        None if names.len() > 1 => Err(MeasuredError::Ambiguous {
            file: file.into(),
            n: names.len(),
            names: names.join(", "),
        }),
        None => Ok(names.first().copied().unwrap_or("")),
    }
}

/// The complete pg cases (prompt and generation in one repetition) at the shallowest depth among them.
fn shallowest_pg_cases<'a>(cases: &[(usize, &'a CaseRecord)]) -> Vec<(usize, &'a CaseRecord)> {
    let all: Vec<_> = cases
        .iter()
        .copied()
        .filter(|(_, c)| c.n_prompt > 0 && c.n_gen > 0 && c.complete)
        .collect();
    let depth = all.iter().map(|(_, c)| c.n_depth).min();
    all.into_iter()
        .filter(|(_, c)| Some(c.n_depth) == depth)
        .collect()
}

/// A phase's joules per token from the first of `cases` that measured it on every working device.
fn phase_energy(
    cases: &[(usize, &CaseRecord)],
    file: &str,
    work: WorkDevice,
    phase: &str,
    pick: fn(&CaseEnergy) -> Option<&EnergyRecord>,
) -> Option<Figure> {
    cases.iter().find_map(|&(i, c)| {
        j_per_token(
            work,
            c.energy.iter().enumerate().filter_map(|(k, e)| {
                Some((
                    pick(e)?,
                    format!("{file} cases[{i}].energy[{k}].{phase}.j_per_token"),
                ))
            }),
        )
    })
}

/// The fastest complete case of one kind (`pp`: prompt only, `tg`: generation only) at the shallowest depth.
fn best<'a>(
    cases: &'a [(usize, &'a CaseRecord)],
    is_kind: impl Fn(&CaseRecord) -> bool,
) -> Option<(usize, &'a CaseRecord, f64)> {
    let kind: Vec<_> = cases
        .iter()
        .filter(|(_, c)| is_kind(c))
        .filter_map(|&(i, c)| c.usable_ts().map(|v| (i, c, v)))
        .collect();
    let depth = kind.iter().map(|(_, c, _)| c.n_depth).min()?;
    kind.into_iter()
        .filter(|(_, c, _)| c.n_depth == depth)
        .max_by(|a, b| a.2.total_cmp(&b.2))
}
