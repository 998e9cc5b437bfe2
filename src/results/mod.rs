//! Result files: the versioned schema, provenance, the per-case record (llama-bench's field names plus
//! tokenmeter's own), atomic writing, reading with a schema check, and named baselines.

pub mod baseline;
pub mod file;
pub mod http;
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
