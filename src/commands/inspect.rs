//! `tokenmeter inspect FILE [--json]`.

use crate::gguf::{read_model_info, sha256_file};
use crate::report::{human_bytes, human_params, ABSENT};
use std::path::Path;

pub fn run(path: &Path, json: bool) -> anyhow::Result<()> {
    let mut info = read_model_info(path)?;
    info.sha256 = Some(sha256_file(path)?);
    if json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    let opt = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_else(|| ABSENT.into());
    println!("file:          {}", info.path.display());
    println!(
        "size:          {} ({} bytes)",
        human_bytes(info.file_size_bytes),
        info.file_size_bytes
    );
    println!(
        "sha256:        {}",
        info.sha256.as_deref().unwrap_or(ABSENT)
    );
    println!("gguf version:  {}", info.gguf_version);
    println!(
        "architecture:  {}",
        info.architecture.as_deref().unwrap_or(ABSENT)
    );
    println!("name:          {}", info.name.as_deref().unwrap_or(ABSENT));
    println!(
        "parameters:    {} ({})",
        human_params(info.n_params),
        info.n_params
    );
    println!("layers:        {}", opt(info.block_count));
    println!("embedding:     {}", opt(info.embedding_length));
    println!("context:       {} tokens", opt(info.context_length));
    println!("vocabulary:    {} tokens", opt(info.vocab_size));
    println!("tensors:       {}", info.n_tensors);
    for (ty, share) in &info.tensor_types {
        println!(
            "  {ty:<6} {:>5} tensors {:>16} parameters {:>12}",
            share.n_tensors,
            share.n_params,
            human_bytes(share.size_bytes)
        );
    }
    println!("metadata:");
    for (k, v) in &info.metadata {
        println!("  {k} = {v}");
    }
    Ok(())
}
