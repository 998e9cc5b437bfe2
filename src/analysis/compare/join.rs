//! Joining the two sides: bench cases and load levels matched on their keys (less the ignored properties), those
//! found on both judged and those on one side listed, with the labels that tell joined items apart.

use super::bench::{case_views, compare_cases, CaseView};
use super::levels::{compare_levels, level_views, LevelView};
use super::{Joined, OneSided, Options, Source};
use std::collections::{BTreeMap, BTreeSet};

/// The cases and levels of both sides, joined or found on one side only.
#[derive(Default)]
pub(super) struct Joins {
    pub(super) joined: Vec<Joined>,
    pub(super) only_base: Vec<OneSided>,
    pub(super) only_new: Vec<OneSided>,
    /// Whether a joined case or level has another model on each side (joined with `--ignore model`).
    pub(super) model_differs: bool,
}

/// Joins the bench cases of both sides and judges those found on both.
pub(super) fn join_cases(base: &[Source], new: &[Source], opts: &Options, joins: &mut Joins) {
    let (cb, cn) = (case_views(base), case_views(new));
    let label = labels(
        cb.iter().chain(&cn).map(|c| (&c.key, c.test.as_str())),
        &opts.ignore,
    );
    let key_of = |c: &CaseView| strip(&c.key, &opts.ignore);
    let (gb, mut gn) = (
        group(cb.iter().collect(), |c| key_of(c)),
        group(cn.iter().collect(), |c| key_of(c)),
    );
    for (k, b) in gb {
        let lab = label(&b[0].key, &b[0].test);
        match gn.remove(&k) {
            Some(n) => {
                if b[0].key.get("model") != n[0].key.get("model") {
                    joins.model_differs = true;
                }
                joins.joined.push(Joined {
                    kind: "bench".into(),
                    label: lab,
                    metrics: compare_cases(&b, &n, opts),
                    key: k,
                    base_sources: b.iter().map(|c| c.source.clone()).collect(),
                    new_sources: n.iter().map(|c| c.source.clone()).collect(),
                });
            }
            None => joins.only_base.push(OneSided {
                kind: "bench".into(),
                label: lab,
                key: k,
                sources: b.iter().map(|c| c.source.clone()).collect(),
            }),
        }
    }
    for (k, n) in gn {
        joins.only_new.push(OneSided {
            kind: "bench".into(),
            label: label(&n[0].key, &n[0].test),
            key: k,
            sources: n.iter().map(|c| c.source.clone()).collect(),
        });
    }
}

/// Joins the load levels of both sides and judges those found on both, one level per thread.
pub(super) fn join_levels(base: &[Source], new: &[Source], opts: &Options, joins: &mut Joins) {
    let (lb, ln) = (level_views(base), level_views(new));
    let key_of = |l: &LevelView| strip(&l.key, &opts.ignore);
    let (gb, mut gn) = (
        group(lb.iter().collect(), |l| key_of(l)),
        group(ln.iter().collect(), |l| key_of(l)),
    );
    let mut pairs = Vec::new();
    for (k, b) in gb {
        match gn.remove(&k) {
            Some(n) => {
                if b[0].key.get("model") != n[0].key.get("model") {
                    joins.model_differs = true;
                }
                pairs.push((k, b, n));
            }
            None => joins.only_base.push(OneSided {
                kind: "load".into(),
                label: b[0].label.clone(),
                key: k,
                sources: b.iter().map(|l| l.source.clone()).collect(),
            }),
        }
    }
    let metrics = parallel_map(&pairs, |(_, b, n)| compare_levels(b, n, opts));
    for ((k, b, n), metrics) in pairs.into_iter().zip(metrics) {
        joins.joined.push(Joined {
            kind: "load".into(),
            label: b[0].label.clone(),
            metrics,
            key: k,
            base_sources: b.iter().map(|l| l.source.clone()).collect(),
            new_sources: n.iter().map(|l| l.source.clone()).collect(),
        });
    }
    for (k, n) in gn {
        joins.only_new.push(OneSided {
            kind: "load".into(),
            label: n[0].label.clone(),
            key: k,
            sources: n.iter().map(|l| l.source.clone()).collect(),
        });
    }
}

/// The error when the sides share no case or level: the first few on each side, and how to widen the join.
pub(super) fn no_shared_case(only_base: &[OneSided], only_new: &[OneSided]) -> String {
    let list = |v: &[OneSided]| -> String {
        let mut labels: Vec<&str> = v.iter().map(|o| o.label.as_str()).collect();
        labels.dedup();
        let more = labels.len().saturating_sub(4);
        labels.truncate(4);
        format!(
            "{}{}",
            labels.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        )
    };
    format!(
        "the two sides share no case (base: {}; new: {}); --ignore KEY leaves a join key out",
        list(only_base),
        list(only_new)
    )
}

/// `f` over `items` on as many threads as there are CPUs (each item's result depends on it alone, so the
/// output is the same as a sequential map's).
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a comparison thread does not panic"))
            .collect()
    })
}

fn strip(key: &BTreeMap<String, String>, ignore: &BTreeSet<String>) -> BTreeMap<String, String> {
    key.iter()
        .filter(|(k, _)| !ignore.contains(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `pp512 t=2`, with the key properties that vary among all cases added (not those left out of the join).
fn labels<'a>(
    keys: impl Iterator<Item = (&'a BTreeMap<String, String>, &'a str)>,
    ignore: &BTreeSet<String>,
) -> impl Fn(&BTreeMap<String, String>, &str) -> String {
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (k, _) in keys {
        for (name, v) in k {
            values.entry(name.clone()).or_default().insert(v.clone());
        }
    }
    let varying: Vec<String> = values
        .into_iter()
        .filter(|(k, v)| {
            v.len() > 1
                && !ignore.contains(k)
                && !matches!(k.as_str(), "n_prompt" | "n_gen" | "n_depth")
        })
        .map(|(k, _)| k)
        .collect();
    move |key, test| {
        let mut s = test.to_string();
        for k in &varying {
            if let Some(v) = key.get(k) {
                let short = match k.as_str() {
                    "n_threads" => "t",
                    "n_gpu_layers" => "ngl",
                    "n_batch" => "b",
                    "n_ubatch" => "ub",
                    "flash_attn" => "fa",
                    "type_k" => "ctk",
                    "type_v" => "ctv",
                    other => other,
                };
                s.push_str(&format!(" {short}={v}"));
            }
        }
        s
    }
}

fn group<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> BTreeMap<String, String>,
) -> BTreeMap<BTreeMap<String, String>, Vec<T>> {
    let mut m: BTreeMap<BTreeMap<String, String>, Vec<T>> = BTreeMap::new();
    for it in items {
        m.entry(key(&it)).or_default().push(it);
    }
    m
}
