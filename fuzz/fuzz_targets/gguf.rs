//! The GGUF reader and check behind `inspect` and `bench`: any bytes are either a model or an error naming the file.

use std::io::Cursor;
use std::path::Path;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let path = Path::new("fuzz.gguf");
        if let Err(e) = tokenmeter::gguf::inspect::read_model_info_from(
            Cursor::new(data),
            data.len() as u64,
            path,
        ) {
            assert!(e.to_string().starts_with("fuzz.gguf: "), "{e}");
        }
    });
}
