//! The commands behind the CLI. Each takes a plain options struct (never clap types) and returns typed errors
//! that `main` maps to exit codes.

pub mod bench;
pub mod compare;
pub mod cost;
pub mod decide;
pub mod export;
pub mod fleet;
pub mod inspect;
pub mod load;
pub mod models;
pub mod plan;
pub mod preflight;
pub mod prices;
pub mod probe;
pub mod profile;
pub mod report;
pub mod scaffold;
pub mod synth;
pub mod telemetry;

/// An error that is the user's to fix (bad file, flag or config value): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);
