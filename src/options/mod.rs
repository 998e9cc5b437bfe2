//! Every command's arguments, as clap parsed them, converted into the options struct its command takes: the one
//! place that knows both, so nothing past it sees clap types and each flag is checked once.
//!
//! Each command's conversion lives in the submodule named after it (`run` holds what `bench` and `load` share);
//! the value parsers several of them use are here.

mod bench;
mod compare;
mod cost;
mod export;
mod fleet;
mod gguf;
mod load;
mod profile;
mod run;

pub use bench::bench;
pub use compare::compare;
pub use cost::{cost, decide, prices_import, report};
pub use export::export;
pub use fleet::{per, plan};
pub use gguf::synth;
pub use load::load;
pub use profile::profile;

use tokenmeter::commands::InputError;
use tokenmeter::config::sweep::ShardUnit;
use tokenmeter::report::Format;

/// llama-bench's `-fa` values: on/1, off/0, auto/-1 (llama.cpp's `llama_flash_attn_type`).
fn flash_attn(s: &str) -> Result<i8, InputError> {
    match s {
        "on" | "1" => Ok(1),
        "off" | "0" => Ok(0),
        "auto" | "-1" => Ok(-1),
        _ => Err(InputError(format!(
            "--flash-attn: expected on, off or auto, got '{s}'"
        ))),
    }
}

/// `2%` or `0.02`.
fn fraction(flag: &str, s: &str) -> Result<f64, InputError> {
    let bad = || {
        InputError(format!(
            "{flag}: expected a percentage such as 2%, got '{s}'"
        ))
    };
    match s.trim().strip_suffix('%') {
        Some(p) => p
            .trim()
            .parse::<f64>()
            .map(|x| x / 100.0)
            .map_err(|_| bad()),
        None => s.trim().parse::<f64>().map_err(|_| bad()),
    }
}

fn duration(flag: &str, s: &str) -> Result<std::time::Duration, InputError> {
    humantime::parse_duration(s).map_err(|e| {
        InputError(format!(
            "{flag}: '{s}' is not a duration such as 30s or 2m ({e})"
        ))
    })
}

pub fn format(s: &str) -> Result<Format, InputError> {
    Format::parse(s).ok_or_else(|| {
        InputError(format!(
            "-o/--output: unknown format '{s}' (expected md, csv, json, jsonl)"
        ))
    })
}

fn zero_or_one(flag: &str, v: u8) -> Result<bool, InputError> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(InputError(format!("{flag}: expected 0 or 1, got {v}"))),
    }
}

fn json_output(o: &str) -> Result<bool, InputError> {
    match o {
        "md" => Ok(false),
        "json" => Ok(true),
        _ => Err(InputError(format!(
            "-o/--output: unknown format '{o}' (expected md or json)"
        ))),
    }
}

fn unit(flag: &str, s: Option<&str>) -> Result<Option<ShardUnit>, InputError> {
    s.map(|v| {
        ShardUnit::parse(v)
            .ok_or_else(|| InputError(format!("{flag}: expected case or model, got '{v}'")))
    })
    .transpose()
}
