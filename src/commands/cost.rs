//! `tokenmeter cost`: reads a result file and the configuration, chooses the hardware, workload and cloud
//! offerings, and hands them to the pure cost model. Also the selection shared with `decide`.

use super::InputError;
use crate::config::{CloudEntry, Config, HardwareEntry, WorkloadEntry, DEFAULT_CONFIG};
use crate::cost::analysis::Located;
use crate::cost::{analyse, from_result, CostInputs, CostReport, Measured};
use crate::results::read_result;
use std::path::{Path, PathBuf};

/// What `cost` and `decide` select from.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub config: Option<PathBuf>,
    /// Further files with `[[cloud]]` entries (e.g. written by `prices import`).
    pub prices: Vec<PathBuf>,
    pub hardware: Option<String>,
    pub workload: Option<String>,
    pub clouds: Vec<String>,
    /// With several models in the result file: which one (a substring of its path).
    pub model: Option<String>,
    /// Price a `load` result against a workload of another shape (lengths or SLO) instead of refusing.
    pub allow_shape_mismatch: bool,
    /// Use cases whose numerics gate failed instead of refusing (the output says so at its top).
    pub allow_wrong_numerics: bool,
}

#[derive(Debug, Clone)]
pub struct CostOptions {
    pub result: PathBuf,
    pub selection: Selection,
    pub hybrid: bool,
    pub seed: u64,
    pub json: bool,
}

/// The configuration files read, with their display names.
pub struct Loaded {
    pub config_file: String,
    pub config: Config,
    pub prices: Vec<(String, Config)>,
}

impl Loaded {
    pub fn read(sel: &Selection) -> anyhow::Result<Loaded> {
        let config = Config::load(sel.config.as_deref())?;
        let config_file = sel
            .config
            .as_deref()
            .unwrap_or(Path::new(DEFAULT_CONFIG))
            .display()
            .to_string();
        let prices = sel
            .prices
            .iter()
            .map(|p| Ok((p.display().to_string(), Config::load(Some(p))?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Loaded {
            config_file,
            config,
            prices,
        })
    }

    fn known<T>(items: &[T], name: impl Fn(&T) -> String) -> String {
        let names: Vec<String> = items.iter().map(name).collect();
        if names.is_empty() {
            "none defined".into()
        } else if names.len() > 12 {
            format!(
                "known: {}, … ({} in all)",
                names[..12].join(", "),
                names.len()
            )
        } else {
            format!("known: {}", names.join(", "))
        }
    }

    /// `--hardware`, else the entry listing this result file, else one whose devices match the result's, else the
    /// first; the note says which and why.
    pub fn hardware(
        &self,
        sel: &Selection,
        measured: Option<&Measured>,
        result: Option<&Path>,
    ) -> Result<(Located<'_, HardwareEntry>, Option<String>), InputError> {
        let list = &self.config.hardware;
        let at = |index: usize| Located {
            file: &self.config_file,
            index,
            entry: &list[index],
        };
        if let Some(name) = &sel.hardware {
            return list
                .iter()
                .position(|h| &h.name == name)
                .map(|i| (at(i), None))
                .ok_or_else(|| {
                    InputError(format!(
                        "{}: --hardware: no [[hardware]] named '{name}' ({})",
                        self.config_file,
                        Self::known(list, |h| h.name.clone())
                    ))
                });
        }
        if list.is_empty() {
            return Err(InputError(format!(
                "{}: no [[hardware]] entries (expected at least one: see README, models.toml)",
                self.config_file
            )));
        }
        if let Some(path) = result {
            if let Some(i) = list
                .iter()
                .position(|h| h.results.iter().any(|r| Path::new(r) == path))
            {
                let note = format!(
                    "no --hardware given: using '{}', which lists this result",
                    list[i].name
                );
                return Ok((at(i), Some(note)));
            }
        }
        if let Some(m) = measured {
            for device in &m.devices {
                if let Some(i) = list
                    .iter()
                    .position(|h| h.devices.iter().any(|d| device.contains(d.as_str())))
                {
                    let note = format!(
                        "no --hardware given: using '{}', whose devices match the result's '{device}'",
                        list[i].name
                    );
                    return Ok((at(i), Some(note)));
                }
            }
        }
        let note = format!(
            "no --hardware given: using the first [[hardware]] entry, '{}'",
            list[0].name
        );
        Ok((at(0), Some(note)))
    }

    /// `--workload`, else the first entry.
    pub fn workload(
        &self,
        sel: &Selection,
    ) -> Result<(Located<'_, WorkloadEntry>, Option<String>), InputError> {
        let list = &self.config.workload;
        let at = |index: usize| Located {
            file: &self.config_file,
            index,
            entry: &list[index],
        };
        match &sel.workload {
            Some(name) => list
                .iter()
                .position(|w| &w.name == name)
                .map(|i| (at(i), None))
                .ok_or_else(|| {
                    InputError(format!(
                        "{}: --workload: no [[workload]] named '{name}' ({})",
                        self.config_file,
                        Self::known(list, |w| w.name.clone())
                    ))
                }),
            None if list.is_empty() => Err(InputError(format!(
                "{}: no [[workload]] entries (expected at least one: see README, models.toml)",
                self.config_file
            ))),
            None => Ok((
                at(0),
                Some(format!(
                    "no --workload given: using the first [[workload]] entry, '{}'",
                    list[0].name
                )),
            )),
        }
    }

    /// Every `[[cloud]]` in the configuration and the price files, with where it was read.
    fn all_clouds(&self) -> Vec<Located<'_, CloudEntry>> {
        std::iter::once((&self.config_file, &self.config))
            .chain(self.prices.iter().map(|(f, c)| (f, c)))
            .flat_map(|(file, c)| {
                c.cloud
                    .iter()
                    .enumerate()
                    .map(move |(index, entry)| Located {
                        file: file.as_str(),
                        index,
                        entry,
                    })
            })
            .collect()
    }

    /// `--cloud` names in order, else all entries.
    pub fn clouds(
        &self,
        sel: &Selection,
    ) -> Result<(Vec<Located<'_, CloudEntry>>, Option<String>), InputError> {
        let all = self.all_clouds();
        if sel.clouds.is_empty() {
            if all.is_empty() {
                return Err(InputError(format!(
                    "{}: no [[cloud]] entries (expected at least one; `tokenmeter prices import` writes them)",
                    self.config_file
                )));
            }
            let note = format!(
                "no --cloud given: comparing with all {} [[cloud]] entries; {} is the reference",
                all.len(),
                all[0].entry.label()
            );
            return Ok((all, Some(note)));
        }
        let files: Vec<&str> = std::iter::once(self.config_file.as_str())
            .chain(self.prices.iter().map(|(f, _)| f.as_str()))
            .collect();
        let chosen = sel
            .clouds
            .iter()
            .map(|name| {
                all.iter()
                    .find(|c| c.entry.matches(name))
                    .copied()
                    .ok_or_else(|| {
                        InputError(format!(
                            "{}: --cloud: no [[cloud]] entry '{name}' ({})",
                            files.join(", "),
                            Self::known(&all, |c| c.entry.label())
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok((chosen, None))
    }
}

/// Reads the result file and extracts the measured inputs; a result with cases whose numerics gate failed is
/// refused unless the selection allows it.
pub fn measured(result: &Path, sel: &Selection) -> anyhow::Result<Measured> {
    let r = read_result(result)?;
    super::check_numerics(&result.display().to_string(), &r, sel.allow_wrong_numerics)?;
    Ok(from_result(
        &r,
        &result.display().to_string(),
        sel.model.as_deref(),
    )?)
}

/// Runs the analysis for `cost` (and `decide`'s cost dimension).
pub fn report(
    loaded: &Loaded,
    sel: &Selection,
    measured: &Measured,
    result: &Path,
    hybrid_seed: Option<u64>,
) -> anyhow::Result<CostReport> {
    Ok(analyse(&inputs(
        loaded,
        sel,
        measured,
        result,
        hybrid_seed,
    )?))
}

/// The cost model's inputs for one result: the hardware, workload and cloud offerings chosen as `cost` chooses
/// them; a `load` result of another shape than the workload's is refused unless the selection allows it.
pub fn inputs<'a>(
    loaded: &'a Loaded,
    sel: &Selection,
    measured: &'a Measured,
    result: &Path,
    hybrid_seed: Option<u64>,
) -> anyhow::Result<CostInputs<'a>> {
    let (hardware, hw_note) = loaded.hardware(sel, Some(measured), Some(result))?;
    let (workload, wl_note) = loaded.workload(sel)?;
    let workload_at = format!(
        "{}: workload[{}] ({})",
        workload.file, workload.index, workload.entry.name
    );
    let shape_mismatch = measured
        .load_shape
        .as_ref()
        .and_then(|shape| crate::cost::shape::mismatch(shape, workload.entry, &workload_at));
    if let (Some(why), false) = (&shape_mismatch, sel.allow_shape_mismatch) {
        return Err(InputError(format!(
            "{}: {why}; measure the workload's shape with `load`, or pass --allow-shape-mismatch",
            measured.file
        ))
        .into());
    }
    let (clouds, cloud_note) = loaded.clouds(sel)?;
    let notes = [hw_note, wl_note, cloud_note]
        .into_iter()
        .flatten()
        .collect();
    Ok(CostInputs {
        measured,
        hardware,
        workload,
        clouds,
        hybrid_seed,
        notes,
        shape_mismatch,
    })
}

/// `tokenmeter cost`: the report as text (markdown tables) or JSON.
pub fn run(o: &CostOptions) -> anyhow::Result<String> {
    let loaded = Loaded::read(&o.selection)?;
    let file = o.result.display().to_string();
    let result = read_result(&o.result)?;
    let wrong = super::check_numerics(&file, &result, o.selection.allow_wrong_numerics)?;
    let m = from_result(&result, &file, o.selection.model.as_deref())?;
    let r = report(
        &loaded,
        &o.selection,
        &m,
        &o.result,
        o.hybrid.then_some(o.seed),
    )?;
    Ok(if o.json {
        let text = serde_json::to_string_pretty(&r)?;
        match &wrong {
            // The report's own field order is kept; the sentence comes first.
            Some(w) => format!(
                "{{\n  \"wrong_numerics\": {},{}\n",
                serde_json::to_string(w)?,
                text.strip_prefix('{').unwrap_or(&text)
            ),
            None => text + "\n",
        }
    } else {
        let top = wrong.map(|w| format!("> **{w}**\n\n")).unwrap_or_default();
        top + &crate::report::cost::cost_markdown(&r)
    })
}
