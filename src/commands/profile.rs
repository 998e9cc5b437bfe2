//! `tokenmeter profile`: a candidate machine in one command. The profile sweep (`runner::sweep::profile`) picks
//! the model shapes that fit the device's memory and runs their bench, load and depth phases within a time
//! budget, every result file into one directory; this command checks the report's pricing entries first, then
//! writes the report (HTML and markdown) and `profile.md`, the summary of the phases, into that directory.

use super::cost::{Loaded, Selection};
use super::report::{check_selection, PageFormat, ReportOptions};
use super::InputError;
use crate::runner::progress::short_duration;
use crate::runner::sweep::profile::{self, Kind, Status};
use std::path::PathBuf;
use std::time::Duration;

pub use crate::runner::sweep::profile::{PhaseRecord, ProfileOutcome};

pub struct ProfileOptions {
    /// What is measured, within which budget, into which directory.
    pub sweep: profile::ProfileOptions,
    /// The report's pricing: configuration, hardware, workload (also the load sweep's request lengths and SLO)
    /// and cloud offerings.
    pub selection: Selection,
}

/// `tokenmeter profile`.
pub fn run(o: &ProfileOptions) -> anyhow::Result<ProfileOutcome> {
    let prepared = profile::prepare(&o.sweep)?;
    // The report's entries are checked before anything is measured: a wrong name is the user's to fix.
    let loaded = match Loaded::read(&o.selection) {
        Ok(l) => {
            check_selection(&l, &o.selection)?;
            Some(l)
        }
        Err(e) if o.selection.config.is_none() => {
            eprintln!("note: the report will not price the results: {e:#}");
            None
        }
        Err(e) => return Err(e),
    };
    let entry = match (&o.selection.workload, &loaded) {
        (Some(_), Some(l)) => Some(l.workload(&o.selection)?.0.entry),
        _ => None,
    };
    let workload = o
        .selection
        .workload
        .as_deref()
        .map(|name| profile::Workload { name, entry });
    let mut outcome = profile::run(&o.sweep, prepared, workload)?;
    write_report(o, &mut outcome);
    let dir = outcome.dir.clone();
    let nothing_ran = outcome
        .phases
        .iter()
        .all(|p| matches!(&p.status, Status::Skipped(_)));
    let summary = format!(
        "# tokenmeter profile\n\ncommand: {}\n\n{}",
        o.sweep.run.command_line.join(" "),
        summary(&outcome)
    );
    crate::fsutil::write_atomic(&dir.join("profile.md"), summary.as_bytes())
        .map_err(|e| InputError(format!("{}: cannot write: {e}", dir.display())))?;
    if nothing_ran {
        return Err(InputError(format!(
            "the time budget of {} left no phase to run (estimates in {})",
            short_duration(outcome.budget),
            dir.join("profile.md").display()
        ))
        .into());
    }
    Ok(outcome)
}

/// Writes the report of the profile's result files (`report.html` and `report.md`) into its directory, with a
/// remark for each phase that did not run, and records where it is or why it is not.
fn write_report(o: &ProfileOptions, outcome: &mut ProfileOutcome) {
    if !outcome.phases.iter().any(|p| p.result.is_some()) {
        outcome.report_error = Some("no phase wrote a result file".into());
        return;
    }
    let dir = outcome.dir.clone();
    let remarks = remarks(outcome);
    let report = |out: PathBuf, format| {
        super::report::run(&ReportOptions {
            inputs: vec![dir.clone()],
            out: Some(out),
            format,
            selection: o.selection.clone(),
            relative_to: None,
            remarks: remarks.clone(),
        })
    };
    let html = dir.join("report.html");
    match report(html.clone(), PageFormat::Html)
        .and_then(|_| report(dir.join("report.md"), PageFormat::Markdown))
    {
        Ok(_) => outcome.report = Some(html),
        Err(e) => outcome.report_error = Some(crate::text::one_line(&format!("{e:#}"))),
    }
}

/// The phases as a markdown table, with the models left out and the budget.
pub fn summary(outcome: &ProfileOutcome) -> String {
    let dur = |s: Option<f64>| {
        s.map_or_else(
            || crate::report::ABSENT.to_string(),
            |s| short_duration(Duration::from_secs_f64(s)),
        )
    };
    let mut out = format!(
        "profile of {} — budget {}, results in {}\n\n| # | phase | model | estimate | took | outcome |\n|---|---|---|---|---|---|\n",
        outcome.device,
        short_duration(outcome.budget),
        outcome.dir.display()
    );
    for (i, p) in outcome.phases.iter().enumerate() {
        let status = match &p.status {
            Status::Done { summary } => summary.clone(),
            Status::CasesFailed { summary } => format!("{summary}; some cases failed"),
            Status::Failed(why) => format!("failed: {why}"),
            Status::Skipped(why) => format!("skipped: {why}"),
            Status::Interrupted => "interrupted (Ctrl-C)".into(),
        };
        out += &format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            i + 1,
            p.kind.label(),
            p.model,
            match (p.kind, p.estimate_s) {
                // later levels are estimated one at a time, from the level before
                (Kind::Load, Some(_)) => format!("{} (c=1)", dur(p.estimate_s)),
                _ => dur(p.estimate_s),
            },
            dur(p.took_s),
            status.replace('|', "\\|")
        );
    }
    out += &format!(
        "\ncalibration (one pp64 and tg16 run, not a result): {}\nphases ended {} after the start, of a budget of {}\n",
        match &outcome.calibration {
            Ok(d) => short_duration(*d),
            Err(why) => format!("not run: {why}"),
        },
        short_duration(outcome.took),
        short_duration(outcome.budget)
    );
    for m in &outcome.models_left_out {
        out += &format!("\nleft out: {m}");
    }
    if !outcome.models_left_out.is_empty() {
        out.push('\n');
    }
    out
}

/// One line per model left out and per phase that did not run, for the report.
fn remarks(outcome: &ProfileOutcome) -> Vec<String> {
    let mut r: Vec<String> = outcome
        .models_left_out
        .iter()
        .map(|m| format!("profile: model left out — {m}"))
        .collect();
    for p in &outcome.phases {
        let why = match &p.status {
            Status::Skipped(why) => why.clone(),
            Status::Failed(why) => format!("failed: {why}"),
            Status::Interrupted => "interrupted (Ctrl-C)".into(),
            _ => continue,
        };
        r.push(format!(
            "profile: {} of {} not measured — {why}",
            p.kind.label(),
            p.model
        ));
    }
    r
}
