//! `tokenmeter synth`: write (or with `--dry-run`, size) a synthetic GGUF model.

use super::InputError;
use crate::gguf::{synth, Shape, ShapeOverrides, SynthSpec, WeightType};
use crate::report::{human_bytes, human_params};
use std::path::PathBuf;
use std::time::Instant;

pub struct SynthOptions {
    pub shape: String,
    pub weight_type: String,
    pub seed: u64,
    pub overrides: ShapeOverrides,
    pub output: Option<PathBuf>,
    pub dry_run: bool,
}

pub fn spec(opts: &SynthOptions) -> Result<SynthSpec, InputError> {
    let shape = Shape::from_preset(&opts.shape, &opts.overrides)
        .map_err(|e| InputError(format!("--shape: {e}")))?;
    let weight_type = WeightType::parse(&opts.weight_type).ok_or_else(|| {
        InputError(format!(
            "--type: unknown type '{}' (expected one of: {})",
            opts.weight_type,
            WeightType::ALL.map(|t| t.name()).join(", ")
        ))
    })?;
    Ok(SynthSpec {
        shape,
        weight_type,
        seed: opts.seed,
    })
}

pub fn run(opts: &SynthOptions) -> anyhow::Result<()> {
    let spec = spec(opts)?;
    let plan = synth::plan(&spec);
    let what = format!(
        "{} {} seed {}: {} parameters, {} tensors, {} ({} bytes)",
        spec.shape.name,
        spec.weight_type.name(),
        spec.seed,
        human_params(plan.n_params),
        plan.n_tensors,
        human_bytes(plan.file_size_bytes),
        plan.file_size_bytes
    );
    if opts.dry_run {
        println!("{what} (dry run: nothing written)");
        return Ok(());
    }
    let out = opts
        .output
        .clone()
        .ok_or_else(|| InputError("-o/--output FILE is required unless --dry-run".into()))?;
    let t0 = Instant::now();
    synth::write(&spec, &out)?;
    println!(
        "{}: {what}, written in {:.1} s",
        out.display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
