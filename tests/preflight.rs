//! Preflight through the real binary: cases llama.cpp would abort on or reject, and cases that do not fit in
//! memory, are refused with exit 2 and one line before any model is loaded; `--force` runs the forceable ones.

mod common;

use common::{assert_one_line_error, stderr, synth_tiny};
use std::path::Path;
use std::process::{Command, Output};

/// Runs tokenmeter in `dir` with telemetry off, no idle baseline and results under `dir/results`;
/// `free_ram` sets `TOKENMETER_FREE_MEMORY_BYTES`.
fn run(dir: &Path, args: &[&str], free_ram: Option<u64>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenmeter"));
    cmd.args(args)
        .args(["--telemetry", "off", "--idle", "0"])
        .current_dir(dir)
        .env("TOKENMETER_CACHE_DIR", dir.join("cache"))
        .env_remove("TOKENMETER_FREE_MEMORY_BYTES");
    if let Some(b) = free_ram {
        cmd.env("TOKENMETER_FREE_MEMORY_BYTES", b.to_string());
    }
    cmd.output().expect("tokenmeter runs")
}

fn nothing_written(dir: &Path) {
    assert!(
        !dir.join("results").exists(),
        "a refused run writes no result file"
    );
}

#[test]
fn load_concurrency_above_the_batch_size_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let m = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let o = run(
        dir.path(),
        &[
            "load",
            "-m",
            m.to_str().unwrap(),
            "-c",
            "16",
            "-b",
            "8",
            "--requests",
            "16",
            "--input-tokens",
            "32",
            "--output-tokens",
            "8",
        ],
        None,
    );
    assert_one_line_error(
        &o,
        "case c=16: -c/--concurrency 16 is above the batch size -b/--batch-size 8",
    );
    nothing_written(dir.path());
}

#[test]
fn a_case_whose_estimate_exceeds_free_memory_is_refused_before_loading_with_both_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let m = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let args = [
        "bench",
        "-m",
        m.to_str().unwrap(),
        "-p",
        "16",
        "-n",
        "4",
        "-r",
        "1",
    ];
    let o = run(dir.path(), &args, Some(1 << 20));
    assert_one_line_error(&o, "case pp16: needs ~");
    let err = stderr(&o);
    assert!(err.contains("(weights "), "{err}");
    assert!(err.contains("1.0 MiB free; --force to try anyway"), "{err}");
    nothing_written(dir.path());

    let mut forced = args.to_vec();
    forced.push("--force");
    let o = run(dir.path(), &forced, Some(1 << 20));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn load_levels_are_checked_against_free_memory_too() {
    let dir = tempfile::tempdir().unwrap();
    let m = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let o = run(
        dir.path(),
        &[
            "load",
            "-m",
            m.to_str().unwrap(),
            "-c",
            "2",
            "--requests",
            "2",
        ],
        Some(1 << 20),
    );
    assert_one_line_error(&o, "case c=2: needs ~");
    nothing_written(dir.path());
}

#[test]
fn ubatch_above_batch_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let o = run(
        dir.path(),
        &[
            "bench",
            "-m",
            m.to_str().unwrap(),
            "-b",
            "64",
            "--ubatch-size",
            "128",
        ],
        None,
    );
    assert_one_line_error(
        &o,
        "--ubatch-size 128 is above -b/--batch-size 64: llama.cpp would silently lower it to 64",
    );
}

#[test]
fn a_quantized_v_cache_with_flash_attention_off_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let o = run(
        dir.path(),
        &[
            "bench",
            "-m",
            m.to_str().unwrap(),
            "--cache-type-v",
            "q8_0",
            "--flash-attn",
            "off",
        ],
        None,
    );
    assert_one_line_error(&o, "--cache-type-v q8_0 needs flash attention");
}

#[test]
fn a_quantized_k_cache_whose_blocks_do_not_divide_the_head_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // tiny: 64 wide, 4 heads of 16 values; q4_0 blocks hold 32
    let m = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let o = run(
        dir.path(),
        &["bench", "-m", m.to_str().unwrap(), "--cache-type-k", "q4_0"],
        None,
    );
    assert_one_line_error(
        &o,
        "--cache-type-k q4_0 stores blocks of 32 values, which do not divide the model's head size 16",
    );
}

#[test]
fn depth_beyond_the_trained_context_is_refused_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    // tiny is trained on 2048 positions
    let m = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let args = [
        "bench",
        "-m",
        m.to_str().unwrap(),
        "-p",
        "16",
        "-n",
        "0",
        "-d",
        "2048",
        "-r",
        "1",
    ];
    let o = run(dir.path(), &args, None);
    assert_one_line_error(
        &o,
        "case pp16 @ d2048: -d 2048 + -p 16 + -n 0 = 2064 positions per sequence exceed the model's trained \
         context of 2048",
    );
    let mut forced = args.to_vec();
    forced.push("--force");
    let o = run(dir.path(), &forced, None);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn concurrency_above_llama_cpps_sequence_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let o = run(
        dir.path(),
        &[
            "load",
            "-m",
            m.to_str().unwrap(),
            "-c",
            "257",
            "-b",
            "4096",
            "--input-tokens",
            "4",
            "--output-tokens",
            "2",
        ],
        None,
    );
    assert_one_line_error(
        &o,
        "-c/--concurrency 257 is above llama.cpp's 256 sequences per context (LLAMA_MAX_SEQ)",
    );
}
