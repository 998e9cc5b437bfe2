//! The NVML sensor through NVML's real C interface, on a machine without a GPU. `tests/fake_nvml/nvml.c`, compiled
//! here into `libnvidia-ml.so.1`, answers NVML's calls from a trace whose power curve the test wrote, and
//! nvml-wrapper's own loader opens it: in this process from its path (`NvmlSensor::all_from`), in the binary from
//! the loader's search path (`LD_LIBRARY_PATH`). So `telemetry/nvml.rs` runs as it stands, and every energy figure
//! is checked against the trace's exact integral, within the uncertainty the figure states.
#![cfg(target_os = "linux")]

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;
use tokenmeter::results::record::RepSample;
use tokenmeter::results::telemetry::{CaseEnergy, EnergyFlag, EnergyRecord, EnergySource};
use tokenmeter::runner::energy::case_energy;
use tokenmeter::telemetry::{accounting, NvmlSensor, Sample, Sensor, Window};

const SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake_nvml/nvml.c");
const S: f64 = 1e9;

/// Compiles the fake into `dir/libnvidia-ml.so.1`, with `defines` choosing a variant (`-DFAKE_NVML_NO_V2`…).
fn build_fake(dir: &Path, defines: &[&str]) -> PathBuf {
    let lib = dir.join("libnvidia-ml.so.1");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let o = Command::new(cc)
        .args(["-std=c99", "-O2", "-Wall", "-shared", "-fPIC"])
        .arg("-Wl,-soname,libnvidia-ml.so.1")
        .args(defines)
        .arg("-o")
        .arg(&lib)
        .arg(SOURCE)
        .args(["-lm", "-ldl", "-pthread"])
        .output()
        .expect("a C compiler (cc) runs");
    assert!(o.status.success(), "cc: {}", stderr(&o));
    lib
}

/// Writes the trace the fake in `dir` reads.
fn write_trace(dir: &Path, text: &str) {
    std::fs::write(dir.join("fake-nvml-trace.txt"), text).unwrap();
}

/// A power curve as the fake reads it: points (s, W), linear between them, constant outside; two points at one
/// time make a step.
#[derive(Debug, Clone)]
struct Curve(Vec<(f64, f64)>);

impl Curve {
    /// Constant `w` until the first step, then each `(from_s, w)` level in turn.
    fn steps(w: f64, levels: &[(f64, f64)]) -> Curve {
        let mut points = vec![(0.0, w)];
        let mut last = w;
        for &(t, w) in levels {
            points.extend([(t, last), (t, w)]);
            last = w;
        }
        Curve(points)
    }

    fn trace_lines(&self) -> String {
        self.0
            .iter()
            .map(|(t, w)| format!("power {t} {w}\n"))
            .collect()
    }

    /// The exact energy over `[a, b]` seconds, as the fake's counter integrates it.
    fn energy_j(&self, a: f64, b: f64) -> f64 {
        let p = &self.0;
        let (first, last) = (p[0], p[p.len() - 1]);
        let mut sum = first.1 * (b.min(first.0) - a).max(0.0);
        for w in p.windows(2) {
            let ((t0, w0), (t1, w1)) = (w[0], w[1]);
            let (x0, x1) = (a.max(t0), b.min(t1));
            if t1 > t0 && x1 > x0 {
                let at = |x: f64| w0 + (w1 - w0) * (x - t0) / (t1 - t0);
                sum += (at(x0) + at(x1)) / 2.0 * (x1 - x0);
            }
        }
        sum + last.1 * (b - a.max(last.0)).max(0.0)
    }

    /// The exact energy over spans given in ns.
    fn spans_j(&self, spans: &[(u64, u64)]) -> f64 {
        spans
            .iter()
            .map(|&(a, b)| self.energy_j(a as f64 / S, b as f64 / S))
            .sum()
    }
}

// ---- In this process: four GPUs read over the same two repetitions of a GPU-like power profile ----

/// Repetitions as a GPU would run them: idle (60 W), prompt processing (300 W), generation (180 W). Edges fall
/// between the counter's 100 ms refreshes, as they do on a real GPU.
const IDLE_W: f64 = 60.0;
const PROMPT_W: f64 = 300.0;
const GEN_W: f64 = 180.0;
const FIRST_REP_S: f64 = 0.337;
const PROMPT_S: f64 = 0.9;
const GEN_S: f64 = 1.5;
const REP_PERIOD_S: f64 = 2.7;
const REPS: usize = 2;
const END_S: f64 = FIRST_REP_S + REPS as f64 * REP_PERIOD_S;
/// Device 2's counter restarts (a driver reload) during the second repetition's generation.
const RESET_S: f64 = FIRST_REP_S + REP_PERIOD_S + PROMPT_S + 0.5;
/// Device 3 is lost during the second repetition's prompt processing.
const LOST_S: f64 = FIRST_REP_S + REP_PERIOD_S + 0.45;
/// About a year of a 700 W GPU since the driver loaded.
const COUNTER_START_MJ: u64 = 22_000_000_000_000;

struct Run {
    curve: Curve,
    reps: Vec<RepSample>,
    windows: Vec<Window>,
    capabilities: Vec<tokenmeter::telemetry::Capabilities>,
}

impl Run {
    fn energy(&self, device: usize) -> CaseEnergy {
        case_energy(
            &self.windows[device..=device],
            &self.reps,
            512,
            128,
            &[],
            None,
        )
        .remove(0)
    }

    fn prompt_spans(&self) -> Vec<(u64, u64)> {
        self.reps
            .iter()
            .map(|r| {
                (
                    r.start_ns.unwrap(),
                    r.start_ns.unwrap() + r.prompt_ns.unwrap(),
                )
            })
            .collect()
    }

    fn gen_spans(&self) -> Vec<(u64, u64)> {
        self.reps
            .iter()
            .map(|r| {
                let s = r.start_ns.unwrap();
                (s + r.prompt_ns.unwrap(), s + r.total_ns)
            })
            .collect()
    }

    fn total_spans(&self) -> Vec<(u64, u64)> {
        self.reps
            .iter()
            .map(|r| (r.start_ns.unwrap(), r.start_ns.unwrap() + r.total_ns))
            .collect()
    }
}

/// Opens the four fake GPUs through nvml-wrapper, reads them over the profile on the trace's own clock, and
/// returns their windows with the repetitions placed on that clock. Run once, shared by the tests below.
fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let lib = build_fake(dir.path(), &[]);
        let mut levels = Vec::new();
        let mut reps = Vec::new();
        for k in 0..REPS {
            let s = FIRST_REP_S + k as f64 * REP_PERIOD_S;
            levels.extend([
                (s, PROMPT_W),
                (s + PROMPT_S, GEN_W),
                (s + PROMPT_S + GEN_S, IDLE_W),
            ]);
            reps.push(RepSample {
                prompt_ns: Some((PROMPT_S * S) as u64),
                gen_ns: Some((GEN_S * S) as u64),
                total_ns: ((PROMPT_S + GEN_S) * S) as u64,
                gen_token_ns: Vec::new(),
                start_ns: Some((s * S) as u64),
            });
        }
        let curve = Curve::steps(IDLE_W, &levels);
        // Time 0 of the trace is the sensors' origin, so the repetitions above sit on both clocks.
        let (origin, origin_mono_ns) = tokenmeter::clock::now();
        let power = curve.trace_lines();
        write_trace(
            dir.path(),
            &format!(
                "driver_version 550.54.15\nepoch_mono_ns {origin_mono_ns}\n\
                 device NVIDIA Fake H100 (counter)\ncounter_period_ms 100\ncounter_start_mj {COUNTER_START_MJ}\n{power}\
                 device NVIDIA Fake P100 (no counter)\nno_energy_counter\n{power}\
                 device NVIDIA Fake H100 (counter restarts)\ncounter_period_ms 100\n\
                 counter_start_mj {COUNTER_START_MJ}\ncounter_reset_s {RESET_S}\n{power}\
                 device NVIDIA Fake H100 (lost)\ncounter_period_ms 100\nlost_s {LOST_S}\n{power}"
            ),
        );
        let mut sensors =
            NvmlSensor::all_from(Some(&lib), Duration::from_millis(50)).expect("the fake opens");
        assert_eq!(sensors.len(), 4);
        for s in sensors.iter_mut() {
            s.start(origin).unwrap();
        }
        std::thread::sleep(Duration::from_secs_f64(END_S + 0.3).saturating_sub(origin.elapsed()));
        let windows: Vec<Window> = sensors.iter_mut().map(|s| s.stop().unwrap()).collect();
        Run {
            curve,
            reps,
            windows,
            capabilities: sensors.iter().map(|s| s.capabilities()).collect(),
        }
    })
}

/// `measured` against the exact integral of `spans`: the error must lie within the figure's stated
/// uncertainty. Returns (error, uncertainty) in J.
fn within_uncertainty(
    what: &str,
    r: &EnergyRecord,
    curve: &Curve,
    spans: &[(u64, u64)],
) -> (f64, f64) {
    let truth_j = curve.spans_j(spans);
    let measured_j = r
        .energy_j
        .unwrap_or_else(|| panic!("{what}: no energy: {r:?}"));
    let uncertainty_j = r.energy_uncertainty_j.unwrap();
    let error_j = measured_j - truth_j;
    eprintln!(
        "{what}: measured {measured_j:.2} J, trace {truth_j:.2} J, error {error_j:+.2} J ({:+.2}%), stated ±{uncertainty_j:.2} J ({:.1}%)",
        100.0 * error_j / truth_j,
        100.0 * uncertainty_j / measured_j
    );
    assert!(
        error_j.abs() <= uncertainty_j,
        "{what}: {measured_j} J vs the trace's {truth_j} J: error beyond the stated ±{uncertainty_j} J"
    );
    (error_j, uncertainty_j)
}

#[test]
fn energy_per_phase_from_the_counter_matches_the_traces_integral_within_its_stated_uncertainty() {
    let run = run();
    assert!(run.capabilities[0].energy_counter);
    let e = run.energy(0);
    for (what, r, spans) in [
        ("prompt", e.prompt.as_ref().unwrap(), run.prompt_spans()),
        (
            "generation",
            e.generation.as_ref().unwrap(),
            run.gen_spans(),
        ),
        ("total", &e.total, run.total_spans()),
    ] {
        assert_eq!(r.source, Some(EnergySource::NvmlCounter), "{what}");
        assert!(
            r.counter_energy_j.is_some() && r.absent_reason.is_none(),
            "{what}"
        );
        within_uncertainty(&format!("counter {what}"), r, &run.curve, &spans);
    }
    // Every figure comes from readings kept in the record: the raw counter, in joules, from the trace's start.
    let first = &e.total.samples[0];
    let raw_j = first.energy_counter_j.unwrap();
    let expected_j = COUNTER_START_MJ as f64 / 1e3 + run.curve.energy_j(0.0, first.t_ns as f64 / S);
    // The counter lags by up to its 100 ms refresh.
    assert!(
        (raw_j - expected_j).abs() <= 0.1 * PROMPT_W + 1e-3,
        "{raw_j} vs {expected_j}"
    );
}

#[test]
fn a_gpu_without_the_counter_falls_back_to_sampled_power_with_the_readings_accuracy_in_its_uncertainty(
) {
    let run = run();
    assert!(!run.capabilities[1].energy_counter && run.capabilities[1].power);
    let w = &run.windows[1];
    assert!(w.samples.iter().all(|s| s.energy_counter_j.is_none()));
    let power = accounting::power_points(&w.samples);
    let (sampled, counter) = (run.energy(1), run.energy(0));
    for (what, r, c, spans) in [
        (
            "prompt",
            sampled.prompt.as_ref().unwrap(),
            counter.prompt.as_ref().unwrap(),
            run.prompt_spans(),
        ),
        (
            "generation",
            sampled.generation.as_ref().unwrap(),
            counter.generation.as_ref().unwrap(),
            run.gen_spans(),
        ),
    ] {
        assert_eq!(r.source, Some(EnergySource::NvmlPower), "{what}");
        assert_eq!(r.counter_energy_j, None, "{what}");
        assert_eq!(r.integrated_energy_j, r.energy_j, "{what}");
        within_uncertainty(&format!("sampled power {what}"), r, &run.curve, &spans);
        // Recomputed from the raw readings: each edge's term, plus NVML's stated ±5% of the energy, which no
        // span length removes (the counter's figure has only its edges).
        let edges_j: f64 = spans
            .iter()
            .flat_map(|&(a, b)| [a, b])
            .map(|t| {
                accounting::edge_uncertainty_j(&power, t, accounting::Basis::Power, 0).unwrap()
            })
            .sum();
        let energy_j = r.energy_j.unwrap();
        let stated_j = r.energy_uncertainty_j.unwrap();
        assert!(
            (stated_j - (edges_j + 0.05 * energy_j)).abs() < 1e-9 * stated_j,
            "{what}: {stated_j} vs {edges_j} + 5%"
        );
        eprintln!(
            "{what}: sampled power ±{:.1}% ({:.1}% of it the readings' accuracy), counter ±{:.1}%",
            100.0 * stated_j / energy_j,
            5.0,
            100.0 * c.energy_uncertainty_rel.unwrap()
        );
    }
}

#[test]
fn a_counter_that_restarts_is_not_read_as_a_wrap_and_energy_comes_from_sampled_power() {
    // NVML's counter is a u64 of mJ since the driver loaded: it would wrap after 584 million years at 1 kW, so a
    // step back is a driver reload or GPU reset, whose lost energy nobody knows.
    let run = run();
    let w = &run.windows[2];
    let raw: Vec<f64> = w
        .samples
        .iter()
        .filter_map(|s| s.energy_counter_j)
        .collect();
    assert!(
        raw.windows(2).any(|p| p[1] < p[0]),
        "the trace's counter restarts in the window"
    );
    let e = run.energy(2);
    for (what, r, spans) in [
        ("prompt", e.prompt.as_ref().unwrap(), run.prompt_spans()),
        (
            "generation",
            e.generation.as_ref().unwrap(),
            run.gen_spans(),
        ),
        ("total", &e.total, run.total_spans()),
    ] {
        assert!(
            r.flags.contains(&EnergyFlag::CounterWentBackwards),
            "{what}: {:?}",
            r.flags
        );
        assert_eq!(r.source, Some(EnergySource::NvmlPower), "{what}");
        assert_eq!(r.counter_energy_j, None, "{what}");
        within_uncertainty(
            &format!("after a counter restart, {what}"),
            r,
            &run.curve,
            &spans,
        );
    }
}

#[test]
fn a_gpu_lost_mid_case_keeps_its_readings_until_then_and_has_no_energy_after() {
    let run = run();
    let w = &run.windows[3];
    let lost = w.lost.as_ref().expect("the window says the GPU was lost");
    assert!(lost.reason.contains("GPU_IS_LOST"), "{}", lost.reason);
    // The last answered reading is the one before the loss: one 50 ms interval earlier, or a few on a busy machine.
    let last_ns = lost.last_answered_ns.unwrap();
    let lost_ns = (LOST_S * S) as u64;
    assert!(
        lost_ns > last_ns && lost_ns - last_ns < 400_000_000,
        "{last_ns} vs {lost_ns}"
    );
    // Readings until then are kept as read; after it every field is absent, never 0.
    let (before, after): (Vec<_>, Vec<_>) = w.samples.iter().partition(|s| s.t_ns <= last_ns);
    assert!(before
        .iter()
        .all(|s| s.energy_counter_j.is_some() && s.power_w.is_some()));
    assert!(!after.is_empty());
    let empty = |t_ns| Sample {
        t_ns,
        ..Sample::default()
    };
    assert!(after.iter().all(|s| **s == empty(s.t_ns)), "{after:?}");
    // The case's phases reach past the loss: no energy, and the record says why.
    let e = run.energy(3);
    for (what, r) in [
        ("total", &e.total),
        ("prompt", e.prompt.as_ref().unwrap()),
        ("generation", e.generation.as_ref().unwrap()),
    ] {
        assert_eq!(
            (r.energy_j, r.j_per_token, r.avg_power_w, r.source),
            (None, None, None, None),
            "{what}"
        );
        let reason = r
            .absent_reason
            .as_deref()
            .unwrap_or_else(|| panic!("{what}: no reason: {r:?}"));
        assert!(
            reason.contains("NVIDIA Fake H100 (lost) (GPU 3): lost: NVML_ERROR_GPU_IS_LOST"),
            "{reason}"
        );
    }
    // The repetition before the loss was measured, and is right.
    let first = run.total_spans()[0];
    let r = EnergyRecord::from_window(w, first.0, first.1, None, None);
    assert_eq!(r.absent_reason, None);
    within_uncertainty("before the loss", &r, &run.curve, &[first]);
}

// ---- The binary, with the fake on the loader's search path ----

/// Runs `tokenmeter ARGS…` in `dir` with `dir` on the loader's search path (its `libnvidia-ml.so.1` is NVML).
fn tokenmeter_with_fake(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tokenmeter"))
        .args(args)
        .current_dir(dir)
        .env("TOKENMETER_CACHE_DIR", dir.join("cache"))
        .env("LD_LIBRARY_PATH", dir)
        .env_remove("FAKE_NVML_TRACE")
        .output()
        .expect("tokenmeter runs")
}

fn result(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("out.json")).unwrap()).unwrap()
}

/// The sum of the timed regions of a case's repetitions, in seconds.
fn timed_s(case: &Value) -> f64 {
    case["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["total_ns"].as_f64().unwrap())
        .sum::<f64>()
        / S
}

const GPU_A_W: f64 = 250.0;
const GPU_B_W: f64 = 90.0;

/// One `bench` on two fake GPUs at constant power (so a span's true energy is its power × its length); the second
/// does not support temperature, clocks, utilisation or throttle reasons.
fn two_gpus() -> &'static (tempfile::TempDir, Output, Value) {
    static RUN: OnceLock<(tempfile::TempDir, Output, Value)> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        build_fake(dir.path(), &[]);
        write_trace(
            dir.path(),
            &format!(
                "driver_version 550.54.15\n\
                 device NVIDIA Fake A\nuuid GPU-fa4e0000-0000-0000-0000-00000000000a\nmemory_mib 81920 2048\n\
                 counter_period_ms 100\npower 0 {GPU_A_W}\n\
                 device NVIDIA Fake B\nmemory_mib 24576 512\ncounter_period_ms 100\npower 0 {GPU_B_W}\n\
                 not_supported temperature clocks utilization throttle\n"
            ),
        );
        let model = synth(dir.path(), "small");
        let o = tokenmeter_with_fake(
            // Each phase lasts several of the counter's 100 ms refreshes, also on a fast CPU (one thread: pp1024
            // about 0.5 s, tg512 about 0.6 s on a Xeon with AMX).
            &["bench", "-m", &model, "-p", "1024", "-n", "512", "-r", "3", "-t", "1", "--idle", "0", "--no-verify", "--out", "out.json"],
            dir.path(),
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let file = result(dir.path());
        (dir, o, file)
    })
}

fn synth(dir: &Path, shape: &str) -> String {
    let path = dir.join(format!("{shape}.gguf"));
    let o = tokenmeter(
        &[
            "synth",
            "--shape",
            shape,
            "--type",
            "q4_0",
            "-o",
            path.to_str().unwrap(),
        ],
        dir,
    );
    assert!(o.status.success(), "synth: {}", stderr(&o));
    path.to_str().unwrap().to_string()
}

#[test]
fn bench_on_two_gpus_measures_each_against_its_own_power() {
    let (_, _, file) = two_gpus();
    let t = &file["telemetry"];
    assert_eq!(t["sensors"][0], "NVIDIA Fake A (GPU 0)");
    assert_eq!(t["sensors"][1], "NVIDIA Fake B (GPU 1)");
    assert_eq!(t["drivers"][0], "NVIDIA Fake A (GPU 0): 550.54.15");
    assert!(t["energy_absent_reason"].is_null());
    for case in file["cases"].as_array().unwrap() {
        let devices: Vec<&Value> = case["energy"].as_array().unwrap().iter().collect();
        for (e, name, w) in [
            (devices[0], "NVIDIA Fake A (GPU 0)", GPU_A_W),
            (devices[1], "NVIDIA Fake B (GPU 1)", GPU_B_W),
        ] {
            let r = &e["total"];
            assert_eq!(r["device"], name);
            assert_eq!(r["source"], "nvml_counter", "{r}");
            let truth_j = w * timed_s(case);
            let measured_j = r["energy_j"]
                .as_f64()
                .unwrap_or_else(|| panic!("{}: {r}", case["test"]));
            let uncertainty_j = r["energy_uncertainty_j"].as_f64().unwrap();
            eprintln!(
                "{} {name}: measured {measured_j:.3} J, trace {truth_j:.3} J, error {:+.3}%, stated ±{:.1}%",
                case["test"],
                100.0 * (measured_j - truth_j) / truth_j,
                100.0 * uncertainty_j / measured_j
            );
            assert!(
                (measured_j - truth_j).abs() <= uncertainty_j,
                "{} {name}: {measured_j} J vs {truth_j} J ±{uncertainty_j}",
                case["test"]
            );
            // a phase figure over the same device's readings
            let phase = if case["n_prompt"].as_u64() > Some(0) {
                &e["prompt"]
            } else {
                &e["generation"]
            };
            assert_eq!(phase["source"], "nvml_counter");
        }
    }
}

#[test]
fn fields_a_gpu_does_not_support_are_null_and_the_others_are_read() {
    let (_, _, file) = two_gpus();
    for case in file["cases"].as_array().unwrap() {
        let a = case["energy"][0]["total"]["samples"].as_array().unwrap();
        let b = case["energy"][1]["total"]["samples"].as_array().unwrap();
        assert!(!a.is_empty() && !b.is_empty());
        for s in b {
            for key in [
                "temperature_c",
                "graphics_clock_mhz",
                "memory_clock_mhz",
                "utilization_pct",
                "throttle",
            ] {
                assert!(s[key].is_null(), "{key} must be null: {s}");
            }
            assert_eq!(s["power_w"].as_f64(), Some(GPU_B_W), "{s}");
            assert!(s["energy_counter_j"].as_f64().is_some(), "{s}");
            assert_eq!(s["memory_used_bytes"].as_u64(), Some(512 << 20), "{s}");
        }
        for s in a {
            assert_eq!(s["temperature_c"].as_f64(), Some(40.0), "{s}");
            assert_eq!(s["graphics_clock_mhz"].as_u64(), Some(1980), "{s}");
            assert!(s["throttle"].is_object(), "{s}");
        }
    }
}

#[test]
fn energy_is_summed_over_the_devices_that_did_the_work() {
    // The rule (`cost::WorkDevice`): a run that offloads layers to a GPU backend counts every GPU NVML lists
    // (llama.cpp splits layers over all of them), and a CPU run counts none of them.
    let (dir, _, _) = two_gpus();
    let path = dir.path().join("out.json");
    let mut r = tokenmeter::results::read_result(&path).unwrap();
    assert!(r
        .cases
        .iter()
        .all(|c| c.n_gpu_layers == 0 || c.backends == "CPU"));
    let cpu = tokenmeter::cost::from_result(&r, "out.json", None).unwrap();
    for f in [
        &cpu.prompt_energy_j_per_token,
        &cpu.generation_energy_j_per_token,
    ]
    .into_iter()
    .flatten()
    {
        assert!(
            !f.source.contains("(GPU "),
            "a CPU run counted a GPU: {}",
            f.source
        );
    }
    // The same readings as if the layers had run on the GPUs: both count, and nothing else.
    for c in r.cases.iter_mut() {
        c.n_gpu_layers = 99;
        c.backends = "CUDA".into();
    }
    let gpu = tokenmeter::cost::from_result(&r, "out.json", None).unwrap();
    let pp = r.cases.iter().find(|c| c.n_prompt > 0).unwrap();
    let per_device: Vec<f64> = pp
        .energy
        .iter()
        .map(|e| e.prompt.as_ref().unwrap().j_per_token.unwrap())
        .collect();
    assert_eq!(per_device.len(), 2);
    let sum = gpu.prompt_energy_j_per_token.unwrap();
    assert!(
        (sum.value - per_device.iter().sum::<f64>()).abs() < 1e-12,
        "{sum:?} vs {per_device:?}"
    );
    assert!(
        sum.source.contains("(NVIDIA Fake A (GPU 0))")
            && sum.source.contains("(NVIDIA Fake B (GPU 1))"),
        "{}",
        sum.source
    );
    // ...and the sum is the trace's: both GPUs' power over the prompt time, per prompt token.
    let prompt_s: f64 = pp
        .samples
        .iter()
        .map(|s| s.prompt_ns.unwrap() as f64 / S)
        .sum();
    let truth = (GPU_A_W + GPU_B_W) * prompt_s / (pp.n_prompt as f64 * pp.samples.len() as f64);
    let stated: f64 = pp
        .energy
        .iter()
        .map(|e| e.prompt.as_ref().unwrap().energy_uncertainty_rel.unwrap())
        .fold(0.0, f64::max);
    assert!(
        (sum.value - truth).abs() <= stated * truth * 1.01,
        "{} vs {truth} J/token",
        sum.value
    );
}

#[test]
fn a_gpu_lost_mid_run_keeps_the_measurements_and_exits_1_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    build_fake(dir.path(), &[]);
    // Lost 0.5 s after NVML opens: during the first case or the second, wherever the machine's speed puts them
    // (ten repetitions of pp256 and pp512 last about 2 s on a fast 2-core VM, longer on a slower one).
    write_trace(
        dir.path(),
        "device NVIDIA Fake A\ncounter_period_ms 100\npower 0 250\nlost_s 0.5\n",
    );
    let model = synth(dir.path(), "small");
    let o = tokenmeter_with_fake(
        &[
            "bench",
            "-m",
            &model,
            "-p",
            "256,512",
            "-n",
            "0",
            "-r",
            "10",
            "-t",
            "1",
            "--idle",
            "0",
            "--no-verify",
            "--out",
            "out.json",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with(
            "error: lost during the run: NVIDIA Fake A (GPU 0) (NVML_ERROR_GPU_IS_LOST"
        ),
        "{err}"
    );
    assert_eq!(err.matches("error: ").count(), 1, "{err}");
    let file = result(dir.path());
    let cases = file["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2, "the run went on after the loss");
    assert!(file["failed"].as_array().unwrap().is_empty());
    let mut absent = 0;
    for c in cases {
        assert!(
            c["avg_ts"].as_f64().unwrap() > 0.0,
            "the measurement is kept"
        );
        let r = &c["energy"][0]["total"];
        if let Some(reason) = r["absent_reason"].as_str() {
            absent += 1;
            assert!(reason.contains("lost: NVML_ERROR_GPU_IS_LOST"), "{reason}");
            for key in ["energy_j", "j_per_token", "avg_power_w", "source"] {
                assert!(r[key].is_null(), "{key}: {r}");
            }
            assert!(c["energy"][0]["prompt"]["energy_j"].is_null());
        }
    }
    assert!(absent >= 1, "{cases:?}");
    // The last case ran on a lost GPU: its energy is absent with the reason.
    assert!(cases[1]["energy"][0]["total"]["absent_reason"].is_string());
    let lost: Vec<&Value> = file["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["kind"] == "device_lost")
        .collect();
    assert_eq!(lost.len(), 1, "{}", file["warnings"]);
}

#[test]
fn a_driver_without_nvmls_v2_interface_is_one_line_and_no_crash() {
    let dir = tempfile::tempdir().unwrap();
    build_fake(dir.path(), &["-DFAKE_NVML_NO_V2"]);
    write_trace(dir.path(), "device NVIDIA Fake Old\npower 0 100\n");
    let model = synth(dir.path(), "tiny");
    let o = tokenmeter_with_fake(
        &[
            "bench",
            "-m",
            &model,
            "-p",
            "16",
            "-n",
            "0",
            "-r",
            "2",
            "-t",
            "1",
            "--idle",
            "0",
            "--no-verify",
            "--out",
            "out.json",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let reason = result(dir.path())["telemetry"]["energy_absent_reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(reason.lines().count(), 1, "{reason}");
    assert!(
        reason.contains("NVML not available: the NVIDIA driver is too old:")
            && reason.contains("nvmlInit_v2"),
        "{reason}"
    );
    assert!(stdout(&o).contains(&reason), "the reason under the table");
}

#[test]
fn a_driver_without_the_energy_counter_falls_back_to_sampled_power() {
    let dir = tempfile::tempdir().unwrap();
    build_fake(dir.path(), &["-DFAKE_NVML_NO_ENERGY_SYMBOL"]);
    write_trace(dir.path(), "device NVIDIA Fake Old\npower 0 100\n");
    let model = synth(dir.path(), "small");
    let o = tokenmeter_with_fake(
        &[
            "bench",
            "-m",
            &model,
            "-p",
            "512",
            "-n",
            "0",
            "-r",
            "3",
            "-t",
            "1",
            "--idle",
            "0",
            "--no-verify",
            "--out",
            "out.json",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let file = result(dir.path());
    let case = &file["cases"][0];
    let r = &case["energy"][0]["total"];
    assert_eq!(r["source"], "nvml_power", "{r}");
    assert!(r["counter_energy_j"].is_null());
    let truth_j = 100.0 * timed_s(case);
    let (j, u) = (
        r["energy_j"].as_f64().unwrap(),
        r["energy_uncertainty_j"].as_f64().unwrap(),
    );
    assert!(
        (j - truth_j).abs() <= u && u >= 0.05 * j,
        "{j} J vs {truth_j} J ±{u}"
    );
}
