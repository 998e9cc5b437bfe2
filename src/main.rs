//! tokenmeter's entry point: parse, dispatch, and map errors to exit codes (0 ok, 1 failed case, 2 bad input).

mod cli;
mod cli_cost;
mod options;

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokenmeter::commands::{self, InputError};
use tokenmeter::engine::EngineError;

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Synth(a) => commands::synth::run(&options::synth(a)),
        Command::Inspect(a) => commands::inspect::run(&a.file, a.json),
        Command::Load(a) => {
            let stop = Arc::new(AtomicBool::new(false));
            let flag = stop.clone();
            ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))?;
            let fmt = options::format(&a.output)?;
            let opts = options::load(*a, cli.verbose, stop)?;
            let outcome = commands::load::run(&opts)?;
            let sweep = outcome.result.load.as_ref().expect("load writes a sweep");
            print!("{}", tokenmeter::report::load::render(fmt, sweep));
            for w in &outcome.result.warnings {
                eprintln!("warning: {w}");
            }
            eprintln!("results: {}", outcome.result_path.display());
            if outcome.result.interrupted {
                return Err(InputError(format!(
                    "interrupted (Ctrl-C): {} level(s) measured and saved to {}",
                    sweep.levels.len(),
                    outcome.result_path.display()
                ))
                .into());
            }
            Ok(())
        }
        Command::Bench(a) => {
            let stop = Arc::new(AtomicBool::new(false));
            let flag = stop.clone();
            ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))?;
            let opts = options::bench(*a, cli.verbose, stop)?;
            let outcome = commands::bench::run(&opts)?;
            print!("{}", opts.format.exporter().render(&outcome.result.cases));
            for w in &outcome.result.warnings {
                eprintln!("warning: {w}");
            }
            eprintln!("results: {}", outcome.result_path.display());
            if outcome.result.interrupted {
                return Err(InputError(format!(
                    "interrupted (Ctrl-C): {} case(s) measured and saved to {}",
                    outcome.result.cases.len(),
                    outcome.result_path.display()
                ))
                .into());
            }
            Ok(())
        }
        Command::Cost(a) => {
            print!("{}", commands::cost::run(&options::cost(*a)?)?);
            Ok(())
        }
        Command::Prices(a) => match a.command {
            cli_cost::PricesCommand::Import(i) => {
                let outcome = commands::prices::import(&options::prices_import(i))?;
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
        },
        Command::Decide(a) => {
            print!("{}", commands::decide::run(&options::decide(*a)?)?);
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let message = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {message}");
            let failed_case = e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<EngineError>(),
                    Some(EngineError::Decode { .. })
                )
            });
            ExitCode::from(if failed_case { 1 } else { 2 })
        }
    }
}
