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

/// A percentile tokenmeter reports and SLOs name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Percentile {
    #[serde(rename = "p50")]
    P50,
    #[serde(rename = "p90")]
    P90,
    #[serde(rename = "p95")]
    P95,
    #[serde(rename = "p99")]
    P99,
    #[serde(rename = "p999")]
    P999,
}

impl Percentile {
    pub const ALL: [Percentile; 5] = [
        Percentile::P50,
        Percentile::P90,
        Percentile::P95,
        Percentile::P99,
        Percentile::P999,
    ];

    /// The quantile, 0..1.
    pub fn quantile(self) -> f64 {
        match self {
            Percentile::P50 => 0.50,
            Percentile::P90 => 0.90,
            Percentile::P95 => 0.95,
            Percentile::P99 => 0.99,
            Percentile::P999 => 0.999,
        }
    }

    /// Samples needed before this percentile is more than the largest sample: 1 / (1 − q), so that at least
    /// one sample lies above it (p95: 20, p99: 100, p99.9: 1000).
    pub fn min_samples(self) -> u64 {
        match self {
            Percentile::P50 => 2,
            Percentile::P90 => 10,
            Percentile::P95 => 20,
            Percentile::P99 => 100,
            Percentile::P999 => 1000,
        }
    }

    /// `p95`, as in SLO terms and JSON keys.
    pub fn name(self) -> &'static str {
        match self {
            Percentile::P50 => "p50",
            Percentile::P90 => "p90",
            Percentile::P95 => "p95",
            Percentile::P99 => "p99",
            Percentile::P999 => "p999",
        }
    }

    pub fn parse(s: &str) -> Option<Percentile> {
        Percentile::ALL.into_iter().find(|p| p.name() == s)
    }

    /// Whether `count` samples are too few for this percentile to differ from the maximum.
    pub fn low_sample_count(self, count: u64) -> bool {
        count < self.min_samples()
    }
}

impl std::fmt::Display for Percentile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The percentiles tokenmeter reports, in milliseconds, with the number of samples they come from. All absent
/// for an empty distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    /// Samples every figure above comes from.
    pub count: u64,
    /// Percentiles measured from fewer samples than they need ([`Percentile::min_samples`]): each is the
    /// largest sample, or close to it, rather than the tail it names.
    #[serde(default)]
    pub low_sample_count: Vec<Percentile>,
}

impl Percentiles {
    pub fn get(&self, p: Percentile) -> Option<f64> {
        match p {
            Percentile::P50 => self.p50,
            Percentile::P90 => self.p90,
            Percentile::P95 => self.p95,
            Percentile::P99 => self.p99,
            Percentile::P999 => self.p999,
        }
    }

    /// Percentiles that `count` samples are too few for (none for an empty distribution, whose figures are
    /// absent).
    pub fn low_counts(count: u64) -> Vec<Percentile> {
        if count == 0 {
            return Vec::new();
        }
        Percentile::ALL
            .into_iter()
            .filter(|p| p.low_sample_count(count))
            .collect()
    }

    /// Whether `p` came from too few samples.
    pub fn is_low(&self, p: Percentile) -> bool {
        self.count > 0 && p.low_sample_count(self.count)
    }
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
            low_sample_count: Percentiles::low_counts(self.0.len()),
        }
    }

    pub fn merge(&mut self, other: &LatencyHistogram) {
        self.0
            .add(&other.0)
            .expect("auto-resizing histograms merge");
    }

    /// The empirical distribution function: for each recorded value (ms, at the histogram's precision), the
    /// fraction of samples at or below it. Empty for an empty histogram.
    pub fn cdf_ms(&self) -> Vec<(f64, f64)> {
        let n = self.0.len();
        if n == 0 {
            return Vec::new();
        }
        let mut seen = 0u64;
        self.0
            .iter_recorded()
            .map(|v| {
                seen += v.count_at_value();
                (v.value_iterated_to() as f64 / 1e6, seen as f64 / n as f64)
            })
            .collect()
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

    #[test]
    fn percentiles_are_in_ms_and_name_those_too_few_samples_hold() {
        let empty = LatencyHistogram::new();
        assert!(empty.is_empty());
        assert_eq!(empty.len(), 0);
        assert!(
            !empty.percentiles().is_low(Percentile::P99),
            "absent, not low"
        );
        let h: LatencyHistogram = (1..=20u64).map(|i| i * 1_000_000).collect();
        assert!(!h.is_empty());
        assert_eq!(h.len(), 20);
        let p = h.percentiles();
        assert_eq!(p.get(Percentile::P50), p.p50);
        assert_eq!(p.get(Percentile::P95), p.p95);
        assert_eq!(p.get(Percentile::P99), p.p99);
        assert_eq!(p.p50.map(f64::round), Some(10.0), "10 ms, not ns");
        assert_eq!(p.get(Percentile::P90).map(f64::round), Some(18.0));
        assert_eq!(p.get(Percentile::P999), p.p999);
        assert!(!p.is_low(Percentile::P95), "20 samples hold p95");
        assert!(p.is_low(Percentile::P99), "20 samples are too few for p99");
    }

    /// Nearest-rank percentile of raw samples.
    fn exact(sorted: &[u64], q: f64) -> u64 {
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    #[test]
    fn cdf_rises_to_one_at_each_recorded_value() {
        // 1 ms twice, 2 ms once, 4 ms once: exact at 3 significant digits
        let h: LatencyHistogram = [1_000_000u64, 2_000_000, 1_000_000, 4_000_000]
            .into_iter()
            .collect();
        let cdf = h.cdf_ms();
        let xs: Vec<f64> = cdf.iter().map(|p| (p.0 * 100.0).round() / 100.0).collect();
        let ys: Vec<f64> = cdf.iter().map(|p| p.1).collect();
        assert_eq!(xs, vec![1.0, 2.0, 4.0]);
        assert_eq!(ys, vec![0.5, 0.75, 1.0]);
        assert!(LatencyHistogram::new().cdf_ms().is_empty());
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
    fn percentiles_from_too_few_samples_are_flagged_with_their_count() {
        let four: LatencyHistogram = (1..=4u64).map(|i| i * 1_000_000).collect();
        let p = four.percentiles();
        assert_eq!(p.count, 4);
        assert_eq!(
            p.low_sample_count,
            vec![
                Percentile::P90,
                Percentile::P95,
                Percentile::P99,
                Percentile::P999
            ]
        );
        assert_eq!(p.p95, p.max, "with 4 samples p95 is the maximum");
        let twenty: LatencyHistogram = (1..=20u64).map(|i| i * 1_000_000).collect();
        assert_eq!(
            twenty.percentiles().low_sample_count,
            vec![Percentile::P99, Percentile::P999]
        );
        let json = serde_json::to_value(twenty.percentiles()).unwrap();
        assert_eq!(json["count"], 20);
        assert_eq!(json["low_sample_count"], serde_json::json!(["p99", "p999"]));
        assert!(LatencyHistogram::new()
            .percentiles()
            .low_sample_count
            .is_empty());
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
