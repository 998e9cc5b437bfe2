//! The models a profile may measure: `--models` (names of `[[model]]` entries, or GGUF files) or the default
//! shapes, each with its size (from the synthesis plan or the file's header), smallest first.

use crate::config::{Config, ModelEntry, SynthRef};
use crate::estimate::ModelSize;
use crate::exit::InputError;
use crate::gguf::{read_model_info, synth};
use crate::runner::models;
use std::path::Path;

/// The shapes profiled when `--models` is not given, smallest first, each at q4_0 (the names `models.toml` gives
/// them, so the synthesized files are shared with `bench -m NAME`).
pub const DEFAULT_SHAPES: [&str; 3] = ["llama-3.2-1b", "llama-3.1-8b", "llama-3.1-70b"];

/// A model the profile may measure: a catalogue entry (synthesized on first use) or a file.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub name: String,
    pub entry: ModelEntry,
    pub size: ModelSize,
    /// Synthesized and not yet in the cache: writing it is part of its first phase.
    pub needs_synth: bool,
}

pub(super) fn default_candidates() -> Vec<ModelEntry> {
    DEFAULT_SHAPES
        .iter()
        .map(|shape| ModelEntry {
            name: format!("{shape}-q4_0"),
            path: None,
            synth: Some(SynthRef {
                shape: (*shape).into(),
                weight_type: "q4_0".into(),
                seed: 1,
            }),
            notes: None,
        })
        .collect()
}

/// A synthesized entry already in the cache.
pub(super) fn cached(entry: &ModelEntry) -> bool {
    entry
        .synth
        .as_ref()
        .is_some_and(|s| models::synth_path(s).exists())
}

fn candidate(entry: ModelEntry, config_dir: &Path) -> anyhow::Result<Candidate> {
    if let Some(s) = &entry.synth {
        let spec = s
            .to_spec()
            .map_err(|e| InputError(format!("model '{}': {e}", entry.name)))?;
        let plan = synth::plan(&spec);
        return Ok(Candidate {
            name: entry.name.clone(),
            size: ModelSize {
                file_size_bytes: plan.file_size_bytes,
                n_params: plan.n_params,
                weights_read_per_token_bytes: plan.weights_read_per_token_bytes,
            },
            needs_synth: !cached(&entry),
            entry,
        });
    }
    let path = entry.path.clone().unwrap_or_default();
    let path = if path.is_relative() {
        config_dir.join(path)
    } else {
        path
    };
    let info = read_model_info(&path)?;
    Ok(Candidate {
        name: entry.name.clone(),
        size: ModelSize {
            file_size_bytes: info.file_size_bytes,
            n_params: info.n_params,
            weights_read_per_token_bytes: info.weights_read_per_token_bytes,
        },
        needs_synth: false,
        entry,
    })
}

/// `--models` (names of `[[model]]` entries, or files) or the default shapes, smallest first.
pub(super) fn candidates(
    names: &[String],
    config: &Config,
    config_dir: &Path,
) -> anyhow::Result<Vec<Candidate>> {
    let entries: Vec<ModelEntry> = if names.is_empty() {
        default_candidates()
    } else {
        names
            .iter()
            .map(|n| {
                let p = Path::new(n);
                if p.is_file() {
                    let stem = p
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_else(|| n.clone());
                    return Ok(ModelEntry {
                        name: stem,
                        path: Some(std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())),
                        synth: None,
                        notes: None,
                    });
                }
                config.model(n).cloned().ok_or_else(|| {
                    InputError(format!(
                        "--models: {n}: no such file, and no [[model]] named '{n}' in the configuration"
                    ))
                })
            })
            .collect::<Result<_, _>>()?
    };
    let mut out = entries
        .into_iter()
        .map(|e| candidate(e, config_dir))
        .collect::<anyhow::Result<Vec<_>>>()?;
    out.sort_by_key(|c| c.size.file_size_bytes);
    Ok(out)
}
