//! `[[sweep]]`: a benchmark sweep kept as data — the command, the models, the bench parameters or load levels and
//! the SLO — so that `plan` can cut it into shards and each machine of a fleet runs one (`--sweep NAME --shard
//! I/N`). A key left out keeps the command's own default (or the flag given with `--sweep`).

use super::check::At;
use super::ConfigError;
use crate::results::load::Lengths;
use crate::results::slo::parse_slo;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Which command a sweep's shards run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SweepCommand {
    #[default]
    Bench,
    Load,
}

impl SweepCommand {
    pub fn name(self) -> &'static str {
        match self {
            SweepCommand::Bench => "bench",
            SweepCommand::Load => "load",
        }
    }
}

/// The unit a sweep is cut into: one shard per case (a bench case or a load level of one model), or per model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ShardUnit {
    #[default]
    Case,
    Model,
}

impl ShardUnit {
    pub fn parse(s: &str) -> Option<ShardUnit> {
        match s {
            "case" => Some(ShardUnit::Case),
            "model" => Some(ShardUnit::Model),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ShardUnit::Case => "case",
            ShardUnit::Model => "model",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepEntry {
    pub name: String,
    /// `bench` (default) or `load`.
    #[serde(default)]
    pub command: SweepCommand,
    /// `[[model]]` names or GGUF paths, in the order the shards take them.
    pub models: Vec<String>,
    /// The default unit of `plan` and `--shard`: `case` or `model`.
    #[serde(default)]
    pub per: ShardUnit,
    // bench
    pub n_prompt: Option<Vec<u32>>,
    pub n_gen: Option<Vec<u32>>,
    pub n_depth: Option<Vec<u32>>,
    pub repetitions: Option<u32>,
    pub threads: Option<Vec<u32>>,
    pub n_gpu_layers: Option<Vec<i32>>,
    // load
    /// Closed-loop levels: requests kept in flight.
    pub concurrency: Option<Vec<u32>>,
    /// Open-loop levels: Poisson arrival rates in requests/s.
    pub rate: Option<Vec<f64>>,
    /// `load`'s syntax: N, A..B or A,B,C.
    pub input_tokens: Option<String>,
    pub output_tokens: Option<String>,
    pub requests: Option<u32>,
    /// `load`'s syntax, e.g. `ttft_p95=500ms,itl_p95=50ms`.
    pub slo: Option<String>,
    /// A `[[workload]]` supplying request lengths and the SLO.
    pub workload: Option<String>,
    pub notes: Option<String>,
}

pub(super) fn validate(sweeps: &[SweepEntry], path: &Path) -> Result<(), ConfigError> {
    for (index, s) in sweeps.iter().enumerate() {
        let at = At {
            path,
            table: "sweep",
            index,
            name: &s.name,
        };
        if sweeps[..index].iter().any(|o| o.name == s.name) {
            return Err(at.error("name", "another [[sweep]] has this name"));
        }
        if s.models.is_empty() {
            return Err(at.error("models", "expected at least one model"));
        }
        for (key, v) in [
            ("n_prompt", &s.n_prompt),
            ("n_gen", &s.n_gen),
            ("n_depth", &s.n_depth),
            ("threads", &s.threads),
            ("concurrency", &s.concurrency),
        ] {
            if v.as_ref().is_some_and(Vec::is_empty) {
                return Err(at.error(key, "expected a non-empty list"));
            }
        }
        if s.threads.as_ref().is_some_and(|t| t.contains(&0)) {
            return Err(at.error("threads", "values must be at least 1"));
        }
        if s.repetitions == Some(0) {
            return Err(at.error("repetitions", "expected at least 1"));
        }
        match s.command {
            SweepCommand::Bench => {
                for (key, given) in [
                    ("concurrency", s.concurrency.is_some()),
                    ("rate", s.rate.is_some()),
                    ("input_tokens", s.input_tokens.is_some()),
                    ("output_tokens", s.output_tokens.is_some()),
                    ("requests", s.requests.is_some()),
                    ("slo", s.slo.is_some()),
                    ("workload", s.workload.is_some()),
                ] {
                    if given {
                        return Err(at.error(key, "is a load setting: add command = \"load\""));
                    }
                }
            }
            SweepCommand::Load => {
                if s.concurrency.is_some() == s.rate.is_some() {
                    return Err(at.error(
                        "concurrency",
                        "a load sweep lists its levels: give `concurrency` or `rate` (not both)",
                    ));
                }
                if let Some(r) = s
                    .rate
                    .iter()
                    .flatten()
                    .find(|r| !(r.is_finite() && **r > 0.0))
                {
                    return Err(at.error("rate", format!("{r} is not a positive rate")));
                }
                if s.concurrency.as_ref().is_some_and(|c| c.contains(&0)) {
                    return Err(at.error("concurrency", "values must be at least 1"));
                }
                for (key, v) in [
                    ("input_tokens", &s.input_tokens),
                    ("output_tokens", &s.output_tokens),
                ] {
                    if let Some(e) = v.as_deref().and_then(|t| Lengths::parse(t).err()) {
                        return Err(at.error(key, e.to_string()));
                    }
                }
                if let Some(e) = s.slo.as_deref().and_then(|t| parse_slo(t).err()) {
                    return Err(at.error("slo", e.to_string()));
                }
                for (key, given) in [
                    ("n_prompt", s.n_prompt.is_some()),
                    ("n_gen", s.n_gen.is_some()),
                    ("n_depth", s.n_depth.is_some()),
                    ("repetitions", s.repetitions.is_some()),
                ] {
                    if given {
                        return Err(at.error(key, "is a bench setting: a load sweep takes levels"));
                    }
                }
                if s.n_gpu_layers.as_ref().is_some_and(|v| v.len() != 1) {
                    return Err(at.error("n_gpu_layers", "a load sweep takes one value"));
                }
                if s.threads.as_ref().is_some_and(|v| v.len() != 1) {
                    return Err(at.error("threads", "a load sweep takes one value"));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    #[test]
    fn a_bench_sweep_parses_with_its_lists() {
        let c = Config::parse(
            "[[sweep]]\nname = \"s\"\nmodels = [\"tiny-q4_0\"]\nn_prompt = [64]\nn_gen = [16, 32]\nrepetitions = 2\n",
            Path::new("m.toml"),
        )
        .unwrap();
        let s = c.sweep("s").unwrap();
        assert_eq!(s.n_gen.as_deref(), Some(&[16, 32][..]));
        assert_eq!(s.repetitions, Some(2));
    }

    #[test]
    fn an_unknown_sweep_key_is_named() {
        let e = Config::parse(
            "[[sweep]]\nname = \"s\"\nmodels = [\"a\"]\nn_promt = [64]\n",
            Path::new("m.toml"),
        )
        .unwrap_err();
        assert!(e.what.contains("n_promt"), "{e}");
    }

    #[test]
    fn a_load_setting_in_a_bench_sweep_is_refused_with_the_key() {
        let e = Config::parse(
            "[[sweep]]\nname = \"s\"\nmodels = [\"a\"]\nconcurrency = [1]\n",
            Path::new("m.toml"),
        )
        .unwrap_err();
        assert_eq!(e.location, "m.toml: sweep[0] (s).concurrency");
    }

    #[test]
    fn a_load_sweep_needs_its_levels() {
        let e = Config::parse(
            "[[sweep]]\nname = \"s\"\ncommand = \"load\"\nmodels = [\"a\"]\n",
            Path::new("m.toml"),
        )
        .unwrap_err();
        assert!(e.what.contains("concurrency"), "{e}");
        assert!(e.location.ends_with(".concurrency"), "{e}");
    }
}
