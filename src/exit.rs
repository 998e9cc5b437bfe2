//! Exit codes: what each means, and which errors map to which. `main` maps every error through [`code_of`]; the
//! README and `--help` print [`TABLE`].

/// Everything ran; no regression.
pub const SUCCESS: u8 = 0;
/// A regression (`compare`), or a case or level that failed (crashed, timed out, failed the numerics gate) while
/// the rest were measured; the result file is written.
pub const FAILED: u8 = 1;
/// Bad input: a flag, a configuration value, a model or result file; nothing was measured.
pub const BAD_INPUT: u8 = 2;
/// An internal or I/O error: a file that could not be written (disk full, permissions), a worker that could not
/// be started, a bug. What was measured before it is kept, and the message names the path.
pub const INTERNAL: u8 = 3;

/// The table the README and `--help` show.
pub const TABLE: &str = "\
Exit codes:
  0    success
  1    a regression, or a failed case or level (the others are measured and written)
  2    bad input (a flag, a configuration value, a model or result file)
  3    an internal or I/O error (e.g. a result or checkpoint that cannot be written: what was measured is kept)
  130  interrupted by SIGINT (Ctrl-C), the partial result written (143 for SIGTERM, 129 for SIGHUP)";

/// An error that is the user's to fix (bad file, flag or config value): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// A run stopped by a signal, its partial result written: exit 128 + the signal.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Interrupted {
    pub signal: i32,
    pub message: String,
}

/// Cases or levels that failed while the others were measured, or a device lost during the run: exit 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CasesFailed(pub String);

/// At least one joined case of `compare` was called `slower` (or changed, with `--fail-on any-change`): exit 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Regressed(pub String);

/// A file tokenmeter could not write: exit 3.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {what}")]
pub struct StorageError {
    pub path: std::path::PathBuf,
    pub what: String,
}

impl StorageError {
    pub fn new(path: &std::path::Path, e: impl std::fmt::Display) -> StorageError {
        StorageError {
            path: path.to_path_buf(),
            what: e.to_string(),
        }
    }
}

/// The exit code for `e`.
pub fn code_of(e: &anyhow::Error) -> u8 {
    use crate::engine::EngineError;
    let has = |f: &dyn Fn(&(dyn std::error::Error + 'static)) -> bool| e.chain().any(f);
    if let Some(i) = e.chain().find_map(|c| c.downcast_ref::<Interrupted>()) {
        return crate::runner::signals::exit_code(i.signal);
    }
    if has(&|c| {
        matches!(
            c.downcast_ref::<crate::gguf::synth::SynthError>(),
            Some(crate::gguf::synth::SynthError::Stopped { .. })
        )
    }) {
        return crate::runner::signals::exit_code(libc::SIGINT);
    }
    if has(&|c| {
        c.is::<CasesFailed>()
            || c.is::<Regressed>()
            || matches!(
                c.downcast_ref::<EngineError>(),
                Some(
                    EngineError::Decode { .. }
                        | EngineError::Load { .. }
                        | EngineError::Context { .. }
                )
            )
    }) {
        return FAILED;
    }
    if let Some(c) = e
        .chain()
        .find_map(|c| c.downcast_ref::<crate::runner::checkpoint::CheckpointError>())
    {
        return if c.is_input() { BAD_INPUT } else { INTERNAL };
    }
    if has(&|c| {
        c.is::<StorageError>()
            || matches!(
                c.downcast_ref::<crate::results::file::ResultFileError>(),
                Some(crate::results::file::ResultFileError::Write { .. })
            )
    }) {
        return INTERNAL;
    }
    if has(&|c| {
        c.is::<InputError>()
            || c.is::<crate::config::ConfigError>()
            || c.is::<crate::gguf::inspect::ModelFileError>()
            || c.is::<crate::gguf::shapes::ShapeError>()
            || c.is::<crate::telemetry::SensorError>()
            || c.is::<crate::results::file::ResultFileError>()
            || c.is::<crate::cost::measured::MeasuredError>()
            || c.is::<crate::export::ExportError>()
            || c.is::<crate::cost::decide::MissingAnswer>()
    }) {
        return BAD_INPUT;
    }
    INTERNAL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_error_has_its_code() {
        let interrupted = anyhow::Error::new(Interrupted {
            signal: libc::SIGTERM,
            message: "stopped".into(),
        })
        .context("saved");
        assert_eq!(code_of(&interrupted), 143);
        assert_eq!(code_of(&CasesFailed("x".into()).into()), FAILED);
        assert_eq!(code_of(&InputError("bad flag".into()).into()), BAD_INPUT);
        let storage = anyhow::Error::new(StorageError::new(
            std::path::Path::new("/full/r.json"),
            "No space left on device",
        ))
        .context("what was measured is in the checkpoint");
        assert_eq!(code_of(&storage), INTERNAL);
        let io = anyhow::Error::new(std::io::Error::other("broken pipe"));
        assert_eq!(code_of(&io), INTERNAL);
        assert_eq!(code_of(&anyhow::anyhow!("a bug")), INTERNAL);
    }
}
