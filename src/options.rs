//! Every command's arguments, as clap parsed them, converted into the options struct its command takes: the one
//! place that knows both, so nothing past it sees clap types and each flag is checked once.

use crate::cli::{
    BaselineArgs, BenchArgs, ExportArgs, LoadArgs, ShardArgs, SweepArgs, SynthArgs, TelemetryArgs,
};
use crate::cli::{CostArgs, DecideArgs, ImportArgs, PricingArgs, ReportArgs, SelectionArgs};
use tokenmeter::commands::bench::BenchOptions;
use tokenmeter::commands::compare::{CompareOptions, FailOn, Interleave};
use tokenmeter::commands::cost::{CostOptions, Selection};
use tokenmeter::commands::decide::DecideOptions;
use tokenmeter::commands::export::ExportOptions;
use tokenmeter::commands::load::LoadOptions;
use tokenmeter::commands::prices::ImportOptions;
use tokenmeter::commands::profile::ProfileOptions;
use tokenmeter::commands::report::{PageFormat, ReportOptions};
use tokenmeter::commands::synth::SynthOptions;
use tokenmeter::commands::InputError;
use tokenmeter::config::decision::{self, DecisionTable};
use tokenmeter::config::sweep::ShardUnit;
use tokenmeter::export::ExportFormat;
use tokenmeter::fleet::{self, Shard, ShardRun};
use tokenmeter::gguf::ShapeOverrides;
use tokenmeter::report::Format;
use tokenmeter::results::load::Lengths;
use tokenmeter::runner::scaffold::{BaselineTarget, EngineOptions, RunOptions};
use tokenmeter::runner::sensors::TelemetryOptions;
use tokenmeter::runner::signals::StopFlags;
use tokenmeter::stats::StopRule;

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

/// `2%` or `0.02`.
fn fraction(flag: &str, s: &str) -> Result<f64, InputError> {
    let bad = || {
        InputError(format!(
            "{flag}: expected a percentage such as 2%, got '{s}'"
        ))
    };
    match s.trim().strip_suffix('%') {
        Some(p) => p
            .trim()
            .parse::<f64>()
            .map(|x| x / 100.0)
            .map_err(|_| bad()),
        None => s.trim().parse::<f64>().map_err(|_| bad()),
    }
}

fn telemetry_options(a: TelemetryArgs) -> Result<TelemetryOptions, InputError> {
    let enabled = match a.telemetry.as_str() {
        "on" => true,
        "off" => false,
        other => {
            return Err(InputError(format!(
                "--telemetry: expected on or off, got '{other}'"
            )))
        }
    };
    let idle = match a.idle.trim() {
        "0" => std::time::Duration::ZERO,
        s => duration("--idle", s)?,
    };
    Ok(TelemetryOptions {
        enabled,
        sample_interval: duration("--sample-interval", &a.sample_interval)?,
        idle,
        idle_from: a.idle_from,
        hardware: a.hardware,
        remeasure_bandwidth: a.remeasure_bandwidth,
    })
}

fn duration(flag: &str, s: &str) -> Result<std::time::Duration, InputError> {
    humantime::parse_duration(s).map_err(|e| {
        InputError(format!(
            "{flag}: '{s}' is not a duration such as 30s or 2m ({e})"
        ))
    })
}

pub fn format(s: &str) -> Result<Format, InputError> {
    Format::parse(s).ok_or_else(|| {
        InputError(format!(
            "-o/--output: unknown format '{s}' (expected md, csv, json, jsonl)"
        ))
    })
}

fn zero_or_one(flag: &str, v: u8) -> Result<bool, InputError> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(InputError(format!("{flag}: expected 0 or 1, got {v}"))),
    }
}

fn baseline_target(a: BaselineArgs) -> Result<Option<BaselineTarget>, InputError> {
    a.save_baseline
        .map(|name| {
            tokenmeter::results::baseline::validate_name(&name)
                .map_err(|e| InputError(format!("--save-baseline: {e}")))?;
            Ok(BaselineTarget {
                dir: a.baseline_dir,
                name,
            })
        })
        .transpose()
}

fn unit(flag: &str, s: Option<&str>) -> Result<Option<ShardUnit>, InputError> {
    s.map(|v| {
        ShardUnit::parse(v)
            .ok_or_else(|| InputError(format!("{flag}: expected case or model, got '{v}'")))
    })
    .transpose()
}

/// `--sweep`, `--shard`, `--per` and `--run-id`: the shard this run measures, if any (`--sweep` alone: the whole
/// sweep as shard 0/1).
fn shard_run(a: ShardArgs) -> Result<Option<ShardRun>, InputError> {
    let per = unit("--per", a.per.as_deref())?;
    let shard = match a.shard.as_deref() {
        Some("auto") => Some(Shard::from_env(|k| std::env::var(k).ok()).map_err(InputError)?),
        Some(s) => Some(Shard::parse(s).map_err(|e| InputError(format!("--shard: {e}")))?),
        None if a.sweep.is_some() => Some(Shard { index: 0, count: 1 }),
        None => None,
    };
    let Some(shard) = shard else {
        if per.is_some() || a.run_id.is_some() {
            return Err(InputError(
                "--per and --run-id go with --shard or --sweep".into(),
            ));
        }
        return Ok(None);
    };
    let run_id = a
        .run_id
        .or_else(|| {
            std::env::var(fleet::RUN_ID_ENV)
                .ok()
                .filter(|s| !s.is_empty())
        })
        .or_else(|| a.sweep.clone())
        .unwrap_or_else(|| "shards".into());
    fleet::check_run_id(&run_id).map_err(|e| InputError(format!("--run-id: {e}")))?;
    Ok(Some(ShardRun {
        sweep: a.sweep,
        run_id,
        shard,
        per,
    }))
}

/// `run` with its shard. `--resume` names the result file to finish; `--resume auto` goes with a shard
/// (`--sweep`/`--shard`), whose run finds the file itself ([`fleet::RESUME_AUTO`]).
fn sharded(mut run: RunOptions, shard: Option<ShardRun>) -> Result<RunOptions, InputError> {
    if run.resume.as_deref().and_then(|p| p.to_str()) == Some(fleet::RESUME_AUTO) {
        if shard.is_none() {
            return Err(InputError(
                "--resume auto resumes a shard's checkpoint: give --sweep or --shard with it, or name the \
                 result file to finish (./auto for a file named so)"
                    .into(),
            ));
        }
        run.resume = None;
        run.resume_auto = true;
    }
    run.shard = shard;
    Ok(run)
}

fn run_options(
    config: Option<std::path::PathBuf>,
    telemetry: TelemetryArgs,
    (sweep, baseline): (SweepArgs, BaselineArgs),
    (out, results_dir): (Option<std::path::PathBuf>, std::path::PathBuf),
    verbose: bool,
    flags: StopFlags,
) -> Result<RunOptions, InputError> {
    if sweep.resume.is_some() && out.is_some() {
        return Err(InputError(
            "--resume writes the result file it names: give it or --out, not both".into(),
        ));
    }
    Ok(RunOptions {
        config,
        telemetry: telemetry_options(telemetry)?,
        out,
        results_dir,
        verbose,
        command_line: std::env::args().collect(),
        stop: flags.stop,
        stop_now: flags.stop_now,
        signal: flags.signal,
        in_process: sweep.in_process,
        case_timeout: sweep
            .case_timeout
            .as_deref()
            .map(|d| duration("--case-timeout", d))
            .transpose()?,
        stall_timeout: sweep
            .stall_timeout
            .as_deref()
            .map(|d| duration("--stall-timeout", d))
            .transpose()?,
        resume: sweep.resume,
        resume_auto: false,
        recheck: sweep.recheck,
        verify: !sweep.no_verify,
        save_baseline: baseline_target(baseline)?,
        phase: None,
        hard_deadline: None,
        shard: None,
    })
}

pub fn load(a: LoadArgs, verbose: bool, stop: StopFlags) -> Result<LoadOptions, InputError> {
    let lengths =
        |flag: &str, s: &str| Lengths::parse(s).map_err(|e| InputError(format!("{flag}: {e}")));
    Ok(LoadOptions {
        model: a.model,
        concurrency: a.concurrency,
        rates: a.rate,
        parallel: a.parallel,
        input_tokens: a
            .input_tokens
            .as_deref()
            .map(|s| lengths("--input-tokens", s))
            .transpose()?,
        output_tokens: a
            .output_tokens
            .as_deref()
            .map(|s| lengths("--output-tokens", s))
            .transpose()?,
        workload: a.workload,
        requests: a.requests,
        duration: a
            .duration
            .as_deref()
            .map(|d| duration("--duration", d))
            .transpose()?,
        slo: a
            .slo
            .as_deref()
            .map(|s| {
                tokenmeter::results::slo::parse_slo(s)
                    .map_err(|e| InputError(format!("--slo: {e}")))
            })
            .transpose()?,
        engine: EngineOptions {
            n_threads: a.threads,
            n_gpu_layers: a.n_gpu_layers,
            n_batch: a.batch_size,
            n_ubatch: a.ubatch_size,
            flash_attn: flash_attn(&a.flash_attn)?,
            no_kv_offload: zero_or_one("--no-kv-offload", a.no_kv_offload)?,
            type_k: a.cache_type_k,
            type_v: a.cache_type_v,
            use_mmap: zero_or_one("--mmap", a.mmap)?,
            repack: zero_or_one("--repack", a.repack)?,
        },
        seed: a.seed,
        force: a.force,
        until_saturated: a.until_saturated,
        burst: a.burst,
        gate: None,
        run: sharded(
            run_options(
                a.config,
                a.telemetry,
                (a.sweep, a.baseline),
                (a.out, a.results_dir),
                verbose,
                stop,
            )?,
            shard_run(a.shard)?,
        )?,
    })
}

pub fn bench(a: BenchArgs, verbose: bool, stop: StopFlags) -> Result<BenchOptions, InputError> {
    let format = format(&a.output)?;
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
    Ok(BenchOptions {
        models: a.models,
        n_prompt: a.n_prompt,
        n_gen: a.n_gen,
        pg,
        n_depth: a.n_depth,
        stop_rule: match a.target_ci.as_deref() {
            None => StopRule::fixed(a.repetitions),
            Some(t) => StopRule {
                target_rel_ci: Some(fraction("--target-ci", t)?),
                min_runs: a.min_runs,
                max_runs: a.max_runs,
                max_time_ns: a
                    .max_time
                    .as_deref()
                    .map(|d| duration("--max-time", d).map(|d| d.as_nanos() as u64))
                    .transpose()?,
            },
        },
        n_threads: a.threads,
        n_gpu_layers: a.n_gpu_layers,
        repack: a
            .repack
            .iter()
            .map(|&v| zero_or_one("--repack", v))
            .collect::<Result<_, _>>()?,
        n_batch: a.batch_size,
        n_ubatch: a.ubatch_size,
        flash_attn: a
            .flash_attn
            .iter()
            .map(|s| flash_attn(s))
            .collect::<Result<_, _>>()?,
        no_kv_offload: a
            .no_kv_offload
            .iter()
            .map(|&v| zero_or_one("--no-kv-offload", v))
            .collect::<Result<_, _>>()?,
        type_k: a.cache_type_k,
        type_v: a.cache_type_v,
        use_mmap: zero_or_one("--mmap", a.mmap)?,
        warmup_runs: if a.no_warmup { 0 } else { a.warmup },
        seed: a.seed,
        format,
        force: a.force,
        run: sharded(
            run_options(
                a.config,
                a.telemetry,
                (a.sweep, a.baseline),
                (a.out, a.results_dir),
                verbose,
                stop,
            )?,
            shard_run(a.shard)?,
        )?,
    })
}

pub fn synth(a: SynthArgs) -> SynthOptions {
    SynthOptions {
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
    }
}

fn selection(a: SelectionArgs) -> Selection {
    pricing(a.pricing, a.model)
}

fn pricing(p: PricingArgs, model: Option<String>) -> Selection {
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

fn json_output(o: &str) -> Result<bool, InputError> {
    match o {
        "md" => Ok(false),
        "json" => Ok(true),
        _ => Err(InputError(format!(
            "-o/--output: unknown format '{o}' (expected md or json)"
        ))),
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

fn shell_words(flag: &str, s: &str) -> Result<Vec<String>, InputError> {
    shlex::split(s).ok_or_else(|| InputError(format!("{flag}: unbalanced quotes in '{s}'")))
}

pub fn compare(a: crate::cli::CompareArgs) -> Result<CompareOptions, InputError> {
    let json = match a.output.as_str() {
        "md" => false,
        "json" => true,
        other => return Err(InputError(format!("-o: '{other}' is not md or json"))),
    };
    // `slower` or `any-change`, and figures to gate besides each kind's primary one (`slower,ttft_p99`).
    let mut fail_on = FailOn::Slower;
    let mut gate = std::collections::BTreeSet::new();
    for word in a
        .fail_on
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        match word {
            "slower" => fail_on = FailOn::Slower,
            "any-change" => fail_on = FailOn::AnyChange,
            m if tokenmeter::analysis::compare::GATEABLE.contains(&m) => {
                gate.insert(m.to_string());
            }
            other => {
                return Err(InputError(format!(
                    "--fail-on: '{other}' is not slower, any-change or a figure ({})",
                    tokenmeter::analysis::compare::GATEABLE.join(", ")
                )))
            }
        }
    }
    if !(a.alpha > 0.0 && a.alpha < 1.0) {
        return Err(InputError(format!(
            "--alpha: {} is not between 0 and 1",
            a.alpha
        )));
    }
    let mut ignore: std::collections::BTreeSet<String> = a
        .ignore
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if a.ignore_model {
        ignore.insert("model".into());
    }
    tokenmeter::analysis::compare::check_ignore(&ignore).map_err(InputError)?;
    if a.resamples < 100 {
        return Err(InputError(format!(
            "--resamples: {} is fewer than 100",
            a.resamples
        )));
    }
    let analysis = tokenmeter::analysis::compare::Options {
        alpha: a.alpha,
        noise: fraction("--noise", &a.noise)
            .ok()
            .filter(|x| x.is_finite() && (0.0..1.0).contains(x))
            .ok_or_else(|| {
                InputError(format!(
                    "--noise: '{}' is not a fraction below 100% (e.g. 2% or 0.02)",
                    a.noise
                ))
            })?,
        ignore,
        paired: a.paired,
        resamples: a.resamples,
        gate,
        seed: a.seed,
    };
    let mut sides = a.sides.into_iter();
    let (base, new, interleave) = if a.interleave {
        if sides.len() > 0 {
            return Err(InputError(
                "--interleave measures both sides itself: give the command after --, not BASE NEW"
                    .into(),
            ));
        }
        if a.run.is_empty() {
            return Err(InputError(
                "--interleave needs the command both sides run after -- (e.g. -- bench -m m.gguf -p 64)".into(),
            ));
        }
        if a.rounds < 2 {
            return Err(InputError(format!(
                "--rounds: {} is fewer than 2",
                a.rounds
            )));
        }
        let max_rounds = a.max_rounds.unwrap_or(a.rounds.saturating_mul(3));
        if max_rounds < a.rounds {
            return Err(InputError(format!(
                "--max-rounds: {max_rounds} is fewer than --rounds ({})",
                a.rounds
            )));
        }
        let me = std::env::current_exe()
            .map_err(|e| InputError(format!("cannot find this tokenmeter's path: {e}")))?;
        let keep = a.keep.unwrap_or_else(|| {
            std::path::PathBuf::from("results").join(format!(
                "compare-{}",
                chrono::Utc::now().format("%Y%m%d-%H%M%S")
            ))
        });
        let il = Interleave {
            rounds: a.rounds,
            max_rounds,
            base_exe: a.base_exe.unwrap_or_else(|| me.clone()),
            new_exe: a.new_exe.unwrap_or(me),
            run: a.run,
            base_args: shell_words("--base-args", &a.base_args)?,
            new_args: shell_words("--new-args", &a.new_args)?,
            keep,
        };
        (None, None, Some(il))
    } else {
        let expected = if a.baseline.is_some() { 1 } else { 2 };
        if sides.len() != expected {
            return Err(InputError(match a.baseline {
                Some(_) => format!("with --baseline, give only NEW ({} given)", sides.len()),
                None => format!("give BASE and NEW ({} given)", sides.len()),
            }));
        }
        if !a.run.is_empty() {
            return Err(InputError("a command after -- needs --interleave".into()));
        }
        let base = match a.baseline {
            Some(name) => {
                tokenmeter::results::baseline::baseline_path(&a.baseline_dir, &name)
                    .map_err(|e| InputError(format!("--baseline: {e}")))?;
                name
            }
            None => sides.next().expect("two sides"),
        };
        (Some(base), sides.next(), None)
    };
    Ok(CompareOptions {
        base,
        new,
        baseline_dir: a.baseline_dir,
        json,
        out: a.out,
        fail_on,
        analysis,
        interleave,
        allow_wrong_numerics: a.allow_wrong_numerics,
    })
}

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

pub fn profile(
    a: crate::cli::ProfileArgs,
    verbose: bool,
    stop: StopFlags,
) -> Result<ProfileOptions, InputError> {
    let telemetry = telemetry_options(TelemetryArgs {
        telemetry: a.telemetry,
        sample_interval: "50ms".into(),
        idle: a.idle,
        idle_from: None,
        hardware: None,
        remeasure_bandwidth: false,
    })?;
    let budget = a
        .budget
        .as_deref()
        .map(|b| duration("--budget", b))
        .transpose()?;
    if budget.is_some_and(|b| b.is_zero()) {
        return Err(InputError("--budget: must be longer than 0".into()));
    }
    let slo = a
        .slo
        .as_deref()
        .map(|s| {
            tokenmeter::results::slo::parse_slo(s).map_err(|e| InputError(format!("--slo: {e}")))
        })
        .transpose()?;
    Ok(ProfileOptions {
        quick: a.quick,
        models: a.models,
        budget,
        out_dir: a.out_dir,
        slo,
        n_threads: a.threads,
        n_gpu_layers: a.n_gpu_layers,
        run: RunOptions {
            config: a.pricing.config.clone(),
            telemetry,
            out: None,
            results_dir: "results".into(),
            verbose,
            command_line: std::env::args().collect(),
            stop: stop.stop,
            stop_now: stop.stop_now,
            signal: stop.signal,
            in_process: a.in_process,
            case_timeout: None,
            stall_timeout: None,
            resume: None,
            resume_auto: false,
            recheck: false,
            verify: true,
            save_baseline: None,
            phase: None,
            hard_deadline: None,
            shard: None,
        },
        selection: pricing(a.pricing, None),
    })
}

pub fn plan(
    a: crate::cli::PlanArgs,
    bench_defaults: BenchOptions,
    load_defaults: LoadOptions,
) -> Result<tokenmeter::commands::plan::PlanOptions, InputError> {
    use tokenmeter::commands::plan::{Emit, EmitOptions, PlanOptions};
    let emit = a
        .emit
        .as_deref()
        .map(|e| {
            let kind = match e {
                "slurm" => Emit::Slurm,
                "kubernetes" | "k8s" => Emit::Kubernetes,
                other => {
                    return Err(InputError(format!(
                        "--emit: expected slurm or kubernetes, got '{other}'"
                    )))
                }
            };
            Ok(EmitOptions {
                kind,
                run_id: a.run_id.clone(),
                max_parallel: a.max_parallel,
                gpus: a.gpus,
                binary: a.binary.clone(),
                results_dir: a.results_dir.clone(),
                image: a.image.clone(),
                gpu_product: a.gpu_product.clone(),
            })
        })
        .transpose()?;
    if a.max_parallel == Some(0) {
        return Err(InputError("--max-parallel: must be at least 1".into()));
    }
    Ok(PlanOptions {
        config: a.config,
        sweep: a.sweep,
        per: unit("--per", a.per.as_deref())?,
        shards: a.shards,
        hardware: a.hardware,
        json: json_output(&a.output)?,
        emit,
        out: a.out,
        bench_defaults,
        load_defaults,
    })
}

/// `fleet status --per`.
pub fn per(s: Option<&str>) -> Result<Option<ShardUnit>, InputError> {
    unit("--per", s)
}
