//! The load sweep against a server over HTTP (`load --endpoint`): the same levels, keys, saturation rule,
//! summary, SLO check, operating point and result file as in-process, each level a unit of the executor run in
//! this process (nothing to isolate: no model is loaded, and there is no self-test or numerics gate). The
//! server's identity goes into `load.server`; energy is measured only when the server is on this machine.

use super::levels::{levels, request_shape, rising};
use super::{
    Level, LevelSpec, Levels, LoadOptions, LoadOutcome, PatternOptions, Server,
    DEFAULT_OPEN_LOOP_SLOTS,
};
use crate::analysis::load::{summarize_level, LevelSamples};
use crate::exit::InputError;
use crate::results::http::HttpLevel;
use crate::results::load::{LevelRecord, LoadSweep};
use crate::results::slo::SloTerm;
use crate::results::Warning;
use crate::runner::checkpoint::Header;
use crate::runner::energy::{level_energy, process_of};
use crate::runner::executor::{failed, Executor, UnitCtx, UnitError};
use crate::runner::finish::{self, Finished, Measured};
use crate::runner::http::identity::identify;
use crate::runner::http::level::run_level as run_http_level;
use crate::runner::http::request::PromptKind;
use crate::runner::http::HttpTarget;
use crate::runner::load::{Arrivals, Lengths};
use crate::runner::setup::{self, Setup};

/// The server a sweep sends its levels to, and the model name each request asks for.
pub struct Remote {
    target: HttpTarget,
    model: String,
}

/// Level `l` sent to `remote`.
pub(super) fn run_level(
    levels: &Levels,
    remote: &Remote,
    l: &Level,
    spec: LevelSpec,
    ctx: &mut UnitCtx,
) -> Result<LevelRecord, UnitError> {
    let show = levels.progress(l);
    ctx.show(show(0));
    let ran = ctx.run_here(|origin, stop, bar| {
        run_http_level(&remote.target, &remote.model, &spec, origin, stop, |done| {
            bar(show(done as u64))
        })
    });
    let d = ran.value;
    if d.unreachable {
        let why = d
            .requests
            .iter()
            .find_map(|r| r.failure.as_ref())
            .map(|f| f.detail.clone())
            .unwrap_or_default();
        return Err(failed(format!(
            "no request reached the server at {}: {why}",
            remote.target.shown()
        )));
    }
    if let Some(n) = d.gone_after {
        let why = d
            .requests
            .iter()
            .rev()
            .find_map(|r| r.failure.as_ref())
            .map(|f| f.detail.clone())
            .unwrap_or_default();
        let answered = d.requests.iter().filter(|r| r.completed).count();
        return Err(failed(format!(
            "the server at {} stopped answering: {n} requests in a row got no response after {answered} \
             completed ({why})",
            remote.target.shown()
        )));
    }
    let summary = summarize_level(
        &LevelSamples {
            arrivals: spec.arrivals,
            requests: &d.requests,
            duration_ns: d.duration_ns,
            window_ns: d.window_ns,
            warmup_ns: d.warmup_ns,
            prompt_tokens_processed: d.prompt_tokens_processed,
            interrupted: d.interrupted,
        },
        &levels.slo,
    );
    let output_tokens = d.requests.iter().map(|r| r.token_ns.len() as u64).sum();
    let energy = level_energy(
        &ran.windows,
        Some((d.start_ns, d.start_ns + d.duration_ns)),
        output_tokens,
        &levels.idle,
        levels.energy_absent_reason.as_deref(),
    );
    let http = HttpLevel::of(&d.requests, d.in_flight_cap);
    Ok(LevelRecord {
        summary,
        input_tokens: spec.input_tokens,
        output_tokens: spec.output_tokens,
        seed: spec.seed,
        prompt_tokens_processed: d.prompt_tokens_processed,
        start_ns: Some(d.start_ns),
        requests: d.requests,
        energy,
        process: process_of(&ran.windows),
        limits: None,
        http: Some(http),
    })
}

/// The warnings of a level's failed requests and of outputs whose length did not hold.
pub(super) fn failed_requests(label: &str, h: &HttpLevel) -> Vec<Warning> {
    let mut out = Vec::new();
    if h.failed_total() > 0 {
        let reasons: Vec<String> = h.failed.iter().map(|(k, n)| format!("{k}: {n}")).collect();
        out.push(Warning::RequestsFailed {
            level: label.to_string(),
            failed: h.failed_total(),
            reasons: reasons.join(", "),
        });
    }
    if h.output_length_not_held > 0 {
        out.push(Warning::OutputLengthNotHeld {
            level: label.to_string(),
            requests: h.output_length_not_held,
        });
    }
    out
}

/// What the result file records of a run's parameters (and what a resumed run must match); the key is not.
fn parameters(
    opts: &LoadOptions,
    target: &HttpTarget,
    model: &str,
    arrivals: &[Arrivals],
    (input_tokens, output_tokens, slo): (&Lengths, &Lengths, &[SloTerm]),
) -> serde_json::Value {
    serde_json::json!({
        "arrivals": arrivals,
        "workload": opts.workload,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "requests": opts.requests,
        "duration_s": opts.duration.map(|d| d.as_secs_f64()),
        "slo": slo,
        "endpoint": target.shown(),
        "api": target.api.name(),
        "prompt": target.prompt.name(),
        "served_model": model,
        "api_key_env": target.api_key_env,
        "request_timeout_s": target.request_timeout.as_secs_f64(),
        "parallel": opts.parallel.unwrap_or(DEFAULT_OPEN_LOOP_SLOTS),
        "seed": opts.seed,
        "until_saturated": opts.until_saturated,
        "burst": opts.burst,
        "pattern": opts.pattern.as_ref().map(PatternOptions::parameters),
    })
}

/// `tokenmeter load --endpoint`.
pub fn run(opts: &LoadOptions, target: &HttpTarget) -> anyhow::Result<LoadOutcome> {
    if opts.model.is_some() {
        return Err(InputError(
            "-m/--model names a model file for in-process load; with --endpoint, name the server's model with \
             --served-model"
                .into(),
        )
        .into());
    }
    let arrivals = levels(opts)?;
    if opts.until_saturated && !rising(&arrivals) {
        return Err(InputError(
            "--until-saturated: the levels must rise (e.g. -c 1,2,4,8 or --rate 1,2,4)".into(),
        )
        .into());
    }
    let run = &opts.run;
    let (identity, served) = identify(target);
    let model = served.ok_or_else(|| {
        InputError(format!(
            "--served-model: not given, and {}/models named no model",
            target.shown()
        ))
    })?;
    if target.prompt == PromptKind::TokenIds && identity.n_vocab.is_none() {
        return Err(InputError(format!(
            "--prompt token-ids: the server at {} states no vocabulary size (llama-server lists it in \
             /v1/models as meta.n_vocab); use --prompt words",
            target.shown()
        ))
        .into());
    }
    let local = target.on_this_machine();
    let mut setup = Setup::open_for_server(run, &model, local)?;
    let (input_tokens, output_tokens, slo) = request_shape(opts, &setup.config)?;
    let parameters = parameters(
        opts,
        target,
        &model,
        &arrivals,
        (&input_tokens, &output_tokens, &slo),
    );
    let header = Header::new("load", setup::identity(&setup, run, parameters.clone()));
    let (result_path, checkpoint, resumed, read_warnings) =
        setup::claim(&setup, run, "-load", &header)?;
    let energy_absent_reason = if local {
        setup.meter.energy_absent_reason.clone()
    } else {
        Some(format!(
            "energy: absent (the server at {} is not on this machine; `cost --hardware NAME` prices it from the \
             configured board power)",
            target.host()
        ))
    };
    let n_levels = arrivals.len();
    let mut sweep = Levels {
        opts,
        arrivals,
        input_tokens,
        output_tokens,
        slo: slo.clone(),
        server: Server::Http(Remote {
            target: HttpTarget {
                served_model: Some(model.clone()),
                n_vocab: identity.n_vocab,
                tokenize: identity.tokenize,
                ..target.clone()
            },
            model: model.clone(),
        }),
        next: 0,
        stopped_early: None,
        idle: setup.meter.idle.clone(),
        energy_absent_reason,
    };
    let executor = Executor::new(run, Some((checkpoint, resumed, read_warnings)));
    let mut swept = executor.run(&mut sweep, &mut setup.meter);
    let stopped_early = sweep.stopped_early.take();
    let mut warnings = std::mem::take(&mut swept.warnings);
    let records = std::mem::take(&mut swept.records);
    let op = super::sweep_end(run, &records, n_levels, &mut warnings);
    let measured = Measured {
        kind: "load",
        parameters,
        cases: Vec::new(),
        load: Some(LoadSweep {
            model,
            slo,
            levels: records,
            operating_point: op,
            stopped_early,
            numerics: None,
            numerics_failed: false,
            weight_buffers_mib: Default::default(),
            offloaded: None,
            engine_fallback: None,
            server: Some(identity),
        }),
        bandwidth: setup.configured_bandwidth.clone(),
        warnings,
        failed: std::mem::take(&mut swept.failed),
        failure: swept.failure.take(),
    };
    let whole = swept.whole;
    let Finished { result, baseline } = finish::finish(
        setup,
        run,
        measured,
        &result_path,
        swept.checkpoint.take(),
        whole,
    )?;
    Ok(LoadOutcome {
        result_path,
        result,
        baseline,
    })
}
