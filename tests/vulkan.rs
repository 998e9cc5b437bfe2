//! The GPU path on a Vulkan device: layer offload, the weights' buffers per device, the numerics gate against the
//! CPU reference, preflight and `profile` against the device's memory, and `compare` across systems. These run the
//! Vulkan build (`scripts/build-vulkan.sh`, `target/vulkan/release/tokenmeter`) on whatever Vulkan device the
//! machine has; without a GPU that is Mesa's llvmpipe, a Vulkan device implemented on the CPU. They are ignored by
//! a plain `cargo test`; `.ci/run` builds the variant and runs them with `--ignored`.

mod common;

use common::{assert_one_line_error, stderr, stdout};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const NEEDS: &str = "needs the Vulkan build (scripts/build-vulkan.sh) and a Vulkan device";

/// The Vulkan build: `TOKENMETER_VULKAN_BIN`, else `target/vulkan/release/tokenmeter`.
fn binary() -> PathBuf {
    let path = std::env::var_os("TOKENMETER_VULKAN_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/vulkan/release/tokenmeter")
        });
    assert!(
        path.exists(),
        "{}: missing; run scripts/build-vulkan.sh",
        path.display()
    );
    path
}

/// The Vulkan build of tokenmeter in `cwd`, with its own cache. ggml's Vulkan backend skips devices of the CPU
/// type (llvmpipe) unless they are named, so device 0 is named.
fn vk(args: &[&str], cwd: &Path, env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .current_dir(cwd)
        .env("TOKENMETER_CACHE_DIR", cwd.join("cache"))
        .env("GGML_VK_VISIBLE_DEVICES", "0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the Vulkan build runs")
}

fn synth(dir: &Path, shape: &str) -> PathBuf {
    let path = dir.join(format!("{shape}.gguf"));
    let o = vk(
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
        &[],
    );
    assert!(o.status.success(), "synth: {}", stderr(&o));
    path
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The Vulkan device the build reports, from a result file.
fn vulkan_device(result: &Value) -> &Value {
    result["build"]["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["backend"] == "Vulkan")
        .unwrap_or_else(|| panic!("no Vulkan device in {}", result["build"]))
}

/// MiB of weights in buffers whose name starts with `prefix` (`Vulkan0`, `CPU`).
fn weights_in(case: &Value, prefix: &str) -> f64 {
    case["weight_buffers_mib"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, v)| v.as_f64().unwrap())
        .sum()
}

#[test]
#[ignore = "needs the Vulkan build (scripts/build-vulkan.sh) and a Vulkan device"]
fn bench_with_ngl_99_puts_every_layer_and_the_weights_on_the_vulkan_device() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth(dir.path(), "small");
    let out = dir.path().join("vk.json");
    let o = vk(
        &[
            "bench",
            "-m",
            model.to_str().unwrap(),
            "-p",
            "64",
            "-n",
            "16",
            "-r",
            "2",
            "-ngl",
            "99",
            "--out",
            out.to_str().unwrap(),
        ],
        dir.path(),
        &[],
    );
    assert!(o.status.success(), "{NEEDS}: {}", stderr(&o));
    let text = stdout(&o);
    let r = read(&out);
    let device = vulkan_device(&r);
    let description = device["description"].as_str().unwrap();
    // The table names the backend and the offloaded layers; the note under it names the device.
    assert!(text.contains("| Vulkan"), "{text}");
    assert!(text.contains("9/9"), "{text}");
    assert!(text.contains(description), "{text}");
    for case in r["cases"].as_array().unwrap() {
        assert_eq!(case["backends"], "Vulkan", "{case}");
        assert_eq!(case["gpu_info"], description);
        // small: 8 repeating layers and the output layer, all on the device.
        assert_eq!(case["offloaded"]["layers"], 9, "{case}");
        assert_eq!(case["offloaded"]["of"], 9, "{case}");
        let on_device = weights_in(case, "Vulkan0");
        assert!(
            on_device > 10.0,
            "the weights sit on the device: {}",
            case["weight_buffers_mib"]
        );
        assert!(
            weights_in(case, "CPU") < on_device,
            "{}",
            case["weight_buffers_mib"]
        );
        // The offloaded kernels compute what the CPU reference computes.
        assert_eq!(
            case["numerics"]["verdict"], "passed",
            "{}",
            case["numerics"]
        );
        assert!(case["numerics"]["reference"]
            .as_str()
            .unwrap()
            .contains("ngl 0"));
        assert!(case["avg_ts"].as_f64().unwrap() > 0.0);
    }
}

#[test]
#[ignore = "needs the Vulkan build (scripts/build-vulkan.sh) and a Vulkan device"]
fn ngl_as_a_list_forms_cases_with_what_each_placed_on_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth(dir.path(), "small");
    let out = dir.path().join("ngl.json");
    let o = vk(
        &[
            "bench",
            "-m",
            model.to_str().unwrap(),
            "-p",
            "32",
            "-n",
            "8",
            "-r",
            "2",
            "--ngl",
            "0,4,99",
            "--out",
            out.to_str().unwrap(),
        ],
        dir.path(),
        &[],
    );
    assert!(o.status.success(), "{NEEDS}: {}", stderr(&o));
    let r = read(&out);
    let cases = r["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6, "3 ngl values x pp and tg");
    let mut on_device = Vec::new();
    for case in cases {
        let ngl = case["n_gpu_layers"].as_i64().unwrap();
        let expected = match ngl {
            0 => 0,
            4 => 4,
            99 => 9,
            other => panic!("unexpected ngl {other}"),
        };
        assert_eq!(case["offloaded"]["layers"], expected, "{case}");
        assert_eq!(
            case["numerics"]["verdict"], "passed",
            "{}",
            case["numerics"]
        );
        on_device.push((ngl, weights_in(case, "Vulkan0")));
    }
    on_device.sort_by(|a, b| a.partial_cmp(b).unwrap());
    on_device.dedup();
    let mib: Vec<f64> = on_device.iter().map(|(_, m)| *m).collect();
    assert_eq!(
        mib[0], 0.0,
        "ngl 0 puts no weights on the device: {on_device:?}"
    );
    assert!(
        mib[0] < mib[1] && mib[1] < mib[2],
        "more layers, more weights on the device: {on_device:?}"
    );
}

#[test]
#[ignore = "needs the Vulkan build (scripts/build-vulkan.sh) and a Vulkan device"]
fn load_offloaded_records_the_layers_the_buffers_and_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth(dir.path(), "tiny");
    let out = dir.path().join("load.json");
    let o = vk(
        &[
            "load",
            "-m",
            model.to_str().unwrap(),
            "-c",
            "2",
            "--requests",
            "4",
            "--input-tokens",
            "32",
            "--output-tokens",
            "8",
            "--ngl",
            "99",
            "--out",
            out.to_str().unwrap(),
        ],
        dir.path(),
        &[],
    );
    assert!(o.status.success(), "{NEEDS}: {}", stderr(&o));
    let r = read(&out);
    let sweep = &r["load"];
    assert_eq!(sweep["offloaded"]["layers"], 3, "{}", sweep["offloaded"]);
    assert_eq!(sweep["offloaded"]["of"], 3);
    assert!(
        weights_in(sweep, "Vulkan0") > 0.0,
        "{}",
        sweep["weight_buffers_mib"]
    );
    assert_eq!(
        sweep["numerics"]["verdict"], "passed",
        "{}",
        sweep["numerics"]
    );
    assert_eq!(r["parameters"]["backends"], "Vulkan");
    let level = &sweep["levels"][0];
    assert_eq!(level["requests_completed"], 4, "{level}");
}

#[test]
#[ignore = "needs the Vulkan build (scripts/build-vulkan.sh) and a Vulkan device"]
fn preflight_compares_the_estimate_with_the_memory_the_device_reports() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth(dir.path(), "small");
    let args = [
        "bench",
        "-m",
        model.to_str().unwrap(),
        "-p",
        "32",
        "-n",
        "0",
        "-r",
        "1",
        "--ngl",
        "99",
        "-v",
        "--out",
    ];
    // The device's own figure: what the result records and what preflight printed.
    let out = dir.path().join("fits.json");
    let mut fits = args.to_vec();
    fits.push(out.to_str().unwrap());
    let o = vk(&fits, dir.path(), &[]);
    assert!(o.status.success(), "{NEEDS}: {}", stderr(&o));
    let r = read(&out);
    let device = vulkan_device(&r);
    let free = device["memory_free_bytes"].as_u64().unwrap();
    assert!(free > 0, "{device}");
    let err = stderr(&o);
    let line = err
        .lines()
        .find(|l| l.starts_with("preflight: free memory:"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains(device["name"].as_str().unwrap()),
        "preflight read the Vulkan device: {line}"
    );

    // The same case on a device with 20 MiB free: the offloaded weights alone are larger, so preflight refuses
    // before anything loads, even with plenty of RAM.
    let refused = dir.path().join("refused.json");
    let mut small = args.to_vec();
    small.retain(|a| *a != "-v");
    small.push(refused.to_str().unwrap());
    let o = vk(
        &small,
        dir.path(),
        &[
            (
                "TOKENMETER_FREE_GPU_MEMORY_BYTES",
                (20u64 << 20).to_string(),
            ),
            ("TOKENMETER_FREE_MEMORY_BYTES", (64u64 << 30).to_string()),
        ],
    );
    assert_one_line_error(&o, "Vulkan0");
    assert!(stderr(&o).contains("20.0 MiB free"), "{}", stderr(&o));
    assert!(!refused.exists());

    // With no layer offloaded the device's memory does not matter.
    let cpu = dir.path().join("ngl0.json");
    let mut ngl0 = small.clone();
    *ngl0.iter_mut().find(|a| **a == "99").unwrap() = "0";
    *ngl0.last_mut().unwrap() = cpu.to_str().unwrap();
    let o = vk(
        &ngl0,
        dir.path(),
        &[(
            "TOKENMETER_FREE_GPU_MEMORY_BYTES",
            (20u64 << 20).to_string(),
        )],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
#[ignore = "needs the Vulkan build (scripts/build-vulkan.sh) and a Vulkan device"]
fn profile_chooses_models_by_the_device_memory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("profile");
    let o = vk(
        &["profile", "--quick", "-o", out.to_str().unwrap()],
        dir.path(),
        &[
            (
                "TOKENMETER_FREE_GPU_MEMORY_BYTES",
                (200u64 << 20).to_string(),
            ),
            ("TOKENMETER_FREE_MEMORY_BYTES", (64u64 << 30).to_string()),
        ],
    );
    assert_one_line_error(&o, "no model fits this device");
    let err = stderr(&o);
    assert!(err.contains("200.0 MiB free"), "{err}");
    assert!(err.contains("GPU memory"), "{err}");
    assert!(!out.exists());
}

#[test]
#[ignore = "needs the Vulkan build (scripts/build-vulkan.sh) and a Vulkan device"]
fn compare_of_an_offloaded_run_against_a_cpu_run_is_a_comparison_between_systems() {
    let dir = tempfile::tempdir().unwrap();
    let model = synth(dir.path(), "tiny");
    let args = |out: &Path| -> Vec<String> {
        [
            "bench",
            "-m",
            model.to_str().unwrap(),
            "-p",
            "32",
            "-n",
            "8",
            "-r",
            "3",
            "--ngl",
            "99",
            "--out",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    // The CPU build, where -ngl has nothing to offload to, and the Vulkan build.
    let cpu = dir.path().join("cpu.json");
    let o = Command::new(env!("CARGO_BIN_EXE_tokenmeter"))
        .args(args(&cpu))
        .current_dir(dir.path())
        .env("TOKENMETER_CACHE_DIR", dir.path().join("cache-cpu"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(read(&cpu)["cases"][0]["offloaded"].is_null());
    let gpu = dir.path().join("gpu.json");
    let a = args(&gpu);
    let o = vk(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        dir.path(),
        &[],
    );
    assert!(o.status.success(), "{NEEDS}: {}", stderr(&o));

    let o = vk(
        &[
            "compare",
            "-o",
            "json",
            cpu.to_str().unwrap(),
            gpu.to_str().unwrap(),
        ],
        dir.path(),
        &[],
    );
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let c: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(c["kind"], "comparison between systems", "{c}");
    let why = c["systems_differ"].to_string();
    assert!(why.contains("backends: CPU → Vulkan"), "{why}");
}
