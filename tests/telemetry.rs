//! Telemetry end to end on the real binary: energy is either measured or absent with one reason, never 0; the
//! generation roofline is reported against a measured (or configured) memory bandwidth.

mod common;
use common::*;
use serde_json::Value;

/// Runs `tokenmeter CMD -m MODEL ARGS… --out DIR/out.json` on a fresh tiny model and returns the process output
/// and the result file; the run must succeed.
fn run(
    cmd: &str,
    args: &[&str],
    setup: impl FnOnce(&std::path::Path),
) -> (std::process::Output, Value) {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let model = synth_tiny(dir.path(), "tiny.gguf", "q8_0", 1);
    let out = dir.path().join("out.json");
    let mut all = vec![cmd, "-m", model.to_str().unwrap()];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", out.to_str().unwrap()]);
    let o = tokenmeter(&all, dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let file = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    (o, file)
}

/// Each energy record is either measured (a positive number of joules) or absent with the run's one-line reason,
/// and an absent figure is `null`, never 0.
fn assert_measured_or_absent(record: &Value, reason: Option<&str>) {
    match reason {
        Some(reason) => {
            assert_eq!(record["absent_reason"], reason, "{record}");
            for key in [
                "energy_j",
                "avg_power_w",
                "peak_power_w",
                "j_per_token",
                "tokens_per_j",
            ] {
                assert!(record[key].is_null(), "{key} must be null: {record}");
            }
        }
        None => {
            let j = record["energy_j"].as_f64();
            assert!(
                j.is_some_and(|j| j > 0.0) || !record["flags"].as_array().unwrap().is_empty(),
                "energy neither measured nor flagged: {record}"
            );
        }
    }
}

#[test]
fn bench_reports_energy_per_phase_or_one_reason_it_is_absent_and_the_roofline() {
    let (o, file) = run(
        "bench",
        &["-p", "32", "-n", "16", "-r", "3", "-t", "1", "--idle", "1s"],
        |_| {},
    );
    assert_eq!(file["schema_version"], 6);
    let t = &file["telemetry"];
    assert_eq!(t["enabled"], true);
    assert_eq!(t["sample_interval_ms"], 50.0);
    let reason = t["energy_absent_reason"].as_str();
    let table = stdout(&o);
    if let Some(reason) = reason {
        assert!(reason.starts_with("energy: absent ("), "{reason}");
        assert_eq!(reason.lines().count(), 1);
        assert_eq!(
            table.matches(reason).count(),
            1,
            "the reason once under the table:\n{table}"
        );
        assert!(
            t["idle"].as_array().unwrap().is_empty(),
            "no idle baseline without an energy sensor"
        );
    }
    for c in file["cases"].as_array().unwrap() {
        let energy = c["energy"].as_array().unwrap();
        assert!(!energy.is_empty());
        for e in energy {
            assert_measured_or_absent(&e["total"], reason);
            let pp = c["n_prompt"].as_u64().unwrap() > 0;
            assert_eq!(e["prompt"].is_null(), !pp || reason.is_some());
            assert_eq!(e["generation"].is_null(), pp || reason.is_some());
        }
        // each repetition is placed on the sensors' clock
        let starts: Vec<u64> = c["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["start_ns"].as_u64().unwrap())
            .collect();
        assert!(starts.windows(2).all(|w| w[0] < w[1]));
        assert!(c["process"]["peak_rss_bytes"].as_u64().unwrap() > 0);
    }

    // The roofline: tg only, avg_ts × weight bytes per token ÷ bandwidth, below 1 on a real memory system.
    let bw = t["memory_bandwidth"]["gb_per_s"].as_f64().unwrap();
    assert!(t["memory_bandwidth"]["source"]
        .as_str()
        .unwrap()
        .starts_with("measured: CPU"));
    let bytes = file["models"][0]["weights_read_per_token_bytes"]
        .as_u64()
        .unwrap();
    assert!(bytes > 0 && bytes <= file["models"][0]["file_size_bytes"].as_u64().unwrap());
    let cases = file["cases"].as_array().unwrap();
    let tg = cases.iter().find(|c| c["test"] == "tg16").unwrap();
    let pp = cases.iter().find(|c| c["test"] == "pp32").unwrap();
    assert!(pp["roofline"].is_null());
    let fraction = tg["roofline"]["fraction"].as_f64().unwrap();
    let expected = tg["avg_ts"].as_f64().unwrap() * bytes as f64 / (bw * 1e9);
    assert!(
        (fraction - expected).abs() < 1e-12 * expected.max(1.0),
        "{fraction} vs {expected}"
    );
    assert!(
        fraction > 0.0 && fraction < 1.0,
        "roofline fraction {fraction}"
    );
    assert!(table.contains("roofline: tg t/s × weight bytes read per token ÷ memory bandwidth"));
}

#[test]
fn telemetry_off_reads_no_sensor_and_says_so() {
    let (o, file) = run(
        "bench",
        &[
            "-p",
            "0",
            "-n",
            "8",
            "-r",
            "2",
            "-t",
            "1",
            "--telemetry",
            "off",
            "-o",
            "json",
        ],
        |_| {},
    );
    let t = &file["telemetry"];
    assert_eq!(t["enabled"], false);
    assert_eq!(t["sensors"].as_array().unwrap().len(), 0);
    let reason = "energy: not measured (--telemetry off)";
    assert_eq!(t["energy_absent_reason"], reason);
    let case = &file["cases"][0];
    assert_measured_or_absent(&case["energy"][0]["total"], Some(reason));
    assert!(
        case["process"].is_null(),
        "no process readings when telemetry is off"
    );
    // the JSON on stdout carries the same records
    let printed: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(printed[0]["energy"], case["energy"]);
}

#[test]
fn load_levels_report_energy_per_output_token_or_its_absence() {
    let (o, file) = run(
        "load",
        &[
            "-c",
            "1,2",
            "--requests",
            "4",
            "--input-tokens",
            "8",
            "--output-tokens",
            "8",
            "-t",
            "1",
            "--idle",
            "0",
        ],
        |_| {},
    );
    let reason = file["telemetry"]["energy_absent_reason"].as_str();
    let table = stdout(&o);
    assert!(table.contains("J/output token"), "{table}");
    for l in file["load"]["levels"].as_array().unwrap() {
        for e in l["energy"].as_array().unwrap() {
            assert_measured_or_absent(e, reason);
            if reason.is_none() {
                assert_eq!(e["tokens"], 8 * 4);
            }
        }
        assert!(l["process"]["peak_rss_bytes"].as_u64().unwrap() > 0);
    }
    if let Some(reason) = reason {
        assert_eq!(table.matches(reason).count(), 1, "{table}");
    }
}

const HARDWARE_BOX: &str =
    "[[hardware]]\nname = \"box\"\nusd_per_hour = 1.0\nboard_power_w = 300.0\n\
    idle_power_w = 50.0\nhost_power_w = 100.0\nops_hours_per_month = 0.0\nusd_per_ops_hour = 0.0\n\
    memory_bandwidth_gb_per_s = 1000.0\n";

#[test]
fn a_configured_bandwidth_replaces_the_measurement_and_names_its_key() {
    let args = [
        "-p",
        "0",
        "-n",
        "8",
        "-r",
        "2",
        "-t",
        "1",
        "--hardware",
        "box",
    ];
    let (_, file) = run("bench", &args, |d| {
        std::fs::write(d.join("models.toml"), HARDWARE_BOX).unwrap()
    });
    let bw = &file["telemetry"]["memory_bandwidth"];
    assert_eq!(bw["gb_per_s"], 1000.0);
    assert_eq!(
        bw["source"],
        "configured: models.toml hardware[box].memory_bandwidth_gb_per_s"
    );
}

#[test]
fn bad_telemetry_flags_are_rejected_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth_tiny(dir.path(), "tiny.gguf", "q8_0", 1);
    let m = model.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["bench", "-m", m, "--telemetry", "maybe"],
            "--telemetry",
        ),
        (
            vec!["bench", "-m", m, "--sample-interval", "0s"],
            "--sample-interval",
        ),
        (vec!["bench", "-m", m, "--idle", "soon"], "--idle"),
        (
            vec!["load", "-m", m, "--idle-from", "missing.json"],
            "missing.json",
        ),
    ] {
        let o = tokenmeter(&args, dir.path());
        assert_one_line_error(&o, needle);
    }
}

/// The `llama-cpp-sys-2` version in Cargo.lock, read now.
fn locked_llama_cpp_sys_version() -> String {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock")).unwrap();
    let lock: toml::Table = lock.parse().unwrap();
    lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"].as_str() == Some("llama-cpp-sys-2"))
        .and_then(|p| p["version"].as_str())
        .unwrap()
        .to_string()
}

#[test]
fn the_recorded_llama_cpp_sys_version_is_the_one_cargo_lock_resolved() {
    assert_eq!(
        tokenmeter::engine::LLAMA_CPP_SYS_VERSION,
        locked_llama_cpp_sys_version()
    );
}

/// `bench` on a fresh tiny model with `TOKENMETER_CACHE_DIR` = `dir/cache`; returns the result file.
fn bench_in(dir: &std::path::Path, extra: &[&str]) -> Value {
    let model = dir.join("tiny.gguf");
    if !model.exists() {
        synth_tiny(dir, "tiny.gguf", "q8_0", 1);
    }
    let out = dir.join("out.json");
    let mut args = vec![
        "bench",
        "-m",
        model.to_str().unwrap(),
        "-p",
        "0",
        "-n",
        "4",
        "-r",
        "1",
        "-t",
        "1",
        "--idle",
        "0",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = tokenmeter(&args, dir);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
}

#[test]
fn the_cpu_bandwidth_is_measured_once_per_host_and_remeasured_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let first = bench_in(dir.path(), &[]);
    let bw = first["telemetry"]["memory_bandwidth"].clone();
    let source = bw["source"].as_str().unwrap();
    assert!(
        source.starts_with("measured: CPU streaming read of "),
        "{source}"
    );
    assert!(source.ends_with(" median of 7 passes"), "{source}");
    let (min, median, max) = (
        bw["min_gb_per_s"].as_f64().unwrap(),
        bw["gb_per_s"].as_f64().unwrap(),
        bw["max_gb_per_s"].as_f64().unwrap(),
    );
    assert!(0.0 < min && min <= median && median <= max, "{bw}");
    assert!(bw["buffer_bytes"].as_u64().unwrap() > 0);
    assert_eq!(bw["passes"], 7);
    let cached: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::fs::read_dir(dir.path().join("cache").join("bandwidth"))
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(cached["gb_per_s"], bw["gb_per_s"]);
    assert_eq!(cached["host"], first["host"]["hostname"]);
    assert_eq!(cached["cpu_model"], first["host"]["cpu_model"]);

    // The second run reads the figure back from the cache and says so.
    let second = bench_in(dir.path(), &[]);
    let again = &second["telemetry"]["memory_bandwidth"];
    assert_eq!(again["gb_per_s"], bw["gb_per_s"]);
    assert_eq!(again["measured_at"], bw["measured_at"]);
    let date = &bw["measured_at"].as_str().unwrap()[..10];
    assert_eq!(
        again["source"].as_str().unwrap(),
        source.replacen("measured:", &format!("measured (cached from {date}):"), 1)
    );

    // --remeasure-bandwidth measures again and replaces the cached figure.
    let third = bench_in(dir.path(), &["--remeasure-bandwidth"]);
    let fresh = &third["telemetry"]["memory_bandwidth"];
    assert!(fresh["source"]
        .as_str()
        .unwrap()
        .starts_with("measured: CPU"));
    assert_ne!(fresh["measured_at"], bw["measured_at"]);
    let fourth = bench_in(dir.path(), &[]);
    assert_eq!(
        fourth["telemetry"]["memory_bandwidth"]["measured_at"],
        fresh["measured_at"]
    );
}

/// Power rising linearly, 50 W + 100 W/s × t, read every 10 ms for 60 s: the energy between `a` and `b` (ns) is
/// ∫ (50 + 100 t) dt = 50 (b − a) + 50 (b² − a²) J with t in seconds, and a trapezoid is exact on it.
fn ramp_j(a_ns: u64, b_ns: u64) -> f64 {
    let (a, b) = (a_ns as f64 / 1e9, b_ns as f64 / 1e9);
    50.0 * (b - a) + 50.0 * (b * b - a * a)
}

#[test]
fn bench_energy_through_the_runner_matches_the_integral_of_a_known_power_trace() {
    use tokenmeter::engine::{load_model, ContextParams, ModelParams};
    use tokenmeter::runner::energy::case_energy;
    use tokenmeter::runner::{run_case, Case, Meter, Test};
    use tokenmeter::stats::StopRule;
    use tokenmeter::telemetry::{Sample, Sensor, TraceSensor};

    const MS: u64 = 1_000_000;
    let ramp: Vec<Sample> = (0..=6000u64)
        .map(|i| Sample {
            t_ns: i * 10 * MS,
            power_w: Some(50.0 + 100.0 * (i * 10) as f64 / 1000.0),
            ..Sample::default()
        })
        .collect();
    // A second device at a constant 100 W, by its energy counter.
    let counter: Vec<Sample> = (0..=6000u64)
        .map(|i| Sample {
            t_ns: i * 10 * MS,
            energy_counter_j: Some(i as f64),
            ..Sample::default()
        })
        .collect();
    let sensors: Vec<Box<dyn Sensor>> = vec![
        Box::new(TraceSensor::new("ramp", ramp)),
        Box::new(TraceSensor::new("counter", counter)),
    ];
    let mut meter = Meter::with_sensors(sensors, std::time::Duration::from_millis(10));

    let dir = tempfile::tempdir().unwrap();
    let path = synth_tiny(dir.path(), "tiny.gguf", "q8_0", 1);
    // In this process (no worker, no self-test): without extra buffer types, whose AMX tile kernels crash in
    // prompt batches on some hosts (docs/hardware.md).
    let model_params = ModelParams {
        n_gpu_layers: 0,
        use_mmap: true,
        repack: false,
        no_amx: false,
    };
    let model = load_model(&path, model_params, false).unwrap();
    let test = Test {
        n_prompt: 32,
        n_gen: 8,
        n_depth: 64,
    };
    let case = Case {
        model_path: path.clone(),
        model: model_params,
        context: ContextParams {
            n_ctx: 128,
            n_batch: 64,
            n_ubatch: 64,
            n_threads: 1,
            flash_attn: -1,
            offload_kqv: false,
            type_k: "f16".into(),
            type_v: "f16".into(),
            n_seq_max: 1,
        },
        test,
        stop_rule: StopRule::fixed(3),
        warmup_runs: 1,
        seed: 7,
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    let run = run_case(&model, &case, &mut meter, &stop, |_| {}).unwrap();
    assert_eq!(run.samples.len(), 3);
    // (start, prompt end, end) of each timed region, inside the trace.
    let spans: Vec<(u64, u64, u64)> = run
        .samples
        .iter()
        .map(|s| {
            let t = s.start_ns.unwrap();
            (t, t + s.prompt_ns.unwrap(), t + s.total_ns)
        })
        .collect();
    assert!(spans.last().unwrap().2 < 60_000 * MS);

    let energy = case_energy(&run.windows, &run.samples, 32, 8, &[], None);
    assert_eq!(energy.len(), 2);
    let close = |got: Option<f64>, want: f64| {
        let got = got.expect("energy measured");
        assert!(
            (got - want).abs() <= 1e-9 * want,
            "got {got} J, want {want} J"
        );
    };
    let ramp = &energy[0];
    close(
        ramp.total.energy_j,
        spans.iter().map(|&(a, _, c)| ramp_j(a, c)).sum(),
    );
    close(
        ramp.prompt.as_ref().unwrap().energy_j,
        spans.iter().map(|&(a, b, _)| ramp_j(a, b)).sum(),
    );
    close(
        ramp.generation.as_ref().unwrap().energy_j,
        spans.iter().map(|&(_, b, c)| ramp_j(b, c)).sum(),
    );
    assert_eq!(ramp.total.tokens, Some(3 * 40));

    let timed_ns: u64 = spans.iter().map(|&(a, _, c)| c - a).sum();
    let constant = &energy[1];
    close(constant.total.energy_j, 100.0 * timed_ns as f64 / 1e9);
    close(constant.total.avg_power_w, 100.0);
}
