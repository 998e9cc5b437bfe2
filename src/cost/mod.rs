//! The cost model: pure functions from measured throughput (a result file), configured hardware, workloads and
//! cloud prices to $ per million tokens, monthly cost, break-even, sensitivity, a simulated hybrid year and the
//! six-dimension decision, and whether a `load` result's shape stands for the workload. No I/O, no clocks, never calls the engine.
//!
//! **Money rule:** every amount is an `f64` of US dollars, carried unrounded through every calculation and rounded
//! only when printed; every money field's name ends in its unit (`usd`, `usd_per_month`, `usd_per_1m_output`).

pub mod analysis;
pub mod breakeven;
pub mod decide;
pub mod hybrid;
pub mod ledger;
pub mod measured;
pub mod model;
pub mod sensitivity;
pub mod shape;

#[cfg(test)]
mod properties;
#[cfg(test)]
mod seed_examples;

pub use analysis::{analyse, CostInputs, CostReport};
pub use measured::{from_result, Basis, Figure, LoadShape, Measured, MeasuredError, WorkDevice};
pub use model::{Demand, Energy, Local, LocalMonthly, Price, PriceTier, Throughput};

/// Hours in an average month: 8,760 hours a year / 12.
pub const HOURS_PER_MONTH: f64 = 730.0;
/// Days in an average month: 365 / 12.
pub const DAYS_PER_MONTH: f64 = 365.0 / 12.0;
pub const SECONDS_PER_DAY: f64 = 86_400.0;
/// Break-even horizon for rented hardware (owned hardware uses its `lifetime_months`): three years, the seed
/// article's "a GPU purchased today still runs inference in three years".
pub const RENTED_HORIZON_MONTHS: u32 = 36;
/// Relative change of each input in the sensitivity table (±20%, issue 6).
pub const SENSITIVITY_STEP_FRACTION: f64 = 0.2;
