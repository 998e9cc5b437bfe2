//! `load`'s arguments into [`LoadOptions`].

use super::run::{run_options, shard_run, sharded};
use super::{duration, flash_attn, zero_or_one};
use crate::cli::LoadArgs;
use tokenmeter::commands::load::{LoadOptions, PatternOptions};
use tokenmeter::commands::InputError;
use tokenmeter::results::load::Lengths;
use tokenmeter::runner::http::request::PromptKind;
use tokenmeter::runner::http::{Api, ApiKey, HttpTarget};
use tokenmeter::runner::options::EngineOptions;
use tokenmeter::runner::pattern::read_trace;
use tokenmeter::runner::signals::StopFlags;

/// `--endpoint` and the flags that go with it, as the server to send the load to.
fn http_target(a: &LoadArgs) -> Result<Option<HttpTarget>, InputError> {
    let Some(endpoint) = &a.endpoint else {
        let stray = [
            ("--api", a.api.is_some()),
            ("--served-model", a.served_model.is_some()),
            ("--api-key-env", a.api_key_env.is_some()),
            ("--request-timeout", a.request_timeout.is_some()),
            ("--prompt", a.prompt.is_some()),
            ("--ca-cert", a.ca_cert.is_some()),
        ];
        return match stray.iter().find(|(_, given)| *given) {
            Some((flag, _)) => Err(InputError(format!("{flag}: only with --endpoint URL"))),
            None => Ok(None),
        };
    };
    let api = a.api.as_deref().map_or(Ok(Api::Chat), Api::parse)?;
    let mut t = HttpTarget::new(endpoint, api)?;
    t.served_model = a.served_model.clone();
    if let Some(var) = &a.api_key_env {
        t.api_key = Some(ApiKey::from_env(var)?);
        t.api_key_env = Some(var.clone());
    }
    if let Some(d) = &a.request_timeout {
        t.request_timeout = duration("--request-timeout", d)?;
        if t.request_timeout.is_zero() {
            return Err(InputError(
                "--request-timeout: must be longer than 0".into(),
            ));
        }
    }
    if let Some(path) = &a.ca_cert {
        t.trust(path)?;
    }
    if let Some(p) = &a.prompt {
        t.prompt = PromptKind::parse(p)?;
        if t.prompt == PromptKind::TokenIds && api != Api::Completions {
            return Err(InputError(
                "--prompt token-ids: only with --api completions (a chat message is text)".into(),
            ));
        }
    }
    Ok(Some(t))
}

/// `--turns`/`--system-tokens` or `--trace`/`--trace-speed`, as the sweep's request pattern.
fn pattern(a: &LoadArgs) -> Result<Option<PatternOptions>, InputError> {
    if a.system_tokens.is_some() && a.turns.is_none() {
        return Err(InputError("--system-tokens: only with --turns N".into()));
    }
    if !a.trace_speed.is_empty() && a.trace.is_none() {
        return Err(InputError("--trace-speed: only with --trace FILE".into()));
    }
    match (&a.trace, a.turns) {
        (Some(_), Some(_)) => Err(InputError(
            "--turns: not with --trace (a trace's sessions are its own)".into(),
        )),
        (Some(path), None) => Ok(Some(PatternOptions::Trace {
            trace: read_trace(path)?,
            speeds: if a.trace_speed.is_empty() {
                vec![1.0]
            } else {
                a.trace_speed.clone()
            },
        })),
        (None, Some(turns)) => Ok(Some(PatternOptions::MultiTurn {
            turns,
            system_tokens: a.system_tokens.unwrap_or(0),
        })),
        (None, None) => Ok(None),
    }
}

pub fn load(a: LoadArgs, verbose: bool, stop: StopFlags) -> Result<LoadOptions, InputError> {
    let http = http_target(&a)?;
    let pattern = pattern(&a)?;
    let lengths =
        |flag: &str, s: &str| Lengths::parse(s).map_err(|e| InputError(format!("{flag}: {e}")));
    Ok(LoadOptions {
        model: a.model,
        concurrency: a.concurrency,
        rates: a.rate,
        parallel: a.parallel,
        input_tokens: a
            .input_tokens
            .as_deref()
            .map(|s| lengths("--input-tokens", s))
            .transpose()?,
        output_tokens: a
            .output_tokens
            .as_deref()
            .map(|s| lengths("--output-tokens", s))
            .transpose()?,
        workload: a.workload,
        requests: a.requests,
        duration: a
            .duration
            .as_deref()
            .map(|d| duration("--duration", d))
            .transpose()?,
        slo: a
            .slo
            .as_deref()
            .map(|s| {
                tokenmeter::results::slo::parse_slo(s)
                    .map_err(|e| InputError(format!("--slo: {e}")))
            })
            .transpose()?,
        engine: EngineOptions {
            n_threads: a.threads,
            n_gpu_layers: a.n_gpu_layers,
            n_batch: a.batch_size,
            n_ubatch: a.ubatch_size,
            flash_attn: flash_attn(&a.flash_attn)?,
            no_kv_offload: zero_or_one("--no-kv-offload", a.no_kv_offload)?,
            type_k: a.cache_type_k,
            type_v: a.cache_type_v,
            use_mmap: zero_or_one("--mmap", a.mmap)?,
            repack: zero_or_one("--repack", a.repack)?,
        },
        seed: a.seed,
        force: a.force,
        until_saturated: a.until_saturated,
        burst: a.burst,
        gate: None,
        http,
        pattern,
        run: sharded(
            run_options(
                a.config,
                a.telemetry,
                (a.sweep, a.baseline),
                (a.out, a.results_dir),
                verbose,
                stop,
            )?,
            shard_run(a.shard)?,
        )?,
    })
}
