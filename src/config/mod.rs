//! `models.toml`: the catalogue of models `bench -m NAME` accepts, and the hardware, cloud prices, workloads and
//! decision answers the cost model reads. Errors name the file, the line and the key.

mod check;
pub mod cloud;
pub mod decision;
pub mod hardware;
pub mod sweep;
pub mod workload;

pub use cloud::CloudEntry;
pub use decision::DecisionTable;
pub use hardware::{HardwareEntry, Tenure};
pub use sweep::SweepEntry;
pub use workload::WorkloadEntry;

use crate::gguf::{Shape, ShapeOverrides, SynthSpec, WeightType};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The configuration file read when `--config` is not given (in the working directory).
pub const DEFAULT_CONFIG: &str = "models.toml";

/// A synthesized model: shape, weight type and seed (as `tokenmeter synth`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynthRef {
    pub shape: String,
    #[serde(rename = "type")]
    pub weight_type: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_seed() -> u64 {
    1
}

/// One `[[model]]` entry: a file on disk or a synthesized shape.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    pub name: String,
    pub path: Option<PathBuf>,
    pub synth: Option<SynthRef>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default, rename = "model")]
    pub models: Vec<ModelEntry>,
    #[serde(default)]
    pub hardware: Vec<HardwareEntry>,
    #[serde(default)]
    pub cloud: Vec<CloudEntry>,
    #[serde(default)]
    pub workload: Vec<WorkloadEntry>,
    pub decision: Option<DecisionTable>,
    #[serde(default, rename = "sweep")]
    pub sweeps: Vec<SweepEntry>,
}

#[derive(Debug, thiserror::Error)]
#[error("{location}: {what}")]
pub struct ConfigError {
    pub location: String,
    pub what: String,
}

/// The embedded default benchmark model: synthesized once, cached and reused.
pub fn default_model() -> ModelEntry {
    ModelEntry {
        name: "tokenmeter-small-q4_0".into(),
        path: None,
        synth: Some(SynthRef {
            shape: "small".into(),
            weight_type: "q4_0".into(),
            seed: 1,
        }),
        notes: Some("embedded default: the `small` shape (57M parameters) in q4_0".into()),
    }
}

impl Config {
    /// Parses `text` read from `path`; checks every entry.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(1);
            ConfigError {
                location: format!("{}:{line}", path.display()),
                what: e.message().trim().replace('\n', " "),
            }
        })?;
        for (i, m) in config.models.iter().enumerate() {
            let at = |what: String| ConfigError {
                location: format!("{}: model[{i}] ({})", path.display(), m.name),
                what,
            };
            match (&m.path, &m.synth) {
                (Some(_), Some(_)) => {
                    return Err(at("give either `path` or `synth`, not both".into()))
                }
                (None, None) => {
                    return Err(at("needs `path` (a GGUF file) or `synth` (a shape)".into()))
                }
                (None, Some(s)) => {
                    s.to_spec().map_err(at)?;
                }
                (Some(_), None) => {}
            }
        }
        hardware::validate(&config.hardware, path)?;
        cloud::validate(&config.cloud, path)?;
        workload::validate(&config.workload, path)?;
        sweep::validate(&config.sweeps, path)?;
        Ok(config)
    }

    /// Reads `path`; a missing default file is an empty catalogue, a missing explicit one is an error.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let (path, explicit) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text, &path),
            Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Config::default())
            }
            Err(e) => Err(ConfigError {
                location: path.display().to_string(),
                what: format!("cannot read: {e}"),
            }),
        }
    }

    pub fn model(&self, name: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.name == name)
    }

    pub fn sweep(&self, name: &str) -> Option<&SweepEntry> {
        self.sweeps.iter().find(|s| s.name == name)
    }
}

impl SynthRef {
    pub fn to_spec(&self) -> Result<SynthSpec, String> {
        let shape = Shape::from_preset(&self.shape, &ShapeOverrides::default())
            .map_err(|e| format!("synth.shape: {e}"))?;
        let weight_type = WeightType::parse(&self.weight_type).ok_or_else(|| {
            format!(
                "synth.type: unknown type '{}' (expected one of: {})",
                self.weight_type,
                WeightType::ALL.map(|t| t.name()).join(", ")
            )
        })?;
        Ok(SynthSpec {
            shape,
            weight_type,
            seed: self.seed,
        })
    }

    /// The file name a synthesized model is cached under.
    pub fn cache_file_name(&self) -> String {
        format!(
            "{}-{}-seed{}.gguf",
            self.shape,
            self.weight_type.to_lowercase(),
            self.seed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_entries_parse() {
        let text = r#"
[[model]]
name = "qwen2.5-0.5b-q4_0"
synth = { shape = "qwen2.5-0.5b", type = "q4_0" }

[[model]]
name = "mine"
path = "models/mine.gguf"
notes = "a real model"
"#;
        let c = Config::parse(text, Path::new("models.toml")).unwrap();
        assert_eq!(c.models.len(), 2);
        assert_eq!(
            c.model("qwen2.5-0.5b-q4_0")
                .unwrap()
                .synth
                .as_ref()
                .unwrap()
                .seed,
            1
        );
        assert_eq!(
            c.model("mine").unwrap().path.as_deref(),
            Some(Path::new("models/mine.gguf"))
        );
    }

    #[test]
    fn unknown_key_names_file_and_line() {
        let text = "[[model]]\nname = \"x\"\npth = \"a.gguf\"\n";
        let e = Config::parse(text, Path::new("models.toml")).unwrap_err();
        assert_eq!(e.location, "models.toml:3");
        assert!(e.what.contains("pth"), "{}", e.what);
    }

    #[test]
    fn unknown_synth_type_is_rejected_with_the_choices() {
        let text = "[[model]]\nname = \"x\"\nsynth = { shape = \"tiny\", type = \"q3\" }\n";
        let e = Config::parse(text, Path::new("m.toml")).unwrap_err();
        assert!(e.to_string().contains("q4_0"), "{e}");
    }
}

#[cfg(test)]
mod shipped {
    use super::*;

    #[test]
    fn the_shipped_models_toml_parses_with_cost_tables() {
        let c = Config::parse(include_str!("../../models.toml"), Path::new("models.toml")).unwrap();
        assert!(!c.models.is_empty());
        assert!(c.hardware.len() >= 3 && c.cloud.len() >= 3 && c.workload.len() >= 2);
        assert!(c.hardware.iter().any(|h| h.usd_per_hour.is_some()));
        assert!(c.hardware.iter().any(|h| h.purchase_usd.is_some()));
    }

    #[test]
    fn a_decision_table_takes_the_six_answers() {
        let c = Config::parse(
            "[decision]\ndata_sensitivity = \"internal\"\nvolume_pattern = \"steady-high\"\n",
            Path::new("m.toml"),
        )
        .unwrap();
        let d = c.decision.unwrap();
        assert_eq!(
            d.data_sensitivity,
            Some(decision::DataSensitivity::Internal)
        );
        let e = Config::parse("[decision]\nteam = \"expert\"\n", Path::new("m.toml")).unwrap_err();
        assert!(e.what.contains("advanced"), "{e}");
    }
}
