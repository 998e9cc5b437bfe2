//! `[decision]`: answers to the six dimensions of the local-vs-cloud decision (data sensitivity, latency, volume
//! pattern, capability, cost, team). Each can also be given as a flag to `tokenmeter decide`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionTable {
    pub data_sensitivity: Option<DataSensitivity>,
    pub latency: Option<Latency>,
    pub volume_pattern: Option<VolumePattern>,
    pub capability: Option<Capability>,
    /// Which is cheaper, when no result file is given to compute it.
    pub cost: Option<CostVerdict>,
    pub team: Option<Team>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataSensitivity {
    Public,
    Internal,
    Regulated,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Latency {
    Batch,
    Interactive,
    RealTime,
    Embedded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VolumePattern {
    Sporadic,
    SteadyLow,
    SteadyHigh,
    Spiky,
    Growing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    Frontier,
    GoodEnough,
    Specialized,
    Simple,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CostVerdict {
    CloudCheaper,
    LocalCheaper,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Team {
    None,
    Basic,
    Intermediate,
    Advanced,
}

/// The kebab-case name serde uses (`steady-high`).
pub fn name_of<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Parses a flag value with the same names as the table, listing the choices on error.
pub fn parse_choice<T: for<'de> Deserialize<'de>>(
    flag: &str,
    value: &str,
    choices: &[&str],
) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(value.to_string())).map_err(|_| {
        format!(
            "{flag}: unknown value '{value}' (expected one of: {})",
            choices.join(", ")
        )
    })
}

pub const DATA_SENSITIVITY_CHOICES: &[&str] = &["public", "internal", "regulated", "critical"];
pub const LATENCY_CHOICES: &[&str] = &["batch", "interactive", "real-time", "embedded"];
pub const VOLUME_PATTERN_CHOICES: &[&str] =
    &["sporadic", "steady-low", "steady-high", "spiky", "growing"];
pub const CAPABILITY_CHOICES: &[&str] = &["frontier", "good-enough", "specialized", "simple"];
pub const COST_CHOICES: &[&str] = &["cloud-cheaper", "local-cheaper"];
pub const TEAM_CHOICES: &[&str] = &["none", "basic", "intermediate", "advanced"];
