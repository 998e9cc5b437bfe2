//! `[[cloud]]`: a cloud API offering and its prices in USD per million tokens, with the date and source of the
//! prices (`tokenmeter prices import` writes these from LiteLLM's price file).

use super::check::At;
use super::ConfigError;
use serde::{Deserialize, Serialize};
use std::path::Path;
use toml::value::Datetime;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudEntry {
    pub provider: String,
    pub model: String,
    pub usd_per_1m_input: f64,
    pub usd_per_1m_output: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usd_per_1m_cached_input: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usd_per_1m_batch_input: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usd_per_1m_batch_output: Option<f64>,
    pub as_of: Datetime,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl CloudEntry {
    /// `provider/model`, the name `--cloud` also accepts.
    pub fn label(&self) -> String {
        format!("{}/{}", self.provider, self.model)
    }

    /// Whether `--cloud NAME` selects this entry: the model name, or `provider/model`.
    pub fn matches(&self, name: &str) -> bool {
        self.model == name || self.label() == name
    }
}

pub(crate) fn validate(entries: &[CloudEntry], path: &Path) -> Result<(), ConfigError> {
    for (index, c) in entries.iter().enumerate() {
        let label = c.label();
        let at = At {
            path,
            table: "cloud",
            index,
            name: &label,
        };
        let unit = "USD per 1M tokens";
        at.at_least("usd_per_1m_input", c.usd_per_1m_input, 0.0, unit)?;
        at.at_least("usd_per_1m_output", c.usd_per_1m_output, 0.0, unit)?;
        at.opt_at_least(
            "usd_per_1m_cached_input",
            c.usd_per_1m_cached_input,
            0.0,
            unit,
        )?;
        at.opt_at_least(
            "usd_per_1m_batch_input",
            c.usd_per_1m_batch_input,
            0.0,
            unit,
        )?;
        at.opt_at_least(
            "usd_per_1m_batch_output",
            c.usd_per_1m_batch_output,
            0.0,
            unit,
        )?;
        if c.as_of.date.is_none() {
            return Err(at.error(
                "as_of",
                format!("expected a date (YYYY-MM-DD), got {}", c.as_of),
            ));
        }
        if entries[..index].iter().any(|o| o.label() == label) {
            return Err(at.error("model", format!("duplicate [[cloud]] entry '{label}'")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    const CLOUD: &str = r#"
[[cloud]]
provider = "openai"
model = "gpt-4o"
usd_per_1m_input = 2.5
usd_per_1m_output = 10.0
as_of = 2025-06-01
source = "pricing page"
"#;

    #[test]
    fn cloud_entries_parse_and_match_by_model_or_provider_and_model() {
        let c = Config::parse(CLOUD, Path::new("m.toml")).unwrap();
        assert!(c.cloud[0].matches("gpt-4o") && c.cloud[0].matches("openai/gpt-4o"));
        assert!(!c.cloud[0].matches("gpt-4"));
    }

    #[test]
    fn a_missing_price_names_file_line_and_key() {
        let e = Config::parse(
            &CLOUD.replace("usd_per_1m_output = 10.0\n", ""),
            Path::new("m.toml"),
        )
        .unwrap_err();
        assert!(e.location.starts_with("m.toml:"), "{e}");
        assert!(e.what.contains("usd_per_1m_output"), "{e}");
    }

    #[test]
    fn a_negative_price_names_the_key_and_what_was_expected() {
        let e = Config::parse(&CLOUD.replace("2.5", "-2.5"), Path::new("m.toml")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "m.toml: cloud[0] (openai/gpt-4o).usd_per_1m_input: expected a number ≥ 0 (USD per 1M tokens), got -2.5"
        );
    }
}
