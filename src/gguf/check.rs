//! What a GGUF file must satisfy, beyond what gguf-rs-lib already refuses while reading it, before llama.cpp
//! may open it: the rules that `gguf_init_from_file_impl` (ggml/src/gguf.cpp), `llama_model_loader` and
//! `llama_model::load_hparams` / `llama_vocab::load` enforce with an abort (`GGML_ASSERT`), or read past an array
//! on, or throw on, in the llama.cpp that llama-cpp-sys-2 0.1.161 vendors.
//!
//! gguf-rs-lib itself refuses: a bad magic or version; more than 100 000 metadata entries or 1 000 000 tensors;
//! metadata keys, strings and arrays longer than the file (their lengths are charged against a budget before any
//! allocation, see `inspect`); duplicate metadata keys; unknown metadata and tensor types; a `general.alignment`
//! that is not a u32 multiple of 8; tensor names over 64 bytes; 0 or more than 4 dimensions; a dimension above
//! 10⁹ or an element count overflowing u64; a quantized row not a whole number of blocks; duplicate tensor names;
//! misaligned tensor offsets. The checks here add the rest.

use gguf_rs_lib::format::{GGUFValueType, Metadata, MetadataValue};
use gguf_rs_lib::tensor::TensorInfo;

/// ggml's `GGML_MAX_NAME`: a tensor name and its terminating NUL.
const GGML_MAX_NAME: usize = 64;
/// llama.cpp's `LLAMA_MAX_LAYERS` (src/llama-hparams.h): `load_hparams` asserts `0 < block_count <= 512`.
const LLAMA_MAX_LAYERS: u64 = 512;
/// llama.cpp's `LLAMA_MAX_EXPERTS` (src/llama-hparams.h): `load_hparams` asserts `expert_count <= 1024`.
const LLAMA_MAX_EXPERTS: u64 = 1024;
/// The values `llama_rope_scaling_type_from_string` knows; any other aborts `load_hparams`.
const ROPE_SCALING_TYPES: [&str; 4] = ["none", "linear", "yarn", "longrope"];

/// The type llama.cpp reads a metadata key as (`GKV<T>::get_kv` requires the exact GGUF type).
#[derive(Clone, Copy)]
enum Expect {
    String,
    U32,
    F32,
    Bool,
    /// A u32, or one u32/i32 per layer (`get_key_or_arr`).
    U32OrPerLayer,
    StringArray,
}

/// Metadata keys llama.cpp reads for every architecture (`<arch>` is `general.architecture`), with their types.
const ARCH_KEYS: &[(&str, Expect)] = &[
    ("context_length", Expect::U32),
    ("embedding_length", Expect::U32),
    ("block_count", Expect::U32),
    ("vocab_size", Expect::U32),
    ("expert_count", Expect::U32),
    ("expert_used_count", Expect::U32OrPerLayer),
    ("nextn_predict_layers", Expect::U32),
    ("feed_forward_length", Expect::U32OrPerLayer),
    ("attention.head_count", Expect::U32OrPerLayer),
    ("attention.head_count_kv", Expect::U32OrPerLayer),
    ("attention.key_length", Expect::U32),
    ("attention.value_length", Expect::U32),
    ("attention.layer_norm_rms_epsilon", Expect::F32),
    ("attention.layer_norm_epsilon", Expect::F32),
    ("rope.dimension_count", Expect::U32),
    ("rope.freq_base", Expect::F32),
    ("rope.scaling.type", Expect::String),
    ("rope.scaling.factor", Expect::F32),
];

/// Tokenizer keys `llama_vocab::load` reads, with their types (scores and token types are checked apart).
const TOKENIZER_KEYS: &[(&str, Expect)] = &[
    ("tokenizer.ggml.model", Expect::String),
    ("tokenizer.ggml.pre", Expect::String),
    ("tokenizer.ggml.tokens", Expect::StringArray),
    ("tokenizer.ggml.merges", Expect::StringArray),
    ("tokenizer.ggml.bos_token_id", Expect::U32),
    ("tokenizer.ggml.eos_token_id", Expect::U32),
    ("tokenizer.ggml.unknown_token_id", Expect::U32),
    ("tokenizer.ggml.padding_token_id", Expect::U32),
    ("tokenizer.ggml.seperator_token_id", Expect::U32),
    ("tokenizer.ggml.add_bos_token", Expect::Bool),
    ("tokenizer.ggml.add_eos_token", Expect::Bool),
];

fn type_name(v: &MetadataValue) -> String {
    match v {
        MetadataValue::Array(a) => format!("array of {}", a.element_type),
        other => other.value_type().to_string(),
    }
}

fn expected_name(e: Expect) -> &'static str {
    match e {
        Expect::String => "a string",
        Expect::U32 => "a u32",
        Expect::F32 => "an f32",
        Expect::Bool => "a bool",
        Expect::U32OrPerLayer => "a u32 or an array of one u32 per layer",
        Expect::StringArray => "an array of strings",
    }
}

fn has_type(v: &MetadataValue, e: Expect) -> bool {
    match (e, v) {
        (Expect::String, MetadataValue::String(_))
        | (Expect::U32, MetadataValue::U32(_))
        | (Expect::F32, MetadataValue::F32(_))
        | (Expect::Bool, MetadataValue::Bool(_))
        | (Expect::U32OrPerLayer, MetadataValue::U32(_)) => true,
        (Expect::U32OrPerLayer, MetadataValue::Array(a)) => {
            matches!(a.element_type, GGUFValueType::U32 | GGUFValueType::I32)
        }
        (Expect::StringArray, MetadataValue::Array(a)) => a.element_type == GGUFValueType::String,
        _ => false,
    }
}

fn check_type(md: &Metadata, key: &str, e: Expect) -> Result<(), String> {
    match md.get(key) {
        Some(v) if !has_type(v, e) => Err(format!(
            "metadata '{key}' is {}, expected {} (as llama.cpp reads it)",
            type_name(v),
            expected_name(e)
        )),
        _ => Ok(()),
    }
}

fn u32_of(md: &Metadata, key: &str) -> Option<u64> {
    match md.get(key) {
        Some(MetadataValue::U32(v)) => Some(u64::from(*v)),
        _ => None,
    }
}

fn array_len(md: &Metadata, key: &str) -> Option<u64> {
    match md.get(key) {
        Some(MetadataValue::Array(a)) => Some(a.len() as u64),
        _ => None,
    }
}

/// Metadata of the wrong type for a key llama.cpp reads, and values it asserts on.
pub fn check_metadata(md: &Metadata) -> Result<(), String> {
    let arch = match md.get("general.architecture") {
        Some(MetadataValue::String(a)) => a.as_str(),
        Some(v) => {
            return Err(format!(
                "metadata 'general.architecture' is {}, expected a string",
                type_name(v)
            ))
        }
        None => return Err("no 'general.architecture' metadata (llama.cpp needs it)".into()),
    };
    for (suffix, e) in ARCH_KEYS {
        check_type(md, &format!("{arch}.{suffix}"), *e)?;
    }
    for (key, e) in TOKENIZER_KEYS {
        check_type(md, key, *e)?;
    }

    let blocks_key = format!("{arch}.block_count");
    let n_layer = u32_of(md, &blocks_key);
    if let Some(n) = n_layer {
        if n == 0 || n > LLAMA_MAX_LAYERS {
            return Err(format!(
                "metadata '{blocks_key}' is {n}, expected 1 to {LLAMA_MAX_LAYERS} (llama.cpp's limit)"
            ));
        }
    }
    for suffix in [
        "feed_forward_length",
        "attention.head_count",
        "attention.head_count_kv",
        "expert_used_count",
    ] {
        let key = format!("{arch}.{suffix}");
        if let Some(len) = array_len(md, &key) {
            if Some(len) != n_layer {
                return Err(format!(
                    "metadata '{key}' has {len} per-layer values, expected one per layer ({})",
                    n_layer.map_or("no block_count".to_string(), |n| n.to_string())
                ));
            }
        }
    }
    let n_expert = u32_of(md, &format!("{arch}.expert_count")).unwrap_or(0);
    if n_expert > LLAMA_MAX_EXPERTS {
        return Err(format!(
            "metadata '{arch}.expert_count' is {n_expert}, expected at most {LLAMA_MAX_EXPERTS} (llama.cpp's limit)"
        ));
    }
    if let Some(used) = u32_of(md, &format!("{arch}.expert_used_count")) {
        if used > n_expert || (n_expert > 0 && used == 0) {
            return Err(format!(
                "metadata '{arch}.expert_used_count' is {used}, expected 1 to expert_count ({n_expert})"
            ));
        }
    }
    if let (Some(nextn), Some(n)) = (u32_of(md, &format!("{arch}.nextn_predict_layers")), n_layer) {
        if nextn > n {
            return Err(format!(
                "metadata '{arch}.nextn_predict_layers' is {nextn}, more than block_count ({n})"
            ));
        }
    }
    if let Some(MetadataValue::String(s)) = md.get(&format!("{arch}.rope.scaling.type")) {
        if !ROPE_SCALING_TYPES.contains(&s.as_str()) {
            return Err(format!(
                "metadata '{arch}.rope.scaling.type' is \"{s}\", expected one of {}",
                ROPE_SCALING_TYPES.join(", ")
            ));
        }
    }

    if let Some(n_tokens) = array_len(md, "tokenizer.ggml.tokens") {
        for (key, types, names) in [
            (
                "tokenizer.ggml.scores",
                &[GGUFValueType::F32, GGUFValueType::I32][..],
                "f32 or i32",
            ),
            (
                "tokenizer.ggml.token_type",
                &[GGUFValueType::I32][..],
                "i32",
            ),
        ] {
            match md.get(key) {
                None => {}
                Some(MetadataValue::Array(a))
                    if types.contains(&a.element_type) && a.len() as u64 >= n_tokens => {}
                Some(v) => {
                    return Err(format!(
                        "metadata '{key}' is {} of {} values, expected an array of {names} with one value per \
                         token ({n_tokens})",
                        type_name(v),
                        array_len(md, key).map_or("no".to_string(), |n| n.to_string())
                    ))
                }
            }
        }
    }
    check_distinct_tokens(md)
}

/// `llama_vocab::load` maps each token's text to its id and asserts that no two tokens share a text (an empty
/// token stands for `[EMPTY_<id>]`): a one-bit flip in a token's text is enough to abort it.
fn check_distinct_tokens(md: &Metadata) -> Result<(), String> {
    let Some(MetadataValue::Array(tokens)) = md.get("tokenizer.ggml.tokens") else {
        return Ok(());
    };
    let mut seen: std::collections::HashMap<std::borrow::Cow<'_, str>, usize> =
        std::collections::HashMap::with_capacity(tokens.len());
    for (id, t) in tokens.iter().enumerate() {
        let text = match t.as_str() {
            Some("") => std::borrow::Cow::Owned(format!("[EMPTY_{id}]")),
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => continue,
        };
        if let Some(first) = seen.get(&text) {
            return Err(format!(
                "metadata 'tokenizer.ggml.tokens' has token {id} equal to token {first} ({:?}): llama.cpp needs \
                 every token's text distinct",
                text.as_ref()
            ));
        }
        seen.insert(text, id);
    }
    Ok(())
}

/// Tensor descriptors llama.cpp would refuse or mis-size: names too long for ggml, empty or `i64`-overflowing
/// shapes, and data that is not laid out as `gguf_init_from_file_impl` requires (each tensor at the running sum of
/// the padded sizes before it, in file order) or that ends past the end of the file.
pub fn check_tensors(
    tensors: &[TensorInfo],
    alignment: u64,
    data_start: u64,
    file_size: u64,
) -> Result<(), String> {
    if !alignment.is_power_of_two() {
        return Err(format!(
            "general.alignment {alignment} is not a power of two"
        ));
    }
    let mut expected_offset = 0u64;
    for t in tensors {
        let name = t.name();
        if name.len() >= GGML_MAX_NAME {
            return Err(format!(
                "tensor name '{name}' is {} bytes, expected fewer than {GGML_MAX_NAME}",
                name.len()
            ));
        }
        let dims = t.shape().dims();
        if let Some(d) = dims.iter().position(|&n| n == 0) {
            return Err(format!("tensor '{name}' has dimension {d} of size 0"));
        }
        if i64::try_from(t.element_count()).is_err() {
            return Err(format!(
                "tensor '{name}' has {dims:?} elements, more than ggml can count (i64)"
            ));
        }
        let size = t
            .checked_expected_data_size()
            .map_err(|_| format!("tensor '{name}' has an impossible size"))?;
        let end = data_start
            .checked_add(t.data_offset())
            .and_then(|s| s.checked_add(size))
            .ok_or_else(|| format!("tensor '{name}' offset and size overflow u64"))?;
        if end > file_size {
            return Err(format!(
                "truncated: tensor '{name}' ends at byte {end}, past the end of the file ({file_size} bytes)"
            ));
        }
        if t.data_offset() != expected_offset {
            return Err(format!(
                "tensor '{name}' data at offset {}, expected {expected_offset} (right after the tensor before it, \
                 padded to {alignment} bytes)",
                t.data_offset()
            ));
        }
        expected_offset = size
            .div_ceil(alignment)
            .checked_mul(alignment)
            .and_then(|padded| expected_offset.checked_add(padded))
            .ok_or_else(|| format!("tensor '{name}' size overflows u64 once padded"))?;
    }
    Ok(())
}
