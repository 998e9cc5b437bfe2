//! The result-file reader (schema check and migrations): any text is either a result file or an error naming it.

use std::path::Path;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        if let Ok(text) = std::str::from_utf8(data) {
            let path = Path::new("result.json");
            if let Err(e) = tokenmeter::results::file::read_result_str(text, path) {
                assert!(e.to_string().contains("result.json"), "{e}");
            }
        }
    });
}
