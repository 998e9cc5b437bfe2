//! `compare`'s arguments into [`CompareOptions`]: the gate, the analysis's options, and either the two sides
//! or the interleaved run.

use super::fraction;
use crate::cli::CompareArgs;
use std::collections::BTreeSet;
use tokenmeter::analysis::compare::{check_ignore, Options, GATEABLE};
use tokenmeter::commands::compare::{CompareOptions, FailOn, Interleave};
use tokenmeter::commands::InputError;

fn shell_words(flag: &str, s: &str) -> Result<Vec<String>, InputError> {
    shlex::split(s).ok_or_else(|| InputError(format!("{flag}: unbalanced quotes in '{s}'")))
}

pub fn compare(a: CompareArgs) -> Result<CompareOptions, InputError> {
    let json = match a.output.as_str() {
        "md" => false,
        "json" => true,
        other => return Err(InputError(format!("-o: '{other}' is not md or json"))),
    };
    let (analysis, fail_on) = analysis(&a)?;
    let (base, new, interleave) = if a.interleave {
        (None, None, Some(interleave(&a)?))
    } else {
        let (base, new) = sides(&a)?;
        (Some(base), new, None)
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

/// `--fail-on`: `slower` or `any-change`, and figures to gate besides each kind's primary one
/// (`slower,ttft_p99`).
fn fail_on(words: &str) -> Result<(FailOn, BTreeSet<String>), InputError> {
    let mut fail_on = FailOn::Slower;
    let mut gate = BTreeSet::new();
    for word in words.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        match word {
            "slower" => fail_on = FailOn::Slower,
            "any-change" => fail_on = FailOn::AnyChange,
            m if GATEABLE.contains(&m) => {
                gate.insert(m.to_string());
            }
            other => {
                return Err(InputError(format!(
                    "--fail-on: '{other}' is not slower, any-change or a figure ({})",
                    GATEABLE.join(", ")
                )))
            }
        }
    }
    Ok((fail_on, gate))
}

/// `--ignore` and `--ignore-model`: the join keys to leave out.
fn ignore(keys: &[String], ignore_model: bool) -> Result<BTreeSet<String>, InputError> {
    let mut ignore: BTreeSet<String> = keys
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if ignore_model {
        ignore.insert("model".into());
    }
    check_ignore(&ignore).map_err(InputError)?;
    Ok(ignore)
}

/// `--noise`: a fraction below 1.
fn noise(s: &str) -> Result<f64, InputError> {
    fraction("--noise", s)
        .ok()
        .filter(|x| x.is_finite() && (0.0..1.0).contains(x))
        .ok_or_else(|| {
            InputError(format!(
                "--noise: '{s}' is not a fraction below 100% (e.g. 2% or 0.02)"
            ))
        })
}

/// The analysis's options, and what exits with code 1.
fn analysis(a: &CompareArgs) -> Result<(Options, FailOn), InputError> {
    let (fail_on, gate) = fail_on(&a.fail_on)?;
    if !(a.alpha > 0.0 && a.alpha < 1.0) {
        return Err(InputError(format!(
            "--alpha: {} is not between 0 and 1",
            a.alpha
        )));
    }
    let ignore = ignore(&a.ignore, a.ignore_model)?;
    if a.resamples < 100 {
        return Err(InputError(format!(
            "--resamples: {} is fewer than 100",
            a.resamples
        )));
    }
    let options = Options {
        alpha: a.alpha,
        noise: noise(&a.noise)?,
        ignore,
        paired: a.paired,
        resamples: a.resamples,
        gate,
        seed: a.seed,
    };
    Ok((options, fail_on))
}

/// `--interleave`: both sides measured here, round by round, running the command after `--`.
fn interleave(a: &CompareArgs) -> Result<Interleave, InputError> {
    if !a.sides.is_empty() {
        return Err(InputError(
            "--interleave measures both sides itself: give the command after --, not BASE NEW"
                .into(),
        ));
    }
    if a.run.is_empty() {
        return Err(InputError(
            "--interleave needs the command both sides run after -- (e.g. -- bench -m m.gguf -p 64)"
                .into(),
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
    let keep = a.keep.clone().unwrap_or_else(|| {
        std::path::PathBuf::from("results").join(format!(
            "compare-{}",
            chrono::Utc::now().format("%Y%m%d-%H%M%S")
        ))
    });
    Ok(Interleave {
        rounds: a.rounds,
        max_rounds,
        base_exe: a.base_exe.clone().unwrap_or_else(|| me.clone()),
        new_exe: a.new_exe.clone().unwrap_or(me),
        run: a.run.clone(),
        base_args: shell_words("--base-args", &a.base_args)?,
        new_args: shell_words("--new-args", &a.new_args)?,
        keep,
    })
}

/// BASE and NEW, or NEW and `--baseline NAME` as the base.
fn sides(a: &CompareArgs) -> Result<(String, Option<String>), InputError> {
    let expected = if a.baseline.is_some() { 1 } else { 2 };
    if a.sides.len() != expected {
        return Err(InputError(match a.baseline {
            Some(_) => format!("with --baseline, give only NEW ({} given)", a.sides.len()),
            None => format!("give BASE and NEW ({} given)", a.sides.len()),
        }));
    }
    if !a.run.is_empty() {
        return Err(InputError("a command after -- needs --interleave".into()));
    }
    let mut sides = a.sides.iter().cloned();
    let base = match &a.baseline {
        Some(name) => {
            tokenmeter::results::baseline::baseline_path(&a.baseline_dir, name)
                .map_err(|e| InputError(format!("--baseline: {e}")))?;
            name.clone()
        }
        None => sides.next().expect("two sides"),
    };
    Ok((base, sides.next()))
}
