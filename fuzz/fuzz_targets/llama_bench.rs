//! The llama-bench reader (JSON, JSONL and CSV of any llama-bench version): any text is either records or a
//! one-line error; records read, written as JSONL and read again are the same records, and writing them as CSV
//! does not fail.

use tokenmeter::results::llama_bench::{looks_like, read_str, write_csv, write_jsonl};

fn main() {
    afl::fuzz!(|data: &[u8]| {
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = looks_like(text);
            match read_str(text) {
                Err(e) => assert!(!e.is_empty() && !e.contains('\n'), "{e:?}"),
                Ok(records) if records.is_empty() => {}
                Ok(records) => {
                    let mut jsonl = Vec::new();
                    write_jsonl(&records, &mut jsonl).unwrap();
                    let again = read_str(std::str::from_utf8(&jsonl).unwrap());
                    assert_eq!(again.as_ref(), Ok(&records));
                    write_csv(&records, &mut Vec::new()).unwrap();
                }
            }
        }
    });
}
