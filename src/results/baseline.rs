//! placeholder
use std::path::{Path, PathBuf};
pub fn baseline_path(dir: &Path, name: &str) -> Result<PathBuf, String> {
    Ok(dir.join(format!("{name}.json")))
}
