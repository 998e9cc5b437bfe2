use super::*;
use crate::results::file::read_result_str;

fn run(index: u32, count: u32) -> ShardRun {
    ShardRun {
        sweep: Some("s".into()),
        run_id: "r".into(),
        shard: Shard { index, count },
        per: None,
    }
}

/// A result file of shard `index`/`count` (the committed v5 golden file, with `parameters.fleet` set) that
/// finished `minute` minutes into the day, interrupted or not, with `failed` cases.
fn result(index: u32, count: u32, minute: u32, interrupted: bool, failed: &[&str]) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/golden/result-v5-bench.json")).unwrap();
    v["parameters"]["fleet"] = serde_json::to_value(run(index, count)).unwrap();
    v["finished_at"] = format!("2026-11-26T00:{minute:02}:00Z").into();
    v["interrupted"] = interrupted.into();
    v["failed"] = failed
        .iter()
        .map(|l| {
            serde_json::json!({"label": l, "parameters": {}, "reason": "worker killed by signal 9", "stderr_tail": []})
        })
        .collect();
    v.to_string()
}

fn touch(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn file_names_give_writer_shard_attempt_and_kind() {
    let a = |writer: &str, i, n, attempt, checkpoint| AttemptName {
        writer: writer.into(),
        shard: Shard { index: i, count: n },
        attempt,
        checkpoint,
    };
    assert_eq!(
        parse_name("vm-cpu-2of3.json"),
        Some(a("vm-cpu", 2, 3, 1, false))
    );
    assert_eq!(
        parse_name("vm-nvidia-h100-0of12.a3.json.partial.jsonl"),
        Some(a("vm-nvidia-h100", 0, 12, 3, true))
    );
    assert_eq!(
        parse_name("node.example.org-cpu-1of2.a12.json"),
        Some(a("node.example.org-cpu", 1, 2, 12, false))
    );
    for not in [
        "2026-11-26-vm-tiny.json",
        "vm-cpu-2of3.a1.json",
        "vm-cpu-2of3.a02.json",
        "vm-cpu-2of3.b2.json",
        "vm-cpu-2of3.a.json",
        "vm-cpu-3of3.json",
        "vm-cpu-2of3.jsonl",
        "-2of3.json",
        "vm-cpu-+2of3.json",
    ] {
        assert_eq!(parse_name(not), None, "{not}");
    }
}

#[test]
fn a_first_attempt_takes_the_usual_name_and_later_ones_count_up_past_any_file_there() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(1, 3);
    let at = |host| attempt_path(&r, dir.path(), Some(host), "cpu");
    let run_dir = dir.path().join("r");
    // No run directory yet.
    assert_eq!(at("a"), run_dir.join("a-cpu-1of3.json"));
    std::fs::create_dir_all(&run_dir).unwrap();
    // Another host's files, and this host's files of other shards, take nothing from it.
    touch(&run_dir, "b-cpu-1of3.json", "{}");
    touch(&run_dir, "a-cpu-0of3.json", "{}");
    touch(&run_dir, "a-cpu-1of4.json", "{}");
    touch(&run_dir, "aa-cpu-1of3.json", "{}");
    assert_eq!(at("a"), run_dir.join("a-cpu-1of3.json"));
    // A checkpoint alone (a killed attempt) takes the name.
    touch(&run_dir, "a-cpu-1of3.json.partial.jsonl", "");
    assert_eq!(at("a"), run_dir.join("a-cpu-1of3.a2.json"));
    touch(&run_dir, "a-cpu-1of3.json", "{}");
    assert_eq!(at("a"), run_dir.join("a-cpu-1of3.a2.json"));
    touch(&run_dir, "a-cpu-1of3.a2.json", "{}");
    assert_eq!(at("a"), run_dir.join("a-cpu-1of3.a3.json"));
    // One past the highest, even where an earlier one is gone.
    touch(&run_dir, "a-cpu-1of3.a5.json.partial.jsonl", "");
    std::fs::remove_file(run_dir.join("a-cpu-1of3.json")).unwrap();
    assert_eq!(at("a"), run_dir.join("a-cpu-1of3.a6.json"));
    // Whatever it returns, neither it nor its checkpoint exists.
    for host in ["a", "b", "c"] {
        let p = at(host);
        assert!(
            !p.exists() && !checkpoint_of(&p).exists(),
            "{}",
            p.display()
        );
    }
    assert_eq!(at("b"), run_dir.join("b-cpu-1of3.a2.json"));
}

#[test]
fn a_requeued_job_resumes_its_hosts_newest_attempt_with_a_checkpoint_and_no_whole_result() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(0, 2);
    let run_dir = dir.path().join("r");
    let resume = |host| resumable(&r, dir.path(), Some(host), "cpu");
    assert_eq!(resume("a"), None);
    std::fs::create_dir_all(&run_dir).unwrap();
    // A whole attempt, and one whose checkpoint stayed beside its whole result: nothing to resume.
    touch(&run_dir, "a-cpu-0of2.json", &result(0, 2, 1, false, &[]));
    touch(&run_dir, "a-cpu-0of2.a2.json", &result(0, 2, 2, false, &[]));
    touch(&run_dir, "a-cpu-0of2.a2.json.partial.jsonl", "");
    assert_eq!(resume("a"), None);
    // Killed before it wrote a result: resumed.
    touch(&run_dir, "a-cpu-0of2.a3.json.partial.jsonl", "");
    assert_eq!(resume("a"), Some(run_dir.join("a-cpu-0of2.a3.json")));
    // Interrupted, with its checkpoint: the newest such attempt is resumed.
    touch(&run_dir, "a-cpu-0of2.a4.json", &result(0, 2, 4, true, &[]));
    touch(&run_dir, "a-cpu-0of2.a4.json.partial.jsonl", "");
    assert_eq!(resume("a"), Some(run_dir.join("a-cpu-0of2.a4.json")));
    // A newer attempt with a failed case and its checkpoint; an unreadable result counts as not whole.
    touch(
        &run_dir,
        "a-cpu-0of2.a5.json",
        &result(0, 2, 5, false, &["tg8"]),
    );
    touch(&run_dir, "a-cpu-0of2.a5.json.partial.jsonl", "");
    assert_eq!(resume("a"), Some(run_dir.join("a-cpu-0of2.a5.json")));
    touch(&run_dir, "a-cpu-0of2.a6.json", "not json");
    assert_eq!(resume("a"), Some(run_dir.join("a-cpu-0of2.a5.json")));
    touch(&run_dir, "a-cpu-0of2.a6.json.partial.jsonl", "");
    assert_eq!(resume("a"), Some(run_dir.join("a-cpu-0of2.a6.json")));
    // Another host's checkpoint, or another shard's, is not this host's to resume.
    touch(&run_dir, "b-cpu-1of2.json.partial.jsonl", "");
    touch(&run_dir, "b-gpu-0of2.json.partial.jsonl", "");
    assert_eq!(resume("b"), None);
    assert_eq!(
        resumable(&r, dir.path(), Some("b"), "gpu"),
        Some(run_dir.join("b-gpu-0of2.json"))
    );
}

fn shard_file(dir: &Path, name: &str, text: &str) -> ShardFile {
    let path = dir.join(name);
    let r = read_result_str(text, &path).unwrap();
    ShardFile::of_result(&path, &r).unwrap()
}

#[test]
fn the_newest_whole_attempt_counts_and_with_none_whole_the_newest() {
    let d = Path::new("r");
    let files = [
        shard_file(d, "a-cpu-0of2.json", &result(0, 2, 1, false, &[])),
        shard_file(d, "b-cpu-0of2.json", &result(0, 2, 3, false, &[])),
        shard_file(d, "a-cpu-0of2.a2.json", &result(0, 2, 5, true, &[])),
        shard_file(d, "a-cpu-1of2.json", &result(1, 2, 2, false, &["pp16"])),
        shard_file(d, "b-cpu-1of2.json", &result(1, 2, 4, true, &[])),
    ];
    assert!(files[0].is_whole() && !files[2].is_whole() && !files[3].is_whole());
    assert_eq!(files[3].problem().as_deref(), Some("1 failed: pp16"));
    assert_eq!(
        choose(&files),
        [
            Choice {
                run_id: "r".into(),
                shard: Shard { index: 0, count: 2 },
                counts: 1,
                whole: true,
                superseded: vec![2, 0],
            },
            Choice {
                run_id: "r".into(),
                shard: Shard { index: 1, count: 2 },
                counts: 4,
                whole: false,
                superseded: vec![3],
            },
        ]
    );
    // Attempts of another run, or of another sharding, never compete.
    let mut other = files[1].clone();
    other.run.run_id = "q".into();
    other.path = PathBuf::from("q/b-cpu-0of2.json");
    let mut three = files[1].clone();
    three.run.shard.count = 3;
    let c = choose(&[files[0].clone(), other, three]);
    assert_eq!(c.len(), 3);
    assert!(
        c.iter().all(|c| c.superseded.is_empty() && c.whole),
        "{c:?}"
    );
    // A tie on finished_at goes to the path that sorts last.
    let tie = [files[0].clone(), {
        let mut f = files[0].clone();
        f.path = PathBuf::from("r/c-cpu-0of2.json");
        f
    }];
    assert_eq!(choose(&tie)[0].counts, 1);
}

#[test]
fn readers_leave_out_superseded_attempts_and_keep_everything_else() {
    let whole = result(0, 2, 3, false, &[]);
    let failed = result(0, 2, 5, false, &["tg8"]);
    let other = result(1, 2, 1, false, &[]);
    let plain = include_str!("../../../tests/golden/result-v5-bench.json");
    let names = [
        "a-cpu-0of2.json",
        "x.csv",
        "b-cpu-0of2.json",
        "plain.json",
        "a-cpu-1of2.json",
    ];
    let read = |n: &str, t: &str| read_result_str(t, Path::new(n)).unwrap();
    let results = [
        Some(read(names[0], &failed)),
        None,
        Some(read(names[2], &whole)),
        Some(read(names[3], plain)),
        Some(read(names[4], &other)),
    ];
    let out = superseded(
        names
            .iter()
            .zip(&results)
            .map(|(n, r)| (Path::new(*n), r.as_ref())),
    );
    assert_eq!(
        out,
        [(
            0,
            "a-cpu-0of2.json: superseded by b-cpu-0of2.json, the attempt at shard 0/2 of run r that counts"
                .to_string()
        )]
    );
}
