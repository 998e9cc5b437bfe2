//! `tokenmeter compare`: read two sides (result files, directories of them, saved baselines, llama-bench output),
//! judge them (`analysis::compare`), print the verdicts. `--interleave` first measures both sides itself, in
//! alternating short runs, so that the machine's drift falls on both alike.

use super::InputError;
use crate::analysis::compare::{self, Comparison, Input, Options, Source};
use crate::results::file::read_result_str;
use crate::results::llama_bench;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

pub use crate::exit::Regressed;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    Slower,
    AnyChange,
}

/// Runs both sides alternately before comparing them.
#[derive(Debug, Clone)]
pub struct Interleave {
    /// Rounds run at least.
    pub rounds: u32,
    /// Rounds run at most: past `rounds`, one more while a gated figure is underpowered.
    pub max_rounds: u32,
    pub base_exe: PathBuf,
    pub new_exe: PathBuf,
    /// The command both sides run (`bench -m … -p 64`), without the output file.
    pub run: Vec<String>,
    pub base_args: Vec<String>,
    pub new_args: Vec<String>,
    /// Where every round's result file is kept (`base/round-NN.json`, `new/round-NN.json`).
    pub keep: PathBuf,
}

#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Paths, directories or baseline names; empty with `interleave`.
    pub base: Option<String>,
    pub new: Option<String>,
    pub baseline_dir: PathBuf,
    pub json: bool,
    pub out: Option<PathBuf>,
    pub fail_on: FailOn,
    pub analysis: Options,
    pub interleave: Option<Interleave>,
    /// Compare cases whose numerics gate failed instead of refusing (the output says so at its top).
    pub allow_wrong_numerics: bool,
}

fn read_source(path: &Path) -> Result<Source, InputError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError(format!("{}: cannot read: {e}", path.display())))?;
    let input = if llama_bench::looks_like(&text) {
        Input::LlamaBench(
            llama_bench::read_str(&text)
                .map_err(|e| InputError(format!("{}: llama-bench output: {e}", path.display())))?,
        )
    } else {
        Input::Result(Box::new(
            read_result_str(&text, path).map_err(|e| InputError(e.to_string()))?,
        ))
    };
    Ok(Source {
        path: path.display().to_string(),
        input,
    })
}

/// Result files and llama-bench outputs under `dir`, in name order (checkpoints left out); a directory reached
/// twice through symbolic links is read once.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>, InputError> {
    let mut out = Vec::new();
    let mut visited = std::collections::HashSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if !visited.insert(std::fs::canonicalize(&d).unwrap_or_else(|_| d.clone())) {
            continue;
        }
        let entries = std::fs::read_dir(&d)
            .map_err(|e| InputError(format!("{}: cannot read directory: {e}", d.display())))?;
        for e in entries.flatten() {
            let p = e.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if p.is_dir() {
                stack.push(p);
            } else if !name.ends_with(".partial.jsonl")
                && [".json", ".jsonl", ".csv"]
                    .iter()
                    .any(|x| name.ends_with(x))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `path` as a file or directory, else a baseline name under `baseline_dir`; of a shard's several attempts only
/// the one that counts (`fleet::attempt::choose`) is read.
pub fn resolve(arg: &str, baseline_dir: &Path) -> Result<Vec<Source>, InputError> {
    let p = Path::new(arg);
    let files = if p.is_dir() {
        let files = files_under(p)?;
        if files.is_empty() {
            return Err(InputError(format!(
                "{arg}: no result files (.json, .jsonl, .csv) in this directory"
            )));
        }
        files
    } else if p.exists() {
        vec![p.to_path_buf()]
    } else if crate::results::baseline::baseline_path(baseline_dir, arg).is_ok()
        && baseline_dir.join(arg).is_dir()
    {
        // A baseline of several runs: a directory of result files under the baseline directory.
        let files = files_under(&baseline_dir.join(arg))?;
        if files.is_empty() {
            return Err(InputError(format!(
                "{}: baseline '{arg}' holds no result files",
                baseline_dir.join(arg).display()
            )));
        }
        files
    } else {
        match crate::results::baseline::baseline_path(baseline_dir, arg) {
            Ok(b) if b.exists() => vec![b],
            _ => {
                return Err(InputError(format!(
                    "{arg}: no such file, directory or baseline (baselines are in {})",
                    baseline_dir.display()
                )))
            }
        }
    };
    let sources: Vec<Source> = files
        .iter()
        .map(|f| read_source(f))
        .collect::<Result<_, _>>()?;
    let superseded = crate::fleet::attempt::superseded(sources.iter().map(|s| {
        let result = match &s.input {
            Input::Result(r) => Some(r.as_ref()),
            Input::LlamaBench(_) => None,
        };
        (Path::new(&s.path), result)
    }));
    Ok(sources
        .into_iter()
        .enumerate()
        .filter(|(k, _)| !superseded.iter().any(|(i, _)| i == k))
        .map(|(_, s)| s)
        .collect())
}

fn run_round(exe: &Path, args: &[String], out: &Path) -> Result<f64, InputError> {
    let started = Instant::now();
    let output = Command::new(exe)
        .args(args)
        .arg("--out")
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| InputError(format!("{}: cannot run: {e}", exe.display())))?;
    if !output.status.success() || !out.exists() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(InputError(format!(
            "{} {}: exited with {} ({last})",
            exe.display(),
            args.join(" "),
            output.status
        )));
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The gated figures that could not detect a change of twice the noise band from these rounds (`underpowered`),
/// each as "case figure ±detectable".
fn underpowered_figures(base: &[Source], new: &[Source], analysis: &Options) -> Vec<String> {
    let Ok(c) = compare::compare(base, new, analysis) else {
        return Vec::new();
    };
    c.joined
        .iter()
        .flat_map(|j| {
            j.metrics
                .iter()
                .filter(|m| m.gating && m.underpowered)
                .map(move |m| {
                    let d = m.ratio.as_ref().and_then(|r| r.detectable);
                    format!(
                        "{} {} ±{}",
                        j.label,
                        m.metric,
                        d.map_or("—".to_string(), |d| format!("{:.1}%", d * 100.0))
                    )
                })
        })
        .collect()
}

/// Runs at least `rounds` rounds, each running both sides once, in the order base-new then new-base (so a steady
/// drift within a round favours neither), then one more at a time while they are too few for any verdict or a
/// gated figure is underpowered, up to `max_rounds`: the number of rounds adapts to the noise, never to the verdict. Returns the two sides' result
/// files in round order.
fn interleave(
    il: &Interleave,
    analysis: &Options,
) -> Result<(Vec<Source>, Vec<Source>), InputError> {
    for side in ["base", "new"] {
        let d = il.keep.join(side);
        std::fs::create_dir_all(&d)
            .map_err(|e| InputError(format!("{}: cannot create: {e}", d.display())))?;
    }
    let (mut base, mut new) = (Vec::new(), Vec::new());
    let mut round = 0;
    loop {
        if round >= il.rounds {
            let needed = crate::stats::ratio::min_rounds(analysis.alpha);
            let why = if (round as usize) < needed {
                format!("fewer than the {needed} rounds a verdict needs")
            } else {
                let weak = underpowered_figures(&base, &new, analysis);
                if weak.is_empty() {
                    break;
                }
                format!("underpowered: {}", weak.join(", "))
            };
            if round >= il.max_rounds {
                eprintln!("stopped at --max-rounds {}: still {why}", il.max_rounds);
                break;
            }
            if round == il.rounds {
                eprintln!(
                    "after {round} rounds, {why}: more rounds, up to --max-rounds {}",
                    il.max_rounds
                );
            }
        }
        let mut order = [
            ("base", &il.base_exe, &il.base_args),
            ("new", &il.new_exe, &il.new_args),
        ];
        if round % 2 == 1 {
            order.reverse();
        }
        let mut times = Vec::new();
        for (side, exe, extra) in order {
            let out = il.keep.join(side).join(format!("round-{round:02}.json"));
            let args: Vec<String> = il.run.iter().chain(extra.iter()).cloned().collect();
            let secs = run_round(exe, &args, &out)?;
            times.push(format!("{side} {secs:.1} s"));
            let src = read_source(&out)?;
            if side == "base" {
                base.push(src);
            } else {
                new.push(src);
            }
        }
        let of = if round < il.rounds {
            il.rounds
        } else {
            il.max_rounds
        };
        eprintln!("round {}/{of}: {}", round + 1, times.join(", "));
        round += 1;
    }
    Ok((base, new))
}

/// Prints the comparison; `Err(Regressed)` when it fails the `--fail-on` rule.
pub fn run(opts: &CompareOptions) -> anyhow::Result<()> {
    let mut analysis = opts.analysis.clone();
    let (base, new) = match &opts.interleave {
        Some(il) => {
            analysis.paired = true;
            eprintln!(
                "interleaving {} rounds (up to {} while a gated figure is underpowered); every round's result \
                 file is kept under {}",
                il.rounds,
                il.max_rounds,
                il.keep.display()
            );
            interleave(il, &analysis)?
        }
        None => {
            let (Some(b), Some(n)) = (&opts.base, &opts.new) else {
                return Err(InputError(
                    "compare needs BASE and NEW (or --baseline NAME and NEW, or --interleave)"
                        .into(),
                )
                .into());
            };
            (
                resolve(b, &opts.baseline_dir)?,
                resolve(n, &opts.baseline_dir)?,
            )
        }
    };
    if analysis.paired && base.len() != new.len() {
        return Err(InputError(format!(
            "--paired needs as many inputs on each side (rounds): {} base, {} new",
            base.len(),
            new.len()
        ))
        .into());
    }
    let mut wrong = Vec::new();
    for s in base.iter().chain(&new) {
        if let Input::Result(r) = &s.input {
            wrong.extend(super::check_numerics(
                &s.path,
                r,
                opts.allow_wrong_numerics,
            )?);
        }
    }
    let c = compare::compare(&base, &new, &analysis).map_err(InputError)?;
    let text = match (opts.json, wrong.is_empty()) {
        (_, true) => render(&c, opts.json),
        (true, false) => {
            let mut v = serde_json::to_value(&c)?;
            if let Some(map) = v.as_object_mut() {
                map.insert("wrong_numerics".into(), serde_json::Value::from(wrong));
            }
            serde_json::to_string_pretty(&v)? + "\n"
        }
        (false, false) => {
            let top: String = wrong.iter().map(|w| format!("> **{w}**\n")).collect();
            format!("{top}\n{}", render(&c, false))
        }
    };
    match &opts.out {
        Some(p) => crate::fsutil::write_atomic(p, text.as_bytes())
            .map_err(|e| InputError(format!("{}: cannot write: {e}", p.display())))?,
        None => print!("{text}"),
    }
    let failing = match opts.fail_on {
        FailOn::Slower => c.counts.slower,
        FailOn::AnyChange => c.counts.slower + c.counts.faster,
    };
    if failing > 0 {
        let what = match opts.fail_on {
            FailOn::Slower => "slower",
            FailOn::AnyChange => "changed",
        };
        return Err(Regressed(format!(
            "{failing} of {} joined case(s) {what} beyond ±{:.1}%",
            c.joined.len(),
            c.noise * 100.0
        ))
        .into());
    }
    Ok(())
}

pub fn render(c: &Comparison, json: bool) -> String {
    if json {
        let mut s = serde_json::to_string_pretty(c).expect("a comparison serializes");
        s.push('\n');
        s
    } else {
        crate::report::compare::markdown(c)
    }
}
