use super::load::mean_length;
use super::*;
use crate::results::load::Lengths;

/// A schema-1 `bench` result (read through the migration, as `cost` reads it).
fn fixture() -> ResultFile {
    crate::results::read_result(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/cost/result-rtx4090.json"
    )))
    .unwrap()
}

#[test]
fn single_stream_figures_come_from_the_pp_and_tg_cases_with_their_source() {
    let m = from_result(&fixture(), "r.json", None).unwrap();
    assert_eq!(m.basis(), Basis::SingleStreamBench);
    assert_eq!(
        m.input_tokens_per_s.value,
        fixture().cases[0].summary.avg_ts.unwrap()
    );
    assert_eq!(
        m.output_tokens_per_s.source,
        "r.json cases[1] (tg128, 16 threads) avg_ts"
    );
    assert_eq!(
        m.devices[0], "NVIDIA GeForce RTX 4090",
        "accelerators first"
    );
    assert_eq!(m.throughput().operating_point_output_tokens_per_s, None);
}

#[test]
fn a_load_result_gives_the_operating_point_and_per_request_speeds_of_its_least_loaded_level() {
    let r: ResultFile =
        serde_json::from_str(include_str!("../../../tests/golden/result-v2-load.json")).unwrap();
    let m = from_result(&r, "l.json", None).unwrap();
    assert_eq!(m.basis(), Basis::LoadOperatingPoint);
    let op = r.load.as_ref().unwrap().operating_point.as_ref().unwrap();
    assert_eq!(
        m.throughput().operating_point_output_tokens_per_s,
        Some(op.output_tokens_per_s)
    );
    let c1 = &r.load.as_ref().unwrap().levels[0];
    assert_eq!(c1.summary.concurrency, Some(1));
    assert_eq!(
        m.output_tokens_per_s.value,
        1000.0 / c1.summary.itl_ms.ms.mean.unwrap()
    );
    let (tokens, ns) = c1.requests.iter().fold((0.0, 0.0), |(t, ns), q| {
        (
            t + q.input_tokens as f64,
            ns + (q.token_ns[0] - q.admitted_ns.unwrap()) as f64,
        )
    });
    assert_eq!(m.input_tokens_per_s.value, tokens / (ns / 1e9));
    assert_eq!(m.model, "tiny.gguf");

    let mut none = r.clone();
    none.load.as_mut().unwrap().operating_point = None;
    let e = from_result(&none, "l.json", None).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("l.json: load.operating_point: absent"),
        "{e}"
    );
}

#[test]
fn incomplete_cases_are_not_used() {
    let mut r = fixture();
    r.cases[1].complete = false;
    let e = from_result(&r, "r.json", None).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("r.json: cases: no complete generation (tg) case"),
        "{e}"
    );
}

#[test]
fn several_models_need_a_choice() {
    let mut r = fixture();
    let mut other = r.cases[1].clone();
    other.model_filename = "other.gguf".into();
    r.cases.push(other);
    assert!(matches!(
        from_result(&r, "r.json", None),
        Err(MeasuredError::Ambiguous { n: 2, .. })
    ));
    assert_eq!(
        from_result(&r, "r.json", Some("llama")).unwrap().model,
        "llama-3.1-8b-q4_0.gguf"
    );
}

#[test]
fn an_operating_point_and_level_energy_replace_the_single_stream_assumptions() {
    let m = from_result(&fixture(), "r.json", None)
        .unwrap()
        .with_operating_point(900.0, 4000.0, 4.5, None, 3)
        .with_level_energy(0.5, "r.json telemetry".into());
    assert_eq!(m.basis(), Basis::LoadOperatingPoint);
    let t = m.throughput();
    assert_eq!(t.operating_point_output_tokens_per_s, Some(900.0));
    assert_eq!(
        t.energy,
        Some(Energy::Level {
            j_per_output_token: 0.5
        })
    );
    assert_eq!(
        m.operating_point_requests_per_s.unwrap().source,
        "r.json load.operating_point (levels[3]) requests_per_s"
    );
}

/// A `bench` run on an RTX 4090 (99 layers offloaded, CUDA): pp512 at 8000 tokens/s and tg128 at 160 tokens/s,
/// two repetitions each, read by the GPU (200 W prompt, 300 W generation, 25 W idle), the CPU package (60 W,
/// 40 W, 12 W) and DRAM (5 W, 8 W, 2 W).
fn energy_fixture() -> ResultFile {
    crate::results::read_result(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/cost/result-rtx4090-energy.json"
    )))
    .unwrap()
}

#[test]
fn a_gpu_run_counts_the_gpus_prompt_and_generation_energy_and_idle_only() {
    let m = from_result(&energy_fixture(), "e.json", None).unwrap();
    assert_eq!(m.work_device, WorkDevice::Gpu);
    // GPU: 200 W for 2 × 64 ms over 1024 prompt tokens; 300 W for 2 × 0.8 s over 256 generated tokens.
    let prompt = m.prompt_energy_j_per_token.clone().unwrap();
    assert!((prompt.value - 200.0 * 0.128 / 1024.0).abs() < 1e-12);
    assert_eq!(
        prompt.source,
        "e.json cases[0].energy[0].prompt.j_per_token (NVIDIA GeForce RTX 4090 (GPU 0))"
    );
    let generation = m.generation_energy_j_per_token.clone().unwrap();
    assert!((generation.value - 300.0 * 1.6 / 256.0).abs() < 1e-12);
    assert_eq!(
        generation.source,
        "e.json cases[1].energy[0].generation.j_per_token (NVIDIA GeForce RTX 4090 (GPU 0))"
    );
    let idle = m.idle_power_w.clone().unwrap();
    assert_eq!(idle.value, 25.0);
    assert_eq!(
        idle.source,
        "e.json telemetry.idle[0].idle_power_w (NVIDIA GeForce RTX 4090 (GPU 0))"
    );
    assert_eq!(
        m.throughput().energy,
        Some(Energy::Phases {
            j_per_input_token: Some(prompt.value),
            j_per_output_token: Some(generation.value)
        })
    );
}

#[test]
fn a_cpu_run_counts_the_cpu_package_and_not_dram() {
    for (ngl, backends) in [(0, "CUDA"), (-1, "CPU")] {
        let mut r = energy_fixture();
        for c in &mut r.cases {
            c.n_gpu_layers = ngl;
            c.backends = backends.into();
        }
        let m = from_result(&r, "e.json", None).unwrap();
        assert_eq!(m.work_device, WorkDevice::CpuPackage, "{ngl} {backends}");
        // Package: 60 W for 0.128 s over 1024 tokens; 40 W for 1.6 s over 256 tokens; 12 W idle.
        let prompt = m.prompt_energy_j_per_token.unwrap();
        assert!((prompt.value - 60.0 * 0.128 / 1024.0).abs() < 1e-12);
        assert!(prompt.source.ends_with("(RAPL package-0 (intel-rapl:0))"));
        let generation = m.generation_energy_j_per_token.unwrap();
        assert!((generation.value - 40.0 * 1.6 / 256.0).abs() < 1e-12);
        assert_eq!(m.idle_power_w.unwrap().value, 12.0);
    }
}

#[test]
fn a_phase_not_measured_on_every_working_device_counts_as_not_measured() {
    let mut r = energy_fixture();
    // A second GPU whose prompt reading was too short to report.
    let mut second = r.cases[0].energy[0].clone();
    let prompt = second.prompt.as_mut().unwrap();
    prompt.device = Some("NVIDIA GeForce RTX 4090 (GPU 1)".into());
    prompt.j_per_token = None;
    r.cases[0].energy.push(second);
    let m = from_result(&r, "e.json", None).unwrap();
    assert_eq!(m.prompt_energy_j_per_token, None);
    assert!(m.generation_energy_j_per_token.is_some());
    assert_eq!(
        m.throughput().energy,
        Some(Energy::Phases {
            j_per_input_token: None,
            j_per_output_token: m.generation_energy_j_per_token.as_ref().map(|f| f.value)
        })
    );

    // Neither phase measured on the GPU (only the CPU package and DRAM read): nothing measured.
    let mut r = energy_fixture();
    for c in &mut r.cases {
        c.energy.remove(0);
    }
    r.telemetry.as_mut().unwrap().idle.remove(0);
    let m = from_result(&r, "e.json", None).unwrap();
    assert_eq!(m.throughput().energy, None);
    assert_eq!(m.idle_power_w, None);
}

#[test]
fn a_pg_case_gives_a_phase_the_chosen_case_did_not_measure() {
    let mut r = energy_fixture();
    let mut pg = r.cases[1].clone();
    pg.n_prompt = 512;
    pg.test = "pp512+tg128".into();
    let mut prompt = pg.energy[0].generation.clone().unwrap();
    prompt.j_per_token = Some(0.03);
    pg.energy[0].prompt = Some(prompt);
    r.cases.push(pg);
    r.cases[0].energy.clear();
    let m = from_result(&r, "e.json", None).unwrap();
    let f = m.prompt_energy_j_per_token.unwrap();
    assert_eq!(f.value, 0.03);
    assert!(f
        .source
        .starts_with("e.json cases[2].energy[0].prompt.j_per_token"));
}

#[test]
fn a_load_result_gives_its_operating_points_request_lengths_and_slo() {
    let r: ResultFile =
        serde_json::from_str(include_str!("../../../tests/golden/result-v2-load.json")).unwrap();
    let m = from_result(&r, "l.json", None).unwrap();
    let op = r.load.as_ref().unwrap().operating_point.as_ref().unwrap();
    let shape = m.load_shape.unwrap();
    // The golden run: --input-tokens 8 --output-tokens 4 --slo ttft_p95=1s.
    assert_eq!(shape.input_tokens_per_request.value, 8.0);
    assert_eq!(shape.output_tokens_per_request.value, 4.0);
    assert_eq!(
        shape.input_tokens_per_request.source,
        format!("l.json load.levels[{}].input_tokens", op.level_index)
    );
    assert_eq!(shape.slo.len(), 1);
    assert_eq!(shape.slo[0].objective(), "ttft_p95");
    assert_eq!(m.work_device, WorkDevice::CpuPackage);
}

#[test]
fn capacity_is_the_operating_points_goodput_when_the_file_has_it() {
    let mut r =
        crate::results::read_result(std::path::Path::new("tests/golden/result-v4-load.json"))
            .unwrap();
    let op = r.load.as_mut().unwrap().operating_point.as_mut().unwrap();
    // half the requests met the SLO on their own
    op.goodput_output_tokens_per_s = Some(op.output_tokens_per_s / 2.0);
    op.goodput_requests_per_s = Some(op.requests_per_s / 2.0);
    let (raw, index) = (op.output_tokens_per_s, op.level_index);
    let m = from_result(&r, "l.json", None).unwrap();
    let capacity = m.operating_point_output_tokens_per_s.unwrap();
    assert_eq!(capacity.value, raw / 2.0);
    assert_eq!(
        capacity.source,
        format!("l.json load.operating_point (levels[{index}]) goodput_output_tokens_per_s")
    );
    // a file from before goodput existed sizes capacity by the raw output rate
    let r: ResultFile =
        serde_json::from_str(include_str!("../../../tests/golden/result-v2-load.json")).unwrap();
    let raw = r
        .load
        .as_ref()
        .unwrap()
        .operating_point
        .as_ref()
        .unwrap()
        .output_tokens_per_s;
    let m = from_result(&r, "l.json", None).unwrap();
    assert_eq!(m.operating_point_output_tokens_per_s.unwrap().value, raw);
}

#[test]
fn energy_is_charged_to_the_requests_that_met_the_slo() {
    let mut r =
        crate::results::read_result(std::path::Path::new("tests/golden/result-v4-load.json"))
            .unwrap();
    let sweep = r.load.as_mut().unwrap();
    let op = sweep.operating_point.as_mut().unwrap();
    // a quarter of the requests met the SLO: capacity counts their tokens alone
    op.goodput_output_tokens_per_s = Some(op.output_tokens_per_s / 4.0);
    op.goodput_requests_per_s = Some(op.requests_per_s / 4.0);
    let (out, reqs, index) = (op.output_tokens_per_s, op.requests_per_s, op.level_index);
    let level = &mut sweep.levels[index];
    level.energy[0].source = Some(EnergySource::Rapl);
    level.energy[0].device = Some("RAPL package 0".into());
    level.energy[0].j_per_token = Some(0.5);
    let m = from_result(&r, "l.json", None).unwrap();
    // all the level's energy (0.5 J over every output token) over the good output: four times as much
    let e = m.level_energy_j_per_output_token.unwrap();
    assert!((e.value - 2.0).abs() < 1e-12, "{}", e.value);
    assert!(
        e.source.contains("goodput_output_tokens_per_s"),
        "{}",
        e.source
    );
    let per_request = m.level_energy_j_per_good_request.unwrap();
    assert!((per_request.value - 0.5 * out / (reqs / 4.0)).abs() < 1e-9);
    // without goodput (an older file): energy over every output token, as measured
    let sweep = r.load.as_mut().unwrap();
    let op = sweep.operating_point.as_mut().unwrap();
    op.goodput_output_tokens_per_s = None;
    op.goodput_requests_per_s = None;
    let m = from_result(&r, "l.json", None).unwrap();
    assert_eq!(m.level_energy_j_per_output_token.unwrap().value, 0.5);
    assert!(m.level_energy_j_per_good_request.is_none());
}

#[test]
fn request_lengths_average_as_load_draws_them() {
    assert_eq!(mean_length(&Lengths::Fixed(256)), 256.0);
    assert_eq!(mean_length(&Lengths::Range(64, 512)), 288.0);
    assert_eq!(mean_length(&Lengths::List(vec![100, 200, 600])), 300.0);
}

#[test]
fn the_working_device_is_the_gpu_only_with_layers_offloaded_to_a_gpu_backend() {
    assert_eq!(WorkDevice::of_run(99, "CUDA"), WorkDevice::Gpu);
    assert_eq!(WorkDevice::of_run(-1, "Vulkan,BLAS"), WorkDevice::Gpu);
    assert_eq!(WorkDevice::of_run(0, "CUDA"), WorkDevice::CpuPackage);
    assert_eq!(WorkDevice::of_run(-1, "CPU"), WorkDevice::CpuPackage);
    assert_eq!(WorkDevice::of_run(99, "BLAS"), WorkDevice::CpuPackage);
}
