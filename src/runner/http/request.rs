//! The body of one request: a prompt of about the asked number of tokens, and an exact output length asked for
//! in every spelling the common servers read.
//!
//! Without the server's tokenizer a prompt of exactly N tokens cannot be written; the prompt is N words drawn
//! from [`WORDS`], each one token in the BPE vocabularies of the usual model families (Llama, Qwen, Mistral,
//! GPT), seeded per request so that requests share no prefix beyond their first word. The server's
//! `usage.prompt_tokens` records what it counted (a chat template adds its own tokens).
//!
//! With `--prompt token-ids` (the completions API only) the prompt is a list of exactly N token ids drawn at
//! random below the server's vocabulary size, as in-process `load` draws them: the same prompt lengths on both
//! sides, and no prefix any cache can reuse.
//!
//! The output length: `max_tokens` (all), `ignore_eos: true` (llama-server, vLLM) and `min_tokens` (vLLM), so
//! that a server that reads them generates exactly the tokens asked for; whether it did is recorded per level
//! (`output_length_held`).

use super::Api;
use crate::exit::InputError;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Common English words that are one token each, with their leading space, in the usual BPE vocabularies.
pub const WORDS: [&str; 32] = [
    " the", " of", " and", " to", " in", " is", " that", " for", " it", " as", " with", " was",
    " on", " be", " at", " by", " this", " from", " or", " an", " are", " not", " but", " have",
    " all", " one", " they", " which", " you", " were", " her", " his",
];

/// A prompt of `n` words from `rng`.
pub fn prompt(n: u32, rng: &mut ChaCha8Rng) -> String {
    let picks: Vec<u32> = (0..n)
        .map(|_| rng.random_range(0..WORDS.len()) as u32)
        .collect();
    words(&picks)
}

/// The text of the words at `picks` (indices into [`WORDS`]).
pub fn words(picks: &[u32]) -> String {
    let mut s = String::with_capacity(picks.len() * 5);
    for (i, &k) in picks.iter().enumerate() {
        let w = WORDS[k as usize % WORDS.len()];
        s.push_str(if i == 0 { w.trim_start() } else { w });
    }
    s
}

/// What a request's prompt is made of (`--prompt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptKind {
    /// N words, each one token in the usual vocabularies (the server's count is recorded).
    Words,
    /// N random token ids below the vocabulary size (the completions API only).
    TokenIds,
}

impl PromptKind {
    pub fn parse(s: &str) -> Result<PromptKind, InputError> {
        match s {
            "words" => Ok(PromptKind::Words),
            "token-ids" => Ok(PromptKind::TokenIds),
            other => Err(InputError(format!(
                "--prompt: '{other}' is not a prompt kind (expected words or token-ids)"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PromptKind::Words => "words",
            PromptKind::TokenIds => "token-ids",
        }
    }
}

/// One request's prompt.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    Text(String),
    Ids(Vec<u32>),
}

/// A prompt of `n` random token ids below `n_vocab`, from `rng`.
pub fn prompt_ids(n: u32, n_vocab: u32, rng: &mut ChaCha8Rng) -> Vec<u32> {
    (0..n)
        .map(|_| rng.random_range(0..n_vocab.max(1)))
        .collect()
}

/// The JSON body of a streamed request to `api` for `model` (token ids go to the completions API only: the
/// caller checks).
pub fn body(api: Api, model: &str, prompt: &Prompt, output_tokens: u32) -> String {
    let mut v = serde_json::json!({
        "model": model,
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_tokens": output_tokens,
        "min_tokens": output_tokens,
        "ignore_eos": true,
    });
    match (api, prompt) {
        (Api::Chat, Prompt::Text(t)) => {
            v["messages"] = serde_json::json!([{"role": "user", "content": t}])
        }
        (Api::Chat, Prompt::Ids(_)) => {
            unreachable!("--prompt token-ids is refused with --api chat")
        }
        (Api::Completions, Prompt::Text(t)) => v["prompt"] = serde_json::Value::from(t.as_str()),
        (Api::Completions, Prompt::Ids(ids)) => v["prompt"] = serde_json::json!(ids),
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
            serde_json::from_str(&body(Api::Chat, "m", &Prompt::Text("the of".into()), 7)).unwrap();
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
            serde_json::from_str(&body(Api::Completions, "m", &Prompt::Text("the".into()), 1))
                .unwrap();
        assert_eq!(completion["prompt"], "the");
        assert!(completion.get("messages").is_none());
    }

    #[test]
    fn a_token_id_prompt_has_exactly_n_ids_below_the_vocabulary_and_goes_as_a_list() {
        let ids = prompt_ids(300, 50, &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(ids.len(), 300);
        assert!(ids.iter().all(|&t| t < 50));
        assert!(
            ids.iter().any(|&t| t >= 45),
            "ids spread over the whole vocabulary"
        );
        let v: serde_json::Value =
            serde_json::from_str(&body(Api::Completions, "m", &Prompt::Ids(vec![5, 7, 9]), 2))
                .unwrap();
        assert_eq!(v["prompt"], serde_json::json!([5, 7, 9]));
        assert_eq!(
            PromptKind::parse("token-ids").unwrap(),
            PromptKind::TokenIds
        );
        assert!(PromptKind::parse("ids")
            .unwrap_err()
            .0
            .starts_with("--prompt: 'ids'"));
    }
}
