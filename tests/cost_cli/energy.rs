//! `cost` on a bench result with measured energy: the joules per request computed by hand.

use super::*;

/// The fixture's RTX 4090 run with energy read on the GPU, the CPU package and DRAM (see `energy_fixture` in
/// src/cost/measured/tests.rs): pp512 at 8000 tokens/s with the GPU at 200 W, tg128 at 160 tokens/s at 300 W,
/// 25 W idle.
fn energy_result() -> PathBuf {
    fixture("result-rtx4090-energy.json")
}

#[test]
fn a_bench_result_with_measured_prompt_and_generation_energy_gives_the_hand_computed_joules_per_request(
) {
    let dir = tempfile::tempdir().unwrap();
    let config = fixture("models.toml");
    let result = energy_result();
    let o = tokenmeter(
        &[
            "cost",
            "--config",
            s(&config),
            "--result",
            s(&result),
            "--workload",
            "chat",
            "--cloud",
            "gpt-4o",
            "-o",
            "json",
        ],
        dir.path(),
    );
    let r = json(&o);
    assert_eq!(r["hardware"], "gpu-box");
    assert_eq!(r["work_device"], "gpu");
    // Prompt: 200 W × 0.128 s / 1024 tokens = 0.025 J/token; generation: 300 W × 1.6 s / 256 tokens = 1.875 J/token.
    // 800 × 0.025 + 200 × 1.875 = 395 J a request, on the GPU alone (not the CPU package or DRAM readings).
    let j_per_request = 800.0 * (200.0 * 0.128 / 1024.0) + 200.0 * (300.0 * 1.6 / 256.0);
    assert!(close(j_per_request, 395.0));
    assert!(close(
        r["serving_energy_j_per_request"].as_f64().unwrap(),
        395.0
    ));
    assert!(close(
        r["serving_energy_j_per_output_token"].as_f64().unwrap(),
        395.0 / 200.0
    ));
    assert_eq!(r["energy_measured"], true);
    assert_eq!(r["idle_measured"], true);
    // The month: busy energy of the requests, the measured 25 W GPU idle (not the configured 40 W) for the rest of
    // the hours, 100 W host throughout, × PUE 1.4.
    let days = 365.0 / 12.0;
    let requests = 30_000.0 * days;
    let busy_h = requests * (800.0 / 8000.0 + 200.0 / 160.0) / 3600.0;
    let kwh = (requests * 395.0 / 3600.0 + (730.0 - busy_h) * 25.0 + 730.0 * 100.0) / 1000.0 * 1.4;
    assert!(close(
        r["local"]["energy_kwh_per_month"].as_f64().unwrap(),
        kwh
    ));
    let sources: Vec<&str> = r["assumptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source_kind"] == "measured")
        .map(|e| e["source"].as_str().unwrap())
        .collect();
    for needle in [
        "cases[0].energy[0].prompt.j_per_token (NVIDIA GeForce RTX 4090 (GPU 0))",
        "cases[1].energy[0].generation.j_per_token (NVIDIA GeForce RTX 4090 (GPU 0))",
        "telemetry.idle[0].idle_power_w (NVIDIA GeForce RTX 4090 (GPU 0))",
    ] {
        assert!(
            sources.iter().any(|s| s.ends_with(needle)),
            "{needle} not in {sources:?}"
        );
    }
    assert!(!sources.iter().any(|s| s.contains("RAPL")), "{sources:?}");

    let o = tokenmeter(
        &[
            "cost",
            "--config",
            s(&config),
            "--result",
            s(&result),
            "--workload",
            "chat",
            "--cloud",
            "gpt-4o",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for needle in [
        "395.00 J/request (1.975 J/output token)",
        "measured (GPU): prompt and generation",
        "| idle power ",
        "idle power (not used: idle measured)",
    ] {
        assert!(out.contains(needle), "'{needle}' missing from:\n{out}");
    }
}
