//! `-o json` (an array, as llama-bench) and `-o jsonl` (one record per line).

use super::Exporter;
use crate::results::CaseRecord;

pub struct Json {
    pub lines: bool,
}

impl Exporter for Json {
    fn render(&self, records: &[CaseRecord]) -> String {
        if self.lines {
            records
                .iter()
                .map(|r| serde_json::to_string(r).expect("record serializes") + "\n")
                .collect()
        } else {
            serde_json::to_string_pretty(records).expect("records serialize") + "\n"
        }
    }
}
