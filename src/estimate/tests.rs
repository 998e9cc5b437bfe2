use super::*;

fn small() -> ModelSize {
    ModelSize {
        file_size_bytes: 33_282_784,
        n_params: 57_000_000,
        weights_read_per_token_bytes: 30_000_000,
    }
}

/// A 2 GB file: its worker's start and model load take 0.01 s + 1 s.
fn two_gb() -> ModelSize {
    ModelSize {
        file_size_bytes: 2_000_000_000,
        n_params: 1_000_000_000,
        weights_read_per_token_bytes: 1_800_000_000,
    }
}

fn host() -> Calibration {
    Calibration {
        bandwidth_gb_per_s: 28.0,
        bandwidth_source: "measured".into(),
        threads: 2,
    }
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

/// A duration holds whole nanoseconds.
fn close_d(a: Duration, b: f64) {
    assert!((a.as_secs_f64() - b).abs() < 2e-9, "{a:?} != {b} s");
}

fn case(n_prompt: u32, n_gen: u32, n_depth: u32, runs: u32) -> BenchCase {
    BenchCase {
        n_prompt,
        n_gen,
        n_depth,
        runs,
    }
}

#[test]
fn the_physical_model_reads_the_weights_at_the_threads_rate_for_prompts_and_the_bandwidth_for_generation(
) {
    let r = host().rates(&small());
    // 30 MB / (2 × 40 GB/s) + 9 µs; 30 MB / (28 GB/s × 0.8) + 80 µs.
    close(r.prompt_token_s, 30e6 / 80e9 + 9e-6);
    close(r.decode_step_s, 30e6 / 22.4e9 + 80e-6);
}

#[test]
fn a_generation_case_is_weight_bytes_over_bandwidth_per_token() {
    let r = host().rates(&small());
    // 4 runs × 64 tokens × (30 MB / (28 GB/s × 0.8) + 80 µs) + start (10 ms + 33 MB / 2 GB/s).
    let expected = 4.0 * 64.0 * (30e6 / 22.4e9 + 80e-6) + 0.01 + 33_282_784.0 / 2e9;
    close(bench_case_s(&small(), &r, &case(0, 64, 0, 4)), expected);
}

#[test]
fn a_prompt_case_is_weight_bytes_over_the_threads_rate() {
    let r = host().rates(&small());
    // 2 runs × 256 tokens × (30 MB / (2 × 40 GB/s) + 9 µs) + start.
    let expected = 2.0 * 256.0 * (30e6 / 80e9 + 9e-6) + 0.01 + 33_282_784.0 / 2e9;
    close(bench_case_s(&small(), &r, &case(256, 0, 0, 2)), expected);
}

#[test]
fn the_depth_is_prompt_processing_and_generation_after_it_is_slower() {
    let r = Rates::measured(512.0, 128.0).unwrap();
    // At depth 4096: 4 runs × (4096 / 512 + 128 / (128 × 0.7)) + start 1.01 s.
    let d4096 = 4.0 * (8.0 + 1.0 / 0.7) + 1.01;
    close(bench_case_s(&two_gb(), &r, &case(0, 128, 4096, 4)), d4096);
    // At half that depth the step is slower by half as much: 1 + (1/0.7 − 1) / 2.
    let d2048 = 4.0 * (4.0 + 1.0 + (1.0 / 0.7 - 1.0) / 2.0) + 1.01;
    close(bench_case_s(&two_gb(), &r, &case(0, 128, 2048, 4)), d2048);
    // Without context a step is the measured rate's.
    close(r.decode_step_at_depth_s(0), 1.0 / 128.0);
}

#[test]
fn a_load_level_decodes_its_requests_in_waves_of_slots_with_a_costlier_step_per_busy_slot() {
    let r = Rates::measured(1000.0, 100.0).unwrap();
    let level = LoadLevel {
        requests: 10,
        input_tokens: 100.0,
        output_tokens: 20.0,
        slots: 4,
    };
    // start 1.01 s + 10 × 100 × 1 ms + 3 waves × 20 steps × (10 ms + 4 slots × 3 × 1 ms).
    close(
        load_level_s(&two_gb(), &r, &level),
        1.01 + 1.0 + 3.0 * 20.0 * 0.022,
    );
}

#[test]
fn more_slots_serve_the_same_requests_in_fewer_steps() {
    let r = host().rates(&small());
    let level = |slots| LoadLevel {
        requests: 8,
        input_tokens: 32.0,
        output_tokens: 32.0,
        slots,
    };
    let one = load_level_s(&small(), &r, &level(1));
    let four = load_level_s(&small(), &r, &level(4));
    assert!(four < one, "{four} !< {one}");
}

#[test]
fn the_next_level_runs_its_requests_at_the_previous_levels_output_rate() {
    let previous = MeasuredLevel {
        output_tokens_per_s: 50.0,
        duration_s: 7.0,
    };
    // start 1.01 s + 40 × 32 tokens / 50 t/s.
    close(
        next_load_level_s(&two_gb(), 40, 32.0, &previous),
        1.01 + 25.6,
    );
    let unmeasured = MeasuredLevel {
        output_tokens_per_s: 0.0,
        duration_s: 7.0,
    };
    close(next_load_level_s(&two_gb(), 40, 32.0, &unmeasured), 14.0);
}

#[test]
fn hashing_and_synthesis_take_the_file_at_their_rates() {
    let m = ModelSize {
        file_size_bytes: 35_000_000,
        ..small()
    };
    close(model_hash_s(&m), 0.1);
    close(synth_s(&two_gb()), 2e9 / 300e6);
}

#[test]
fn rates_scale_prompts_with_parameters_and_generation_with_the_bytes_a_token_reads() {
    let from = ModelSize {
        file_size_bytes: 1,
        n_params: 1_000,
        weights_read_per_token_bytes: 700,
    };
    let to = ModelSize {
        file_size_bytes: 1,
        n_params: 8_000,
        weights_read_per_token_bytes: 4_200,
    };
    let s = Rates::measured(80.0, 36.0).unwrap().scaled(&from, &to);
    close(s.pp_tps(), 10.0);
    close(s.tg_tps(), 6.0);
}

#[test]
fn a_rate_that_is_not_positive_is_not_a_measurement() {
    assert_eq!(Rates::measured(0.0, 10.0), None);
    assert_eq!(Rates::measured(10.0, f64::NAN), None);
    let r = Rates::measured(100.0, 10.0).unwrap();
    assert_eq!(r.with_measured(Some(0.0), None), r);
    let tg_only = r.with_measured(None, Some(20.0));
    close(tg_only.prompt_token_s, 0.01);
    close(tg_only.decode_step_s, 0.05);
}

#[test]
fn a_result_files_model_without_the_bytes_a_token_reads_reads_the_whole_file() {
    let entry = crate::results::ModelEntry {
        path: "m.gguf".into(),
        sha256: None,
        file_size_bytes: 2_000,
        n_params: 1_000,
        architecture: None,
        model_type: String::new(),
        tensor_types: Default::default(),
        weights_read_per_token_bytes: None,
    };
    assert_eq!(
        ModelSize::of_entry(&entry).weights_read_per_token_bytes,
        2_000
    );
    let with = crate::results::ModelEntry {
        weights_read_per_token_bytes: Some(1_500),
        ..entry
    };
    assert_eq!(
        ModelSize::of_entry(&with),
        ModelSize {
            file_size_bytes: 2_000,
            n_params: 1_000,
            weights_read_per_token_bytes: 1_500,
        }
    );
}

#[test]
fn a_bench_case_before_anything_is_measured_rests_on_the_cached_bandwidth_or_the_default() {
    let tg = case(0, 100, 0, 3);
    let measured_host = Basis {
        threads: 4,
        bandwidth_gb_per_s: Some(36.0),
        ..Basis::default()
    };
    // 3 runs × 100 × (1.8 GB / (36 GB/s × 0.8) + 80 µs) + 1.01 s = 3 × 100 × 0.06258 + 1.01.
    let got = bench_case_estimate(&two_gb(), &tg, &measured_host);
    close_d(got, 300.0 * 0.06258 + 1.01);
    // No measurement: 20 GB/s. 3 × 100 × (1.8 GB / 16 GB/s + 80 µs) + 1.01 s.
    let default = Basis {
        threads: 4,
        ..Basis::default()
    };
    let got = bench_case_estimate(&two_gb(), &tg, &default);
    close_d(got, 300.0 * 0.11258 + 1.01);
    // 2 runs × 512 prompt tokens × (1.8 GB / (4 × 40 GB/s) + 9 µs) + 1.01 s = 2 × 512 × 0.011259 + 1.01.
    let pp = bench_case_estimate(&two_gb(), &case(512, 0, 0, 2), &default);
    close_d(pp, 1024.0 * 0.011259 + 1.01);
}

#[test]
fn a_bench_case_after_earlier_cases_of_its_model_rests_on_their_measured_rates() {
    let basis = Basis {
        threads: 4,
        bandwidth_gb_per_s: Some(36.0),
        measured_pp_tps: Some(200.0),
        measured_tg_tps: Some(25.0),
    };
    // 3 runs × (64 × 5 ms + 16 × 40 ms) + 1.01 s.
    let got = bench_case_estimate(&two_gb(), &case(64, 16, 0, 3), &basis);
    close_d(got, 3.0 * (0.32 + 0.64) + 1.01);
}

#[test]
fn a_load_level_before_and_after_measurements() {
    let level = LoadLevel {
        requests: 20,
        input_tokens: 128.0,
        output_tokens: 32.0,
        slots: 2,
    };
    let measured = Basis {
        threads: 4,
        bandwidth_gb_per_s: None,
        measured_pp_tps: Some(100.0),
        measured_tg_tps: Some(20.0),
    };
    // 1.01 s + 20 × 128 × 10 ms + 10 waves × 32 steps × (50 ms + 2 slots × 3 × 10 ms).
    let got = load_level_estimate(&two_gb(), &level, &measured);
    close_d(got, 1.01 + 25.6 + 320.0 * 0.11);
    // The physical model at the default 20 GB/s: prompt 11.259 ms, step 112.58 ms.
    let before = Basis {
        threads: 4,
        ..Basis::default()
    };
    let got = load_level_estimate(&two_gb(), &level, &before);
    close_d(
        got,
        1.01 + 2560.0 * 0.011259 + 320.0 * (0.11258 + 6.0 * 0.011259),
    );
}

#[test]
fn an_estimate_too_large_for_a_duration_is_the_longest_one() {
    let huge = ModelSize {
        file_size_bytes: u64::MAX,
        n_params: u64::MAX,
        weights_read_per_token_bytes: u64::MAX,
    };
    let basis = Basis {
        threads: 1,
        bandwidth_gb_per_s: Some(1e-300),
        ..Basis::default()
    };
    assert_eq!(
        bench_case_estimate(&huge, &case(1, 1, 0, 1), &basis),
        Duration::MAX
    );
}
