//! tokenmeter: measures local LLM inference through llama.cpp and turns the measurements into cost comparisons.
//!
//! Data flows one way: `config` → `engine` (the only module that calls llama.cpp) → `runner` (cases, repetitions)
//! → `stats` → `results` (versioned files, the schema only) → `analysis` (pure: SLO, goodput, operating point)
//! → `cost` (pure: money, break-even, decisions) → `report`.

pub mod analysis;
pub mod clock;
pub mod commands;
pub mod config;
pub mod cost;
pub mod engine;
pub mod estimate;
pub mod exit;
pub mod export;
pub mod fleet;
pub mod fsutil;
pub mod gguf;
pub mod preflight;
pub mod report;
pub mod results;
pub mod runner;
pub mod stats;
pub mod telemetry;
pub mod text;
