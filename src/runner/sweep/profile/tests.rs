//! The profile's planning as specifications: the order of the phases, each phase's estimate and share of the
//! budget, its deadlines, and why a model or phase is left out.

use super::models::default_candidates;
use super::*;
use crate::estimate::{LoadLevel, ModelSize, Rates};
use std::time::{Duration, Instant};

/// A 2 GB model: its worker's start and model load take 0.01 s + 1 s, hashing it 2 / 0.35 s.
fn two_gb() -> Candidate {
    Candidate {
        name: "m".into(),
        entry: default_candidates()[0].clone(),
        size: ModelSize {
            file_size_bytes: 2_000_000_000,
            n_params: 1_000_000_000,
            weights_read_per_token_bytes: 1_800_000_000,
        },
        needs_synth: false,
    }
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

#[test]
fn phases_run_each_models_bench_and_load_then_the_depths() {
    let p = phases(2);
    assert_eq!(
        p,
        vec![
            (Kind::Bench, 0),
            (Kind::Load, 0),
            (Kind::Bench, 1),
            (Kind::Load, 1),
            (Kind::Depth, 0),
            (Kind::Depth, 1)
        ]
    );
}

#[test]
fn a_bench_phase_counts_its_run_start_hashing_synthesis_and_every_run_of_each_case() {
    let mut c = two_gb();
    let r = Rates::measured(512.0, 128.0).unwrap();
    let run_start = 0.01 + 2e9 / 0.35e9;
    // pp512 and tg128: 2 cases × (start 1.01 s + 4 runs × 1 s).
    close(
        bench_phase_secs(Kind::Bench, 4, &r, &c),
        run_start + 2.0 * (1.01 + 4.0),
    );
    // tg128 at depth 4096: one case, 4 runs × (4096 / 512 s + 128 / (128 × 0.7) s).
    close(
        bench_phase_secs(Kind::Depth, 4, &r, &c),
        run_start + 1.01 + 4.0 * (8.0 + 1.0 / 0.7),
    );
    c.needs_synth = true;
    close(
        bench_phase_secs(Kind::Bench, 4, &r, &c),
        run_start + 2e9 / 300e6 + 2.0 * (1.01 + 4.0),
    );
}

#[test]
fn a_load_phase_is_estimated_to_the_end_of_its_first_level() {
    let c = two_gb();
    let r = Rates::measured(1000.0, 100.0).unwrap();
    let first = LoadLevel {
        requests: 20,
        input_tokens: 128.0,
        output_tokens: 32.0,
        slots: 1,
    };
    // run start and hashing, the level's start 1.01 s, 20 × 128 prompt tokens × 1 ms, and 20 requests × 32
    // steps × (10 ms + 1 slot × 3 × 1 ms).
    close(
        load_phase_secs(&first, &r, &c),
        0.01 + 2e9 / 0.35e9 + 1.01 + 2.56 + 640.0 * 0.013,
    );
}

#[test]
fn a_models_bench_leaves_its_load_sweep_the_larger_share_and_nothing_holds_time_back_for_depth() {
    let plan = phases(2);
    let left = Duration::from_secs(100);
    // bench 0, load 0, bench 1, load 1, depth 0, depth 1
    assert_eq!(allotment(&plan, 0, left), left.mul_f64(1.0 - LOAD_SHARE));
    assert_eq!(allotment(&plan, 1, left), left);
    assert_eq!(allotment(&plan, 2, left), left.mul_f64(1.0 - LOAD_SHARE));
    assert_eq!(allotment(&plan, 3, left), left);
    assert_eq!(allotment(&plan, 4, left), left);
    // a bench whose load sweep already ran (or is not planned) keeps all of it
    let bench_only = [(Kind::Bench, 0), (Kind::Depth, 0)];
    assert_eq!(allotment(&bench_only, 0, left), left);
}

#[test]
fn a_phase_ends_at_its_allotment_or_the_budget_and_its_worker_a_little_later() {
    let now = Instant::now();
    let budget = Duration::from_secs(200);
    let grace = budget.mul_f64(OVERRUN_SHARE);
    let (soft, hard) = phase_deadlines(
        now,
        Duration::from_secs(30),
        now + Duration::from_secs(100),
        budget,
    );
    assert_eq!(soft, now + Duration::from_secs(30));
    assert_eq!(hard, soft + grace);
    let (soft, hard) = phase_deadlines(
        now,
        Duration::from_secs(300),
        now + Duration::from_secs(100),
        budget,
    );
    assert_eq!(
        soft,
        now + Duration::from_secs(100),
        "never past the budget"
    );
    assert_eq!(hard, soft + grace);
}

#[test]
fn a_phase_longer_than_the_time_left_is_skipped_with_both_times() {
    let why = over_budget(125.0, Duration::from_secs(60)).expect("over");
    assert!(why.contains("2m05s") && why.contains("1m00s"), "{why}");
    assert_eq!(over_budget(59.0, Duration::from_secs(60)), None);
}

#[test]
fn a_model_must_leave_headroom_in_free_memory() {
    let gib = 1u64 << 30;
    assert_eq!(does_not_fit(4 * gib, Some(16 * gib), "RAM"), None);
    let why = does_not_fit(38 * gib, Some(20 * gib), "RAM").expect("too big");
    assert!(
        why.contains("RAM") && why.contains("20.00 GiB free"),
        "{why}"
    );
    assert_eq!(
        does_not_fit(38 * gib, None, "RAM"),
        None,
        "unknown free memory is not a refusal"
    );
}

#[test]
fn the_depth_test_needs_a_long_enough_trained_context() {
    let why = short_context(Some(2048)).expect("too short");
    assert!(why.contains("2048") && why.contains("4096"), "{why}");
    assert_eq!(short_context(Some(131_072)), None);
    assert_eq!(
        short_context(None),
        None,
        "unknown context: the bench's own preflight decides"
    );
}

#[test]
fn a_busy_machine_is_flagged_before_it_is_measured() {
    assert!(busy_machine(60.0, 2).is_some_and(|w| w.contains("2 CPUs 60% in use")));
    assert_eq!(busy_machine(3.0, 2), None);
}

#[test]
fn a_load_sweep_needs_requests_within_the_trained_context() {
    let why = requests_too_long(4200, Some(4096)).expect("too long");
    assert!(why.contains("4200") && why.contains("4096"), "{why}");
    assert_eq!(requests_too_long(256, Some(4096)), None);
    assert_eq!(requests_too_long(4200, None), None);
}

#[test]
fn levels_double_up_to_the_cap() {
    let l = concurrency_levels();
    assert_eq!(l.first(), Some(&1));
    assert_eq!(l.last(), Some(&MAX_CONCURRENCY));
    assert!(l.windows(2).all(|w| w[1] == 2 * w[0]));
}

#[test]
fn the_default_slo_parses() {
    assert!(crate::results::slo::parse_slo(DEFAULT_SLO).is_ok());
}

#[test]
fn a_load_phase_too_short_for_its_requests_runs_timed_levels_sharing_its_time() {
    use super::budget::{timed_levels, TIMED_LEVELS, TIMED_LEVEL_MIN};
    let allotted = Duration::from_secs(36);
    let level = timed_levels(allotted).expect("36 s holds three timed levels");
    assert_eq!(level, Duration::from_secs(8));
    assert!(
        level * TIMED_LEVELS * 3 / 2 <= allotted,
        "each level's drain and start fit too"
    );
    assert_eq!(
        timed_levels(Duration::from_secs(9)),
        Some(TIMED_LEVEL_MIN),
        "one level of the shortest duration rather than none"
    );
    assert_eq!(
        timed_levels(Duration::from_secs(5)),
        None,
        "too short: skipped"
    );
}
