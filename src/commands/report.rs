//! `tokenmeter report RESULT_OR_DIR…`: reads result files (directories are searched for `*.json` files that read
//! as result files; the same run is counted once), prices each machine and model with the cost model as `cost`
//! chooses its entries, and writes one page (`report::page`): HTML with inline charts, or markdown. Never measures.

use super::cost::{inputs, Loaded, Selection};
use super::InputError;
use crate::cost::analysis::cumulative;
use crate::cost::{analyse, from_result};
use crate::report::page::{self, Page, Priced, Row, RowCost, Source};
use crate::results::file::read_result_str;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageFormat {
    Html,
    Markdown,
}

#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Result files and directories to search.
    pub inputs: Vec<PathBuf>,
    /// Where to write the page; `None`: standard output.
    pub out: Option<PathBuf>,
    pub format: PageFormat,
    /// The cost model's configuration, hardware, workload and cloud offerings, as for `cost`.
    pub selection: Selection,
    /// The machine ratios are taken against: its number in the table (1 = first) or part of its name.
    pub relative_to: Option<String>,
    /// Lines the page shows under its heading: how the results were made (e.g. what a profile skipped).
    pub remarks: Vec<String>,
}

/// What `report` made.
pub struct Outcome {
    pub text: String,
    pub files_read: usize,
    /// Files left out, each with why.
    pub skipped: Vec<String>,
}

/// `*.json` files under `dir`, recursively (following symbolic links), in name order. A directory already
/// read (`visited`: canonical paths), as through a link to a parent, is read once and noted in `skipped`.
fn json_files(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    visited: &mut HashSet<PathBuf>,
    skipped: &mut Vec<String>,
) -> Result<(), InputError> {
    let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !visited.insert(canonical.clone()) {
        skipped.push(format!(
            "{}: the directory {} again (a symbolic link cycle or a second link to it; read once)",
            dir.display(),
            canonical.display()
        ));
        return Ok(());
    }
    let read = std::fs::read_dir(dir)
        .map_err(|e| InputError(format!("{}: cannot read the directory: {e}", dir.display())))?;
    let mut entries: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out, visited, skipped)?;
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
    Ok(())
}

/// The first line of an error, cut to a readable length.
fn short(e: &str) -> String {
    let line = e.lines().next().unwrap_or("");
    match line.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

/// Result files seen so far, to count each run once.
#[derive(Default)]
struct Seen {
    sources: Vec<Source>,
    hashes: Vec<[u8; 32]>,
    skipped: Vec<String>,
}

impl Seen {
    /// Adds a result file unless the same run is already in: the same content, or the same start time, host and
    /// command line.
    fn add(
        &mut self,
        path: &Path,
        text: &str,
        result: crate::results::ResultFile,
        machine: Option<&str>,
    ) {
        let hash: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        let shown = path.display().to_string();
        if let Some(k) = self.hashes.iter().position(|h| *h == hash) {
            self.skipped.push(format!(
                "{shown}: the same content as {} (counted once)",
                self.sources[k].path
            ));
            return;
        }
        let same_run = self.sources.iter().find(|s| {
            s.result.started_at == result.started_at
                && s.result.host.hostname == result.host.hostname
                && s.result.command_line == result.command_line
        });
        if let Some(s) = same_run {
            self.skipped.push(format!(
                "{shown}: the same run as {} (same started_at, host and command line; counted once)",
                s.path
            ));
            return;
        }
        self.hashes.push(hash);
        self.sources.push(Source {
            path: shown,
            result,
            machine: machine.map(str::to_string),
        });
    }
}

/// `NAME=PATH` (when no file is named so): the machine name for PATH's results, and PATH.
pub fn labelled(input: &Path) -> (Option<String>, PathBuf) {
    let text = input.to_string_lossy();
    match text.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() && !input.exists() => {
            (Some(name.to_string()), PathBuf::from(path))
        }
        _ => (None, input.to_path_buf()),
    }
}

/// Reads every input: a file must be a result file (else an error naming it); a directory's `*.json` files that
/// are not result files are left out and listed, and so are a shard's attempts that another attempt at the same
/// shard supersedes (`fleet::attempt::choose`).
pub fn read_sources(inputs: &[PathBuf]) -> anyhow::Result<(Vec<Source>, Vec<String>)> {
    let mut seen = Seen::default();
    for input in inputs {
        let (machine, input) = labelled(input);
        let input = &input;
        let meta = std::fs::metadata(input)
            .map_err(|e| InputError(format!("{}: cannot read: {e}", input.display())))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            json_files(input, &mut files, &mut HashSet::new(), &mut seen.skipped)?;
            let mut found = 0;
            for f in files {
                let text = match std::fs::read_to_string(&f) {
                    Ok(t) => t,
                    Err(e) => {
                        seen.skipped
                            .push(format!("{}: cannot read: {e}", f.display()));
                        continue;
                    }
                };
                match read_result_str(&text, &f) {
                    Ok(r) => {
                        found += 1;
                        seen.add(&f, &text, r, machine.as_deref());
                    }
                    Err(e) => seen.skipped.push(short(&e.to_string())),
                }
            }
            if found == 0 {
                return Err(InputError(format!(
                    "{}: no tokenmeter result file in this directory (searched *.json recursively)",
                    input.display()
                ))
                .into());
            }
        } else {
            let text = std::fs::read_to_string(input)
                .map_err(|e| InputError(format!("{}: cannot read: {e}", input.display())))?;
            let r = read_result_str(&text, input)?;
            seen.add(input, &text, r, machine.as_deref());
        }
    }
    if seen.sources.is_empty() {
        return Err(InputError("no result files given (expected RESULT_OR_DIR…)".into()).into());
    }
    let superseded = crate::fleet::attempt::superseded(
        seen.sources
            .iter()
            .map(|s| (Path::new(&s.path), Some(&s.result))),
    );
    let mut sources = Vec::with_capacity(seen.sources.len());
    for (k, source) in seen.sources.into_iter().enumerate() {
        match superseded.iter().find(|(i, _)| *i == k) {
            Some((_, why)) => seen.skipped.push(why.clone()),
            None => sources.push(source),
        }
    }
    Ok((sources, seen.skipped))
}

/// Prices one row as `cost` would: the `load` result whose operating point gives the row's goodput (so goodput,
/// level energy and cost share one file and level), else its `bench` results, the first the cost model accepts.
/// Otherwise the last reason, in one sentence.
fn price(loaded: &Loaded, sel: &Selection, sources: &[Source], row: &Row) -> RowCost {
    let mut why = String::from("no result file to price");
    for &i in row.operating.iter().chain(row.bench.iter()) {
        let s = &sources[i];
        let model = page::gather::model_path_in(&s.result, &row.model_key);
        let measured = match from_result(&s.result, &s.path, model.as_deref()) {
            Ok(m) => m,
            Err(e) => {
                why = e.to_string();
                continue;
            }
        };
        match inputs(loaded, sel, &measured, Path::new(&s.path), None) {
            Ok(inp) => {
                return RowCost::Priced(Box::new(Priced {
                    report: analyse(&inp),
                    cumulative: cumulative(&inp),
                }))
            }
            Err(e) => why = format!("{e:#}"),
        }
    }
    RowCost::Unpriced(short(&why))
}

/// Checks the entries named on the command line before anything is priced: a wrong name is the user's to fix.
pub fn check_selection(loaded: &Loaded, sel: &Selection) -> Result<(), InputError> {
    if !sel.clouds.is_empty() {
        loaded.clouds(sel)?;
    }
    if sel.workload.is_some() {
        loaded.workload(sel)?;
    }
    if sel.hardware.is_some() {
        loaded.hardware(sel, None, None)?;
    }
    Ok(())
}

/// Builds the page from result files already read.
pub fn build(
    sources: &[Source],
    skipped: Vec<String>,
    sel: &Selection,
    relative_to: Option<&str>,
) -> anyhow::Result<Page> {
    let rows = page::gather::rows(sources);
    let costs: Vec<RowCost> = match Loaded::read(sel) {
        Ok(loaded) => {
            check_selection(&loaded, sel)?;
            rows.iter()
                .map(|r| price(&loaded, sel, sources, r))
                .collect()
        }
        Err(e) if sel.config.is_none() => {
            let why = short(&format!("{e:#}"));
            rows.iter()
                .map(|_| RowCost::Unpriced(why.clone()))
                .collect()
        }
        Err(e) => return Err(e),
    };
    Page::new(sources, rows, skipped, costs, relative_to).map_err(|e| InputError(e).into())
}

/// `tokenmeter report`: the page as text (written to `out` when given).
pub fn run(o: &ReportOptions) -> anyhow::Result<Outcome> {
    let (sources, skipped) = read_sources(&o.inputs)?;
    let mut wrong = Vec::new();
    for s in &sources {
        wrong.extend(super::check_numerics(
            &s.path,
            &s.result,
            o.selection.allow_wrong_numerics,
        )?);
    }
    let mut page = build(&sources, skipped, &o.selection, o.relative_to.as_deref())?;
    page.remarks = wrong.into_iter().chain(o.remarks.iter().cloned()).collect();
    let text = match o.format {
        PageFormat::Html => page::html::render_page(&page),
        PageFormat::Markdown => page::markdown::render_page(&page),
    };
    if let Some(out) = &o.out {
        crate::fsutil::write_atomic(out, text.as_bytes())
            .map_err(|e| InputError(format!("{}: cannot write: {e}", out.display())))?;
    }
    Ok(Outcome {
        text,
        files_read: sources.len(),
        skipped: page.skipped,
    })
}
