//! The arguments of `plan` and `fleet status` into the plan's options.

use super::{json_output, unit};
use crate::cli::PlanArgs;
use tokenmeter::commands::bench::BenchOptions;
use tokenmeter::commands::load::LoadOptions;
use tokenmeter::commands::InputError;
use tokenmeter::config::sweep::ShardUnit;

pub fn plan(
    a: PlanArgs,
    bench_defaults: BenchOptions,
    load_defaults: LoadOptions,
) -> Result<tokenmeter::commands::plan::PlanOptions, InputError> {
    use tokenmeter::commands::plan::{Emit, EmitOptions, PlanOptions};
    let emit = a
        .emit
        .as_deref()
        .map(|e| {
            let kind = match e {
                "slurm" => Emit::Slurm,
                "kubernetes" | "k8s" => Emit::Kubernetes,
                other => {
                    return Err(InputError(format!(
                        "--emit: expected slurm or kubernetes, got '{other}'"
                    )))
                }
            };
            Ok(EmitOptions {
                kind,
                run_id: a.run_id.clone(),
                max_parallel: a.max_parallel,
                gpus: a.gpus,
                binary: a.binary.clone(),
                results_dir: a.results_dir.clone(),
                image: a.image.clone(),
                gpu_product: a.gpu_product.clone(),
            })
        })
        .transpose()?;
    if a.max_parallel == Some(0) {
        return Err(InputError("--max-parallel: must be at least 1".into()));
    }
    Ok(PlanOptions {
        config: a.config,
        sweep: a.sweep,
        per: unit("--per", a.per.as_deref())?,
        shards: a.shards,
        hardware: a.hardware,
        json: json_output(&a.output)?,
        emit,
        out: a.out,
        bench_defaults,
        load_defaults,
    })
}

/// `fleet status --per`.
pub fn per(s: Option<&str>) -> Result<Option<ShardUnit>, InputError> {
    unit("--per", s)
}
