//! What preflight reads from outside: the model's hyperparameters and tensor table from its GGUF header, the
//! memory that is free (RAM, and each GPU as llama.cpp's backend reports it), and what the estimate needs of the
//! host and the build.

use super::memory::{FreeMemory, GpuFree, HostFacts, ModelFacts, TensorFacts};
use crate::engine::BuildInfo;
use crate::exit::InputError;
use crate::gguf::read_model_info;
use gguf_rs_lib::reader::{GGUFFileReader, GGUFReaderConfig};
use std::io::BufReader;
use std::path::Path;

/// Overrides the free RAM preflight compares estimates with, in bytes. A hook for tests and for hosts whose
/// available-memory figure is wrong (containers); read only by [`measure_free`].
pub const FREE_MEMORY_ENV: &str = "TOKENMETER_FREE_MEMORY_BYTES";

/// Overrides the free memory of every GPU device, in bytes, as [`FREE_MEMORY_ENV`] does for RAM.
pub const FREE_GPU_MEMORY_ENV: &str = "TOKENMETER_FREE_GPU_MEMORY_BYTES";

/// The model's hyperparameters and tensor table from its GGUF header (`None` when the architecture's keys
/// are missing: then only the rules that need no shape apply), and its trained context.
pub fn model_facts(path: &Path) -> anyhow::Result<(Option<ModelFacts>, Option<u64>)> {
    let info = read_model_info(path)?;
    let arch = info.architecture.clone().unwrap_or_default();
    let key = |suffix: &str| {
        info.metadata
            .get(&format!("{arch}.{suffix}"))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let reader = GGUFFileReader::with_config(
        BufReader::new(std::fs::File::open(path)?),
        GGUFReaderConfig {
            validate_integrity: false,
            ..Default::default()
        },
    )
    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let tensors: Vec<TensorFacts> = reader
        .tensor_infos()
        .iter()
        .map(|t| TensorFacts {
            name: t.name().to_string(),
            type_name: t.tensor_type().name().to_string(),
            bytes: t.expected_data_size(),
            dims: t.shape().dims().to_vec(),
        })
        .collect();
    let facts = (|| {
        let n_embd = info.embedding_length?;
        let n_head = key("attention.head_count").filter(|&h| h > 0)?;
        let n_head_kv = key("attention.head_count_kv").unwrap_or(n_head);
        let head = n_embd / n_head;
        Some(ModelFacts {
            n_layer: info.block_count?,
            n_embd,
            n_head,
            n_head_kv,
            head_dim_k: key("attention.key_length").unwrap_or(head),
            head_dim_v: key("attention.value_length").unwrap_or(head),
            n_ff: key("feed_forward_length").unwrap_or(4 * n_embd),
            n_vocab: info.vocab_size?,
            tensors: tensors.clone(),
        })
    })();
    Ok((facts, info.context_length))
}

/// Free RAM (`TOKENMETER_FREE_MEMORY_BYTES`, else what the system calls available) and, when `gpus`, the free
/// memory of each GPU device as llama.cpp's backend reports it (`TOKENMETER_FREE_GPU_MEMORY_BYTES` overrides it).
pub fn measure_free(build: &BuildInfo, gpus: bool) -> Result<FreeMemory, InputError> {
    let bytes_of = |var: &str| -> Result<Option<u64>, InputError> {
        match std::env::var(var) {
            Ok(s) => Ok(Some(s.trim().parse::<u64>().map_err(|_| {
                InputError(format!("{var}: '{s}' is not a number of bytes"))
            })?)),
            Err(_) => Ok(None),
        }
    };
    let ram_bytes = match bytes_of(FREE_MEMORY_ENV)? {
        Some(b) => Some(b),
        None => crate::telemetry::bandwidth::available_memory_bytes(),
    };
    let gpu_override = bytes_of(FREE_GPU_MEMORY_ENV)?;
    let gpus = if gpus {
        build
            .gpu_devices()
            .filter_map(|d| {
                // A backend that cannot tell reports 0 of 0: unknown, not full.
                let reported = d.memory_free_bytes.filter(|_| d.memory_total_bytes > 0);
                Some(GpuFree {
                    name: format!("{} ({})", d.name, d.description),
                    free_bytes: gpu_override.or(reported)?,
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(FreeMemory { ram_bytes, gpus })
}

/// What the memory estimate needs of the host and the build: whether the CPU backend repacks, and whether the
/// build has a GPU device.
pub fn host_facts_of(
    host: &crate::results::HostInfo,
    build: &crate::engine::BuildInfo,
) -> HostFacts {
    HostFacts {
        cpu_repacks: host.cpu_features.iter().any(|f| f == "AVX2"),
        has_gpu: build.gpu_offload_supported && build.gpu_devices().next().is_some(),
    }
}
