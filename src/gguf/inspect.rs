//! Reading and validating a GGUF file's header and tensor table before llama.cpp sees it, and summarising it.

use super::check;
use gguf_rs_lib::format::MetadataValue;
use gguf_rs_lib::reader::{GGUFFileReader, GGUFReaderConfig};
use gguf_rs_lib::GGUFError;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::{Path, PathBuf};

/// Upper bound on memory per metadata byte once decoded: gguf-rs-lib charges `size_of::<MetadataValue>()` (32
/// bytes on 64-bit targets) per array element, the smallest of which is one byte in the file.
const DECODED_BYTES_PER_FILE_BYTE: u64 = 48;
/// Decoded-metadata allowance on top of the per-byte bound (the reader's fixed per-entry charges).
const DECODED_SLACK_BYTES: u64 = 1 << 16;

/// Why a file is not a usable GGUF model. Displays as one line naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {what}")]
pub struct ModelFileError {
    pub path: PathBuf,
    pub what: String,
}

pub use crate::results::file::TypeShare;

/// What `inspect` reports about a model file.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub path: PathBuf,
    pub file_size_bytes: u64,
    pub sha256: Option<String>,
    pub gguf_version: u32,
    pub architecture: Option<String>,
    pub name: Option<String>,
    pub n_params: u64,
    pub n_tensors: usize,
    pub tensor_types: BTreeMap<String, TypeShare>,
    /// Bytes of weights one generated token reads: every tensor except the token-embedding table, of which a
    /// token reads one row (unless the output projection is tied to it, when the whole table is read).
    pub weights_read_per_token_bytes: u64,
    pub context_length: Option<u64>,
    pub embedding_length: Option<u64>,
    pub block_count: Option<u64>,
    pub vocab_size: Option<u64>,
    pub file_type: Option<u64>,
    /// Scalar metadata as text; arrays as `[type; length]`.
    pub metadata: BTreeMap<String, String>,
}

fn describe(e: GGUFError, file_size: u64) -> String {
    match e {
        GGUFError::InvalidMagic { found, .. } => format!(
            "not a GGUF file (first four bytes are {:?}, expected \"GGUF\")",
            String::from_utf8_lossy(&found.to_le_bytes())
        ),
        GGUFError::UnexpectedEof if file_size == 0 => "empty file (0 bytes)".to_string(),
        GGUFError::UnexpectedEof => {
            format!("truncated: the header or tensor table ends past the end of the file ({file_size} bytes)")
        }
        GGUFError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof && file_size == 0 => {
            "empty file (0 bytes)".to_string()
        }
        GGUFError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("truncated: the header or tensor table ends past the end of the file ({file_size} bytes)")
        }
        GGUFError::UnsupportedVersion(v) => format!("unsupported GGUF version {v} (expected 3)"),
        other => format!("corrupt GGUF: {other}"),
    }
}

fn value_text(v: &MetadataValue) -> String {
    match v {
        MetadataValue::Array(a) => {
            let ty = a
                .iter()
                .next()
                .map(|x| x.value_type().to_string())
                .unwrap_or_default();
            format!("[{ty}; {}]", a.len())
        }
        MetadataValue::String(s) if s.chars().count() > 120 => {
            format!("{}…", s.chars().take(120).collect::<String>())
        }
        other => other.to_string_representation(),
    }
}

/// Reads the header, metadata and tensor table of `path` and checks them (see `check`): every tensor's data lies
/// inside the file and everything llama.cpp reads is well-formed. Never reads tensor data; never panics on malformed
/// input.
pub fn read_model_info(path: &Path) -> Result<ModelInfo, ModelFileError> {
    let err = |what: String| ModelFileError {
        path: path.to_path_buf(),
        what,
    };
    let file = File::open(path).map_err(|e| err(format!("cannot open: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| err(format!("cannot stat: {e}")))?;
    if meta.is_dir() {
        return Err(err("is a directory, expected a .gguf file".into()));
    }
    read_model_info_from(BufReader::new(file), meta.len(), path)
}

/// `read_model_info` over any seekable bytes of `file_size` bytes; `path` names them in errors.
pub fn read_model_info_from<R: Read + Seek>(
    source: R,
    file_size: u64,
    path: &Path,
) -> Result<ModelInfo, ModelFileError> {
    let err = |what: String| ModelFileError {
        path: path.to_path_buf(),
        what: crate::text::one_line(&what),
    };
    // Metadata cannot be larger than the file: a header claiming more fails before anything is allocated.
    let metadata_limit = usize::try_from(file_size)
        .unwrap_or(usize::MAX)
        .min(GGUFReaderConfig::default().max_metadata_size);
    // Decoded, a metadata byte takes at most DECODED_BYTES_PER_FILE_BYTE bytes of memory: a header claiming a
    // longer string or array than the file can hold is refused before anything is allocated for it.
    let decoded_limit = file_size
        .saturating_mul(DECODED_BYTES_PER_FILE_BYTE)
        .saturating_add(DECODED_SLACK_BYTES);
    let config = GGUFReaderConfig {
        validate_integrity: false,
        max_metadata_size: metadata_limit,
        max_decoded_metadata_size: usize::try_from(decoded_limit)
            .unwrap_or(usize::MAX)
            .min(GGUFReaderConfig::default().max_decoded_metadata_size),
        ..Default::default()
    };
    let mut reader =
        GGUFFileReader::with_config(source, config).map_err(|e| err(describe(e, file_size)))?;
    check::check_tensors(
        reader.tensor_infos(),
        reader.tensor_alignment(),
        reader.tensor_data_offset(),
        file_size,
    )
    .map_err(err)?;
    reader
        .validate_integrity()
        .map_err(|e| err(describe(e, file_size)))?;
    check::check_metadata(reader.metadata()).map_err(err)?;

    let md = reader.metadata();
    let get_str = |k: &str| md.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let architecture = get_str("general.architecture");
    let arch_u64 = |suffix: &str| {
        architecture
            .as_ref()
            .and_then(|a| md.get(&format!("{a}.{suffix}")))
            .and_then(MetadataValue::as_u64)
    };
    let vocab_size = match md.get("tokenizer.ggml.tokens") {
        Some(MetadataValue::Array(a)) => Some(a.len() as u64),
        _ => arch_u64("vocab_size"),
    };
    let mut tensor_types: BTreeMap<String, TypeShare> = BTreeMap::new();
    for t in reader.tensor_infos() {
        let e = tensor_types
            .entry(t.tensor_type().name().to_string())
            .or_insert(TypeShare {
                n_tensors: 0,
                n_params: 0,
                size_bytes: 0,
            });
        e.n_tensors += 1;
        e.n_params += t.element_count();
        e.size_bytes += t.expected_data_size();
    }
    let size_of = |name: &str| {
        reader
            .tensor_infos()
            .iter()
            .find(|t| t.name() == name)
            .map(|t| t.expected_data_size())
    };
    let all_bytes: u64 = tensor_types.values().map(|t| t.size_bytes).sum();
    let weights_read_per_token_bytes = weights_read_per_token(
        all_bytes,
        size_of("token_embd.weight"),
        size_of("output.weight").is_some(),
    );
    let metadata = md.iter().map(|(k, v)| (k.clone(), value_text(v))).collect();
    Ok(ModelInfo {
        path: path.to_path_buf(),
        file_size_bytes: file_size,
        sha256: None,
        gguf_version: reader.header().version,
        name: get_str("general.name"),
        n_params: reader
            .tensor_infos()
            .iter()
            .map(|t| t.element_count())
            .sum(),
        n_tensors: reader.tensor_count(),
        tensor_types,
        weights_read_per_token_bytes,
        context_length: arch_u64("context_length"),
        embedding_length: arch_u64("embedding_length"),
        block_count: arch_u64("block_count"),
        vocab_size,
        file_type: md.get("general.file_type").and_then(MetadataValue::as_u64),
        metadata,
        architecture,
    })
}

/// SHA-256 of a file's bytes, as lowercase hex.
/// Weight bytes one token reads of a model with `all_bytes` of tensor data: all of them, less the token embedding
/// (one row of it is read) when a separate output matrix exists (a tied one is read whole as the output).
pub fn weights_read_per_token(
    all_bytes: u64,
    token_embd_bytes: Option<u64>,
    has_output_matrix: bool,
) -> u64 {
    match (token_embd_bytes, has_output_matrix) {
        (Some(embd), true) => all_bytes - embd,
        _ => all_bytes,
    }
}

pub fn sha256_file(path: &Path) -> Result<String, ModelFileError> {
    let err = |e: std::io::Error| ModelFileError {
        path: path.to_path_buf(),
        what: format!("cannot read: {e}"),
    };
    let mut f = File::open(path).map_err(err)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(err)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:x}", h.finalize()))
}

impl ModelInfo {
    /// The dominant weight type, as llama.cpp names a model's quantization (e.g. "Q4_0").
    pub fn main_type(&self) -> Option<String> {
        self.tensor_types
            .iter()
            .filter(|(name, _)| name.as_str() != "F32")
            .max_by_key(|(_, s)| s.n_params)
            .map(|(name, _)| name.clone())
    }
}
