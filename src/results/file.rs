//! The result file: schema, atomic write (temporary file + rename) and reading with a version check.

use super::provenance::HostInfo;
use super::record::CaseRecord;
use super::warnings::Warning;
use crate::engine::BuildInfo;
use crate::gguf::inspect::TypeShare;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Version of the result file schema this build writes and reads. Golden files per version live in
/// `tests/golden/`; a change to the schema bumps this and adds a migration in `read_result`.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub version: String,
    /// The git commit tokenmeter was built from, when built from a checkout.
    pub git_commit: Option<String>,
}

impl ToolInfo {
    pub fn current() -> ToolInfo {
        ToolInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: option_env!("TOKENMETER_GIT_COMMIT")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        }
    }
}

/// A model file as measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    pub path: String,
    pub sha256: Option<String>,
    pub file_size_bytes: u64,
    pub n_params: u64,
    pub architecture: Option<String>,
    /// llama.cpp's description (llama-bench's `model_type`).
    pub model_type: String,
    pub tensor_types: BTreeMap<String, TypeShare>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultFile {
    pub schema_version: u32,
    /// What produced the file: "bench".
    pub kind: String,
    pub tokenmeter: ToolInfo,
    pub command_line: Vec<String>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub interrupted: bool,
    pub host: HostInfo,
    pub build: BuildInfo,
    pub models: Vec<ModelEntry>,
    /// Every run parameter as given (lists before expansion).
    pub parameters: serde_json::Value,
    pub cases: Vec<CaseRecord>,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, thiserror::Error)]
pub enum ResultFileError {
    #[error("{path}: {what}")]
    Io { path: PathBuf, what: String },
    #[error("{path}: not a tokenmeter result file: {what}")]
    Parse { path: PathBuf, what: String },
    #[error(
        "{path}: schema_version {found} is not supported (this tokenmeter reads {SCHEMA_VERSION})"
    )]
    Version { path: PathBuf, found: u64 },
}

/// `results/<date>-<host>-<model>.json` under `dir`, with `-2`, `-3`… appended when the name is taken.
pub fn default_path(dir: &Path, date: DateTime<Utc>, host: Option<&str>, model: &str) -> PathBuf {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    let stem = format!(
        "{}-{}-{}",
        date.format("%Y-%m-%d"),
        clean(host.unwrap_or("unknown-host")),
        clean(model)
    );
    let mut path = dir.join(format!("{stem}.json"));
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{stem}-{n}.json"));
        n += 1;
    }
    path
}

impl ResultFile {
    pub fn write(&self, path: &Path) -> Result<(), ResultFileError> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("result file serializes");
        bytes.push(b'\n');
        crate::fsutil::write_atomic(path, &bytes).map_err(|e| ResultFileError::Io {
            path: path.to_path_buf(),
            what: format!("cannot write: {e}"),
        })
    }
}

/// Reads a result file, checking its `schema_version` before anything else.
pub fn read_result(path: &Path) -> Result<ResultFile, ResultFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| ResultFileError::Io {
        path: path.to_path_buf(),
        what: format!("cannot read: {e}"),
    })?;
    let parse = |what: String| ResultFileError::Parse {
        path: path.to_path_buf(),
        what,
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| parse(e.to_string()))?;
    let version = value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| parse("no schema_version".into()))?;
    if version != SCHEMA_VERSION as u64 {
        return Err(ResultFileError::Version {
            path: path.to_path_buf(),
            found: version,
        });
    }
    serde_json::from_value(value).map_err(|e| parse(e.to_string()))
}
