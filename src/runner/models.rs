//! Turning `-m` arguments into model files: a path, a `[[model]]` name from models.toml, or (with no `-m`) the
//! embedded default. Synthesized models are written once into the cache directory and reused.

use crate::config::{default_model, Config, ModelEntry};
use crate::exit::InputError;
use crate::gguf::synth;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// Where synthesized models are cached: `$TOKENMETER_CACHE_DIR`, else the user's cache directory.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("TOKENMETER_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| dirs::cache_dir().map(|d| d.join("tokenmeter")))
        .unwrap_or_else(|| PathBuf::from(".tokenmeter-cache"))
}

/// Where a synthesized entry's file is kept in the cache (it may not be written yet).
pub fn synth_path(s: &crate::config::SynthRef) -> PathBuf {
    cache_dir().join("models").join(s.cache_file_name())
}

/// The file for a catalogue entry, synthesizing it into the cache when it is not there yet.
pub fn materialize(
    entry: &ModelEntry,
    config_dir: &Path,
    stop: &AtomicBool,
) -> anyhow::Result<PathBuf> {
    if let Some(p) = &entry.path {
        return Ok(if p.is_relative() {
            config_dir.join(p)
        } else {
            p.clone()
        });
    }
    let synth_ref = entry
        .synth
        .as_ref()
        .ok_or_else(|| InputError(format!("model '{}' has neither path nor synth", entry.name)))?;
    let spec = synth_ref
        .to_spec()
        .map_err(|e| InputError(format!("model '{}': {e}", entry.name)))?;
    let path = synth_path(synth_ref);
    if !path.exists() {
        eprintln!(
            "synthesizing model '{}' ({} {}, seed {}) into {} (once; reused afterwards)",
            entry.name,
            synth_ref.shape,
            synth_ref.weight_type,
            synth_ref.seed,
            path.display()
        );
        synth::write_until(&spec, &path, stop)?;
    }
    Ok(path)
}

/// Resolves every `-m` argument: an existing file is used as is; otherwise the name must be a `[[model]]`.
pub fn resolve(
    args: &[String],
    config: &Config,
    config_dir: &Path,
    stop: &AtomicBool,
) -> anyhow::Result<Vec<PathBuf>> {
    if args.is_empty() {
        return Ok(vec![materialize(&default_model(), config_dir, stop)?]);
    }
    args.iter()
        .map(|a| {
            let p = Path::new(a);
            if p.exists() {
                return Ok(p.to_path_buf());
            }
            match config.model(a) {
                Some(entry) => materialize(entry, config_dir, stop),
                None => Err(InputError(format!(
                    "{a}: no such file, and no [[model]] named '{a}' in the configuration ({})",
                    if config.models.is_empty() {
                        "no models.toml found".to_string()
                    } else {
                        format!(
                            "known: {}",
                            config
                                .models
                                .iter()
                                .map(|m| m.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                ))
                .into()),
            }
        })
        .collect()
}
