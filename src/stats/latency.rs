//! Latency distributions: hdrhistogram histograms of nanosecond samples, their percentiles, and a portable
//! serialized form (HdrHistogram V2 + deflate, base64) so result files can be merged later.

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Significant decimal digits the histograms keep: values are exact to within 0.1%.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// A latency histogram in nanoseconds.
#[derive(Debug, Clone)]
pub struct LatencyHistogram(Histogram<u64>);

/// The percentiles tokenmeter reports, in milliseconds. All absent for an empty distribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    pub count: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    pub fn new() -> Self {
        LatencyHistogram(Histogram::new(SIGNIFICANT_DIGITS).expect("valid precision"))
    }

    /// Records one sample; the histogram grows to hold any value.
    pub fn record(&mut self, ns: u64) {
        self.0
            .record(ns.max(1))
            .expect("an auto-resizing histogram holds any u64");
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value at quantile `q` (0..=1), in ns.
    pub fn quantile_ns(&self, q: f64) -> Option<u64> {
        (!self.0.is_empty()).then(|| self.0.value_at_quantile(q))
    }

    pub fn percentiles(&self) -> Percentiles {
        if self.0.is_empty() {
            return Percentiles::default();
        }
        let ms = |ns: u64| ns as f64 / 1e6;
        let q = |x: f64| Some(ms(self.0.value_at_quantile(x)));
        Percentiles {
            p50: q(0.50),
            p90: q(0.90),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            min: Some(ms(self.0.min())),
            max: Some(ms(self.0.max())),
            mean: Some(self.0.mean() / 1e6),
            count: self.0.len(),
        }
    }

    pub fn merge(&mut self, other: &LatencyHistogram) {
        self.0
            .add(&other.0)
            .expect("auto-resizing histograms merge");
    }

    /// HdrHistogram's V2 deflate encoding, base64: readable by every HdrHistogram implementation.
    pub fn to_base64(&self) -> String {
        let mut buf = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&self.0, &mut buf)
            .expect("in-memory serialization");
        base64::engine::general_purpose::STANDARD.encode(buf)
    }

    pub fn from_base64(s: &str) -> Result<LatencyHistogram, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| format!("histogram is not base64: {e}"))?;
        let mut h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| format!("histogram does not decode: {e:?}"))?;
        h.auto(true);
        Ok(LatencyHistogram(h))
    }
}

impl FromIterator<u64> for LatencyHistogram {
    fn from_iter<I: IntoIterator<Item = u64>>(iter: I) -> Self {
        let mut h = LatencyHistogram::new();
        for x in iter {
            h.record(x);
        }
        h
    }
}

/// A distribution as stored in result files: its percentiles and the serialized histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    #[serde(flatten)]
    pub ms: Percentiles,
    pub hdr_base64: String,
}

impl From<&LatencyHistogram> for Distribution {
    fn from(h: &LatencyHistogram) -> Self {
        Distribution {
            ms: h.percentiles(),
            hdr_base64: h.to_base64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nearest-rank percentile of raw samples.
    fn exact(sorted: &[u64], q: f64) -> u64 {
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    #[test]
    fn percentiles_match_raw_samples_within_the_histogram_precision() {
        // a skewed, deterministic series from 50 µs to about 2 s
        let mut xs: Vec<u64> = (1..=5000u64)
            .map(|i| 50_000 + i * i * 80 + (i * 7919) % 1000)
            .collect();
        let h: LatencyHistogram = xs.iter().copied().collect();
        xs.sort_unstable();
        for q in [0.5, 0.9, 0.95, 0.99, 0.999] {
            let want = exact(&xs, q) as f64;
            let got = h.quantile_ns(q).unwrap() as f64;
            assert!((got - want).abs() <= want * 1e-3, "q{q}: {got} vs {want}");
        }
        let p = h.percentiles();
        assert!((p.min.unwrap() * 1e6 - xs[0] as f64).abs() <= xs[0] as f64 * 1e-3);
        assert!((p.max.unwrap() * 1e6 - xs[4999] as f64).abs() <= xs[4999] as f64 * 1e-3);
        assert_eq!(p.count, 5000);
    }

    #[test]
    fn empty_distribution_is_absent_not_zero() {
        let p = LatencyHistogram::new().percentiles();
        assert_eq!(p.p50, None);
        assert_eq!(p.mean, None);
        let json = serde_json::to_value(p).unwrap();
        assert!(json["p99"].is_null());
    }

    #[test]
    fn serialized_histograms_round_trip_and_merge() {
        let a: LatencyHistogram = (1..=100u64).map(|i| i * 1_000_000).collect();
        let b: LatencyHistogram = (101..=200u64).map(|i| i * 1_000_000).collect();
        let back = LatencyHistogram::from_base64(&a.to_base64()).unwrap();
        assert_eq!(back.percentiles(), a.percentiles());
        let mut merged = back;
        merged.merge(&b);
        let all: LatencyHistogram = (1..=200u64).map(|i| i * 1_000_000).collect();
        assert_eq!(merged.percentiles(), all.percentiles());
    }
}
