//! A `load` result's measured figures: capacity and energy from the SLO operating point's level, per-request
//! speeds from the least loaded level, and the operating point's request lengths and SLO.

use super::energy::{idle_power, j_per_token};
use super::{devices_of, Figure, LoadShape, Measured, MeasuredError, WorkDevice};
use crate::results::load::{Lengths, LevelRecord, LoadSweep, OperatingPoint};
use crate::results::ResultFile;

/// Mean tokens of a request drawn from `Lengths` (a uniform range's midpoint; a list's mean, as it is cycled).
pub(super) fn mean_length(l: &Lengths) -> f64 {
    match l {
        Lengths::Fixed(n) => f64::from(*n),
        Lengths::Range(a, b) => (f64::from(*a) + f64::from(*b)) / 2.0,
        Lengths::List(v) if v.is_empty() => 0.0,
        Lengths::List(v) => v.iter().map(|&n| f64::from(n)).sum::<f64>() / v.len() as f64,
    }
}

/// The working device of a `load` run: `parameters.engine.n_gpu_layers` (llama.cpp's default −1, all, when
/// absent) and `parameters.backends` (else the build's devices).
pub fn load_work_device(r: &ResultFile) -> WorkDevice {
    let ngl = r.parameters["engine"]["n_gpu_layers"]
        .as_i64()
        .unwrap_or(-1);
    let backends = match r.parameters["backends"].as_str() {
        Some(b) => b.to_string(),
        None => r
            .build
            .devices
            .iter()
            .map(|d| d.backend.as_str())
            .collect::<Vec<_>>()
            .join(","),
    };
    WorkDevice::of_run(ngl, &backends)
}

/// A `load` result: capacity from the operating point, per-request speeds from the least loaded level.
pub(super) fn from_load(
    r: &ResultFile,
    sweep: &LoadSweep,
    file: &str,
) -> Result<Measured, MeasuredError> {
    let op = sweep
        .operating_point
        .as_ref()
        .ok_or_else(|| MeasuredError::NoOperatingPoint { file: file.into() })?;
    let (input_tokens_per_s, output_tokens_per_s) = per_request_speeds(sweep, file)?;
    let work = load_work_device(r);
    let op_level = sweep.levels.get(op.level_index);
    let load_shape = op_level.map(|l| load_shape(sweep, l, op.level_index, file));
    let measured = Measured {
        file: file.into(),
        model: sweep.model.clone(),
        devices: devices_of(r),
        input_tokens_per_s,
        output_tokens_per_s,
        operating_point_output_tokens_per_s: None,
        operating_point_total_tokens_per_s: None,
        operating_point_requests_per_s: None,
        work_device: work,
        prompt_energy_j_per_token: None,
        generation_energy_j_per_token: None,
        level_energy_j_per_output_token: None,
        level_energy_j_per_good_request: None,
        idle_power_w: idle_power(r, file, work),
        load_shape,
    };
    let energy = op_level.and_then(|l| level_energy(work, l, op.level_index, file));
    let measured = measured.with_operating_point(
        op.output_tokens_per_s,
        op.total_tokens_per_s,
        op.requests_per_s,
        op.goodput_output_tokens_per_s
            .zip(op.goodput_requests_per_s)
            .filter(|(output, _)| *output > 0.0),
        op.level_index,
    );
    Ok(with_energy_per_good_output(measured, energy, op))
}

/// Input and output tokens/s of one request at the least loaded level with a completed request: input tokens
/// over the time from admission to the first token, and 1000 / mean ITL.
fn per_request_speeds(sweep: &LoadSweep, file: &str) -> Result<(Figure, Figure), MeasuredError> {
    let load_of = |l: &LevelRecord| {
        l.summary
            .concurrency
            .map(f64::from)
            .or(l.summary.rate)
            .unwrap_or(f64::INFINITY)
    };
    let no_request = || MeasuredError::NoCompletedRequest { file: file.into() };
    let (i, level) = sweep
        .levels
        .iter()
        .enumerate()
        .filter(|(_, l)| l.requests.iter().any(|q| q.completed))
        .min_by(|a, b| load_of(a.1).total_cmp(&load_of(b.1)))
        .ok_or_else(no_request)?;
    let (tokens, prefill_ns) = level
        .requests
        .iter()
        .filter(|q| q.completed)
        .filter_map(|q| Some((q.input_tokens, q.token_ns.first()? - q.admitted_ns?)))
        .fold((0u64, 0u64), |(t, ns), (a, b)| (t + u64::from(a), ns + b));
    let itl = level.summary.itl_ms.ms.mean.filter(|m| *m > 0.0);
    let (Some(itl_ms), true) = (itl, prefill_ns > 0) else {
        return Err(no_request());
    };
    let at = |what: &str| format!("{file} load.levels[{i}] {what}");
    Ok((
        Figure {
            value: tokens as f64 / (prefill_ns as f64 / 1e9),
            source: at("requests: input tokens / (first token - admission)"),
        },
        Figure {
            value: 1000.0 / itl_ms,
            source: at("itl_ms.mean (1000 / mean inter-token latency)"),
        },
    ))
}

/// The operating point level's mean request lengths and the sweep's SLO.
fn load_shape(sweep: &LoadSweep, l: &LevelRecord, level_index: usize, file: &str) -> LoadShape {
    let at = |what: &str| format!("{file} load.levels[{level_index}].{what}");
    LoadShape {
        input_tokens_per_request: Figure {
            value: mean_length(&l.input_tokens),
            source: at("input_tokens"),
        },
        output_tokens_per_request: Figure {
            value: mean_length(&l.output_tokens),
            source: at("output_tokens"),
        },
        slo: sweep.slo.clone(),
        slo_source: format!("{file} load.slo"),
    }
}

/// The operating point level's joules per output token (all its output) on the working devices.
fn level_energy(
    work: WorkDevice,
    l: &LevelRecord,
    level_index: usize,
    file: &str,
) -> Option<Figure> {
    j_per_token(
        work,
        l.energy.iter().enumerate().map(|(k, e)| {
            (
                e,
                format!("{file} load.levels[{level_index}].energy[{k}].j_per_token"),
            )
        }),
    )
}

/// Adds the level's energy per good output token and per good request: all of the level's energy over what met
/// the SLO (over all its output when the file has no goodput).
fn with_energy_per_good_output(
    measured: Measured,
    energy: Option<Figure>,
    op: &OperatingPoint,
) -> Measured {
    let good = op
        .goodput_output_tokens_per_s
        .zip(op.goodput_requests_per_s)
        .filter(|(output, requests)| *output > 0.0 && *requests > 0.0);
    match (energy, good) {
        (Some(f), Some((good_output, good_requests))) => {
            let joules_per_s = f.value * op.output_tokens_per_s;
            let mut m = measured.with_level_energy(
                joules_per_s / good_output,
                format!(
                    "{} × output_tokens_per_s / goodput_output_tokens_per_s (all the level's energy over the \
                     output of the requests that met the SLO)",
                    f.source
                ),
            );
            m.level_energy_j_per_good_request = Some(Figure {
                value: joules_per_s / good_requests,
                source: format!(
                    "{} × output_tokens_per_s / goodput_requests_per_s (all the level's energy over the requests \
                     that met the SLO)",
                    f.source
                ),
            });
            m
        }
        (Some(f), None) => measured.with_level_energy(f.value, f.source),
        (None, _) => measured,
    }
}
