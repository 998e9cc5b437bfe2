//! `bench`'s arguments into [`BenchOptions`].

use super::run::{run_options, shard_run, sharded};
use super::{duration, flash_attn, fraction, zero_or_one};
use crate::cli::BenchArgs;
use tokenmeter::commands::bench::BenchOptions;
use tokenmeter::commands::InputError;
use tokenmeter::runner::signals::StopFlags;
use tokenmeter::stats::StopRule;

pub fn bench(a: BenchArgs, verbose: bool, stop: StopFlags) -> Result<BenchOptions, InputError> {
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
