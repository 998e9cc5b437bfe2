//! Latency objectives (SLOs) as stored in result files and written in one syntax for `load --slo`,
//! `[[workload]] slo` and the cost model: `ttft_p95=500ms,itl_p95=50ms`. Checking them is `analysis`'s.

use crate::stats::Percentile;
use serde::{Deserialize, Serialize};

/// What an objective bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Time to first token: from the request's start to the end of the prefill decode that yields the first
    /// output token's logits.
    Ttft,
    /// Inter-token latency: the gap between consecutive output tokens of one request.
    Itl,
    /// End to end: from the request's start to its last output token.
    E2e,
    /// Queueing: from the request's arrival to when a sequence slot took it.
    Queue,
}

impl Metric {
    pub const ALL: [Metric; 4] = [Metric::Ttft, Metric::Itl, Metric::E2e, Metric::Queue];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Ttft => "ttft",
            Metric::Itl => "itl",
            Metric::E2e => "e2e",
            Metric::Queue => "queue",
        }
    }

    pub fn parse(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == s)
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A latency objective such as `ttft_p95=500ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloTerm {
    pub metric: Metric,
    pub percentile: Percentile,
    pub max_ms: f64,
}

/// Parses `ttft_p95=500ms,itl_p95=50ms` (units: us, ms, s).
pub fn parse_slo(s: &str) -> Result<Vec<SloTerm>, String> {
    s.split(',')
        .filter(|t| !t.trim().is_empty())
        .map(|term| {
            let (key, value) = term.split_once('=').ok_or_else(|| {
                format!("'{term}': expected METRIC_PERCENTILE=VALUE, e.g. ttft_p95=500ms")
            })?;
            let (metric, percentile) = key
                .trim()
                .split_once('_')
                .ok_or_else(|| format!("'{key}': expected e.g. ttft_p95"))?;
            let metric = Metric::parse(metric).ok_or_else(|| {
                format!("'{metric}': unknown metric (expected ttft, itl, e2e or queue)")
            })?;
            let percentile = Percentile::parse(percentile).ok_or_else(|| {
                format!("'{percentile}': unknown percentile (expected p50, p90, p95, p99 or p999)")
            })?;
            let v = value.trim();
            let (num, scale) = if let Some(x) = v.strip_suffix("ms") {
                (x, 1.0)
            } else if let Some(x) = v.strip_suffix("us") {
                (x, 1e-3)
            } else if let Some(x) = v.strip_suffix('s') {
                (x, 1e3)
            } else {
                return Err(format!("'{v}': give a unit (us, ms or s)"));
            };
            let max_ms = num
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x > 0.0)
                .ok_or_else(|| format!("'{v}': not a positive duration"))?
                * scale;
            Ok(SloTerm {
                metric,
                percentile,
                max_ms,
            })
        })
        .collect()
}

impl SloTerm {
    /// `ttft_p95`.
    pub fn objective(&self) -> String {
        format!("{}_{}", self.metric, self.percentile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slo_terms_parse_with_units() {
        let t = parse_slo("ttft_p95=500ms,itl_p99=0.05s,e2e_p50=800us").unwrap();
        assert_eq!(
            t,
            vec![
                SloTerm {
                    metric: Metric::Ttft,
                    percentile: Percentile::P95,
                    max_ms: 500.0
                },
                SloTerm {
                    metric: Metric::Itl,
                    percentile: Percentile::P99,
                    max_ms: 50.0
                },
                SloTerm {
                    metric: Metric::E2e,
                    percentile: Percentile::P50,
                    max_ms: 0.8
                },
            ]
        );
        assert!(parse_slo("ttft_p95=500").is_err());
        assert!(parse_slo("speed_p95=1ms").is_err());
        assert!(parse_slo("ttft_p42=1ms").is_err());
    }

    #[test]
    fn terms_keep_their_text_form_in_json() {
        let t = parse_slo("queue_p999=2s").unwrap();
        let json = serde_json::to_value(&t[0]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"metric": "queue", "percentile": "p999", "max_ms": 2000.0})
        );
        assert_eq!(t[0].objective(), "queue_p999");
    }
}
