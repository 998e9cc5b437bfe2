//! tokenmeter's entry point: parse, dispatch, and map errors to exit codes (0 ok, 1 failed case, 2 bad input).

mod cli;
mod cli_cost;

use clap::Parser;
use cli::{BenchArgs, Cli, Command};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokenmeter::commands::{self, bench::BenchOptions, synth::SynthOptions, InputError};
use tokenmeter::engine::EngineError;
use tokenmeter::gguf::ShapeOverrides;
use tokenmeter::report::Format;

fn bool_list(flag: &str, v: &[u8]) -> Result<Vec<bool>, InputError> {
    v.iter()
        .map(|&x| match x {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(InputError(format!("{flag}: expected 0 or 1, got {x}"))),
        })
        .collect()
}

/// llama-bench's `-fa` values: on/1, off/0, auto/-1 (llama.cpp's `llama_flash_attn_type`).
fn flash_attn(s: &str) -> Result<i8, InputError> {
    match s {
        "on" | "1" => Ok(1),
        "off" | "0" => Ok(0),
        "auto" | "-1" => Ok(-1),
        _ => Err(InputError(format!(
            "--flash-attn: expected on, off or auto, got '{s}'"
        ))),
    }
}

fn bench_options(
    a: BenchArgs,
    verbose: bool,
    stop: Arc<AtomicBool>,
) -> Result<BenchOptions, InputError> {
    let format = Format::parse(&a.output).ok_or_else(|| {
        InputError(format!(
            "-o/--output: unknown format '{}' (expected md, csv, json, jsonl)",
            a.output
        ))
    })?;
    let pg =
        a.pg.iter()
            .map(|s| {
                let (p, n) = s
                    .split_once(',')
                    .ok_or_else(|| InputError(format!("--pg: expected PROMPT,GEN, got '{s}'")))?;
                let num = |x: &str| {
                    x.trim()
                        .parse::<u32>()
                        .map_err(|_| InputError(format!("--pg: '{x}' is not a token count")))
                };
                Ok((num(p)?, num(n)?))
            })
            .collect::<Result<Vec<_>, InputError>>()?;
    if a.mmap > 1 {
        return Err(InputError(format!(
            "--mmap: expected 0 or 1, got {}",
            a.mmap
        )));
    }
    Ok(BenchOptions {
        models: a.models,
        config: a.config,
        n_prompt: a.n_prompt,
        n_gen: a.n_gen,
        pg,
        n_depth: a.n_depth,
        repetitions: a.repetitions,
        n_threads: a.threads,
        n_gpu_layers: a.n_gpu_layers,
        n_batch: a.batch_size,
        n_ubatch: a.ubatch_size,
        flash_attn: a
            .flash_attn
            .iter()
            .map(|s| flash_attn(s))
            .collect::<Result<_, _>>()?,
        no_kv_offload: bool_list("--no-kv-offload", &a.no_kv_offload)?,
        type_k: a.cache_type_k,
        type_v: a.cache_type_v,
        use_mmap: a.mmap == 1,
        warmup_runs: if a.no_warmup { 0 } else { a.warmup },
        seed: a.seed,
        format,
        out: a.out,
        results_dir: a.results_dir,
        verbose,
        command_line: std::env::args().collect(),
        stop,
    })
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Synth(a) => commands::synth::run(&SynthOptions {
            shape: a.shape,
            weight_type: a.weight_type,
            seed: a.seed,
            overrides: ShapeOverrides {
                n_layer: a.layers,
                n_embd: a.embd,
                n_head: a.heads,
                n_head_kv: a.kv_heads,
                n_ff: a.ff,
                n_vocab: a.vocab,
                n_ctx: a.ctx,
            },
            output: a.output,
            dry_run: a.dry_run,
        }),
        Command::Inspect(a) => commands::inspect::run(&a.file, a.json),
        Command::Bench(a) => {
            let stop = Arc::new(AtomicBool::new(false));
            let flag = stop.clone();
            ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))?;
            let opts = bench_options(*a, cli.verbose, stop)?;
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
            print!("{}", commands::cost::run(&a.options()?)?);
            Ok(())
        }
        Command::Prices(a) => match a.command {
            cli_cost::PricesCommand::Import(i) => {
                let outcome = commands::prices::import(&i.options())?;
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
            print!("{}", commands::decide::run(&a.options()?)?);
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
