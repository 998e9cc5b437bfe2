//! The engine on a synthesized model, in-process: the tokenizer round-trips any text.

mod common;
use tokenmeter::engine::{load_model, ModelParams};

#[test]
fn synthesized_tokenizer_round_trips_any_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = common::synth_tiny(dir.path(), "tiny.gguf", "q4_0", 1);
    let model = load_model(
        &path,
        ModelParams {
            n_gpu_layers: 0,
            use_mmap: true,
            repack: true,
            no_amx: false,
        },
        false,
    )
    .unwrap();
    assert_eq!(model.n_vocab, 512);
    for text in [
        "Hello, world!",
        "tabs\tand\nnewlines",
        "ünïcödé — 日本語 🎉",
        "a  b   c",
    ] {
        let tokens = model.tokenize(text);
        assert_eq!(tokens[0], 1, "starts with BOS");
        let back = model.detokenize(&tokens);
        assert_eq!(back.trim_start_matches(' '), text, "tokens {tokens:?}");
    }
}
