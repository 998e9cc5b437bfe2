//! Running benchmark cases: the cartesian product of parameters (as llama-bench), warm-up, repetitions with a
//! fresh KV cache each, and the raw samples they produce. Holds no global state: a case in, a case run out.

pub mod bench;
pub mod cases;
pub mod checkpoint;
pub mod cleanup;
pub mod energy;
pub mod estimates;
pub mod executor;
pub mod finish;
pub mod http;
pub mod load;
pub mod meter;
pub mod models;
pub mod numerics;
pub mod options;
pub mod pattern;
pub mod probe;
pub mod progress;
pub mod selftest;
pub mod sensors;
pub mod setup;
pub mod signals;
pub mod sweep;
pub mod unit;
pub mod worker;

pub use bench::{run_case, CaseRun, RepSample};
pub use cases::{expand, BenchGrid, Case, Test};
pub use meter::{Meter, MeterOptions};
