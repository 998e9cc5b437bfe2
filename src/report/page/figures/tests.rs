use super::wrap;

#[test]
fn long_model_names_wrap_after_separators() {
    assert_eq!(
        wrap("qwen2.5-0.5b-q4_0-seed1", 14),
        "qwen2.5-0.5b-\nq4_0-seed1"
    );
    assert_eq!(wrap("tiny", 14), "tiny");
    assert_eq!(
        wrap("averyveryverylongname", 8),
        "averyveryverylongname",
        "a piece longer than the width stays whole"
    );
    assert!(wrap("llama-3.2-1b-q4_0-seed1", 10)
        .lines()
        .all(|l| l.len() <= 10));
}
