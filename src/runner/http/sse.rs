//! Reading an OpenAI-compatible stream: server-sent events (`data: {…}` lines, `data: [DONE]` at the end) whose
//! payloads are chat or completion chunks. Pure: a line in, what it says out; the client times the lines.

use super::Api;

/// What one line of the stream says.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// A chunk: its output text's length in characters (0 for a chunk with none: a role, a finish reason, the
    /// usage alone), and the usage when it carries one.
    Chunk {
        chars: u32,
        /// The output text itself (kept to be counted by the server's tokenizer when it gives no `usage`).
        text: String,
        usage: Option<Usage>,
        /// The chunk names why the output ended (`stop`, `length`).
        finished: bool,
    },
    /// `data: [DONE]`: the stream's end.
    Done,
    /// An error object in place of a chunk (vLLM, llama-server mid-stream).
    Error(String),
    /// A blank line, a comment (`: ping`), an `event:`, `id:` or `retry:` field: nothing to record.
    Nothing,
}

/// A chunk's `usage` (and llama-server's `timings` beside it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    /// `prompt_tokens_details.cached_tokens`: prompt tokens the server took from its prefix cache.
    pub cached_tokens: Option<u32>,
    /// llama-server's `timings.prompt_ms` and `timings.predicted_ms`: its own time for the prompt and for the
    /// output tokens after the first.
    pub server_prompt_ms: Option<f64>,
    pub server_decode_ms: Option<f64>,
}

/// Why a line is not a stream of `api`'s chunks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

/// The first `n` characters of `s`, for a message.
fn head(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        out.push('…');
    }
    out
}

/// Reads one line (without its line end) of an `api` stream.
pub fn parse_line(line: &str, api: Api) -> Result<Line, Malformed> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.is_empty() || line.starts_with(':') {
        return Ok(Line::Nothing);
    }
    let Some(data) = line.strip_prefix("data:") else {
        let field = line.split(':').next().unwrap_or_default();
        return match field {
            "event" | "id" | "retry" => Ok(Line::Nothing),
            _ => Err(Malformed(format!(
                "not a server-sent event line: '{}'",
                head(line, 80)
            ))),
        };
    };
    let data = data.trim_start();
    if data == "[DONE]" {
        return Ok(Line::Done);
    }
    let v: serde_json::Value = serde_json::from_str(data).map_err(|e| {
        Malformed(format!(
            "a data line that is not JSON ({e}): '{}'",
            head(data, 80)
        ))
    })?;
    if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
        let message = e
            .get("message")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| e.to_string());
        return Ok(Line::Error(head(&message, 200)));
    }
    let choices = v
        .get("choices")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| Malformed(format!("a chunk without choices: '{}'", head(data, 80))))?;
    let text_of = |c: &serde_json::Value| -> String {
        let pieces: Vec<&serde_json::Value> = match api {
            // a reasoning model's thinking is output too (llama-server's and vLLM's `reasoning_content`)
            Api::Chat => c
                .get("delta")
                .into_iter()
                .flat_map(|d| [d.get("content"), d.get("reasoning_content")])
                .flatten()
                .collect(),
            Api::Completions => c.get("text").into_iter().collect(),
        };
        pieces.iter().filter_map(|p| p.as_str()).collect()
    };
    let text: String = choices.iter().map(text_of).collect();
    let chars = text.chars().count() as u32;
    let finished = choices
        .iter()
        .any(|c| c.get("finish_reason").is_some_and(|f| !f.is_null()));
    let usage = v.get("usage").filter(|u| u.is_object()).map(|u| {
        let n = |k: &str| {
            u.pointer(k)
                .and_then(serde_json::Value::as_u64)
                .and_then(|x| u32::try_from(x).ok())
        };
        Usage {
            prompt_tokens: n("/prompt_tokens"),
            completion_tokens: n("/completion_tokens"),
            cached_tokens: n("/prompt_tokens_details/cached_tokens"),
            server_prompt_ms: v
                .pointer("/timings/prompt_ms")
                .and_then(serde_json::Value::as_f64),
            server_decode_ms: v
                .pointer("/timings/predicted_ms")
                .and_then(serde_json::Value::as_f64),
        }
    });
    Ok(Line::Chunk {
        chars,
        text,
        usage,
        finished,
    })
}

/// Token times of a stream whose chunks with text arrived at `times` carrying `chars` characters each, when the
/// server counted `usage` output tokens: one token per chunk when the counts agree (or the server gave none);
/// with more tokens than chunks, the extra ones go to the chunks with the most characters per token so far
/// (each chunk's tokens at its arrival); with fewer, the first `usage − 1` chunk times and the last. Returns the
/// times and how many chunks carried more than one token.
pub fn token_times(times: &[u64], chars: &[u32], usage: Option<u32>) -> (Vec<u64>, u32) {
    let c = times.len();
    let u = match usage {
        Some(u) if u as usize != c && c > 0 => u as usize,
        _ => return (times.to_vec(), 0),
    };
    if u < c {
        let mut out: Vec<u64> = times[..u.saturating_sub(1)].to_vec();
        if u > 0 {
            out.push(times[c - 1]);
        }
        return (out, 0);
    }
    let mut tokens = vec![1u32; c];
    for _ in c..u {
        // the chunk with the most characters per token it has been given (the first of equals)
        let (i, _) = chars.iter().zip(&tokens).enumerate().fold(
            (0usize, -1.0f64),
            |best, (i, (&ch, &k))| {
                let per = f64::from(ch) / f64::from(k);
                if per > best.1 {
                    (i, per)
                } else {
                    best
                }
            },
        );
        tokens[i] += 1;
    }
    let out = times
        .iter()
        .zip(&tokens)
        .flat_map(|(&t, &k)| std::iter::repeat_n(t, k as usize))
        .collect();
    (out, tokens.iter().filter(|&&k| k > 1).count() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_chunks_give_their_text_length_usage_and_end() {
        let chunk = |s: &str| parse_line(s, Api::Chat).unwrap();
        assert_eq!(
            chunk(r#"data: {"choices":[{"delta":{"role":"assistant"}}]}"#),
            Line::Chunk {
                chars: 0,
                text: String::new(),
                usage: None,
                finished: false
            }
        );
        assert_eq!(
            chunk(r#"data: {"choices":[{"delta":{"content":"héllo"},"finish_reason":null}]}"#),
            Line::Chunk {
                chars: 5,
                text: "héllo".into(),
                usage: None,
                finished: false
            }
        );
        assert_eq!(
            chunk(
                r#"data: {"choices":[{"delta":{"reasoning_content":"ab","content":null},"finish_reason":"length"}]}"#
            ),
            Line::Chunk {
                chars: 2,
                text: "ab".into(),
                usage: None,
                finished: true
            }
        );
        assert_eq!(
            chunk(
                r#"data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":8,"prompt_tokens_details":{"cached_tokens":5}},"timings":{"prompt_ms":3.5,"predicted_ms":20.25}}"#
            ),
            Line::Chunk {
                chars: 0,
                text: String::new(),
                usage: Some(Usage {
                    prompt_tokens: Some(12),
                    completion_tokens: Some(8),
                    cached_tokens: Some(5),
                    server_prompt_ms: Some(3.5),
                    server_decode_ms: Some(20.25)
                }),
                finished: false
            }
        );
        assert_eq!(chunk("data: [DONE]"), Line::Done);
        assert_eq!(chunk(": ping"), Line::Nothing);
        assert_eq!(chunk("event: message\r"), Line::Nothing);
        assert_eq!(chunk(""), Line::Nothing);
    }

    #[test]
    fn completion_chunks_read_their_text() {
        assert_eq!(
            parse_line(r#"data:{"choices":[{"text":"abc"}]}"#, Api::Completions).unwrap(),
            Line::Chunk {
                chars: 3,
                text: "abc".into(),
                usage: None,
                finished: false
            }
        );
    }

    #[test]
    fn an_error_object_and_malformed_lines_are_told_apart() {
        assert_eq!(
            parse_line(
                r#"data: {"error":{"message":"out of memory","code":500}}"#,
                Api::Chat
            )
            .unwrap(),
            Line::Error("out of memory".into())
        );
        let e = parse_line("data: {not json", Api::Chat).unwrap_err().0;
        assert!(e.starts_with("a data line that is not JSON"), "{e}");
        let e = parse_line("<html>", Api::Chat).unwrap_err().0;
        assert_eq!(e, "not a server-sent event line: '<html>'");
        let e = parse_line(r#"data: {"id":1}"#, Api::Chat).unwrap_err().0;
        assert_eq!(e, r#"a chunk without choices: '{"id":1}'"#);
    }

    #[test]
    fn one_token_per_chunk_when_the_counts_agree_or_no_usage() {
        assert_eq!(
            token_times(&[5, 7, 9], &[3, 3, 3], Some(3)),
            (vec![5, 7, 9], 0)
        );
        assert_eq!(
            token_times(&[5, 7, 9], &[3, 3, 3], None),
            (vec![5, 7, 9], 0)
        );
        assert_eq!(token_times(&[], &[], Some(4)), (vec![], 0));
    }

    #[test]
    fn extra_tokens_go_to_the_chunks_with_the_most_text() {
        // 6 tokens in 3 chunks of 2, 9 and 4 characters: the 9-character chunk carries 3, the 4-character one 2
        assert_eq!(
            token_times(&[10, 20, 30], &[2, 9, 4], Some(6)),
            (vec![10, 20, 20, 20, 30, 30], 2)
        );
    }

    #[test]
    fn fewer_tokens_than_chunks_keep_the_first_times_and_the_last() {
        assert_eq!(
            token_times(&[1, 2, 3, 4], &[1, 1, 1, 1], Some(2)),
            (vec![1, 4], 0)
        );
        assert_eq!(
            token_times(&[1, 2, 3, 4], &[1, 1, 1, 1], Some(0)),
            (vec![], 0)
        );
    }
}
