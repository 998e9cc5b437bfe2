//! `export`'s arguments into [`ExportOptions`].

use crate::cli::ExportArgs;
use tokenmeter::commands::export::ExportOptions;
use tokenmeter::commands::InputError;
use tokenmeter::export::ExportFormat;

pub fn export(a: ExportArgs) -> Result<ExportOptions, InputError> {
    let format = ExportFormat::parse(&a.format).ok_or_else(|| {
        InputError(format!(
            "--format {}: expected one of {}",
            a.format,
            ExportFormat::NAMES
        ))
    })?;
    if format == ExportFormat::Gab && a.out.is_none() {
        return Err(InputError(
            "--format gab writes two files (PATH's stem + -bigger.json and -smaller.json): give --out PATH".into(),
        ));
    }
    Ok(ExportOptions {
        result: a.result,
        format,
        out: a.out,
    })
}
