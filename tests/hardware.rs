//! Hardware that misbehaves: the machine's self-test and its fallback (a crash injected into a configuration's
//! first prompt batch), `--repack` as llama-bench's case dimension with the weights' real buffers, and the
//! numerics gate (every case against the CPU reference; an injected perturbation is refused downstream).

mod common;

use common::{assert_one_line_error, stderr, synth_tiny};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

/// `tokenmeter ARGS --out OUT` in `dir` with the cache in `dir/cache`, the test hooks cleared then `env` set;
/// returns the output and the result file (`null` when none was written).
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)], out: &str) -> (Output, Value) {
    let result = dir.join(out);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokenmeter"));
    cmd.current_dir(dir)
        .env("TOKENMETER_CACHE_DIR", dir.join("cache"))
        .env_remove("TOKENMETER_TEST_CRASH")
        .env_remove("TOKENMETER_TEST_PERTURB_LOGITS")
        .envs(env.iter().copied())
        .args(args)
        .arg("--out")
        .arg(&result);
    let o = cmd.output().expect("tokenmeter runs");
    let v = std::fs::read_to_string(&result)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (o, v)
}

/// `bench` on `model`: pp16 and tg4, one repetition, one thread, then `args`.
fn bench(
    dir: &Path,
    model: &Path,
    env: &[(&str, &str)],
    args: &[&str],
    out: &str,
) -> (Output, Value) {
    let m = model.to_str().unwrap();
    let mut all = vec![
        "bench", "-m", m, "-p", "16", "-n", "4", "-r", "1", "-t", "1",
    ];
    all.extend(["--telemetry", "off"]);
    all.extend_from_slice(args);
    run(dir, &all, env, out)
}

fn case_of<'a>(v: &'a Value, test: &str) -> &'a Value {
    cases(v).iter().find(|c| c["test"] == test).unwrap()
}

fn cases(v: &Value) -> &Vec<Value> {
    v["cases"].as_array().expect("cases")
}

fn tool(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tokenmeter"))
        .current_dir(dir)
        .env("TOKENMETER_CACHE_DIR", dir.join("cache"))
        .args(args)
        .output()
        .expect("tokenmeter runs")
}

#[test]
fn a_configuration_that_crashes_falls_back_to_one_that_works_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "m.gguf", "q4_0", 1);
    let (o, v) = bench(
        dir.path(),
        &model,
        &[("TOKENMETER_TEST_CRASH", "SIGILL:repack=1")],
        &[],
        "r.json",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("self-test:")).collect();
    assert_eq!(lines.len(), 1, "one line says what failed: {err}");
    assert!(
        lines[0].contains("repack=1") && lines[0].contains("SIGILL"),
        "{err}"
    );
    assert!(lines[0].contains("measured with ngl=-1 repack=0"), "{err}");
    for c in cases(&v) {
        assert_eq!(
            c["repack"],
            Value::Bool(false),
            "measured with the fallback"
        );
        let f = &c["engine_fallback"];
        assert_eq!(f["requested_repack"], Value::Bool(true));
        assert!(f["reason"].as_str().unwrap().contains("SIGILL"), "{f}");
        assert!(
            f["reason"]
                .as_str()
                .unwrap()
                .contains("after loading the model (weights in"),
            "the reason names the weights' buffers: {f}"
        );
        assert_eq!(c["numerics"]["verdict"], "passed");
        assert!(c["avg_ts"].as_f64().unwrap() > 0.0);
    }
    let kinds: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"engine_fallback"), "{kinds:?}");
    assert!(v["failed"].as_array().unwrap().is_empty());
}

#[test]
fn a_configuration_whose_prompt_batches_crash_still_measures_decodes_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "m.gguf", "q4_0", 1);
    let crash = [("TOKENMETER_TEST_CRASH", "SIGSEGV@batch:repack=1")];
    let (o, v) = bench(dir.path(), &model, &crash, &[], "r.json");
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("self-test:")).collect();
    assert_eq!(lines.len(), 1, "one line says what failed: {err}");
    assert!(
        lines[0].contains("SIGSEGV")
            && lines[0].contains("in its first prompt batch (decodes alone passed)"),
        "{err}"
    );
    // The generation case decodes only: it runs as asked, gated on the decodes it measures.
    let tg = case_of(&v, "tg4");
    assert_eq!(tg["repack"], Value::Bool(true), "{tg}");
    assert!(tg["engine_fallback"].is_null(), "{tg}");
    assert_eq!(tg["numerics"]["verdict"], "passed");
    assert_eq!(tg["numerics"]["kernels"], "decode");
    // The prompt case runs under the fastest fallback whose prompt batches work (the hook's text matches an
    // AMX-less variant too, so that is without extra buffer types).
    let pp = case_of(&v, "pp16");
    let f = &pp["engine_fallback"];
    assert_eq!(f["requested_repack"], Value::Bool(true), "{pp}");
    assert!(f["used"].as_str().unwrap().contains("repack=0"), "{f}");
    assert_eq!(pp["repack"], Value::Bool(false));
    assert!(
        pp["numerics"]["kernels"].is_null(),
        "gated on both paths: {pp}"
    );
    assert!(
        !pp["weight_buffers_mib"]
            .as_object()
            .unwrap()
            .contains_key("CPU_REPACK"),
        "{pp}"
    );
    if tg["weight_buffers_mib"].get("AMX").is_some() {
        // A host where ggml puts the weights in AMX, without a hook: prompt batches either work there or run
        // with the other extra buffer types and AMX left out, decodes on AMX.
        let (o, v) = bench(dir.path(), &model, &[], &["--recheck"], "amx.json");
        assert!(o.status.success(), "{}", stderr(&o));
        let tg = case_of(&v, "tg4");
        assert!(tg["weight_buffers_mib"].get("AMX").is_some(), "{tg}");
        let pp = case_of(&v, "pp16");
        let buffers = pp["weight_buffers_mib"].as_object().unwrap();
        match pp["engine_fallback"]["used"].as_str() {
            None => assert!(buffers.contains_key("AMX"), "{pp}"),
            Some(used) => {
                assert!(
                    used.ends_with("repack=1 t=1 fa=-1 k=f16 v=f16 amx=0"),
                    "{used}"
                );
                assert_eq!(pp["repack"], Value::Bool(true));
                assert!(
                    buffers.contains_key("CPU_REPACK") && !buffers.contains_key("AMX"),
                    "{pp}"
                );
                assert_eq!(pp["numerics"]["verdict"], "passed");
            }
        }
    }
    // In one process the buffer types are chosen once: the prompt case goes without extra buffer types.
    let (o, v) = bench(
        dir.path(),
        &model,
        &crash,
        &["--in-process", "--recheck"],
        "p.json",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let pp = case_of(&v, "pp16");
    assert!(
        pp["engine_fallback"]["used"]
            .as_str()
            .unwrap()
            .contains("repack=0"),
        "{pp}"
    );
}

#[test]
fn the_self_test_is_cached_per_boot_and_build_and_recheck_runs_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "m.gguf", "q4_0", 1);
    let (first, _) = bench(dir.path(), &model, &[], &[], "a.json");
    assert!(first.status.success(), "{}", stderr(&first));
    let cache = std::fs::read_dir(dir.path().join("cache/probe"))
        .expect("a probe cache")
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text: Value = serde_json::from_str(&std::fs::read_to_string(&cache).unwrap()).unwrap();
    let outcomes = text["outcomes"].as_array().unwrap();
    let asked = &outcomes[0];
    assert!(asked["config"].get("no_amx").is_none(), "{asked}");
    assert_eq!(asked["weight_type"], "q4_0");
    if asked["passed"] == Value::Bool(true) {
        assert_eq!(outcomes.len(), 1, "{text}");
    } else {
        // A host whose AMX tile kernels crash: decodes passed, and AMX left out passed for prompt batches.
        assert!(asked["weight_buffers_mib"].get("AMX").is_some(), "{asked}");
        assert_eq!(asked["decode_passed"], Value::Bool(true), "{asked}");
        assert_eq!(outcomes.len(), 2, "{text}");
        assert_eq!(outcomes[1]["config"]["no_amx"], Value::Bool(true));
        assert_eq!(outcomes[1]["passed"], Value::Bool(true));
    }
    // A crash injected now is not probed for: the cached outcome holds for this boot and build, so the cases
    // run the requested configuration and their workers die (each recorded as failed; nothing else crashes).
    let crash = [("TOKENMETER_TEST_CRASH", "SIGILL:repack=1")];
    let (cached, v) = bench(dir.path(), &model, &crash, &[], "b.json");
    assert_eq!(cached.status.code(), Some(1), "{}", stderr(&cached));
    assert!(
        !stderr(&cached)
            .lines()
            .any(|l| l.contains("self-test:") && l.contains("SIGILL")),
        "{}",
        stderr(&cached)
    );
    let failed = v["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 2);
    assert!(failed
        .iter()
        .all(|f| f["reason"].as_str().unwrap().contains("SIGILL")));
    // --recheck probes again and falls back.
    let (rechecked, v) = bench(dir.path(), &model, &crash, &["--recheck"], "c.json");
    assert!(rechecked.status.success(), "{}", stderr(&rechecked));
    assert!(cases(&v).iter().all(|c| c["repack"] == Value::Bool(false)));
}

#[test]
fn when_every_configuration_crashes_the_cases_fail_with_one_reason_and_nothing_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "m.gguf", "q4_0", 1);
    let (o, v) = bench(
        dir.path(),
        &model,
        &[("TOKENMETER_TEST_CRASH", "SIGSEGV:")],
        &[],
        "r.json",
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let failed = v["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 2, "pp16 and tg4");
    for f in failed {
        let reason = f["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("not run: the self-test found"),
            "{reason}"
        );
        assert!(reason.contains("SIGSEGV"), "{reason}");
    }
    assert!(cases(&v).is_empty());
}

#[test]
fn repack_values_are_cases_that_record_the_buffers_llama_cpp_used() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "m.gguf", "q4_0", 1);
    let (o, v) = bench(dir.path(), &model, &[], &["--repack", "0,1"], "r.json");
    assert!(o.status.success(), "{}", stderr(&o));
    let all = cases(&v);
    assert_eq!(all.len(), 4, "pp16 and tg4 for each repack value");
    let c: Vec<&Value> = all.iter().filter(|c| c["test"] == "pp16").collect();
    let buffers = |c: &Value| -> Vec<String> {
        c["weight_buffers_mib"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(c[0]["repack"], Value::Bool(false));
    assert_eq!(buffers(&c[0]), ["CPU_Mapped"], "no extra buffer type");
    assert_eq!(c[1]["repack"], Value::Bool(true));
    assert!(
        buffers(&c[1]).iter().any(|b| b != "CPU_Mapped"),
        "an extra buffer type holds weights: {:?}",
        buffers(&c[1])
    );
    for case in &c {
        let total: f64 = case["weight_buffers_mib"]
            .as_object()
            .unwrap()
            .values()
            .map(|x| x.as_f64().unwrap())
            .sum();
        assert!(total > 0.0);
    }
    // the llama-bench export carries repack, and compare joins on it
    let jsonl = tool(
        dir.path(),
        &["export", "r.json", "--format", "llama-bench-jsonl"],
    );
    assert!(jsonl.status.success(), "{}", stderr(&jsonl));
    let repack: Vec<Value> = String::from_utf8_lossy(&jsonl.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["repack"].clone())
        .collect();
    assert_eq!(repack, [false, false, true, true].map(Value::Bool));
    let (o1, _) = bench(dir.path(), &model, &[], &["--repack", "1"], "one.json");
    assert!(o1.status.success(), "{}", stderr(&o1));
    let cmp = tool(dir.path(), &["compare", "r.json", "one.json", "-o", "json"]);
    assert!(cmp.status.code().unwrap() <= 1, "{}", stderr(&cmp));
    let j: Value = serde_json::from_slice(&cmp.stdout).unwrap();
    let joined = j["joined"].as_array().unwrap();
    assert_eq!(joined.len(), 2, "only the repack=1 cases join: {j}");
    assert!(joined.iter().all(|c| c["key"]["repack"] == "1"), "{j}");
    let only_base = j["only_base"].as_array().unwrap();
    assert_eq!(
        only_base.len(),
        2,
        "the repack=0 cases have no partner: {j}"
    );
    assert!(only_base.iter().all(|c| c["key"]["repack"] == "0"), "{j}");
}

#[test]
fn every_case_carries_a_numerics_record_and_no_verify_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "m.gguf", "q4_0", 1);
    let (o, v) = bench(dir.path(), &model, &[], &[], "r.json");
    assert!(o.status.success(), "{}", stderr(&o));
    for c in cases(&v) {
        let n = &c["numerics"];
        assert_eq!(n["verdict"], "passed", "{n}");
        assert_eq!(c["numerics_failed"], Value::Bool(false));
        let d = &n["distance"];
        assert!(d["nmse"].as_f64().unwrap() <= n["nmse_max"].as_f64().unwrap());
        assert!(d["kl_divergence"].as_f64().unwrap() <= n["kl_max"].as_f64().unwrap());
        assert_eq!(d["positions"], 5);
        assert!(n["gate_elapsed_ns"].as_u64().unwrap() > 0, "{n}");
        match c["test"].as_str().unwrap() {
            "pp16" => assert!(n["kernels"].is_null(), "prompt batches and decodes: {n}"),
            _ => assert_eq!(
                n["kernels"], "decode",
                "a generation case is gated on decodes: {n}"
            ),
        }
        assert!(n["reference"]
            .as_str()
            .unwrap()
            .starts_with("CPU, repack 0, ngl 0"));
    }
    let md = String::from_utf8_lossy(&o.stdout);
    let header = md.lines().next().unwrap();
    assert!(header.trim_end().ends_with("| numerics |"), "{header}");
    assert_eq!(
        md.lines()
            .filter(|l| l.trim_end().ends_with("ok |"))
            .count(),
        2,
        "{md}"
    );
    // Two cases of the same configuration and kernel paths share one gate.
    let m = model.to_str().unwrap();
    let (o, v) = run(
        dir.path(),
        &[
            "bench",
            "-m",
            m,
            "-p",
            "0",
            "-n",
            "4,8",
            "-r",
            "1",
            "-t",
            "1",
            "--telemetry",
            "off",
        ],
        &[],
        "two.json",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let tg8 = &case_of(&v, "tg8")["numerics"];
    assert_eq!(tg8["same_as"], "tg4", "one gate per configuration: {tg8}");
    assert_eq!(tg8["gate_elapsed_ns"], 0);
    assert_eq!(tg8["verdict"], "passed");
    let (o, v) = bench(dir.path(), &model, &[], &["--no-verify"], "nv.json");
    assert!(o.status.success(), "{}", stderr(&o));
    for c in cases(&v) {
        assert_eq!(c["numerics"]["verdict"], "not_verified");
        assert_eq!(c["numerics"]["reason"], "--no-verify");
    }
}

#[test]
fn perturbed_logits_fail_the_gate_and_compare_cost_and_report_refuse_the_case() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "m.gguf", "q4_0", 1);
    let (good, _) = bench(dir.path(), &model, &[], &[], "good.json");
    assert!(good.status.success(), "{}", stderr(&good));
    let (o, v) = bench(
        dir.path(),
        &model,
        &[("TOKENMETER_TEST_PERTURB_LOGITS", "0.5:pp16")],
        &["--repack", "0,1"],
        "bad.json",
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("failed the numerics gate"),
        "{}",
        stderr(&o)
    );
    let c = cases(&v);
    let case = |t: &str, repack: bool| {
        c.iter()
            .find(|c| c["test"] == t && c["repack"] == Value::Bool(repack))
            .unwrap()
    };
    for repack in [false, true] {
        // pp16's gate is perturbed; tg4 runs its own on decodes, not perturbed
        let pp = case("pp16", repack);
        assert_eq!(pp["numerics_failed"], Value::Bool(true));
        assert_eq!(pp["numerics"]["verdict"], "failed");
        assert!(pp["numerics"]["test_hook"].is_string());
        let tg = case("tg4", repack);
        assert_eq!(tg["numerics_failed"], Value::Bool(false));
        assert_eq!(tg["numerics"]["verdict"], "passed");
        assert_eq!(tg["numerics"]["kernels"], "decode");
    }
    let md = String::from_utf8_lossy(&o.stdout);
    let row = md.lines().find(|l| l.contains("pp16")).unwrap();
    assert!(row.trim_end().ends_with("FAIL |"), "{row}");
    let row = md.lines().find(|l| l.contains("tg4")).unwrap();
    assert!(row.trim_end().ends_with("ok |"), "{row}");
    let (good_again, v) = bench(dir.path(), &model, &[], &[], "good2.json");
    assert!(good_again.status.success(), "{}", stderr(&good_again));
    for c in cases(&v) {
        assert_eq!(c["numerics"]["verdict"], "passed", "{c}");
    }

    let cmp = tool(dir.path(), &["compare", "good.json", "bad.json"]);
    assert_one_line_error(&cmp, "bad.json: the numerics gate failed for");
    let allowed = tool(
        dir.path(),
        &["compare", "good.json", "bad.json", "--allow-wrong-numerics"],
    );
    assert!(allowed.status.code().unwrap() <= 1, "{}", stderr(&allowed));
    assert!(
        String::from_utf8_lossy(&allowed.stdout)
            .starts_with("> **bad.json: the numerics gate failed"),
        "the top says so"
    );

    let models_toml = Path::new(env!("CARGO_MANIFEST_DIR")).join("models.toml");
    let config = models_toml.to_str().unwrap();
    let cost = tool(
        dir.path(),
        &["cost", "--result", "bad.json", "--config", config],
    );
    assert_one_line_error(&cost, "--allow-wrong-numerics");
    let cost = tool(
        dir.path(),
        &[
            "cost",
            "--result",
            "bad.json",
            "--config",
            config,
            "--allow-wrong-numerics",
        ],
    );
    assert!(cost.status.success(), "{}", stderr(&cost));
    assert!(
        String::from_utf8_lossy(&cost.stdout).starts_with("> **bad.json: the numerics gate failed")
    );

    let report = tool(dir.path(), &["report", "bad.json", "--config", config]);
    assert_one_line_error(&report, "--allow-wrong-numerics");
}

/// `load` on `model` at c=1 and 2 with short requests.
fn load(dir: &Path, model: &Path, env: &[(&str, &str)], out: &str) -> (Output, Value) {
    let m = model.to_str().unwrap();
    let args = [
        "load",
        "-m",
        m,
        "-c",
        "1,2",
        "--requests",
        "2",
        "--input-tokens",
        "8",
        "--output-tokens",
        "4",
        "-t",
        "1",
        "--telemetry",
        "off",
    ];
    run(dir, &args, env, out)
}

#[test]
fn a_load_sweep_is_self_tested_and_gated_like_a_bench_run() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "m.gguf", "q4_0", 1);
    let (o, v) = load(
        dir.path(),
        &model,
        &[("TOKENMETER_TEST_CRASH", "SIGILL:repack=1")],
        "fallback.json",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let sweep = &v["load"];
    assert_eq!(sweep["levels"].as_array().unwrap().len(), 2);
    assert_eq!(
        sweep["engine_fallback"]["requested_repack"],
        Value::Bool(true)
    );
    assert!(sweep["engine_fallback"]["reason"]
        .as_str()
        .unwrap()
        .contains("SIGILL"));
    assert_eq!(sweep["numerics"]["verdict"], "passed");
    assert!(!sweep["weight_buffers_mib"]
        .as_object()
        .unwrap()
        .contains_key("CPU_REPACK"));
    assert_eq!(
        v["parameters"]["engine"]["repack"],
        Value::Bool(true),
        "what was asked"
    );

    let (o, v) = load(
        dir.path(),
        &model,
        &[("TOKENMETER_TEST_PERTURB_LOGITS", "0.5")],
        "bad.json",
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(v["load"]["numerics_failed"], Value::Bool(true));
    let models_toml = Path::new(env!("CARGO_MANIFEST_DIR")).join("models.toml");
    let cost = tool(
        dir.path(),
        &[
            "cost",
            "--result",
            "bad.json",
            "--config",
            models_toml.to_str().unwrap(),
        ],
    );
    assert_one_line_error(&cost, "the load sweep");
}

#[test]
fn a_cpu_generation_case_names_the_tighter_of_its_compute_and_memory_ceilings() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "m.gguf", "q4_0", 1);
    let (o, v) = bench(dir.path(), &model, &[], &["-p", "0"], "r.json");
    assert!(o.status.success(), "{}", stderr(&o));
    let tg = cases(&v).iter().find(|c| c["test"] == "tg4").unwrap();
    let x = &tg["roofline"];
    let c = &x["compute"];
    let f = |v: &Value| v.as_f64().unwrap();
    assert!(
        f(&c["min_gb_per_s"]) <= f(&c["gb_per_s"]) && f(&c["gb_per_s"]) <= f(&c["max_gb_per_s"])
    );
    assert_eq!(c["passes"], 7);
    assert_eq!(c["weight_type"], "q4_0");
    // Repack on: the buffer generation reads (AMX where ggml put the weights there).
    let read = if tg["weight_buffers_mib"].get("AMX").is_some() {
        "AMX"
    } else {
        "CPU_REPACK"
    };
    assert_eq!(c["buffer_type"], read, "the buffer generation reads: {tg}");
    let bytes = f(&x["bytes_per_token"]);
    let compute_ts = f(&c["gb_per_s"]) * 1e9 / bytes;
    let memory_ts = f(&x["bandwidth_gb_per_s"]) * 1e9 / bytes;
    assert!((f(&c["tg_ceiling_t_per_s"]) - compute_ts).abs() <= 1e-9 * compute_ts);
    let (binding, tighter) = if compute_ts < memory_ts {
        ("compute", compute_ts)
    } else {
        ("memory", memory_ts)
    };
    assert_eq!(x["binding"], binding);
    let expected = f(&tg["avg_ts"]) / tighter;
    assert!((f(&x["tighter_fraction"]) - expected).abs() <= 1e-9 * expected);
    assert!(
        std::fs::read_dir(dir.path().join("cache/compute"))
            .unwrap()
            .count()
            == 1,
        "cached beside the bandwidth figure"
    );
}
