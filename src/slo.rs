//! Latency objectives (SLOs) in one syntax for `load --slo`, `[[workload]] slo` and the cost model:
//! `ttft_p95=500ms,itl_p95=50ms`.

use serde::{Deserialize, Serialize};

/// A latency objective such as `ttft_p95=500ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SloTerm {
    /// `ttft`, `itl`, `e2e` or `queue`.
    pub metric: String,
    /// `p50`, `p90`, `p95`, `p99` or `p999`.
    pub percentile: String,
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
            if !["ttft", "itl", "e2e", "queue"].contains(&metric) {
                return Err(format!(
                    "'{metric}': unknown metric (expected ttft, itl, e2e or queue)"
                ));
            }
            if !["p50", "p90", "p95", "p99", "p999"].contains(&percentile) {
                return Err(format!(
                    "'{percentile}': unknown percentile (expected p50, p90, p95, p99 or p999)"
                ));
            }
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
                metric: metric.into(),
                percentile: percentile.into(),
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
