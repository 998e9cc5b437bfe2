//! The body of one request: a prompt of about the asked number of tokens, and an exact output length asked for
//! in every spelling the common servers read.
//!
//! Without the server's tokenizer a prompt of exactly N tokens cannot be written; the prompt is N words drawn
//! from [`WORDS`], each one token in the BPE vocabularies of the usual model families (Llama, Qwen, Mistral,
//! GPT), seeded per request so that requests share no prefix beyond their first word. The server's
//! `usage.prompt_tokens` records what it counted (a chat template adds its own tokens).
//!
//! The output length: `max_tokens` (all), `ignore_eos: true` (llama-server, vLLM) and `min_tokens` (vLLM), so
//! that a server that reads them generates exactly the tokens asked for; whether it did is recorded per level
//! (`output_length_held`).

use super::Api;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Common English words that are one token each, with their leading space, in the usual BPE vocabularies.
pub const WORDS: [&str; 32] = [
    " the", " of", " and", " to", " in", " is", " that", " for", " it", " as", " with", " was",
    " on", " be", " at", " by", " this", " from", " or", " an", " are", " not", " but", " have",
    " all", " one", " they", " which", " you", " were", " her", " his",
];

/// A prompt of `n` words from `rng`.
pub fn prompt(n: u32, rng: &mut ChaCha8Rng) -> String {
    let mut s = String::with_capacity(n as usize * 5);
    for i in 0..n {
        let w = WORDS[rng.random_range(0..WORDS.len())];
        s.push_str(if i == 0 { w.trim_start() } else { w });
    }
    s
}

/// The JSON body of a streamed request to `api` for `model`.
pub fn body(api: Api, model: &str, prompt: &str, output_tokens: u32) -> String {
    let mut v = serde_json::json!({
        "model": model,
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_tokens": output_tokens,
        "min_tokens": output_tokens,
        "ignore_eos": true,
    });
    match api {
        Api::Chat => v["messages"] = serde_json::json!([{"role": "user", "content": prompt}]),
        Api::Completions => v["prompt"] = serde_json::Value::from(prompt),
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_prompt_has_the_asked_number_of_words_and_its_seed_decides_them() {
        let p = prompt(40, &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(p.split(' ').count(), 40);
        assert!(!p.starts_with(' '));
        assert_eq!(p, prompt(40, &mut ChaCha8Rng::seed_from_u64(3)));
        assert_ne!(p, prompt(40, &mut ChaCha8Rng::seed_from_u64(4)));
    }

    #[test]
    fn the_body_asks_for_a_stream_with_usage_and_an_exact_output_length() {
        let chat: serde_json::Value =
            serde_json::from_str(&body(Api::Chat, "m", "the of", 7)).unwrap();
        assert_eq!(chat["model"], "m");
        assert_eq!(chat["stream"], true);
        assert_eq!(chat["stream_options"]["include_usage"], true);
        assert_eq!(
            (
                &chat["max_tokens"],
                &chat["min_tokens"],
                &chat["ignore_eos"]
            ),
            (&7.into(), &7.into(), &true.into())
        );
        assert_eq!(chat["messages"][0]["content"], "the of");
        assert!(chat.get("prompt").is_none());
        let completion: serde_json::Value =
            serde_json::from_str(&body(Api::Completions, "m", "the", 1)).unwrap();
        assert_eq!(completion["prompt"], "the");
        assert!(completion.get("messages").is_none());
    }
}
