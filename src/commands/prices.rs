//! `tokenmeter prices import FILE`: LiteLLM's `model_prices_and_context_window.json` (USD per token) into
//! `[[cloud]]` TOML entries (USD per 1M tokens), with the source file's sha256 and date. Never touches the network.

use super::InputError;
use crate::config::CloudEntry;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub file: PathBuf,
    pub out: Option<PathBuf>,
    pub filter: Option<String>,
}

/// Entries left out, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skipped {
    pub sample_spec: usize,
    pub not_chat_or_completion: usize,
    pub zero_or_missing_price: usize,
    pub no_provider: usize,
    pub filtered_out: usize,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} sample_spec, {} not chat or completion, {} without a non-zero input and output price, {} without \
             litellm_provider, {} not matching --filter",
            self.sample_spec, self.not_chat_or_completion, self.zero_or_missing_price, self.no_provider, self.filtered_out
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub entries: Vec<CloudEntry>,
    pub skipped: Skipped,
}

/// A price in USD per token at `name.key`: absent, or a number ≥ 0.
fn price(
    file: &str,
    name: &str,
    v: &Map<String, Value>,
    key: &str,
) -> Result<Option<f64>, InputError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if x.is_finite() && x >= 0.0 {
                Ok(Some(x))
            } else {
                Err(InputError(format!(
                    "{file}: \"{name}\".{key}: expected a price ≥ 0 in USD per token, got {n}"
                )))
            }
        }
        Some(other) => Err(InputError(format!(
            "{file}: \"{name}\".{key}: expected a number (USD per token), got {other}"
        ))),
    }
}

/// USD per token → USD per 1M tokens, without the binary noise of the multiplication (2.4999999999999996 → 2.5).
fn per_1m(usd_per_token: f64) -> f64 {
    format!("{:.10}", usd_per_token * 1e6)
        .parse()
        .unwrap_or(f64::NAN)
}

/// Converts the text of a LiteLLM price file. `file` names it in errors; `source` and `as_of` go into every entry.
pub fn convert(
    text: &str,
    file: &str,
    source: &str,
    as_of: NaiveDate,
    filter: Option<&str>,
) -> Result<Imported, InputError> {
    let root: Value = serde_json::from_str(text).map_err(|e| {
        InputError(format!(
            "{file}: not a LiteLLM price file: {e} (expected a JSON object of model name → prices)"
        ))
    })?;
    let map = root.as_object().ok_or_else(|| {
        InputError(format!(
            "{file}: not a LiteLLM price file: expected a JSON object of model name → prices"
        ))
    })?;
    let date = toml::value::Datetime {
        date: Some(toml::value::Date {
            year: chrono::Datelike::year(&as_of) as u16,
            month: chrono::Datelike::month(&as_of) as u8,
            day: chrono::Datelike::day(&as_of) as u8,
        }),
        time: None,
        offset: None,
    };
    let filter = filter.map(str::to_lowercase);
    let mut skipped = Skipped::default();
    let mut entries = Vec::new();
    for (name, v) in map {
        if name == "sample_spec" {
            skipped.sample_spec += 1;
            continue;
        }
        let v = v.as_object().ok_or_else(|| {
            InputError(format!(
                "{file}: \"{name}\": expected an object of prices, got {v}"
            ))
        })?;
        match v.get("mode").and_then(Value::as_str) {
            Some("chat" | "completion") => {}
            _ => {
                skipped.not_chat_or_completion += 1;
                continue;
            }
        }
        let input = price(file, name, v, "input_cost_per_token")?;
        let output = price(file, name, v, "output_cost_per_token")?;
        let cached = price(file, name, v, "cache_read_input_token_cost")?;
        let batch_in = price(file, name, v, "input_cost_per_token_batches")?;
        let batch_out = price(file, name, v, "output_cost_per_token_batches")?;
        let (input, output) = match (input, output) {
            (Some(i), Some(o)) if i > 0.0 && o > 0.0 => (i, o),
            _ => {
                skipped.zero_or_missing_price += 1;
                continue;
            }
        };
        let Some(provider) = v.get("litellm_provider").and_then(Value::as_str) else {
            skipped.no_provider += 1;
            continue;
        };
        if let Some(f) = &filter {
            if !name.to_lowercase().contains(f) && !provider.to_lowercase().contains(f) {
                skipped.filtered_out += 1;
                continue;
            }
        }
        entries.push(CloudEntry {
            provider: provider.to_string(),
            model: name.clone(),
            usd_per_1m_input: per_1m(input),
            usd_per_1m_output: per_1m(output),
            usd_per_1m_cached_input: cached.map(per_1m),
            usd_per_1m_batch_input: batch_in.map(per_1m),
            usd_per_1m_batch_output: batch_out.map(per_1m),
            as_of: date,
            source: source.to_string(),
            notes: None,
        });
    }
    Ok(Imported { entries, skipped })
}

#[derive(Serialize)]
struct CloudFile<'a> {
    cloud: &'a [CloudEntry],
}

/// The TOML text: a header saying where the prices came from, then one `[[cloud]]` per entry.
pub fn to_toml(imported: &Imported, file: &str, sha256: &str, as_of: NaiveDate) -> String {
    let body = toml::to_string(&CloudFile {
        cloud: &imported.entries,
    })
    .expect("cloud entries serialize");
    format!(
        "# [[cloud]] prices in USD per 1M tokens, imported by `tokenmeter prices import` from {file}\n\
         # (LiteLLM model_prices_and_context_window.json), sha256 {sha256}, file dated {as_of} (its as_of).\n\
         # {} entries; skipped: {}.\n\n{body}",
        imported.entries.len(),
        imported.skipped
    )
}

/// The summary printed on stderr.
pub struct ImportOutcome {
    pub toml: String,
    pub written: Option<PathBuf>,
    pub entries: usize,
    pub skipped: Skipped,
}

fn file_date(path: &Path) -> Option<NaiveDate> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(DateTime::<Utc>::from(modified).date_naive())
}

pub fn import(o: &ImportOptions) -> anyhow::Result<ImportOutcome> {
    let file = o.file.display().to_string();
    let bytes =
        std::fs::read(&o.file).map_err(|e| InputError(format!("{file}: cannot read: {e}")))?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| InputError(format!("{file}: not UTF-8 text")))?;
    let sha256 = {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&bytes);
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let as_of = file_date(&o.file).unwrap_or_else(|| Utc::now().date_naive());
    let name = o
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.clone());
    let source = format!("LiteLLM price file {name}, sha256 {sha256}");
    let imported = convert(text, &file, &source, as_of, o.filter.as_deref())?;
    let toml = to_toml(&imported, &name, &sha256, as_of);
    if let Some(out) = &o.out {
        crate::fsutil::write_atomic(out, toml.as_bytes())
            .map_err(|e| InputError(format!("{}: cannot write: {e}", out.display())))?;
    }
    Ok(ImportOutcome {
        written: o.out.clone(),
        entries: imported.entries.len(),
        skipped: imported.skipped,
        toml,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const FILE: &str = r#"{
      "sample_spec": {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0, "litellm_provider": "one of", "mode": "one of"},
      "gpt-4o": {"input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05, "cache_read_input_token_cost": 1.25e-06,
                 "input_cost_per_token_batches": 1.25e-06, "output_cost_per_token_batches": 5e-06,
                 "litellm_provider": "openai", "mode": "chat", "max_tokens": 16384},
      "text-embedding-3-small": {"input_cost_per_token": 2e-08, "output_cost_per_token": 0.0, "litellm_provider": "openai", "mode": "embedding"},
      "ollama/llama3": {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0, "litellm_provider": "ollama", "mode": "chat"},
      "claude-3-5-haiku-20241022": {"input_cost_per_token": 8e-07, "output_cost_per_token": 4e-06, "litellm_provider": "anthropic", "mode": "chat"}
    }"#;

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, 1).unwrap()
    }

    #[test]
    fn chat_models_with_prices_become_cloud_entries_per_million_tokens() {
        let i = convert(FILE, "p.json", "src", date(), None).unwrap();
        assert_eq!(i.entries.len(), 2);
        let gpt = i.entries.iter().find(|e| e.model == "gpt-4o").unwrap();
        assert_eq!(gpt.provider, "openai");
        assert_eq!(gpt.usd_per_1m_input, 2.5);
        assert_eq!(gpt.usd_per_1m_output, 10.0);
        assert_eq!(gpt.usd_per_1m_cached_input, Some(1.25));
        assert_eq!(gpt.usd_per_1m_batch_output, Some(5.0));
        assert_eq!(
            i.skipped,
            Skipped {
                sample_spec: 1,
                not_chat_or_completion: 1,
                zero_or_missing_price: 1,
                no_provider: 0,
                filtered_out: 0
            }
        );
    }

    #[test]
    fn the_written_toml_reads_back_as_configuration() {
        let i = convert(FILE, "p.json", "LiteLLM, sha256 abc", date(), Some("HAIKU")).unwrap();
        assert_eq!(i.entries.len(), 1);
        let text = to_toml(&i, "p.json", "abc", date());
        let c = Config::parse(&text, Path::new("prices.toml")).unwrap();
        assert_eq!(c.cloud, i.entries);
        assert_eq!(c.cloud[0].as_of.to_string(), "2025-06-01");
    }

    #[test]
    fn a_malformed_price_names_the_entry_and_key() {
        let bad = FILE.replace(
            "\"input_cost_per_token\": 2.5e-06",
            "\"input_cost_per_token\": \"cheap\"",
        );
        let e = convert(&bad, "p.json", "s", date(), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "p.json: \"gpt-4o\".input_cost_per_token: expected a number (USD per token), got \"cheap\""
        );
        let e = convert("[1, 2]", "p.json", "s", date(), None).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("p.json: not a LiteLLM price file"),
            "{e}"
        );
        let neg = FILE.replace("2.5e-06", "-2.5e-06");
        assert!(convert(&neg, "p.json", "s", date(), None)
            .unwrap_err()
            .to_string()
            .contains("≥ 0"));
    }
}
