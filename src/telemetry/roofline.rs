//! The physical limit of generation: each token reads (about) every weight once, so tokens/s × bytes per token
//! cannot exceed memory bandwidth. Measures the CPU's streaming-read bandwidth and expresses a rate as a fraction
//! of that roofline.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Buffer for `measure_cpu_read_bandwidth`: larger than the last-level cache of desktop CPUs (at most 128 MiB of
/// L3, Ryzen 9 7950X3D, per AMD's data sheet, read 2026-11). Server CPUs with more L3 need a larger buffer.
pub const DEFAULT_BANDWIDTH_BUFFER_BYTES: usize = 256 << 20;

/// Streaming-read bandwidth in GB/s (10^9 bytes/s): `threads` threads each sum their share of a `bytes` buffer of
/// `u64`s, pass after pass, for at least `duration` and at least two passes; the best pass counts (the first one
/// also faults the pages in). Use a buffer larger than the last-level cache, e.g.
/// `DEFAULT_BANDWIDTH_BUFFER_BYTES`.
pub fn measure_cpu_read_bandwidth(bytes: usize, threads: usize, duration: Duration) -> f64 {
    let words = (bytes / 8).max(1);
    let threads = threads.clamp(1, words);
    let buf: Vec<u64> = (0..words as u64).collect();
    let chunk = words.div_ceil(threads);
    let began = Instant::now();
    let mut best_s = f64::INFINITY;
    let mut passes = 0;
    while passes < 2 || began.elapsed() < duration {
        let t0 = Instant::now();
        std::thread::scope(|s| {
            for part in buf.chunks(chunk) {
                s.spawn(move || {
                    black_box(black_box(part).iter().fold(0u64, |a, &x| a.wrapping_add(x)))
                });
            }
        });
        best_s = best_s.min(t0.elapsed().as_secs_f64());
        passes += 1;
    }
    (words * 8) as f64 / best_s / 1e9
}

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

    #[test]
    fn measured_bandwidth_is_positive_and_finite() {
        let gb_per_s = measure_cpu_read_bandwidth(16 << 20, 2, Duration::from_millis(20));
        assert!(gb_per_s.is_finite() && gb_per_s > 0.0, "{gb_per_s}");
    }
}
