//! What `bench --sweep NAME --shard I/N` and `load --sweep …` add to a run: the `[[sweep]]`'s settings in place of
//! the flags', the load levels a shard owns, and `fleet status` over a run's directory. `bench` selects its own
//! cases (after expanding them, in `bench::run`); `load` runs one model, so its shard is chosen here, before the
//! run. A measuring command added later takes the same `RunOptions::shard` and calls the same pieces.

use super::bench::BenchOptions;
use super::load::LoadOptions;
use super::InputError;
use crate::config::sweep::{ShardUnit, SweepCommand};
use crate::config::{Config, SweepEntry};
use crate::fleet::status::{self, ShardRow};
use crate::fleet::{attempt, Shard, ShardFile};
use crate::results::load::Arrivals;
use crate::results::load::Lengths;
use crate::results::slo::parse_slo;
use crate::stats::StopRule;
use std::path::{Path, PathBuf};

/// The `[[sweep]]` named `name` in the configuration.
pub fn find_sweep(config: Option<&Path>, name: &str) -> anyhow::Result<SweepEntry> {
    let c = Config::load(config)?;
    match c.sweep(name) {
        Some(s) => Ok(s.clone()),
        None => {
            let have: Vec<&str> = c.sweeps.iter().map(|s| s.name.as_str()).collect();
            Err(InputError(format!(
                "--sweep: no [[sweep]] named '{name}' in {} (it has: {})",
                config
                    .unwrap_or(Path::new(crate::config::DEFAULT_CONFIG))
                    .display(),
                if have.is_empty() {
                    "none".to_string()
                } else {
                    have.join(", ")
                }
            ))
            .into())
        }
    }
}

fn wrong_command(s: &SweepEntry, here: SweepCommand) -> InputError {
    InputError(format!(
        "--sweep {}: a {} sweep, run it with `tokenmeter {} --sweep {}` (this is {})",
        s.name,
        s.command.name(),
        s.command.name(),
        s.name,
        here.name()
    ))
}

/// The sweep's settings in place of `bench`'s flags (a key the sweep leaves out keeps the flag's value).
pub fn apply_bench(opts: &mut BenchOptions, s: &SweepEntry) {
    opts.models = s.models.clone();
    let set = |dst: &mut Vec<u32>, src: &Option<Vec<u32>>| {
        if let Some(v) = src {
            dst.clone_from(v);
        }
    };
    set(&mut opts.n_prompt, &s.n_prompt);
    set(&mut opts.n_gen, &s.n_gen);
    set(&mut opts.n_depth, &s.n_depth);
    if s.n_prompt.is_some() || s.n_gen.is_some() {
        opts.pg.clear();
    }
    if let Some(r) = s.repetitions {
        opts.stop_rule = StopRule::fixed(r);
    }
    if let Some(t) = &s.threads {
        opts.n_threads = Some(t.clone());
    }
    if let Some(ngl) = &s.n_gpu_layers {
        opts.n_gpu_layers.clone_from(ngl);
    }
}

/// The sweep's settings in place of `load`'s flags; the model is left to [`load_shard`].
pub fn apply_load(opts: &mut LoadOptions, s: &SweepEntry) -> Result<(), InputError> {
    let at = |key: &str, e: String| InputError(format!("[[sweep]] {} {key}: {e}", s.name));
    opts.concurrency = s.concurrency.clone().unwrap_or_default();
    opts.rates = s.rate.clone().unwrap_or_default();
    if let Some(t) = &s.input_tokens {
        opts.input_tokens = Some(Lengths::parse(t).map_err(|e| at("input_tokens", e))?);
    }
    if let Some(t) = &s.output_tokens {
        opts.output_tokens = Some(Lengths::parse(t).map_err(|e| at("output_tokens", e))?);
    }
    if let Some(r) = s.requests {
        opts.requests = Some(r);
    }
    if let Some(slo) = &s.slo {
        opts.slo = Some(parse_slo(slo).map_err(|e| at("slo", e))?);
    }
    if s.workload.is_some() {
        opts.workload.clone_from(&s.workload);
    }
    if let Some(t) = s.threads.as_ref().and_then(|t| t.first()) {
        opts.engine.n_threads = Some(*t);
    }
    if let Some(n) = s.n_gpu_layers.as_ref().and_then(|n| n.first()) {
        opts.engine.n_gpu_layers = *n;
    }
    Ok(())
}

/// A load level: closed-loop concurrency or an open-loop rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Level {
    Closed(u32),
    Open(f64),
}

impl Level {
    pub fn label(&self) -> String {
        match self {
            Level::Closed(concurrency) => Arrivals::Closed {
                concurrency: *concurrency,
            }
            .label(),
            Level::Open(rate_per_s) => Arrivals::Open {
                rate_per_s: *rate_per_s,
                slots: 0,
            }
            .label(),
        }
    }
}

/// The levels of `opts`, in order.
pub fn levels_of(opts: &LoadOptions) -> Vec<Level> {
    opts.concurrency
        .iter()
        .map(|&c| Level::Closed(c))
        .chain(opts.rates.iter().map(|&r| Level::Open(r)))
        .collect()
}

/// A load sweep's units: every (model, level) pair, model-major.
pub fn load_units(models: &[String], levels: &[Level]) -> Vec<(usize, Level)> {
    (0..models.len())
        .flat_map(|m| levels.iter().map(move |l| (m, *l)))
        .collect()
}

/// `bench --sweep`: the sweep's settings and its default unit; nothing when no sweep is named.
pub fn prepare_bench(opts: &mut BenchOptions) -> anyhow::Result<()> {
    let Some(shard) = opts.run.shard.as_mut() else {
        return Ok(());
    };
    let Some(name) = shard.sweep.clone() else {
        return Ok(());
    };
    let s = find_sweep(opts.run.config.as_deref(), &name)?;
    if s.command != SweepCommand::Bench {
        return Err(wrong_command(&s, SweepCommand::Bench).into());
    }
    shard.per.get_or_insert(s.per);
    apply_bench(opts, &s);
    Ok(())
}

/// `load --sweep` or `load --shard`: the sweep's settings, then the model and levels this shard owns (one model:
/// a shard whose units span several models is refused).
pub fn prepare_load(opts: &mut LoadOptions) -> anyhow::Result<()> {
    let Some(shard) = opts.run.shard.clone() else {
        return Ok(());
    };
    let mut run = shard.clone();
    let models: Vec<String> = match &shard.sweep {
        Some(name) => {
            let s = find_sweep(opts.run.config.as_deref(), name)?;
            if s.command != SweepCommand::Load {
                return Err(wrong_command(&s, SweepCommand::Load).into());
            }
            run.per.get_or_insert(s.per);
            apply_load(opts, &s)?;
            s.models.clone()
        }
        None => opts.model.iter().cloned().collect(),
    };
    let levels = levels_of(opts);
    if levels.is_empty() {
        return Err(InputError(
            "--shard: give the load levels to share out (-c/--concurrency or --rate)".into(),
        )
        .into());
    }
    let one = [String::new()];
    let units = load_units(if models.is_empty() { &one } else { &models }, &levels);
    let total = units.len();
    let mine = run.select(units, |u| u.0);
    if mine.is_empty() {
        return Err(InputError(format!(
            "--shard {}: this shard holds nothing (the sweep has {total} {}(s)); use at most {total} shards",
            run.shard,
            run.unit().name()
        ))
        .into());
    }
    let first = mine[0].0;
    if mine.iter().any(|u| u.0 != first) {
        return Err(InputError(format!(
            "--shard {}: this shard holds levels of several models, and `load` runs one model per run; shard \
             --per model, or into {total} shards",
            run.shard
        ))
        .into());
    }
    if !models.is_empty() {
        opts.model = Some(models[first].clone());
    }
    opts.concurrency = mine
        .iter()
        .filter_map(|u| match u.1 {
            Level::Closed(c) => Some(c),
            Level::Open(_) => None,
        })
        .collect();
    opts.rates = mine
        .iter()
        .filter_map(|u| match u.1 {
            Level::Open(r) => Some(r),
            Level::Closed(_) => None,
        })
        .collect();
    opts.run.shard = Some(run);
    Ok(())
}

/// `fleet status`'s result.
pub struct StatusOutcome {
    pub text: String,
    pub rows: Vec<ShardRow>,
    /// Result files in the directory that are not a shard's (no `parameters.fleet`) or do not read.
    pub skipped: Vec<String>,
}

impl StatusOutcome {
    pub fn all_done(&self) -> bool {
        status::to_resubmit(&self.rows).is_empty()
    }
}

/// Reads `dir`'s result files (not its sub-directories) and tells each shard's state; the shard count is
/// `shards`, else the one the files record.
pub fn status(dir: &Path, shards: Option<u32>) -> anyhow::Result<StatusOutcome> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        InputError(format!(
            "{}: cannot read the run directory: {e}",
            dir.display()
        ))
    })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let mut files = Vec::new();
    let mut partials = Vec::new();
    let mut skipped = Vec::new();
    let mut sweep = None;
    for path in paths {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if let Some(a) = attempt::parse_name(&name).filter(|a| a.checkpoint) {
            partials.push((a.shard, path));
            continue;
        }
        if !name.ends_with(".json") || !path.is_file() {
            continue;
        }
        let r = match crate::results::read_result(&path) {
            Ok(r) => r,
            Err(e) => {
                skipped.push(format!("{name}: {e}"));
                continue;
            }
        };
        let Some(file) = ShardFile::of_result(&path, &r) else {
            skipped.push(format!(
                "{name}: not a shard's result (no parameters.fleet)"
            ));
            continue;
        };
        sweep = sweep.or(file.run.sweep.clone());
        files.push(file);
    }
    let count = match shards {
        Some(n) => n,
        None => match status::count_of(&files).map_err(InputError)? {
            Some(n) => n,
            None => {
                let n = partials
                    .first()
                    .map(|(s, _): &(Shard, PathBuf)| s.count)
                    .ok_or_else(|| {
                        InputError(format!(
                        "{}: no shard result file here; give --shards N to list the missing ones",
                        dir.display()
                    ))
                    })?;
                n
            }
        },
    };
    let partials: Vec<(u32, PathBuf)> = partials
        .into_iter()
        .filter(|(s, _)| s.count == count)
        .map(|(s, p)| (s.index, p))
        .collect();
    let rows = status::classify(count, &files, &partials);
    let header = format!(
        "run {}: {} shard(s){}",
        dir.display(),
        count,
        sweep.map(|s| format!(" of sweep {s}")).unwrap_or_default()
    );
    let mut text = status::render(&rows, &header);
    for s in &skipped {
        text.push_str(&format!("skipped {s}\n"));
    }
    Ok(StatusOutcome {
        text,
        rows,
        skipped,
    })
}

/// The unit `--per` names, or the sweep's.
pub fn unit_of(per: Option<ShardUnit>, s: &SweepEntry) -> ShardUnit {
    per.unwrap_or(s.per)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_units_are_model_major() {
        let u = load_units(
            &["a".into(), "b".into()],
            &[Level::Closed(1), Level::Closed(4)],
        );
        assert_eq!(
            u,
            [
                (0, Level::Closed(1)),
                (0, Level::Closed(4)),
                (1, Level::Closed(1)),
                (1, Level::Closed(4))
            ]
        );
    }
}
