//! Pure statistics over raw samples: no I/O, no clocks. Every summary tokenmeter prints comes from here.

mod basic;
pub mod ci;
pub mod latency;
pub mod numerics;
pub mod ratio;

pub use basic::{cv, mean, median, rates_per_s, stddev};
pub use ci::{mean_ci95_rel_half_width, StopReason, StopRule};
pub use latency::{Distribution, LatencyHistogram, Percentile, Percentiles};
