//! What else differs between the two sides' runs: every fact their inputs record (versions, build, host,
//! drivers, parameters), the fields whose values differ, and which of them make it a comparison between systems.

use super::{EnvDiff, Input, Source};
use std::collections::{BTreeMap, BTreeSet};

fn flatten_json(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_json(&p, v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// Every fact known about a side's runs: field → the values its inputs have.
fn facts(sources: &[Source]) -> BTreeMap<String, BTreeSet<String>> {
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        m.entry(k.to_string()).or_default().insert(v);
    };
    let opt = |x: &Option<String>| x.clone().unwrap_or_else(|| "—".into());
    for s in sources {
        match &s.input {
            Input::Result(f) => {
                put("tokenmeter version", f.tokenmeter.version.clone());
                put("tokenmeter commit", opt(&f.tokenmeter.git_commit));
                put(
                    "llama-cpp-sys-2 version",
                    f.build.llama_cpp_sys_version.clone(),
                );
                put("ggml version", f.build.ggml_version.clone());
                put("ggml commit", f.build.ggml_commit.clone());
                put("system_info", f.build.system_info.clone());
                let devices: Vec<String> = f
                    .build
                    .devices
                    .iter()
                    .map(|d| format!("{} ({}, {})", d.description, d.backend, d.name))
                    .collect();
                put("backend devices", devices.join("; "));
                put("host", opt(&f.host.hostname));
                put("cpu model", opt(&f.host.cpu_model));
                put("logical cpus", f.host.cpu_logical_cpus.to_string());
                put(
                    "os",
                    format!("{} {}", opt(&f.host.os), opt(&f.host.os_version)),
                );
                put("kernel", opt(&f.host.kernel));
                for m in &f.models {
                    put("model sha256", opt(&m.sha256));
                }
                if let Some(t) = f.telemetry.as_ref().filter(|t| !t.drivers.is_empty()) {
                    put("drivers", t.drivers.join("; "));
                }
                if let Some(sweep) = &f.load {
                    let slo: Vec<String> = sweep
                        .slo
                        .iter()
                        .map(|t| {
                            format!("{:?}_{}<={}ms", t.metric, t.percentile, t.max_ms)
                                .to_lowercase()
                        })
                        .collect();
                    put("slo", slo.join(","));
                }
                let mut params = BTreeMap::new();
                flatten_json("", &f.parameters, &mut params);
                for (k, v) in params {
                    if k != "models" {
                        put(&format!("parameter {k}"), v);
                    }
                }
                for c in &f.cases {
                    // in llama-bench's terms, so that a llama-bench run of the same tree shows no difference
                    put(
                        "build_commit",
                        crate::results::llama_bench::build_commit(f, c),
                    );
                    put("build_number", c.build_number.unwrap_or(0).to_string());
                    put("cpu_info", c.cpu_info.clone());
                    put("gpu_info", c.gpu_info.clone());
                    put("backends", c.backends.clone());
                }
            }
            Input::LlamaBench(records) => {
                for r in records {
                    put("build_commit", opt(&r.build_commit));
                    put(
                        "build_number",
                        r.build_number.map_or("—".into(), |n| n.to_string()),
                    );
                    put("cpu_info", opt(&r.cpu_info));
                    put("gpu_info", opt(&r.gpu_info));
                    put("backends", opt(&r.backends));
                }
            }
        }
    }
    m
}

pub(super) fn environment(base: &[Source], new: &[Source]) -> Vec<EnvDiff> {
    let (fb, fnew) = (facts(base), facts(new));
    fb.iter()
        .filter_map(|(k, vb)| {
            let vn = fnew.get(k)?;
            (vb != vn).then(|| EnvDiff {
                field: k.clone(),
                base: vb.iter().cloned().collect(),
                new: vn.iter().cloned().collect(),
            })
        })
        .collect()
}

/// Why the two sides are a comparison between systems rather than a regression check: the hardware and backend
/// fields that differ, and the model (joined across models, or another file of the same model).
pub(super) fn systems_differ(environment: &[EnvDiff], model_differs: bool) -> Vec<String> {
    let mut systems_differ = Vec::new();
    for field in [
        "cpu_info",
        "gpu_info",
        "backends",
        "cpu model",
        "backend devices",
    ] {
        if let Some(d) = environment.iter().find(|d| d.field == field) {
            systems_differ.push(format!(
                "{field}: {} → {}",
                d.base.join(", "),
                d.new.join(", ")
            ));
        }
    }
    if model_differs {
        systems_differ.push("the models differ (joined with --ignore model)".into());
    } else if let Some(d) = environment.iter().find(|d| d.field == "model sha256") {
        systems_differ.push(format!(
            "model sha256: {} → {}",
            d.base.join(", "),
            d.new.join(", ")
        ));
    }
    systems_differ
}
