//! Result files: the versioned schema, provenance, the per-case record (llama-bench's field names plus
//! tokenmeter's own), atomic writing, and reading with a schema check.

pub mod file;
pub mod llama_bench;
pub mod load;
pub mod provenance;
pub mod record;
pub mod slo;
pub mod telemetry;
pub mod warnings;

pub use file::{
    default_path, read_result, FailedCase, ModelEntry, ResultFile, ToolInfo, SCHEMA_VERSION,
};
pub use provenance::HostInfo;
pub use record::{summarize, CaseRecord, Summary};
pub use warnings::Warning;
