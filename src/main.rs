//! tokenmeter's entry point: parse, dispatch, and map errors to exit codes (`tokenmeter::exit`).

mod cli;
mod options;

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;
use tokenmeter::commands::{self, InputError};
use tokenmeter::exit::{CasesFailed, Interrupted};
use tokenmeter::runner::signals::{self, StopFlags};

/// Handles SIGINT, SIGTERM and SIGHUP for a measuring command (see `runner::signals`).
fn stop_on_signals() -> anyhow::Result<StopFlags> {
    Ok(signals::install()?)
}

/// The error a run stopped by a signal ends with, once its partial result is written.
fn interrupted(flags: &StopFlags, what: String) -> anyhow::Error {
    let signal = flags.signal().unwrap_or(libc::SIGINT);
    Interrupted {
        signal,
        message: format!("interrupted by {}: {what}", signals::name(signal)),
    }
    .into()
}

fn failed_cases(r: &tokenmeter::results::ResultFile, what: &str) -> anyhow::Result<()> {
    let wrong = r.numerics_failures();
    let mut why = Vec::new();
    if !r.failed.is_empty() {
        let labels: Vec<&str> = r.failed.iter().map(|f| f.label.as_str()).collect();
        why.push(format!(
            "{} {what}(s) failed ({}); the result file's `failed` says why",
            r.failed.len(),
            labels.join(", ")
        ));
    } else if !wrong.is_empty() {
        why.push(format!(
            "{} {what}(s) failed the numerics gate ({}): their speed comes from a wrong computation",
            wrong.len(),
            wrong.join(", ")
        ));
    }
    let lost = r.lost_devices();
    if !lost.is_empty() {
        why.push(format!(
            "lost during the run: {}; its energy is absent from then on, the measurements are kept",
            lost.join(", ")
        ));
    }
    if why.is_empty() {
        return Ok(());
    }
    Err(CasesFailed(why.join("; ")).into())
}

/// `--save-baseline`'s outcome: where the baseline went, or a warning that it was not saved.
fn report_baseline(b: Option<&tokenmeter::runner::finish::BaselineOutcome>) {
    match b {
        Some(saved @ tokenmeter::runner::finish::BaselineOutcome::Saved(_)) => {
            eprintln!("{saved}")
        }
        Some(refused) => eprintln!("warning: {refused}"),
        None => {}
    }
}

/// Prints a run's table; a reader that went away (`| head`) loses the table, never the run's result file or its
/// messages on stderr.
fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Commands that only print end like other Unix tools when their reader goes away. `bench` and `load` keep
/// SIGPIPE ignored: they write requests to worker processes, and a crashed worker must be a failed case, not a
/// dead parent.
fn default_sigpipe(command: &Command) {
    if !matches!(
        command,
        Command::Bench(_) | Command::Load(_) | Command::Profile(_) | Command::Worker
    ) {
        // SAFETY: resetting a signal's disposition before any thread is started.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
}

/// `bench`'s and `load`'s options with every flag at its default: what a `[[sweep]]` is applied to.
fn flag_defaults() -> anyhow::Result<(
    tokenmeter::commands::bench::BenchOptions,
    tokenmeter::commands::load::LoadOptions,
)> {
    let parse = |cmd: &str| Cli::try_parse_from(["tokenmeter", cmd]).map(|c| c.command);
    let bench = match parse("bench")? {
        Command::Bench(a) => options::bench(*a, false, StopFlags::default())?,
        _ => unreachable!("parsed bench"),
    };
    let load = match parse("load")? {
        Command::Load(a) => options::load(*a, false, StopFlags::default())?,
        _ => unreachable!("parsed load"),
    };
    Ok((bench, load))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Synth(a) => commands::synth::run(&options::synth(a)),
        Command::Inspect(a) => commands::inspect::run(&a.file, a.json),
        Command::Load(a) => load(*a, cli.verbose),
        Command::Bench(a) => bench(*a, cli.verbose),
        Command::Cost(a) => {
            print!("{}", commands::cost::run(&options::cost(*a)?)?);
            Ok(())
        }
        Command::Prices(a) => match a.command {
            cli::PricesCommand::Import(i) => prices_import(i),
        },
        Command::Export(a) => {
            let opts = options::export(a)?;
            for path in commands::export::run(&opts, &mut std::io::stdout().lock())? {
                eprintln!("wrote {}", path.display());
            }
            Ok(())
        }
        Command::Report(a) => report(*a),
        Command::Profile(a) => profile(*a, cli.verbose),
        Command::Plan(a) => plan(*a),
        Command::Fleet(a) => match a.command {
            cli::FleetCommand::Status(s) => fleet_status(s),
        },
        Command::Worker => tokenmeter::runner::worker::serve(),
        Command::Compare(a) => commands::compare::run(&options::compare(*a)?),
        Command::Decide(a) => {
            print!("{}", commands::decide::run(&options::decide(*a)?)?);
            Ok(())
        }
    }
}

/// `tokenmeter load`: the table on stdout, warnings and the result file's path on stderr.
fn load(a: cli::LoadArgs, verbose: bool) -> anyhow::Result<()> {
    let flags = stop_on_signals()?;
    let fmt = options::format(&a.output)?;
    let mut opts = options::load(a, verbose, flags.clone())?;
    commands::fleet::prepare_load(&mut opts)?;
    let outcome = commands::load::run(&opts)?;
    let sweep = outcome.result.load.as_ref().expect("load writes a sweep");
    emit(&commands::load::render(&outcome, fmt));
    for w in &outcome.result.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!("results: {}", outcome.result_path.display());
    report_baseline(outcome.baseline.as_ref());
    if outcome.result.interrupted {
        return Err(interrupted(
            &flags,
            format!(
                "{} level(s) measured and saved to {}; finish with --resume {}",
                sweep.levels.len(),
                outcome.result_path.display(),
                outcome.result_path.display()
            ),
        ));
    }
    failed_cases(&outcome.result, "level")
}

/// `tokenmeter bench`: the table on stdout, warnings and the result file's path on stderr.
fn bench(a: cli::BenchArgs, verbose: bool) -> anyhow::Result<()> {
    let flags = stop_on_signals()?;
    let fmt = options::format(&a.output)?;
    let mut opts = options::bench(a, verbose, flags.clone())?;
    commands::fleet::prepare_bench(&mut opts)?;
    let outcome = commands::bench::run(&opts)?;
    emit(&commands::bench::render(&outcome, fmt));
    for w in &outcome.result.warnings {
        eprintln!("warning: {w}");
    }
    eprintln!("results: {}", outcome.result_path.display());
    report_baseline(outcome.baseline.as_ref());
    if outcome.result.interrupted {
        return Err(interrupted(
            &flags,
            format!(
                "{} case(s) measured and saved to {}; finish with --resume {}",
                outcome.result.cases.len(),
                outcome.result_path.display(),
                outcome.result_path.display()
            ),
        ));
    }
    failed_cases(&outcome.result, "case")
}

/// `tokenmeter prices import`: the TOML on stdout, or written to `--out`.
fn prices_import(a: cli::ImportArgs) -> anyhow::Result<()> {
    let outcome = commands::prices::import(&options::prices_import(a))?;
    match &outcome.written {
        Some(path) => eprintln!(
            "wrote {} [[cloud]] entries to {}",
            outcome.entries,
            path.display()
        ),
        None => print!("{}", outcome.toml),
    }
    eprintln!("skipped: {}", outcome.skipped);
    Ok(())
}

/// `tokenmeter report`: the page on stdout, or written to `-o`.
fn report(a: cli::ReportArgs) -> anyhow::Result<()> {
    let opts = options::report(a)?;
    let outcome = commands::report::run(&opts)?;
    match &opts.out {
        Some(path) => eprintln!(
            "wrote {} ({} result file(s); {} left out)",
            path.display(),
            outcome.files_read,
            outcome.skipped.len()
        ),
        None => emit(&outcome.text),
    }
    Ok(())
}

/// `tokenmeter profile`: the summary on stdout, the report's and the results' paths on stderr.
fn profile(a: cli::ProfileArgs, verbose: bool) -> anyhow::Result<()> {
    let flags = stop_on_signals()?;
    let opts = options::profile(a, verbose, flags.clone())?;
    let outcome = commands::profile::run(&opts)?;
    emit(&commands::profile::summary(&outcome));
    match (&outcome.report, &outcome.report_error) {
        (Some(html), _) => eprintln!("report: {}", html.display()),
        (None, Some(why)) => eprintln!("warning: no report: {why}"),
        (None, None) => {}
    }
    eprintln!("results: {}", outcome.dir.display());
    if outcome.interrupted {
        return Err(interrupted(
            &flags,
            format!("what was measured is in {}", outcome.dir.display()),
        ));
    }
    if outcome.any_failed() {
        return Err(CasesFailed(format!(
            "some phases of the profile failed; {} says why",
            outcome.dir.join("profile.md").display()
        ))
        .into());
    }
    Ok(())
}

/// `tokenmeter plan`: the plan, or the file that runs its shards, on stdout or written to `--out`.
fn plan(a: cli::PlanArgs) -> anyhow::Result<()> {
    let (bench, load) = flag_defaults()?;
    let mut opts = options::plan(a, bench, load)?;
    let plan = commands::plan::plan(&mut opts)?;
    let text = match &opts.emit {
        Some(e) => commands::plan::emit(&plan, opts.config.as_deref(), e)?,
        None if opts.json => serde_json::to_string_pretty(&plan)? + "\n",
        None => commands::plan::render(&plan),
    };
    match &opts.out {
        Some(path) => {
            tokenmeter::fsutil::write_atomic(path, text.as_bytes())
                .map_err(|e| InputError(format!("{}: cannot write: {e}", path.display())))?;
            eprintln!("wrote {}", path.display());
        }
        None => emit(&text),
    }
    Ok(())
}

/// The number of shards `plan` gives the [[sweep]] `name` (`fleet status --sweep`).
fn sweep_shards(
    name: &str,
    config: Option<std::path::PathBuf>,
    per: Option<&str>,
) -> anyhow::Result<u32> {
    let (bench, load) = flag_defaults()?;
    let mut opts = commands::plan::PlanOptions {
        config,
        sweep: name.to_string(),
        per: options::per(per)?,
        shards: None,
        hardware: None,
        json: false,
        emit: None,
        out: None,
        bench_defaults: bench,
        load_defaults: load,
    };
    Ok(commands::plan::plan(&mut opts)?.shards.len() as u32)
}

/// `tokenmeter fleet status`: the table on stdout; exit 1 unless every shard is done.
fn fleet_status(s: cli::FleetStatusArgs) -> anyhow::Result<()> {
    let shards = match &s.sweep {
        None => s.shards,
        Some(name) => Some(sweep_shards(name, s.config.clone(), s.per.as_deref())?),
    };
    let outcome = commands::fleet::status(&s.dir, shards)?;
    emit(&outcome.text);
    if outcome.all_done() {
        Ok(())
    } else {
        Err(CasesFailed(format!("{}: not every shard is done", s.dir.display())).into())
    }
}

/// llama-bench's single-dash spellings of long options (`-ngl 99`, `-fa 1`, `-ctk q8_0`, `-pg 512,128`), as the
/// long options tokenmeter names them with two dashes. Only whole arguments are rewritten.
const LLAMA_BENCH_SPELLINGS: &[&str] = &["-ngl", "-ub", "-fa", "-nkvo", "-ctk", "-ctv", "-pg"];

fn llama_bench_spellings(
    args: impl Iterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    args.map(|a| match a.to_str() {
        Some(s) if LLAMA_BENCH_SPELLINGS.contains(&s) => format!("-{s}").into(),
        _ => a,
    })
    .collect()
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(llama_bench_spellings(std::env::args_os()));
    default_sigpipe(&cli.command);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let message = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {message}");
            ExitCode::from(tokenmeter::exit::code_of(&e))
        }
    }
}
