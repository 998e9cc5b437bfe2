//! Interleaved and paired rounds: `compare --interleave` running the real binary on a tiny model and stand-in sides
//! whose spread the test sets (rounds added while underpowered, sides alternated and paired), and kept rounds judged
//! on each round's fastest repetition.

use crate::common::{assert_one_line_error, stderr, stdout, synth_tiny, tokenmeter};
use crate::{compare_json, constructed, gating, write};
use serde_json::Value;
use std::path::Path;
use tokenmeter::results::{read_result, summarize};

/// `compare --interleave` of the tiny model against itself with `extra` options; the kept rounds per side and
/// compare's stderr.
fn interleave_tiny(dir: &Path, name: &str, extra: &[&str]) -> (std::process::Output, usize) {
    let model = synth_tiny(dir, "tiny.gguf", "q4_0", 1);
    let keep = dir.join(name);
    let mut args = vec!["compare", "--interleave", "--keep", keep.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-o", "json", "--", "bench", "-m", model.to_str().unwrap()]);
    args.extend_from_slice(&[
        "-p",
        "8",
        "-n",
        "4",
        "-r",
        "2",
        "--telemetry",
        "off",
        "--in-process",
    ]);
    let o = tokenmeter(&args, dir);
    let kept = |side: &str| std::fs::read_dir(keep.join(side)).map_or(0, |d| d.count());
    assert_eq!(kept("base"), kept("new"), "{}", stderr(&o));
    (o, kept("base"))
}

/// `compare --interleave --rounds 6 --max-rounds 8` whose two sides are stand-in executables: each run hands back
/// the next of a side's constructed result files (the committed bench at speed 1, relative spread `cv`, one seed per
/// round), so the rounds' spread is set by the test, not by this machine. The kept rounds per side and the output.
fn interleave_stand_in(
    dir: &Path,
    name: &str,
    cv: f64,
    extra: &[&str],
) -> (std::process::Output, usize) {
    use std::os::unix::fs::PermissionsExt;
    let root = dir.join(name);
    let mut exes = Vec::new();
    for (side, seed) in [("base", 100), ("new", 200)] {
        let d = root.join(format!("{side}-files"));
        std::fs::create_dir_all(&d).unwrap();
        for r in 0..8 {
            write(&d, &format!("{r}.json"), &constructed(1.0, cv, 3, seed + r));
        }
        let exe = root.join(format!("{side}-exe"));
        std::fs::write(
            &exe,
            format!(
                "#!/bin/sh\nd='{}'\nn=$(cat \"$d/count\" 2>/dev/null || echo 0)\necho $((n + 1)) > \"$d/count\"\n\
                 while [ $# -gt 1 ]; do [ \"$1\" = --out ] && out=$2; shift; done\ncp \"$d/$n.json\" \"$out\"\n",
                d.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        exes.push(exe);
    }
    let keep = root.join("keep");
    let mut args = vec![
        "compare",
        "--interleave",
        "--rounds",
        "6",
        "--max-rounds",
        "8",
        "--base-exe",
        exes[0].to_str().unwrap(),
        "--new-exe",
        exes[1].to_str().unwrap(),
        "--keep",
        keep.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-o", "json", "--", "bench", "-m", "stand-in.gguf"]);
    let o = tokenmeter(&args, dir);
    let kept = |side: &str| std::fs::read_dir(keep.join(side)).map_or(0, |d| d.count());
    assert_eq!(kept("base"), kept("new"), "{}", stderr(&o));
    (o, kept("base"))
}

#[test]
fn interleave_adds_rounds_while_a_gated_figure_is_underpowered_up_to_max_rounds() {
    let dir = tempfile::tempdir().unwrap();
    // --noise 0: any spread leaves a figure underpowered, so the rounds go on to --max-rounds and say so
    let (o, kept) = interleave_tiny(
        dir.path(),
        "noise0",
        &["--noise", "0", "--rounds", "6", "--max-rounds", "8"],
    );
    let err = stderr(&o);
    assert_eq!(kept, 8, "{err}");
    assert!(err.contains("after 6 rounds, underpowered: "), "{err}");
    assert!(
        err.contains("stopped at --max-rounds 8: still underpowered: "),
        "{err}"
    );
    assert!(
        err.contains("pp8 t/s ±") && err.contains("tg4 t/s ±"),
        "{err}"
    );
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(gating(&v).len(), 2, "{v}");
    for m in gating(&v) {
        assert_eq!(m["ratio"]["n_base"], 8, "{m}");
        assert_eq!(m["underpowered"], true, "{m}");
    }
    // rounds that agree within 0.1%: powered after six, so no seventh round runs
    let (o, kept) = interleave_stand_in(dir.path(), "steady", 0.001, &["--noise", "2%"]);
    let err = stderr(&o);
    assert_eq!(kept, 6, "{err}");
    assert!(!err.contains("more rounds"), "{err}");
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(!gating(&v).is_empty(), "{v}");
    assert!(gating(&v).iter().all(|m| m["underpowered"] == false), "{v}");
    // the same rounds spread by 30%: underpowered at a 2% band, so more rounds up to --max-rounds
    let (o, kept) = interleave_stand_in(dir.path(), "spread", 0.3, &["--noise", "2%"]);
    let err = stderr(&o);
    assert_eq!(kept, 8, "{err}");
    assert!(err.contains("after 6 rounds, underpowered: "), "{err}");
    // too few rounds for any interval (6 at --alpha 0.05): more until there are enough
    let (o, kept) = interleave_tiny(dir.path(), "few", &["--rounds", "2", "--max-rounds", "7"]);
    let err = stderr(&o);
    assert!(kept == 6 || kept == 7, "{kept}: {err}");
    assert!(err.contains("after 2 rounds, fewer than the 6 rounds a verdict needs: more rounds, up to --max-rounds 7"), "{err}");
    // fewer rounds at most than at least is refused
    let (o, kept) = interleave_tiny(dir.path(), "bad", &["--rounds", "3", "--max-rounds", "2"]);
    assert_eq!(kept, 0);
    assert_one_line_error(&o, "--max-rounds: 2 is fewer than --rounds (3)");
}

#[test]
fn interleave_runs_both_sides_alternately_and_pairs_the_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("rounds");
    let (o, _) = interleave_tiny(
        dir.path(),
        "rounds",
        &[
            "--rounds",
            "3",
            "--max-rounds",
            "3",
            "--ignore",
            "n_threads",
            "--base-args",
            "-t 1",
            "--new-args",
            "-t 2",
        ],
    );
    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["paired"], true);
    for side in ["base", "new"] {
        for r in 0..3 {
            assert!(keep.join(side).join(format!("round-{r:02}.json")).exists());
        }
    }
    let base = read_result(&keep.join("base/round-00.json")).unwrap();
    assert!(base.cases.iter().all(|c| c.n_threads == 1));
    let new = read_result(&keep.join("new/round-00.json")).unwrap();
    assert!(new.cases.iter().all(|c| c.n_threads == 2));
    for m in gating(&v) {
        assert_eq!(m["ratio"]["method"], "paired_signed_rank");
        assert_eq!(m["ratio"]["n_base"], 3);
    }
    // the rounds alternate which side goes first
    let err = stderr(&o);
    let rounds: Vec<&str> = err.lines().filter(|l| l.starts_with("round ")).collect();
    assert_eq!(rounds.len(), 3, "{err}");
    assert!(
        rounds[0].contains(": base") && rounds[1].contains(": new"),
        "{err}"
    );
    // and the kept rounds re-read as a paired comparison give the same verdicts
    let (_, again) = compare_json(
        &[
            "--paired",
            "--ignore",
            "n_threads",
            keep.join("base").to_str().unwrap(),
            keep.join("new").to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(again["counts"], v["counts"]);
}

#[test]
fn interleaved_rounds_are_judged_on_each_rounds_fastest_repetition() {
    // every base round has one repetition that something else slowed to half speed; the new side is a steady 10%
    // slower: on the fastest repetitions that is a 10% loss, on the means it would look like a gain
    let dir = tempfile::tempdir().unwrap();
    for side in ["base", "new"] {
        std::fs::create_dir_all(dir.path().join(side)).unwrap();
    }
    for round in 0..8 {
        let mut base = constructed(1.0, 0.0, 2, 1);
        for c in &mut base.cases {
            let slow = |ns: u64| ns * 2;
            let s = &mut c.samples[1];
            s.total_ns = slow(s.total_ns);
            s.prompt_ns = s.prompt_ns.map(slow);
            s.gen_ns = s.gen_ns.map(slow);
            s.gen_token_ns = s.gen_token_ns.iter().map(|&t| slow(t)).collect();
            c.summary = summarize(&c.test(), &c.samples);
        }
        let new = constructed(0.9, 0.0, 2, 2);
        write(
            &dir.path().join("base"),
            &format!("round-{round:02}.json"),
            &base,
        );
        write(
            &dir.path().join("new"),
            &format!("round-{round:02}.json"),
            &new,
        );
    }
    let (b, n) = (dir.path().join("base"), dir.path().join("new"));
    let (code, v) = compare_json(
        &["--paired", b.to_str().unwrap(), n.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(code, Some(1), "{v}");
    for m in gating(&v) {
        assert_eq!(m["ratio"]["method"], "paired_signed_rank");
        assert!(
            (m["ratio"]["ratio"].as_f64().unwrap() - 0.9).abs() < 0.01,
            "{m}"
        );
        assert_eq!(m["verdict"], "slower");
    }
}
