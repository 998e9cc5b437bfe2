//! `tokenmeter export RESULT --format FMT [--out PATH]`: reads a result file and writes it in another tool's
//! format (`export` makes the documents).

use super::InputError;
use crate::export::{self, ExportFormat};
use crate::results::file::{read_result_str, ResultFileError};
use crate::results::llama_bench;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub result: PathBuf,
    pub format: ExportFormat,
    /// The output file; for a format with several documents, each is written beside it with its suffix
    /// (`out/bench.json` → `out/bench-bigger.json`). Absent: standard output.
    pub out: Option<PathBuf>,
}

/// `PATH` with `suffix` appended to its stem, its extension kept (`.json` when it has none).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_else(|| "json".into());
    path.with_file_name(format!("{stem}{suffix}.{ext}"))
}

/// Exports the result file; returns the files written (none when the document went to `stdout`).
pub fn run(o: &ExportOptions, stdout: &mut dyn Write) -> anyhow::Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(&o.result).map_err(|e| ResultFileError::Io {
        path: o.result.clone(),
        what: format!("cannot read: {e}"),
    })?;
    let file = read_result_str(&text, &o.result).map_err(|e| match e {
        ResultFileError::Parse { .. } if llama_bench::looks_like(&text) => {
            anyhow::Error::from(InputError(format!(
                "{}: llama-bench output, not a tokenmeter result file (export converts tokenmeter results)",
                o.result.display()
            )))
        }
        e => e.into(),
    })?;
    let source = o
        .result
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| o.result.display().to_string());
    let docs = export::export(&file, &source, o.format)
        .map_err(|e| InputError(format!("{}: {e}", o.result.display())))?;
    let mut written = Vec::new();
    match &o.out {
        None => {
            if docs.len() > 1 {
                return Err(
                    InputError("this format writes several files: give --out PATH".into()).into(),
                );
            }
            for d in &docs {
                stdout.write_all(&d.bytes)?;
            }
        }
        Some(out) => {
            for d in &docs {
                let path = match d.suffix {
                    Some(s) => with_suffix(out, s),
                    None => out.clone(),
                };
                crate::fsutil::write_atomic(&path, &d.bytes)
                    .map_err(|e| InputError(format!("{}: cannot write: {e}", path.display())))?;
                written.push(path);
            }
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_go_before_the_extension() {
        assert_eq!(
            with_suffix(Path::new("out/bench.json"), "-bigger"),
            PathBuf::from("out/bench-bigger.json")
        );
        assert_eq!(
            with_suffix(Path::new("bench"), "-smaller"),
            PathBuf::from("bench-smaller.json")
        );
    }
}
