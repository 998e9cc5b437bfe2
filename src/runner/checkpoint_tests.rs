use super::*;

fn failed(label: &str) -> Entry {
    Entry::Failed(FailedCase {
        label: label.into(),
        parameters: serde_json::json!({"n_prompt": 16}),
        reason: "worker killed by signal 9".into(),
        stderr_tail: vec![],
        limits: None,
    })
}

fn header(reps: u32) -> Header {
    Header::new(
        "bench",
        serde_json::json!({
            "parameters": {"n_prompt": [16], "stop_rule": {"min_runs": reps, "max_runs": reps}},
            "models": [{"path": "m.gguf", "sha256": "ab"}],
        }),
    )
}

#[test]
fn entries_survive_a_resume_and_a_half_written_line_is_skipped_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("r.json");
    let mut c = Checkpoint::create(&result, &header(2)).unwrap();
    c.append(&failed("a")).unwrap();
    c.append(&failed("b")).unwrap();
    drop(c);
    // a write cut short by a kill
    let mut f = OpenOptions::new()
        .append(true)
        .open(path_for(&result))
        .unwrap();
    f.write_all(br#"{"entry":"failed","lab"#).unwrap();
    drop(f);
    let (mut c, old, warnings) = Checkpoint::resume(&result, &header(2)).unwrap();
    assert_eq!(old, vec![failed("a"), failed("b")]);
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].to_string().contains("line 4"),
        "{}",
        warnings[0]
    );
    c.append(&failed("c")).unwrap();
    drop(c);
    let (_, old, warnings) = Checkpoint::resume(&result, &header(2)).unwrap();
    assert_eq!(old, vec![failed("a"), failed("b"), failed("c")]);
    assert_eq!(warnings.len(), 1, "the half line stays skipped");
}

#[test]
fn a_resume_with_another_parameter_is_refused_naming_each_key_that_differs() {
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("r.json");
    drop(Checkpoint::create(&result, &header(2)).unwrap());
    let e = Checkpoint::resume(&result, &header(3))
        .err()
        .expect("refused");
    assert!(e.is_input());
    let CheckpointError::Mismatch { differences, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(
        differences,
        &[
            "identity.parameters.stop_rule.max_runs: 2 in the checkpoint, 3 now",
            "identity.parameters.stop_rule.min_runs: 2 in the checkpoint, 3 now",
        ]
    );
    // another model file
    let mut other = header(2);
    other.identity["models"][0]["sha256"] = "cd".into();
    let e = Checkpoint::resume(&result, &other).err().expect("refused");
    assert!(
        e.to_string()
            .contains(r#"identity.models[0].sha256: "ab" in the checkpoint, "cd" now"#),
        "{e}"
    );
}

#[test]
fn a_checkpoint_without_a_header_or_without_a_file_is_not_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("r.json");
    let e = Checkpoint::resume(&result, &header(2)).err().unwrap();
    assert!(matches!(e, CheckpointError::Missing { .. }), "{e}");
    std::fs::write(
        path_for(&result),
        serde_json::to_string(&failed("a")).unwrap() + "\n",
    )
    .unwrap();
    let e = Checkpoint::resume(&result, &header(2)).err().unwrap();
    assert!(e.to_string().contains("not a header"), "{e}");
}

#[test]
fn a_new_run_never_replaces_a_checkpoint_and_two_runs_never_share_one() {
    let dir = tempfile::tempdir().unwrap();
    let result = dir.path().join("r.json");
    let held = Checkpoint::create(&result, &header(2)).unwrap();
    let e = Checkpoint::create(&result, &header(2)).err().unwrap();
    assert!(matches!(e, CheckpointError::InUse { .. }), "{e}");
    let e = Checkpoint::resume(&result, &header(2)).err().unwrap();
    assert!(matches!(e, CheckpointError::InUse { .. }), "{e}");
    drop(held);
    let e = Checkpoint::create(&result, &header(2)).err().unwrap();
    assert!(
        matches!(e, CheckpointError::Unfinished { .. }) && e.to_string().contains("--resume"),
        "{e}"
    );
    let (c, _, _) = Checkpoint::resume(&result, &header(2)).unwrap();
    c.remove().unwrap();
    assert!(!path_for(&result).exists());
    assert_eq!(
        path_for(Path::new("results/x.json")),
        PathBuf::from("results/x.json.partial.jsonl")
    );
}

#[test]
fn differences_name_keys_missing_on_either_side() {
    let then = serde_json::json!({"a": 1, "b": [1, 2]});
    let now = serde_json::json!({"a": 1, "b": [1], "c": true});
    assert_eq!(
        differences(&then, &now),
        [
            "b.len: 2 in the checkpoint, 1 now",
            "b[1]: 2 in the checkpoint, absent now",
            "c: absent in the checkpoint, true now",
        ]
    );
    assert!(differences(&then, &then).is_empty());
}
