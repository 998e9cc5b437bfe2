//! Joining the two sides: keys with the ignored properties left out, items grouped by key, the labels that tell
//! joined items apart, and a map over the joined items on every CPU.

use std::collections::{BTreeMap, BTreeSet};

/// `f` over `items` on as many threads as there are CPUs (each item's result depends on it alone, so the
/// output is the same as a sequential map's).
pub(super) fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
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

pub(super) fn strip(
    key: &BTreeMap<String, String>,
    ignore: &BTreeSet<String>,
) -> BTreeMap<String, String> {
    key.iter()
        .filter(|(k, _)| !ignore.contains(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `pp512 t=2`, with the key properties that vary among all cases added (not those left out of the join).
pub(super) fn labels<'a>(
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

pub(super) fn group<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> BTreeMap<String, String>,
) -> BTreeMap<BTreeMap<String, String>, Vec<T>> {
    let mut m: BTreeMap<BTreeMap<String, String>, Vec<T>> = BTreeMap::new();
    for it in items {
        m.entry(key(&it)).or_default().push(it);
    }
    m
}
