//! `cost`, `prices import` and `decide` end to end through the real binary, on a fixture result file (the shape
//! `bench` writes: an RTX 4090 measuring pp512 at 8002 t/s and tg128 at 150 t/s) and a fixture configuration.
//! Each submodule holds the tests of one command or one kind of result; this file holds the helpers they share.

#[path = "../common/mod.rs"]
mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cost")
        .join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `cost` with the fixture configuration and result plus `args`, run in a fresh directory.
fn cost(args: &[&str]) -> (std::process::Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture("models.toml");
    let result = fixture("result-rtx4090.json");
    let mut all = vec!["cost", "--config", s(&config), "--result", s(&result)];
    all.extend_from_slice(args);
    (tokenmeter(&all, dir.path()), dir)
}

fn json(o: &std::process::Output) -> Value {
    assert!(o.status.success(), "{}", stderr(o));
    serde_json::from_str(&stdout(o)).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

mod decide;
mod energy;
mod hybrid;
mod load;
mod monthly;
mod prices;
mod refusals;
