//! The two sweeps the executor runs: `bench`'s cases (llama-bench's tests over the cartesian product of its
//! parameters) and `load`'s levels (serving load at rising concurrency or arrival rate). Each turns its options
//! into units, a unit's reply into a record of the result file, and adds what the whole sweep needs (the
//! roofline of a bench sweep, the operating point of a load sweep). `profile` runs a sequence of bench and load
//! sweeps within a time budget.

pub mod bench;
pub mod load;
pub mod profile;
