//! The physical limit of generation: each token reads (about) every weight once, so tokens/s × bytes per token
//! cannot exceed memory bandwidth. Expresses a rate as a fraction of that roofline; the CPU's bandwidth is
//! measured in `bandwidth`.

/// `tokens_per_s × bytes_per_token` as a fraction of `bandwidth_gb_per_s`; `None` when an input is missing in
/// effect (not finite, or a bandwidth or byte count of zero). Above 1 means the bytes-per-token figure is wrong
/// (e.g. weights served from cache), not that the limit was beaten.
pub fn roofline_fraction(
    tokens_per_s: f64,
    bytes_per_token: u64,
    bandwidth_gb_per_s: f64,
) -> Option<f64> {
    let ok = tokens_per_s.is_finite() && tokens_per_s >= 0.0 && bandwidth_gb_per_s.is_finite();
    (ok && bytes_per_token > 0 && bandwidth_gb_per_s > 0.0)
        .then(|| tokens_per_s * bytes_per_token as f64 / (bandwidth_gb_per_s * 1e9))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roofline_fraction_is_bytes_moved_over_bandwidth() {
        // 20 tokens/s reading 4 GB each = 80 GB/s of a 100 GB/s memory system.
        let f = roofline_fraction(20.0, 4_000_000_000, 100.0).unwrap();
        assert!((f - 0.8).abs() < 1e-12);
        assert_eq!(roofline_fraction(20.0, 0, 100.0), None);
        assert_eq!(roofline_fraction(20.0, 4, 0.0), None);
        assert_eq!(roofline_fraction(f64::NAN, 4, 100.0), None);
    }
}
