use super::*;
use std::io::Write;

fn ended(p: &Planned) -> RequestSample {
    RequestSample {
        input_tokens: p.input_tokens,
        output_tokens: p.output_tokens,
        arrival_ns: 0,
        admitted_ns: None,
        token_ns: Vec::new(),
        completed: true,
        failure: None,
        stream: None,
        origin: Some(p.origin.clone()),
    }
}

#[test]
fn a_session_grows_by_each_turns_answer_and_message_and_repeats_its_previous_prompt() {
    let mut planner = Planner::default();
    let mt = (3, 20);
    let t0 = planner.multi_turn(mt, None, 8, 5);
    assert_eq!(t0.input_tokens, 28);
    assert_eq!(
        t0.origin.reusable_prefix_tokens, 0,
        "nothing was sent before"
    );
    let t1 = planner.multi_turn(mt, Some(&ended(&t0)), 8, 5);
    assert_eq!(
        (
            t1.input_tokens,
            t1.origin.turn,
            t1.origin.session.as_deref()
        ),
        (28 + 5 + 8, Some(1), Some("s0"))
    );
    assert_eq!(t1.origin.reusable_prefix_tokens, 28);
    let t2 = planner.multi_turn(mt, Some(&ended(&t1)), 8, 5);
    assert_eq!((t2.input_tokens, t2.origin.turn), (41 + 5 + 8, Some(2)));
    // the session had its 3 turns: the client starts a new one, which shares the system prompt
    let next = planner.multi_turn(mt, Some(&ended(&t2)), 8, 5);
    assert_eq!(
        (next.origin.session.as_deref(), next.origin.turn),
        (Some("s1"), Some(0))
    );
    assert_eq!(next.origin.reusable_prefix_tokens, 20);
    assert_eq!(
        RequestPattern::MultiTurn {
            turns: 3,
            system_tokens: 20
        }
        .max_lengths(&Lengths::Fixed(8), &Lengths::Fixed(5)),
        (54, 5)
    );

    // the prompts repeat exactly what the plan says
    let p = |x: &Planned| prompt(7, &x.source, x.input_tokens, 1000).unwrap();
    let (a, b, c, d) = (p(&t0), p(&t1), p(&t2), p(&next));
    assert_eq!(a.len(), 28);
    assert_eq!(&b[..28], &a[..]);
    assert_eq!(&c[..41], &b[..]);
    assert_eq!(&d[..20], &a[..20], "the system prompt is shared");
    assert_ne!(d[20..], a[20..], "sessions differ after it");
    assert_ne!(
        prompt(8, &t0.source, 28, 1000).unwrap(),
        a,
        "the seed decides the tokens"
    );
    assert!(a.iter().all(|&t| t < 1000));
    assert_eq!(prompt(7, &PromptSource::Random, 5, 10), None);
}

fn write_trace(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

#[test]
fn a_mooncake_trace_is_imported_with_its_blocks_and_shared_blocks_are_reusable() {
    let f = write_trace(concat!(
        r#"{"timestamp": 1000, "input_length": 1200, "output_length": 10, "hash_ids": [1, 2, 3]}"#,
        "\n",
        r#"{"timestamp": 1500, "input_length": 700, "output_length": 20, "hash_ids": [1, 2]}"#,
        "\n\n",
        r#"{"timestamp": 1250, "input_length": 600, "output_length": 5, "hash_ids": [1, 9]}"#,
        "\n"
    ));
    let t = read_trace(f.path()).unwrap();
    assert_eq!(t.format, TraceFormat::Mooncake);
    assert_eq!(t.block_tokens, 512);
    assert_eq!(t.sha256.len(), 64);
    // arrival order, offsets from the first
    let arrivals: Vec<(u32, f64)> = t.requests.iter().map(|r| (r.line, r.arrival_ms)).collect();
    assert_eq!(arrivals, [(1, 0.0), (4, 250.0), (2, 500.0)]);
    assert_eq!(t.rate_per_s(), Some(4.0));
    let mut planner = Planner::default();
    let plans: Vec<Planned> = (0..3).map(|i| planner.trace(&t, i)).collect();
    let reuse: Vec<u32> = plans
        .iter()
        .map(|p| p.origin.reusable_prefix_tokens)
        .collect();
    // [1,9] shares block 1 with [1,2,3]; [1,2] shares both of its blocks (capped at its 700 tokens)
    assert_eq!(reuse, [0, 512, 700]);
    let p: Vec<Vec<u32>> = plans
        .iter()
        .map(|x| prompt(1, &x.source, x.input_tokens, 50_000).unwrap())
        .collect();
    assert_eq!(p[0].len(), 1200);
    assert_eq!(p[1][..512], p[0][..512]);
    assert_ne!(p[1][512..600], p[0][512..600]);
    assert_eq!(p[2][..], p[0][..700]);
    let pattern = RequestPattern::Trace {
        trace: t.clone(),
        speed: 2.0,
    };
    assert_eq!(
        pattern.schedule(None, None).unwrap(),
        [0, 125_000_000, 250_000_000]
    );
    assert_eq!(pattern.schedule(Some(2), None).unwrap(), [0, 125_000_000]);
    assert_eq!(
        pattern.schedule(None, Some(200_000_000)).unwrap(),
        [0, 125_000_000]
    );
}

#[test]
fn a_tokenmeter_trace_has_sessions_whose_prompts_extend_each_other() {
    let f = write_trace(concat!(
        r#"{"arrival_ms": 0, "input_tokens": 30, "output_tokens": 4, "session": "a"}"#,
        "\n",
        r#"{"arrival_ms": 10, "input_tokens": 50, "output_tokens": 4, "session": "a"}"#,
        "\n",
        r#"{"arrival_ms": 20, "input_tokens": 40, "output_tokens": 4, "session": 7}"#,
        "\n",
        r#"{"arrival_ms": 30, "input_tokens": 40, "output_tokens": 4}"#,
        "\n"
    ));
    let t = read_trace(f.path()).unwrap();
    assert_eq!(t.format, TraceFormat::Tokenmeter);
    assert_eq!(t.requests[2].session.as_deref(), Some("7"));
    let mut planner = Planner::default();
    let plans: Vec<Planned> = (0..4).map(|i| planner.trace(&t, i)).collect();
    let reuse: Vec<u32> = plans
        .iter()
        .map(|p| p.origin.reusable_prefix_tokens)
        .collect();
    assert_eq!(reuse, [0, 30, 0, 0]);
    let p: Vec<Vec<u32>> = plans
        .iter()
        .map(|x| prompt(1, &x.source, x.input_tokens, 300).unwrap())
        .collect();
    assert_eq!(p[1][..30], p[0][..]);
    assert_ne!(p[2][..30], p[0][..]);
    assert_ne!(p[3][..30], p[2][..30]);
    assert_eq!(plans[1].origin.trace_line, Some(2));
}

#[test]
fn a_bad_trace_line_is_named_by_file_and_line() {
    for (text, needle) in [
        ("", "no requests"),
        (
            "{\"arrival_ms\": 0, \"input_tokens\": 3}\n",
            ":1: no output length",
        ),
        (
            "{\"arrival_ms\": 0, \"input_tokens\": 3, \"output_tokens\": 1}\n{\"timestamp\": 1}\n",
            ":2: mixes Mooncake keys",
        ),
        (
            "{\"arrival_ms\": -1, \"input_tokens\": 3, \"output_tokens\": 1}\n",
            "is not a time",
        ),
        ("{\"arrival\": 0}\n", ":1: not a trace line"),
        ("not json\n", ":1: not a trace line"),
    ] {
        let f = write_trace(text);
        let e = read_trace(f.path()).unwrap_err().0;
        assert!(
            e.starts_with(&format!("--trace: {}", f.path().display())) && e.contains(needle),
            "{e}"
        );
    }
}
