//! `tokenmeter compare`: verdicts on constructed result files, llama-bench input, load levels, baselines,
//! bad input, and an interleaved run of the real binary.

#[path = "../common/mod.rs"]
mod common;
mod inputs;
mod load;
mod rounds;
mod verdicts;

use common::{stderr, stdout, tokenmeter};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::path::{Path, PathBuf};
use tokenmeter::results::record::RepSample;
use tokenmeter::results::{read_result, summarize, ResultFile};

const REF: &str = "results/reference/bench-vs-llama-bench-qwen2.5-0.5b-q4_0";

fn reference(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(REF).join(name)
}

/// The committed bench result with every repetition replaced: the case's first repetition's times divided by
/// `speed` and by a seeded factor of mean 1 and relative spread `cv`, `reps` times.
fn constructed(speed: f64, cv: f64, reps: usize, seed: u64) -> ResultFile {
    let mut f = read_result(&reference("tokenmeter-round1.result.json")).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for c in &mut f.cases {
        let first = c.samples[0].clone();
        c.samples = (0..reps)
            .map(|_| {
                let jitter = 1.0 + cv * (rng.random::<f64>() * 2.0 - 1.0) * 3f64.sqrt();
                let k = jitter / speed;
                let scale = |ns: u64| (ns as f64 * k).round() as u64;
                RepSample {
                    prompt_ns: first.prompt_ns.map(scale),
                    gen_ns: first.gen_ns.map(scale),
                    total_ns: scale(first.total_ns),
                    gen_token_ns: first.gen_token_ns.iter().map(|&t| scale(t)).collect(),
                    start_ns: None,
                }
            })
            .collect();
        c.repetitions = reps as u32;
        c.summary = summarize(&c.test(), &c.samples);
    }
    f
}

fn write(dir: &Path, name: &str, f: &ResultFile) -> String {
    let p = dir.join(name);
    f.write(&p).unwrap();
    p.to_str().unwrap().to_string()
}

fn compare_json(args: &[&str], cwd: &Path) -> (Option<i32>, Value) {
    let mut all = vec!["compare", "-o", "json"];
    all.extend_from_slice(args);
    let o = tokenmeter(&all, cwd);
    let v: Value = serde_json::from_str(&stdout(&o))
        .unwrap_or_else(|e| panic!("{e}: {} {}", stdout(&o), stderr(&o)));
    (o.status.code(), v)
}

fn gating(v: &Value) -> Vec<&Value> {
    v["joined"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|j| j["metrics"].as_array().unwrap())
        .filter(|m| m["gating"].as_bool().unwrap())
        .collect()
}

/// `runs` result files of a side in `dir/name/` (one per run, seeds from `seed`), the directory's path.
fn side(dir: &Path, name: &str, speed: f64, cv: f64, reps: usize, runs: u64, seed: u64) -> String {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    for r in 0..runs {
        write(
            &d,
            &format!("run-{r}.json"),
            &constructed(speed, cv, reps, seed + r),
        );
    }
    d.to_str().unwrap().to_string()
}

fn t_per_s(v: &Value) -> Vec<&Value> {
    v["joined"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| &j["metrics"][0])
        .inspect(|m| assert_eq!(m["metric"], "t/s"))
        .collect()
}
