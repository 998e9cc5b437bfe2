//! The arguments of `cost`, `prices import`, `decide` and `report`, and the pricing selection they share.

use super::json_output;
use crate::cli::{CostArgs, DecideArgs, ImportArgs, PricingArgs, ReportArgs, SelectionArgs};
use tokenmeter::commands::cost::{CostOptions, Selection};
use tokenmeter::commands::decide::DecideOptions;
use tokenmeter::commands::prices::ImportOptions;
use tokenmeter::commands::report::{PageFormat, ReportOptions};
use tokenmeter::commands::InputError;
use tokenmeter::config::decision::{self, DecisionTable};

fn selection(a: SelectionArgs) -> Selection {
    pricing(a.pricing, a.model)
}

pub(super) fn pricing(p: PricingArgs, model: Option<String>) -> Selection {
    Selection {
        config: p.config,
        prices: p.prices,
        hardware: p.hardware,
        workload: p.workload,
        clouds: p.clouds,
        model,
        allow_shape_mismatch: p.allow_shape_mismatch,
        allow_wrong_numerics: p.allow_wrong_numerics,
    }
}

pub fn cost(a: CostArgs) -> Result<CostOptions, InputError> {
    Ok(CostOptions {
        json: json_output(&a.output)?,
        result: a.result,
        selection: selection(a.selection),
        hybrid: a.hybrid,
        seed: a.seed,
    })
}

pub fn prices_import(a: ImportArgs) -> ImportOptions {
    ImportOptions {
        file: a.file,
        out: a.out,
        filter: a.filter,
    }
}

fn choice<T: for<'de> serde::Deserialize<'de>>(
    flag: &str,
    v: &Option<String>,
    choices: &[&str],
) -> Result<Option<T>, InputError> {
    v.as_deref()
        .map(|s| decision::parse_choice(flag, s, choices).map_err(InputError))
        .transpose()
}

pub fn decide(a: DecideArgs) -> Result<DecideOptions, InputError> {
    Ok(DecideOptions {
        flags: DecisionTable {
            data_sensitivity: choice(
                "--data-sensitivity",
                &a.data_sensitivity,
                decision::DATA_SENSITIVITY_CHOICES,
            )?,
            latency: choice("--latency", &a.latency, decision::LATENCY_CHOICES)?,
            volume_pattern: choice(
                "--volume",
                &a.volume_pattern,
                decision::VOLUME_PATTERN_CHOICES,
            )?,
            capability: choice("--capability", &a.capability, decision::CAPABILITY_CHOICES)?,
            cost: choice("--cost", &a.cost, decision::COST_CHOICES)?,
            team: choice("--team", &a.team, decision::TEAM_CHOICES)?,
        },
        json: json_output(&a.output)?,
        result: a.result,
        selection: selection(a.selection),
    })
}

pub fn report(a: ReportArgs) -> Result<ReportOptions, InputError> {
    let format = match &a.output {
        None => PageFormat::Markdown,
        Some(p) => match p.extension().and_then(|e| e.to_str()) {
            Some("html" | "htm") => PageFormat::Html,
            Some("md" | "markdown") => PageFormat::Markdown,
            _ => {
                return Err(InputError(format!(
                    "-o {}: expected a file name ending in .html or .md",
                    p.display()
                )))
            }
        },
    };
    Ok(ReportOptions {
        inputs: a.inputs,
        out: a.output,
        format,
        selection: pricing(a.pricing, None),
        relative_to: a.relative_to,
        remarks: Vec::new(),
    })
}
