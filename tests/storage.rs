//! Storage faults: a run whose disk fills keeps every unit it measured in its checkpoint, says so in one line that
//! names the path, and exits with the I/O code (3); the checkpoint, once copied where there is room, resumes into
//! the whole result. Two runs never share a result path: the second is refused while the first holds its lock.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A 1 MiB tmpfs mounted for the life of the value; `None` where this process may not mount one (not root, or
/// a container without the capability).
struct SmallDisk {
    at: PathBuf,
}

impl SmallDisk {
    fn mount(at: PathBuf) -> Option<SmallDisk> {
        std::fs::create_dir_all(&at).unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                "size=1m",
                "tokenmeter-test",
                at.to_str().unwrap(),
            ])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk { at })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.at).status();
    }
}

/// `bench` of `model` writing to `out` (`--out`, or with `--resume` among `extra`, the file it names).
fn bench(dir: &Path, model: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tokenmeter"));
    c.args(["bench", "-m", model.to_str().unwrap(), "-t", "1"])
        .args(["--idle", "0", "--telemetry", "off", "-o", "json"]);
    if !extra.contains(&"--resume") {
        c.args(["--out", out.to_str().unwrap()]);
    }
    c.args(extra)
        .env("TOKENMETER_CACHE_DIR", dir.join("cache"))
        .current_dir(dir);
    c
}

fn checkpoint_of(result: &Path) -> PathBuf {
    PathBuf::from(format!("{}.partial.jsonl", result.display()))
}

/// The units a checkpoint holds (its lines after the header), by test name.
fn units_in(checkpoint: &Path) -> Vec<String> {
    std::fs::read_to_string(checkpoint)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("each checkpoint line is whole JSON");
            v["test"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

#[test]
fn a_full_disk_keeps_every_measured_case_in_the_checkpoint_exits_3_naming_the_path_and_resumes_elsewhere(
) {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(dir.path().join("small")) else {
        eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
        return;
    };
    let model = synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    // 40 generation cases of ten repetitions: each record holds every token's gap, about 35 KB, so the result
    // and its checkpoint outgrow 1 MiB well before the last case.
    let gens: Vec<String> = (256..296).map(|n| n.to_string()).collect();
    let gens = gens.join(",");
    let out = disk.at.join("r.json");
    let o = bench(
        dir.path(),
        &model,
        &out,
        &["-p", "0", "-n", &gens, "-r", "10"],
    )
    .output()
    .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(lines.len(), 1, "one error line: {err}");
    let checkpoint = checkpoint_of(&out);
    assert!(
        lines[0].contains(&checkpoint.display().to_string()),
        "the error names the checkpoint: {}",
        lines[0]
    );
    assert!(lines[0].contains("No space left on device"), "{}", lines[0]);
    let kept = units_in(&checkpoint);
    assert!(
        !kept.is_empty() && kept.len() < 40,
        "the disk filled part-way: {kept:?}"
    );
    let said = format!("the {} unit(s) done are in the checkpoint", kept.len());
    assert!(
        lines[0].contains(&said),
        "every case measured is kept: {}",
        lines[0]
    );
    let expected: Vec<String> = (256..256 + kept.len()).map(|n| format!("tg{n}")).collect();
    assert_eq!(kept, expected, "the cases measured, in order, each once");

    // Where there is room, the checkpoint resumes into the whole result.
    let elsewhere = dir.path().join("r.json");
    std::fs::copy(&checkpoint, checkpoint_of(&elsewhere)).unwrap();
    let resume = elsewhere.to_str().unwrap();
    let o = bench(
        dir.path(),
        &model,
        &elsewhere,
        &["-p", "0", "-n", &gens, "-r", "10", "--resume", resume],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&elsewhere).unwrap()).unwrap();
    let tests: Vec<&str> = file["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["test"].as_str().unwrap())
        .collect();
    let all: Vec<String> = (256..296).map(|n| format!("tg{n}")).collect();
    assert_eq!(tests, all);
    assert!(
        !checkpoint_of(&elsewhere).exists(),
        "a whole run removes its checkpoint"
    );
}

#[test]
fn a_second_run_on_the_same_result_path_is_refused_while_the_first_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    // Trained for a long context, so that the first run's one case lasts well past the second's start.
    let model = dir.path().join("tiny-long.gguf");
    let o = tokenmeter(
        &[
            "synth",
            "--shape",
            "tiny",
            "--ctx",
            "131072",
            "-o",
            model.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = dir.path().join("r.json");
    let args = ["-p", "0", "-n", "100000", "-r", "5"];
    let first = bench(dir.path(), &model, &out, &args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !checkpoint_of(&out).exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the first run never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = bench(dir.path(), &model, &out, &args).output().unwrap();
    assert_one_line_error(&second, "in use by another tokenmeter run");
    assert!(stderr(&second).contains(&checkpoint_of(&out).display().to_string()));
    // The first run was not disturbed: stopped now, it saves as any run does.
    let ok = Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let o = first.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(file["interrupted"], true);
    assert!(
        checkpoint_of(&out).exists(),
        "the first run's checkpoint stays for --resume"
    );
}
