//! A load sweep's engine configuration: the machine's self-test of the one it asks for (falling back as `bench`
//! does), then its numerics gate against the CPU reference, once before the first level.

use crate::results::record::{EngineFallback, Kernels, Numerics, NumericsVerdict, Offload};
use crate::results::Warning;
use crate::runner::options::RunOptions;
use crate::runner::probe::EngineConfig;
use crate::runner::selftest::{self, Decision, SelfTestOptions};
use crate::runner::setup::Setup;
use crate::runner::unit::{self, Env, ModelCache};
use crate::runner::worker::{run_in_worker, Job, Reply, Request};

/// The sweep's engine configuration after the machine's self-test, and its numerics gate.
pub struct Checked {
    /// The configuration to measure with; `None` when none works (`blocked` says why).
    pub used: Option<EngineConfig>,
    pub fallback: Option<EngineFallback>,
    pub blocked: Option<String>,
    pub numerics: Option<Numerics>,
    pub weight_buffers_mib: std::collections::BTreeMap<String, f64>,
    /// The layers the configuration used puts on GPU devices.
    pub offloaded: Option<Offload>,
    pub warnings: Vec<Warning>,
}

/// Self-tests `asked` (falling back as `bench` does), then gates the configuration used against the CPU
/// reference on `path` (in a worker unless `--in-process`).
pub fn self_tested(
    asked: &EngineConfig,
    path: &std::path::Path,
    setup: &Setup,
    run: &RunOptions,
) -> anyhow::Result<Checked> {
    let o = SelfTestOptions::of(run);
    let weight_type = selftest::probe_weight_type(&setup.entries[0].tensor_types);
    let need = (asked.clone(), Kernels::BatchAndDecode);
    let (decisions, warnings) = selftest::self_test(
        std::slice::from_ref(&need),
        weight_type,
        &setup.host,
        &setup.build,
        &o,
    )?;
    let d = decisions.get(&need).cloned().unwrap_or(Decision {
        used: Some(asked.clone()),
        failure: None,
    });
    let mut checked = Checked {
        used: d.used.clone(),
        fallback: d.substitution(asked).and_then(Result::ok),
        blocked: d.substitution(asked).and_then(Result::err),
        numerics: None,
        weight_buffers_mib: Default::default(),
        offloaded: None,
        warnings,
    };
    let Some(used) = checked.used.clone().filter(|_| checked.blocked.is_none()) else {
        return Ok(checked);
    };
    if !run.verify {
        checked.numerics = Some(Numerics::not_verified("--no-verify"));
        return Ok(checked);
    }
    let dir = crate::runner::cleanup::temp_dir("numerics")?;
    let refs = selftest::references(
        &[path.to_path_buf()],
        true,
        setup.host.default_threads(),
        run.in_process,
        run.verbose,
        &run.stop_now,
        dir.path(),
    );
    let reference = match refs.get(path) {
        Some(Ok(p)) => p.clone(),
        Some(Err(e)) => {
            checked.numerics = Some(Numerics::not_verified(format!(
                "the CPU reference could not be computed: {e}"
            )));
            return Ok(checked);
        }
        None => return Ok(checked),
    };
    let context = used.context();
    let label = format!("load gate {}", used.label());
    let req = Request {
        job: Job::Gate {
            model_path: path.to_path_buf(),
            model: used.model_params(true),
            context,
            reference,
            kernels: Kernels::BatchAndDecode,
        },
        label,
        verbose: run.verbose,
        sample_interval_ns: None,
        parent_pid: std::process::id(),
    };
    let reply = if run.in_process {
        let mut models = ModelCache::default();
        let mut env = Env {
            send: &mut |_| {},
            stop_now: &run.stop_now,
            models: &mut models,
        };
        unit::execute(&req, &mut env)?
    } else {
        match run_in_worker(&req, &run.limits(), |_| {}) {
            Ok(r) => r,
            Err(f) => Reply::Error {
                message: format!("the gate's worker failed: {f}"),
            },
        }
    };
    checked.numerics = Some(match reply {
        Reply::Gate {
            numerics,
            weight_buffers_mib,
            offloaded,
        } => {
            checked.weight_buffers_mib = weight_buffers_mib;
            checked.offloaded = offloaded;
            numerics
        }
        Reply::Error { message } => Numerics::not_verified(message),
        other => Numerics::not_verified(format!("unexpected reply {other:?}")),
    });
    if let Some(n) = checked
        .numerics
        .as_ref()
        .filter(|n| n.verdict == NumericsVerdict::Failed)
    {
        checked.warnings.push(Warning::NumericsFailed {
            case: format!("load sweep ({})", used.label()),
            detail: n.reason.clone().unwrap_or_default(),
        });
    }
    Ok(checked)
}
