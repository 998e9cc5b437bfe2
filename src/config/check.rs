//! Range checks shared by the `[[hardware]]`, `[[cloud]]` and `[[workload]]` tables: each error names the file,
//! the entry, the key and what was expected.

use super::ConfigError;
use std::path::Path;

/// Where an entry lives: `models.toml: hardware[1] (rtx-4090-box)`.
pub(crate) struct At<'a> {
    pub path: &'a Path,
    pub table: &'static str,
    pub index: usize,
    pub name: &'a str,
}

impl At<'_> {
    pub fn error(&self, key: &str, what: impl Into<String>) -> ConfigError {
        ConfigError {
            location: format!(
                "{}: {}[{}] ({}).{key}",
                self.path.display(),
                self.table,
                self.index,
                self.name
            ),
            what: what.into(),
        }
    }

    /// `value` must be finite and at least `min`.
    pub fn at_least(&self, key: &str, value: f64, min: f64, unit: &str) -> Result<(), ConfigError> {
        if value.is_finite() && value >= min {
            Ok(())
        } else {
            Err(self.error(
                key,
                format!("expected a number ≥ {min} ({unit}), got {value}"),
            ))
        }
    }

    /// `value` must be finite and above zero.
    pub fn positive(&self, key: &str, value: f64, unit: &str) -> Result<(), ConfigError> {
        if value.is_finite() && value > 0.0 {
            Ok(())
        } else {
            Err(self.error(key, format!("expected a number > 0 ({unit}), got {value}")))
        }
    }

    /// `value` must lie in [0, 1].
    pub fn fraction(&self, key: &str, value: f64) -> Result<(), ConfigError> {
        if (0.0..=1.0).contains(&value) {
            Ok(())
        } else {
            Err(self.error(key, format!("expected a fraction from 0 to 1, got {value}")))
        }
    }

    pub fn opt_at_least(
        &self,
        key: &str,
        v: Option<f64>,
        min: f64,
        unit: &str,
    ) -> Result<(), ConfigError> {
        v.map_or(Ok(()), |v| self.at_least(key, v, min, unit))
    }
}
