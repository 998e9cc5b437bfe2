//! The LiteLLM price importer: any text is either converted (and written as TOML) or an error naming the file.

use tokenmeter::commands::prices::{convert, to_toml};

fn main() {
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("a valid date");
    afl::fuzz!(|data: &[u8]| {
        if let Ok(text) = std::str::from_utf8(data) {
            match convert(text, "prices.json", "litellm", as_of, None) {
                Ok(imported) => {
                    to_toml(&imported, "prices.json", "0", as_of);
                }
                Err(e) => assert!(e.to_string().starts_with("prices.json: "), "{e}"),
            }
        }
    });
}
