//! `[[workload]]`: what is asked of the model: requests per day, tokens per request, how the load is spread over
//! the day and the week, growth, the share of simple requests and the latency objective (SLO).

use super::check::At;
use super::ConfigError;
use crate::results::slo::{parse_slo, SloTerm};
use serde::Deserialize;
use std::path::Path;

/// Tokens per request: a mean, or a distribution given by its mean (and optionally spread and bounds, which `load`
/// uses to draw lengths; cost is linear in tokens, so it uses the mean).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Tokens {
    Mean(f64),
    Distribution(TokenDistribution),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenDistribution {
    pub mean: f64,
    pub sd: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Tokens {
    pub fn mean(&self) -> f64 {
        match self {
            Tokens::Mean(m) => *m,
            Tokens::Distribution(d) => d.mean,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadEntry {
    pub name: String,
    pub requests_per_day: f64,
    pub input_tokens_per_request: Tokens,
    pub output_tokens_per_request: Tokens,
    /// 24 relative weights, hour 0 (midnight) first; scaled so that their mean is 1.
    pub hourly_weights: Option<Vec<f64>>,
    /// Busiest hour / mean hour, when no `hourly_weights` are given.
    pub peak_to_mean_ratio: Option<f64>,
    /// 7 relative weights, Monday first; scaled so that their mean is 1 (flat when absent).
    pub weekday_weights: Option<Vec<f64>>,
    /// Growth of the request volume per month (0.05 = +5% a month).
    pub growth_per_month_fraction: Option<f64>,
    /// Share of requests that are simple enough for the local model (tiered routing).
    pub simple_share_fraction: Option<f64>,
    /// Share of input tokens a cloud provider bills at its cached-input price.
    pub cached_input_fraction: Option<f64>,
    /// Standard deviation of the hour-to-hour noise in the hybrid simulation, as a fraction of the hour's load.
    pub hourly_noise_fraction: Option<f64>,
    /// Latency objectives in `load`'s syntax: `ttft_p95=1s`, `itl_p95=100ms`, `e2e_p99=30s`.
    #[serde(default)]
    pub slo: Vec<String>,
    /// Batch work (results wanted within the provider's batch window, not interactively): priced at a cloud
    /// offering's batch input/output prices where it has them. Default false.
    #[serde(default)]
    pub batch: bool,
    pub notes: Option<String>,
}

/// Weights scaled to mean 1.
fn normalized(w: &[f64]) -> Vec<f64> {
    let mean = w.iter().sum::<f64>() / w.len() as f64;
    w.iter().map(|x| x / mean).collect()
}

impl WorkloadEntry {
    /// The 24 hourly factors (mean 1): the configured weights, or a profile with the configured peak-to-mean ratio
    /// (a daily wave peaking at 14:00), or flat.
    pub fn hourly_profile(&self) -> Vec<f64> {
        if let Some(w) = &self.hourly_weights {
            return normalized(w);
        }
        let r = self.peak_to_mean_ratio.unwrap_or(1.0);
        let wave: Vec<f64> = (0..24)
            .map(|h| (2.0 * std::f64::consts::PI * (h as f64 - 14.0) / 24.0).cos())
            .collect();
        if r <= 2.0 {
            return wave.iter().map(|c| 1.0 + (r - 1.0) * c).collect();
        }
        // Above 2 a wave would go negative: a busy window of k hours at the peak, the rest sharing what is left.
        let k = (24.0 / r).floor().max(1.0) as usize;
        let rest = (24.0 - k as f64 * r) / (24 - k) as f64;
        let mut hours: Vec<usize> = (0..24).collect();
        hours.sort_by(|a, b| wave[*b].total_cmp(&wave[*a]));
        let mut out = vec![rest; 24];
        for &h in &hours[..k] {
            out[h] = r;
        }
        out
    }

    /// Busiest hour / mean hour of the daily profile.
    pub fn peak_to_mean(&self) -> f64 {
        self.hourly_profile().iter().copied().fold(0.0, f64::max)
    }

    /// The 7 weekday factors (mean 1), Monday first.
    pub fn weekday_profile(&self) -> Vec<f64> {
        self.weekday_weights
            .as_deref()
            .map(normalized)
            .unwrap_or_else(|| vec![1.0; 7])
    }

    /// The objectives of every `slo` string (each may hold several, comma-separated).
    pub fn slos(&self) -> Vec<SloTerm> {
        self.slo
            .iter()
            .filter_map(|s| parse_slo(s).ok())
            .flatten()
            .collect()
    }
}

pub(crate) fn validate(entries: &[WorkloadEntry], path: &Path) -> Result<(), ConfigError> {
    for (index, w) in entries.iter().enumerate() {
        let at = At {
            path,
            table: "workload",
            index,
            name: &w.name,
        };
        at.at_least(
            "requests_per_day",
            w.requests_per_day,
            0.0,
            "requests per day",
        )?;
        at.at_least(
            "input_tokens_per_request",
            w.input_tokens_per_request.mean(),
            0.0,
            "tokens",
        )?;
        at.at_least(
            "output_tokens_per_request",
            w.output_tokens_per_request.mean(),
            0.0,
            "tokens",
        )?;
        if w.input_tokens_per_request.mean() + w.output_tokens_per_request.mean() <= 0.0 {
            return Err(at.error(
                "output_tokens_per_request",
                "expected at least one token per request",
            ));
        }
        let weights = |key: &str, v: &Option<Vec<f64>>, n: usize| -> Result<(), ConfigError> {
            if let Some(v) = v {
                if v.len() != n
                    || v.iter().any(|x| !x.is_finite() || *x < 0.0)
                    || v.iter().sum::<f64>() <= 0.0
                {
                    return Err(at.error(
                        key,
                        format!(
                            "expected {n} weights ≥ 0, not all 0, got {} values",
                            v.len()
                        ),
                    ));
                }
            }
            Ok(())
        };
        weights("hourly_weights", &w.hourly_weights, 24)?;
        weights("weekday_weights", &w.weekday_weights, 7)?;
        if w.hourly_weights.is_some() && w.peak_to_mean_ratio.is_some() {
            return Err(at.error(
                "peak_to_mean_ratio",
                "give either hourly_weights or peak_to_mean_ratio, not both",
            ));
        }
        if let Some(r) = w.peak_to_mean_ratio {
            if !(1.0..=24.0).contains(&r) {
                return Err(at.error(
                    "peak_to_mean_ratio",
                    format!("expected a ratio from 1 to 24, got {r}"),
                ));
            }
        }
        at.opt_at_least(
            "growth_per_month_fraction",
            w.growth_per_month_fraction,
            -1.0,
            "fraction per month",
        )?;
        for (key, v) in [
            ("simple_share_fraction", w.simple_share_fraction),
            ("cached_input_fraction", w.cached_input_fraction),
        ] {
            if let Some(v) = v {
                at.fraction(key, v)?;
            }
        }
        at.opt_at_least(
            "hourly_noise_fraction",
            w.hourly_noise_fraction,
            0.0,
            "fraction of the hour's load",
        )?;
        for s in &w.slo {
            parse_slo(s).map_err(|e| at.error("slo", e))?;
        }
        if entries[..index].iter().any(|o| o.name == w.name) {
            return Err(at.error("name", format!("duplicate [[workload]] '{}'", w.name)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn slo_strings_use_loads_syntax_and_may_hold_several_terms() {
        let c = Config::parse(
            &workload("slo = [\"ttft_p95=1s,itl_p999=80ms\", \"e2e_p99=30s\"]\n"),
            Path::new("m.toml"),
        )
        .unwrap();
        let objectives: Vec<(String, f64)> = c.workload[0]
            .slos()
            .iter()
            .map(|t| (t.objective(), t.max_ms))
            .collect();
        assert_eq!(
            objectives,
            [
                ("ttft_p95".to_string(), 1000.0),
                ("itl_p999".to_string(), 80.0),
                ("e2e_p99".to_string(), 30_000.0)
            ]
        );
    }

    fn workload(extra: &str) -> String {
        format!(
            "[[workload]]\nname = \"w\"\nrequests_per_day = 1000.0\ninput_tokens_per_request = 500.0\n\
             output_tokens_per_request = {{ mean = 100.0, sd = 30.0 }}\n{extra}"
        )
    }

    #[test]
    fn token_counts_are_a_mean_or_a_distribution() {
        let c = Config::parse(&workload(""), Path::new("m.toml")).unwrap();
        assert_eq!(c.workload[0].input_tokens_per_request.mean(), 500.0);
        assert_eq!(c.workload[0].output_tokens_per_request.mean(), 100.0);
    }

    #[test]
    fn a_peak_to_mean_ratio_becomes_a_daily_profile_with_that_peak() {
        for r in [1.0, 1.5, 2.0, 3.0, 6.0] {
            let c = Config::parse(
                &workload(&format!("peak_to_mean_ratio = {r:?}\n")),
                Path::new("m.toml"),
            )
            .unwrap();
            let p = c.workload[0].hourly_profile();
            assert_eq!(p.len(), 24);
            assert!(
                (p.iter().sum::<f64>() / 24.0 - 1.0).abs() < 1e-9,
                "mean 1 for {r}"
            );
            assert!(p.iter().all(|x| *x >= 0.0));
            assert!((c.workload[0].peak_to_mean() - r).abs() < 1e-9, "peak {r}");
        }
    }

    #[test]
    fn batch_is_a_workload_key_that_defaults_to_false_and_unknown_keys_are_still_rejected() {
        let c = Config::parse(&workload(""), Path::new("m.toml")).unwrap();
        assert!(!c.workload[0].batch);
        let c = Config::parse(&workload("batch = true\n"), Path::new("m.toml")).unwrap();
        assert!(c.workload[0].batch);
        let e = Config::parse(&workload("batched = true\n"), Path::new("m.toml")).unwrap_err();
        assert!(e.to_string().contains("unknown field `batched`"), "{e}");
        let e = Config::parse(&workload("batch = \"yes\"\n"), Path::new("m.toml")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "m.toml:6: invalid type: string \"yes\", expected a boolean"
        );
    }

    #[test]
    fn bad_workload_values_name_the_key() {
        let e = Config::parse(
            &workload("hourly_weights = [1.0, 2.0]\n"),
            Path::new("m.toml"),
        )
        .unwrap_err();
        assert_eq!(e.location, "m.toml: workload[0] (w).hourly_weights");
        let e = Config::parse(&workload("slo = [\"fast\"]\n"), Path::new("m.toml")).unwrap_err();
        assert_eq!(e.location, "m.toml: workload[0] (w).slo");
        let e = Config::parse(
            &workload("simple_share_fraction = 1.5\n"),
            Path::new("m.toml"),
        )
        .unwrap_err();
        assert!(e.what.contains("fraction"), "{e}");
    }
}
