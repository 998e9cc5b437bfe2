//! The comparison's rules on hand-built ratios and on result files with known changes.

mod bench;
mod levels;
mod verdict;

use super::{Input, Source};
use crate::results::ResultFile;
use crate::stats::ratio::{Method, Ratio};

fn ratio(lower: f64, upper: f64, p_band: f64) -> Ratio {
    Ratio {
        method: Method::WelchLog,
        ratio: (lower * upper).sqrt(),
        lower: Some(lower),
        upper: Some(upper),
        p_value: None,
        p_band: Some(p_band),
        n_base: 3,
        n_new: 3,
        detectable: Some(0.05),
        samples_needed: None,
    }
}

fn load_source(path: &str, f: ResultFile) -> Source {
    Source {
        path: path.into(),
        input: Input::Result(Box::new(f)),
    }
}

fn reference_load() -> ResultFile {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("results/reference/slo-goodput-qwen2.5-0.5b-q4_0/load.json");
    crate::results::read_result(&p).unwrap()
}
