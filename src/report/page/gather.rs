//! Rows of the comparison: result files grouped by machine (host, CPU model and accelerators) and model, with the
//! figures the table shows and where each came from. Pure: takes result files already read.

use crate::cost::measured::{j_per_token, load_work_device};
use crate::cost::WorkDevice;
use crate::results::load::{LevelRecord, LoadSweep};
use crate::results::{CaseRecord, ResultFile};
use std::path::Path;

/// A result file as read, with the name it is shown under.
pub struct Source {
    pub path: String,
    pub result: ResultFile,
    /// The name given to this file's machine on the command line (`NAME=PATH`), which replaces the one made of its
    /// host, CPU and accelerators (two VMs may share all three).
    pub machine: Option<String>,
}

/// A figure and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    pub value: f64,
    /// What it is: `pp512`, `tg128`, `rate 0.5/s`. Figures of two rows are compared only when it is the same.
    pub label: String,
    /// The file(s) and field(s).
    pub source: String,
}

/// One machine and one model.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `hostname · CPU model · accelerators`.
    pub machine: String,
    pub device: String,
    /// llama.cpp as linked: the crate's version and ggml's version and commit.
    pub build: String,
    /// The model's file name (the first seen, when the same model has several names).
    pub model: String,
    /// What identifies the model across machines and paths: its sha256, else its file name.
    pub model_key: String,
    pub pp_ts: Option<Measure>,
    pub tg_ts: Option<Measure>,
    /// The cases `tg_ts` is the mean of (one test and thread count), as (source, case) indices.
    pub tg_cases: Vec<(usize, usize)>,
    /// Goodput (output tokens/s of the requests that met the SLO) at the SLO operating point.
    pub goodput_tokens_per_s: Option<Measure>,
    /// Why there is no goodput, when there is none.
    pub goodput_absent: Option<String>,
    /// Energy per token on the devices that did the work: a tg case's generation, else the operating point's level.
    pub j_per_token: Option<Measure>,
    pub roofline_fraction: Option<Measure>,
    /// Why energy was not measured, when it was not (`telemetry.energy_absent_reason`).
    pub energy_absent: Option<String>,
    /// Indices into the sources: this row's `bench` results and `load` results.
    pub bench: Vec<usize>,
    pub load: Vec<usize>,
    /// The one `load` result (index into the sources) whose operating point gives the row's goodput: the row's
    /// level energy and its cost come from the same file and level.
    pub operating: Option<usize>,
}

/// The name a machine is shown under.
pub fn machine_label(r: &ResultFile) -> String {
    let mut parts = vec![r
        .host
        .hostname
        .clone()
        .unwrap_or_else(|| "unnamed host".into())];
    parts.extend(r.host.cpu_model.clone());
    parts.extend(accelerators(r));
    parts.join(" · ")
}

fn accelerators(r: &ResultFile) -> Vec<String> {
    r.build
        .devices
        .iter()
        .filter(|d| d.backend != "CPU")
        .map(|d| d.description.clone())
        .collect()
}

/// The device that ran the model, in words.
pub fn device_label(r: &ResultFile) -> String {
    let gpus = accelerators(r);
    if !gpus.is_empty() {
        return gpus.join(", ");
    }
    let cpu = r.host.cpu_model.as_deref().unwrap_or("unknown CPU");
    match r.host.cpu_physical_cores {
        Some(n) => format!("CPU: {cpu} ({n} cores)"),
        None => format!("CPU: {cpu}"),
    }
}

/// llama.cpp as linked into the build that measured.
pub fn build_label(r: &ResultFile) -> String {
    let b = &r.build;
    let commit = match b.ggml_commit.as_str() {
        "" | "unknown" => String::new(),
        c => format!(" ({c})"),
    };
    format!(
        "llama-cpp-sys-2 {}, ggml {}{commit}",
        b.llama_cpp_sys_version, b.ggml_version
    )
}

/// The model's file name (paths differ between machines; the file name does not).
pub fn model_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

/// `c=4` or `rate 0.5/s`.
pub fn level_label(l: &LevelRecord) -> String {
    let label = match (l.summary.concurrency, l.summary.rate) {
        (Some(c), _) => format!("c={c}"),
        (None, Some(r)) => format!("rate {r}/s"),
        (None, None) => format!("{} slots", l.summary.slots),
    };
    if l.summary.replicate {
        label + " (run again)"
    } else {
        label
    }
}

/// The x of a level in a chart against concurrency: the closed loop's concurrency, the open loop's rate.
pub fn level_load(l: &LevelRecord) -> f64 {
    match (l.summary.concurrency, l.summary.rate) {
        (Some(c), _) => c as f64,
        (None, Some(r)) => r,
        (None, None) => l.summary.slots as f64,
    }
}

/// What identifies the model at `path` in `r`: its sha256 when the file recorded one, else its file name.
pub fn model_key(r: &ResultFile, path: &str) -> String {
    r.models
        .iter()
        .find(|m| m.path == path)
        .and_then(|m| m.sha256.clone())
        .unwrap_or_else(|| model_name(path))
}

/// The path under which `r` names the model `key`.
pub fn model_path_in(r: &ResultFile, key: &str) -> Option<String> {
    r.cases
        .iter()
        .map(|c| c.model_filename.as_str())
        .chain(r.load.iter().map(|l| l.model.as_str()))
        .find(|p| model_key(r, p) == key)
        .map(str::to_string)
}

/// `(key, file name)` of each model in `r`.
fn models_of(r: &ResultFile) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let all = r
        .cases
        .iter()
        .map(|c| c.model_filename.as_str())
        .chain(r.load.iter().map(|l| l.model.as_str()));
    for path in all {
        let key = model_key(r, path);
        if !out.iter().any(|(k, _)| *k == key) {
            out.push((key, model_name(path)));
        }
    }
    out
}

/// Groups the sources into rows: machines in the order they first appear, then models.
pub fn rows(sources: &[Source]) -> Vec<Row> {
    // (machine, model key) → model name, member files
    let mut keys: Vec<(String, String)> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        let machine = s
            .machine
            .clone()
            .unwrap_or_else(|| machine_label(&s.result));
        for (model, name) in models_of(&s.result) {
            let key = (machine.clone(), model);
            match keys.iter().position(|k| *k == key) {
                Some(k) => members[k].push(i),
                None => {
                    keys.push(key);
                    names.push(name);
                    members.push(vec![i]);
                }
            }
        }
    }
    // machines in first-appearance order, each machine's models together
    let mut order: Vec<usize> = (0..keys.len()).collect();
    let first_of = |m: &str| keys.iter().position(|k| k.0 == m).unwrap_or(0);
    order.sort_by_key(|&k| (first_of(&keys[k].0), k));
    order
        .into_iter()
        .map(|k| row(sources, &keys[k].0, &keys[k].1, &names[k], &members[k]))
        .collect()
}

fn distinct_join(items: impl Iterator<Item = String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for i in items {
        if !seen.contains(&i) {
            seen.push(i);
        }
    }
    seen.join(" / ")
}

fn row(sources: &[Source], machine: &str, key: &str, model: &str, files: &[usize]) -> Row {
    let bench: Vec<usize> = files
        .iter()
        .copied()
        .filter(|&i| !sources[i].result.cases.is_empty())
        .collect();
    let load: Vec<usize> = files
        .iter()
        .copied()
        .filter(|&i| sources[i].result.load.is_some())
        .collect();
    let cases = |f: &dyn Fn(&CaseRecord) -> bool| -> Vec<(usize, usize)> {
        bench
            .iter()
            .flat_map(|&i| {
                sources[i]
                    .result
                    .cases
                    .iter()
                    .enumerate()
                    .filter(move |(_, c)| {
                        model_key(&sources[i].result, &c.model_filename) == key && f(c)
                    })
                    .map(move |(k, _)| (i, k))
            })
            .collect()
    };
    let pp = cases(&|c| c.n_prompt > 0 && c.n_gen == 0 && c.n_depth == 0);
    let tg = cases(&|c| c.n_prompt == 0 && c.n_gen > 0 && c.n_depth == 0);
    let tg_best = fastest(sources, &tg);
    // a file that had sensors says why energy is absent; older files only that it was not recorded
    let energy_absent = files
        .iter()
        .find_map(|&i| {
            sources[i]
                .result
                .telemetry
                .as_ref()?
                .energy_absent_reason
                .clone()
        })
        .or_else(|| {
            files
                .iter()
                .any(|&i| sources[i].result.telemetry.is_none())
                .then(|| {
                    "energy: not recorded (result files from before telemetry, schema < 3)"
                        .to_string()
                })
        });
    let first = &sources[files[0]].result;
    let best = goodput(sources, &load);
    let operating = best.as_ref().map(|(_, i)| *i);
    Row {
        machine: machine.to_string(),
        device: device_label(first),
        build: distinct_join(files.iter().map(|&i| build_label(&sources[i].result))),
        model: model.to_string(),
        model_key: key.to_string(),
        pp_ts: fastest(sources, &pp).map(|(m, _)| m),
        roofline_fraction: tg_best
            .as_ref()
            .and_then(|(_, group)| roofline(sources, group)),
        j_per_token: tg_best
            .as_ref()
            .and_then(|(_, group)| generation_energy(sources, group))
            .or_else(|| operating.and_then(|i| level_energy(&sources[i]))),
        tg_cases: tg_best
            .as_ref()
            .map(|(_, group)| group.clone())
            .unwrap_or_default(),
        tg_ts: tg_best.map(|(m, _)| m),
        goodput_tokens_per_s: best.map(|(m, _)| m),
        goodput_absent: goodput_absent(sources, &load),
        energy_absent,
        bench,
        load,
        operating,
    }
}

/// `(test, n_threads)`.
type TestKey = (String, u32);

/// The group of runs of one test at one thread count with the highest mean t/s, and that mean (runs of the same
/// case on the same machine are pooled: their `avg_ts` averaged).
fn fastest(sources: &[Source], cases: &[(usize, usize)]) -> Option<(Measure, Vec<(usize, usize)>)> {
    let case = |&(i, k): &(usize, usize)| &sources[i].result.cases[k];
    let usable: Vec<(usize, usize)> = cases
        .iter()
        .copied()
        .filter(|ik| case(ik).usable_ts().is_some())
        .collect();
    let mut groups: Vec<(TestKey, Vec<(usize, usize)>)> = Vec::new();
    for ik in usable {
        let c = case(&ik);
        let key = (c.test.clone(), c.n_threads);
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(ik),
            None => groups.push((key, vec![ik])),
        }
    }
    let mean = |g: &[(usize, usize)]| {
        let ts: Vec<f64> = g.iter().filter_map(|ik| case(ik).usable_ts()).collect();
        crate::stats::mean(&ts).unwrap_or(0.0)
    };
    let ((test, threads), group) = groups
        .into_iter()
        .map(|g| (mean(&g.1), g))
        .max_by(|a, b| a.0.total_cmp(&b.0))?
        .1;
    let at: Vec<String> = group
        .iter()
        .map(|&(i, k)| format!("{} cases[{k}].avg_ts", sources[i].path))
        .collect();
    let source = if group.len() == 1 {
        format!("{} ({test}, {threads} threads)", at[0])
    } else {
        format!(
            "mean of {} runs ({test}, {threads} threads): {}",
            group.len(),
            at.join(", ")
        )
    };
    Some((
        Measure {
            value: mean(&group),
            label: test,
            source,
        },
        group,
    ))
}

fn roofline(sources: &[Source], group: &[(usize, usize)]) -> Option<Measure> {
    group.iter().find_map(|&(i, k)| {
        let c = &sources[i].result.cases[k];
        let r = c.roofline.as_ref()?;
        Some(Measure {
            value: r.fraction?,
            label: c.test.clone(),
            source: format!(
                "{} cases[{k}].roofline.fraction (bandwidth {:.1} GB/s, {})",
                sources[i].path, r.bandwidth_gb_per_s, r.bandwidth_source
            ),
        })
    })
}

fn generation_energy(sources: &[Source], group: &[(usize, usize)]) -> Option<Measure> {
    group.iter().find_map(|&(i, k)| {
        let c = &sources[i].result.cases[k];
        let work = WorkDevice::of_case(c);
        let path = &sources[i].path;
        let f = j_per_token(
            work,
            c.energy.iter().enumerate().filter_map(|(e, en)| {
                Some((
                    en.generation.as_ref()?,
                    format!("{path} cases[{k}].energy[{e}].generation.j_per_token"),
                ))
            }),
        )?;
        Some(Measure {
            value: f.value,
            label: format!("{} generation", c.test),
            source: f.source,
        })
    })
}

/// Energy per output token of level `l` of source `i`'s sweep on the working devices, with where it came from.
pub fn level_j_per_token(source: &Source, l: usize) -> Option<crate::cost::measured::Figure> {
    let r = &source.result;
    let level = r.load.as_ref()?.levels.get(l)?;
    let path = &source.path;
    j_per_token(
        load_work_device(r),
        level.energy.iter().enumerate().map(|(e, en)| {
            (
                en,
                format!("{path} load.levels[{l}].energy[{e}].j_per_token"),
            )
        }),
    )
}

/// The operating point's level of `source`: energy over its output tokens on the working devices.
fn level_energy(source: &Source) -> Option<Measure> {
    let sweep = source.result.load.as_ref()?;
    let op = sweep.operating_point.as_ref()?;
    let level = sweep.levels.get(op.level_index)?;
    let f = level_j_per_token(source, op.level_index)?;
    Some(Measure {
        value: f.value,
        label: format!("load {} (per output token)", level_label(level)),
        source: f.source,
    })
}

/// The SLO as written: `ttft_p95 ≤ 2000 ms, itl_p95 ≤ 250 ms`.
pub fn slo_text(sweep: &LoadSweep) -> String {
    sweep
        .slo
        .iter()
        .map(|t| format!("{} ≤ {} ms", t.objective(), t.max_ms))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The highest operating-point goodput among the `load` results, and which of them it is.
fn goodput(sources: &[Source], load: &[usize]) -> Option<(Measure, usize)> {
    load.iter()
        .filter_map(|&i| {
            let sweep = sources[i].result.load.as_ref()?;
            let op = sweep.operating_point.as_ref()?;
            let value = op.goodput_output_tokens_per_s?;
            let level = sweep.levels.get(op.level_index)?;
            Some(Measure {
                value,
                label: format!("{}; SLO {}", level_label(level), slo_text(sweep)),
                source: format!(
                    "{} load.operating_point.goodput_output_tokens_per_s (levels[{}])",
                    sources[i].path, op.level_index
                ),
            })
            .map(|m| (m, i))
        })
        .max_by(|a, b| a.0.value.total_cmp(&b.0.value))
}

/// Why `load` gives no goodput, in a few words; `None` when one of them does.
fn goodput_absent(sources: &[Source], load: &[usize]) -> Option<String> {
    if goodput(sources, load).is_some() {
        return None;
    }
    let sweeps: Vec<_> = load
        .iter()
        .filter_map(|&i| sources[i].result.load.as_ref())
        .collect();
    Some(if sweeps.is_empty() {
        "no load result for this machine and model".into()
    } else if sweeps.iter().all(|s| s.slo.is_empty()) {
        "its load results were run without an SLO (load --slo)".into()
    } else if sweeps.iter().any(|s| s.operating_point.is_some()) {
        "its load result predates goodput (schema < 4): the operating point has no goodput figure"
            .into()
    } else {
        "no load level met its SLO over all arrivals".into()
    })
}

/// The machines of `rows`, each once, in the order they first appear.
pub fn machines(rows: &[Row]) -> Vec<&str> {
    let mut machines: Vec<&str> = Vec::new();
    for r in rows {
        if !machines.contains(&r.machine.as_str()) {
            machines.push(&r.machine);
        }
    }
    machines
}
