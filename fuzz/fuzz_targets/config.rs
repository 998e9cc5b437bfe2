//! The models.toml loader: any text is either a checked configuration or an error naming the file.

use std::path::Path;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        if let Ok(text) = std::str::from_utf8(data) {
            if let Err(e) = tokenmeter::config::Config::parse(text, Path::new("models.toml")) {
                assert!(e.to_string().contains("models.toml"), "{e}");
            }
        }
    });
}
