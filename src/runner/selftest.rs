//! The machine's self-test before anything is measured, and the numerics gate's reference logits. For each
//! engine configuration a run needs, a worker process runs a tiny model of the same weight type (its decodes
//! alone, then one prompt batch and a few single-token decodes) and gates its logits against the CPU reference.
//! The outcome is cached per host boot and build beside the bandwidth figure (`<cache>/probe/<host>.json`;
//! `--recheck` probes again). A configuration that crashes or fails the gate on the kernel paths a case runs
//! (`Kernels`: a generation test decodes only) is replaced for that case by the fastest of its fallbacks that
//! passes (`EngineConfig::fallbacks`); the run prints and records the choice.

use super::models;
use crate::config::SynthRef;
use crate::engine::BuildInfo;
use crate::gguf::synth;
use crate::results::record::{EngineFallback, Kernels, Numerics, NumericsVerdict};
use crate::results::{HostInfo, ToolInfo, Warning};
use crate::runner::numerics::Reference;
use crate::runner::probe::{EngineConfig, ProbeReport};
use crate::runner::worker::{run_in_worker, Job, Limits, Reply, Request};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// A probe runs a tiny model for well under a second; one that takes this long is hung.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(120);

/// What one configuration did on this host and build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeOutcome {
    pub config: EngineConfig,
    /// The tiny model's weight type (`q4_0`, `q8_0`, `f16`): the kernels differ per type.
    pub weight_type: String,
    /// Prompt batches and decodes passed.
    pub passed: bool,
    /// Why it failed: the worker's end (signal, and the weights' buffer types) or the gate's figures.
    pub reason: Option<String>,
    /// Decodes alone passed (they run first, so a crash in the prompt batch leaves their verdict).
    #[serde(default)]
    pub decode_passed: bool,
    #[serde(default)]
    pub weight_buffers_mib: BTreeMap<String, f64>,
    pub numerics: Option<Numerics>,
    #[serde(default)]
    pub decode_numerics: Option<Numerics>,
    pub probed_at: DateTime<Utc>,
}

impl ProbeOutcome {
    /// Whether the configuration works for a unit that runs `kernels`.
    pub fn passes(&self, kernels: Kernels) -> bool {
        match kernels {
            Kernels::BatchAndDecode => self.passed,
            Kernels::Decode => self.passed || self.decode_passed,
        }
    }

    /// ggml put the tiny model's weights in its AMX buffer type.
    pub fn weights_in_amx(&self) -> bool {
        self.weight_buffers_mib.contains_key("AMX")
    }
}

/// The cache file: outcomes that hold for one host, boot and build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeCache {
    pub host: Option<String>,
    pub boot_id: Option<String>,
    /// `build_identity`.
    pub build: String,
    pub outcomes: Vec<ProbeOutcome>,
}

/// What identifies a build for the cache: tokenmeter's version and commit, ggml's commit and compiled features,
/// and the executable itself (size and modification time), so a rebuilt binary probes again.
pub fn build_identity(build: &BuildInfo) -> String {
    let tool = ToolInfo::current();
    let exe = std::env::current_exe()
        .and_then(std::fs::metadata)
        .map(|m| {
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{}:{mtime}", m.len())
        })
        .unwrap_or_default();
    format!(
        "tokenmeter {} {} | ggml {} | {} | exe {exe}",
        tool.version,
        tool.git_commit.unwrap_or_default(),
        build.ggml_commit,
        build.system_info
    )
}

pub fn cache_path(cache_dir: &Path, host: Option<&str>) -> PathBuf {
    let file = crate::telemetry::bandwidth::cache_path(cache_dir, host);
    cache_dir
        .join("probe")
        .join(file.file_name().expect("a file name"))
}

fn read_cache(
    path: &Path,
    host: &HostInfo,
    build: &str,
    boot_id: &Option<String>,
) -> Vec<ProbeOutcome> {
    std::fs::read(path)
        .ok()
        .and_then(|t| serde_json::from_slice::<ProbeCache>(&t).ok())
        .filter(|c| c.host == host.hostname && c.boot_id == *boot_id && c.build == build)
        .map(|c| c.outcomes)
        .unwrap_or_default()
}

/// The weight type of the tiny model that stands for `tensor_types` (the model's own types by tensor count):
/// the synthesizable type the model holds most parameters in, else q4_0.
pub fn probe_weight_type(
    tensor_types: &BTreeMap<String, crate::results::file::TypeShare>,
) -> synth::WeightType {
    tensor_types
        .iter()
        .filter_map(|(name, share)| {
            synth::WeightType::parse(&name.to_lowercase()).map(|w| (share.n_params, w))
        })
        .max_by_key(|(n, _)| *n)
        .map_or(synth::WeightType::Q4_0, |(_, w)| w)
}

/// The tiny model of `weight_type`, synthesized into the cache once.
fn tiny_model(weight_type: synth::WeightType, stop: &AtomicBool) -> anyhow::Result<PathBuf> {
    let r = SynthRef {
        shape: "tiny".into(),
        weight_type: weight_type.name().into(),
        seed: 1,
    };
    let path = models::synth_path(&r);
    if !path.exists() {
        let spec = r.to_spec().map_err(anyhow::Error::msg)?;
        synth::write_until(&spec, &path, stop)?;
    }
    Ok(path)
}

/// What the self-test decided for one requested configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The configuration to measure with; `None` when neither it nor any fallback works.
    pub used: Option<EngineConfig>,
    /// Why the requested configuration was not used.
    pub failure: Option<String>,
}

impl Decision {
    /// What becomes of a case that asked for `asked`: `None` when it runs as asked, the fallback it runs under,
    /// or (`Err`) why it cannot run at all.
    pub fn substitution(&self, asked: &EngineConfig) -> Option<Result<EngineFallback, String>> {
        let why = self.failure.as_ref()?;
        Some(match &self.used {
            Some(u) => Ok(EngineFallback {
                requested: asked.label(),
                requested_n_gpu_layers: asked.n_gpu_layers,
                requested_repack: asked.repack,
                reason: why.clone(),
                used: Some(u.label()),
            }),
            None => Err(format!(
                "not run: the self-test found {} broken ({why}) and no fallback that works",
                asked.label()
            )),
        })
    }
}

pub struct SelfTestOptions<'a> {
    pub recheck: bool,
    pub verbose: bool,
    /// The run measures in this process (`--in-process`): ggml's buffer types are chosen once for all cases, so
    /// no fallback may leave AMX out.
    pub in_process: bool,
    pub stop: &'a AtomicBool,
    pub stop_now: &'a AtomicBool,
}

impl<'a> SelfTestOptions<'a> {
    pub fn of(run: &'a super::options::RunOptions) -> SelfTestOptions<'a> {
        SelfTestOptions {
            recheck: run.recheck,
            verbose: run.verbose,
            in_process: run.in_process,
            stop: &run.stop,
            stop_now: &run.stop_now,
        }
    }
}

fn probe_one(
    model: &Path,
    config: &EngineConfig,
    weight_type: &str,
    o: &SelfTestOptions,
) -> ProbeOutcome {
    let req = Request {
        job: Job::Probe {
            model_path: model.to_path_buf(),
            config: config.clone(),
        },
        label: format!("self-test {}", config.label()),
        verbose: o.verbose,
        sample_interval_ns: None,
        parent_pid: std::process::id(),
    };
    let limits = Limits {
        stop_now: o.stop_now,
        timeout: Some(PROBE_TIMEOUT),
        stall: None,
        estimate: None,
        deadline: None,
    };
    let mut out = ProbeOutcome {
        config: config.clone(),
        weight_type: weight_type.to_string(),
        passed: false,
        reason: None,
        decode_passed: false,
        weight_buffers_mib: BTreeMap::new(),
        numerics: None,
        decode_numerics: None,
        probed_at: Utc::now(),
    };
    let gate_passed = |n: &Numerics| n.verdict != NumericsVerdict::Failed;
    let gate_failure = |n: &Numerics| {
        format!(
            "numerics gate failed on {}: {}",
            n.kernels.describe(),
            n.reason.clone().unwrap_or_default()
        )
    };
    match run_in_worker(&req, &limits, |_| {}) {
        Ok(Reply::Probe(report)) => {
            let ProbeReport {
                weight_buffers_mib,
                numerics,
                decode_numerics,
                ..
            } = *report;
            out.passed = gate_passed(&numerics);
            out.decode_passed = decode_numerics.as_ref().is_some_and(gate_passed);
            out.reason = match (&decode_numerics, out.passed) {
                (Some(d), _) if !gate_passed(d) => Some(gate_failure(d)),
                (_, false) => Some(gate_failure(&numerics)),
                _ => None,
            };
            out.weight_buffers_mib = weight_buffers_mib;
            out.numerics = Some(numerics);
            out.decode_numerics = decode_numerics;
        }
        Ok(other) => out.reason = Some(format!("unexpected reply {other:?}")),
        Err(f) => {
            out.weight_buffers_mib = f.loaded.clone().unwrap_or_default();
            let decoded = match f.last_reply.as_deref() {
                Some(Reply::Decoded { numerics }) => Some(numerics.clone()),
                _ => None,
            };
            out.reason = Some(match &decoded {
                Some(d) if gate_passed(d) => {
                    format!("{f}, in its first prompt batch (decodes alone passed)")
                }
                Some(d) => format!("{f}; before that, {}", gate_failure(d)),
                None => f.to_string(),
            });
            out.decode_passed = decoded.as_ref().is_some_and(gate_passed);
            out.decode_numerics = decoded;
        }
    }
    out
}

/// What the self-test decides on: a configuration, for units that run these kernel paths.
pub type Need = (EngineConfig, Kernels);

/// The self-test of every configuration in `needs` (and of fallbacks where needed) for models of
/// `weight_type`; the decisions, and a warning for each substitution, also printed on stderr.
pub fn self_test(
    needs: &[Need],
    weight_type: synth::WeightType,
    host: &HostInfo,
    build: &BuildInfo,
    o: &SelfTestOptions,
) -> anyhow::Result<(HashMap<Need, Decision>, Vec<Warning>)> {
    let cache_file = cache_path(&models::cache_dir(), host.hostname.as_deref());
    let identity = build_identity(build);
    let boot_id = crate::telemetry::bandwidth::boot_id();
    let mut known: Vec<ProbeOutcome> = if o.recheck {
        Vec::new()
    } else {
        read_cache(&cache_file, host, &identity, &boot_id)
    };
    let wt = weight_type.name();
    let mut tiny: Option<PathBuf> = None;
    let mut new = false;
    let mut outcome =
        |c: &EngineConfig, known: &mut Vec<ProbeOutcome>| -> anyhow::Result<ProbeOutcome> {
            if let Some(k) = known.iter().find(|k| k.config == *c && k.weight_type == wt) {
                return Ok(k.clone());
            }
            let model = match &tiny {
                Some(p) => p.clone(),
                None => {
                    let p = tiny_model(weight_type, o.stop)?;
                    tiny = Some(p.clone());
                    p
                }
            };
            let out = probe_one(&model, c, wt, o);
            known.push(out.clone());
            new = true;
            Ok(out)
        };
    let mut decisions = HashMap::new();
    let mut warnings = Vec::new();
    for need in needs {
        if decisions.contains_key(need) {
            continue;
        }
        let (c, kernels) = need;
        let first = outcome(c, &mut known)?;
        if first.passes(*kernels) {
            decisions.insert(
                need.clone(),
                Decision {
                    used: Some(c.clone()),
                    failure: None,
                },
            );
            continue;
        }
        let reason = first.reason.clone().unwrap_or_default();
        let mut used = None;
        for f in c.fallbacks(first.weights_in_amx(), !o.in_process) {
            if outcome(&f, &mut known)?.passes(*kernels) {
                used = Some(f);
                break;
            }
        }
        // One line per configuration when its cases of both kinds went the same way.
        let same = decisions.iter().any(|((c2, _), d): (&Need, &Decision)| {
            c2 == c && d.used == used && d.failure.as_deref() == Some(reason.as_str())
        });
        let requested = match kernels {
            Kernels::BatchAndDecode => c.label(),
            Kernels::Decode => format!("{} (decodes)", c.label()),
        };
        let warning = match &used {
            Some(u) => Warning::EngineFallback {
                requested,
                used: u.label(),
                reason: reason.clone(),
            },
            None => Warning::NoWorkingConfiguration {
                requested,
                reason: reason.clone(),
            },
        };
        if same {
            // The earlier line spoke of one kind of case only: it holds for the configuration.
            let only_decodes = format!("{} (decodes)", c.label());
            for w in &mut warnings {
                if let Warning::EngineFallback { requested, .. }
                | Warning::NoWorkingConfiguration { requested, .. } = w
                {
                    if *requested == only_decodes {
                        *requested = c.label();
                    }
                }
            }
        } else {
            warnings.push(warning);
        }
        decisions.insert(
            need.clone(),
            Decision {
                used,
                failure: Some(reason),
            },
        );
    }
    if new {
        let cache = ProbeCache {
            host: host.hostname.clone(),
            boot_id,
            build: identity,
            outcomes: known,
        };
        // A cache that cannot be written only costs the next run another probe.
        if let Ok(text) = serde_json::to_vec_pretty(&cache) {
            let _ = crate::fsutil::write_atomic(&cache_file, &text);
        }
    }
    Ok((decisions, warnings))
}

/// The reference logits of each model for the numerics gate, computed once per run (in a worker unless
/// `in_process`): each model's file of logits in `dir`, or why there is none.
pub fn references(
    models: &[PathBuf],
    use_mmap: bool,
    n_threads: u32,
    in_process: bool,
    verbose: bool,
    stop_now: &AtomicBool,
    dir: &Path,
) -> HashMap<PathBuf, Result<PathBuf, String>> {
    let mut out = HashMap::new();
    for (i, m) in models.iter().enumerate() {
        let file = dir.join(format!("reference-{i}.json"));
        let made = if in_process {
            Reference::compute(m, use_mmap, n_threads, verbose)
                .map_err(|e| e.to_string())
                .and_then(|r| r.write(&file).map_err(|e| e.to_string()))
        } else {
            let req = Request {
                job: Job::Reference {
                    model_path: m.clone(),
                    use_mmap,
                    n_threads,
                    out: file.clone(),
                },
                label: format!("numerics reference of {}", m.display()),
                verbose,
                sample_interval_ns: None,
                parent_pid: std::process::id(),
            };
            let limits = Limits {
                stop_now,
                timeout: None,
                stall: None,
                estimate: None,
                deadline: None,
            };
            match run_in_worker(&req, &limits, |_| {}) {
                Ok(Reply::Reference { .. }) => Ok(()),
                Ok(other) => Err(format!("unexpected reply {other:?}")),
                Err(f) => Err(f.to_string()),
            }
        };
        out.insert(m.clone(), made.map(|()| file));
    }
    out
}
