//! The commands behind the CLI. Each takes a plain options struct (never clap types) and returns typed errors
//! that `main` maps to exit codes.

pub mod bench;
pub mod compare;
pub mod cost;
pub mod decide;
pub mod export;
pub mod fleet;
pub mod inspect;
pub mod load;
pub mod plan;
pub mod prices;
pub mod profile;
pub mod report;
pub mod synth;

pub use crate::exit::InputError;
use crate::results::ResultFile;

/// Refuses (exit 2, one line naming `file` and the cases) a result with cases whose numerics gate failed, unless
/// `allow`; with `allow`, the sentence an output puts at its top, when there is anything to say.
pub fn check_numerics(
    file: &str,
    result: &ResultFile,
    allow: bool,
) -> Result<Option<String>, crate::exit::InputError> {
    let failed = result.numerics_failures();
    if failed.is_empty() {
        return Ok(None);
    }
    let cases = failed.join(", ");
    if allow {
        Ok(Some(format!(
            "{file}: the numerics gate failed for {cases}: the figures of those cases come from a wrong \
             computation (used because of --allow-wrong-numerics)"
        )))
    } else {
        Err(crate::exit::InputError(format!(
            "{file}: the numerics gate failed for {cases} (their logits are not the CPU reference's, so their \
             speed comes from a wrong computation); pass --allow-wrong-numerics to use them anyway"
        )))
    }
}
