//! Specifications of the energy accounting, driven through `TraceSensor` and the `Sensor` trait like a real run.

use super::*;

const MS: u64 = 1_000_000;

/// A reading of the raw counter (J) at `t_ms`.
fn counter(t_ms: u64, raw_j: f64) -> Sample {
    Sample {
        t_ns: t_ms * MS,
        energy_counter_j: Some(raw_j),
        ..Sample::default()
    }
}

/// Counter readings every `step_ms` from `t0_ms` to `t1_ms` at constant `power_w`, starting from `raw0_j`.
fn ramp(t0_ms: u64, t1_ms: u64, step_ms: u64, raw0_j: f64, power_w: f64) -> Vec<Sample> {
    (t0_ms..=t1_ms)
        .step_by(step_ms as usize)
        .map(|t| counter(t, raw0_j + power_w * (t - t0_ms) as f64 / 1000.0))
        .collect()
}

fn window_of(sensor: &mut dyn Sensor) -> Window {
    sensor.start(std::time::Instant::now()).unwrap();
    sensor.stop().unwrap()
}

fn has_flag(flags: &[EnergyFlag], f: impl Fn(&EnergyFlag) -> bool) -> bool {
    flags.iter().any(f)
}

#[test]
fn counter_energy_is_counted_across_a_wrap() {
    // Range 1000 J; 20 J per 100 ms from 950 J, so the counter wraps after the third reading.
    let raw: Vec<Sample> = (0..=10u64)
        .map(|i| counter(i * 100, (950.0 + 20.0 * i as f64) % 1000.0))
        .collect();
    assert!(raw[3].energy_counter_j.unwrap() < raw[2].energy_counter_j.unwrap());
    let mut s = TraceSensor::new("gpu", raw)
        .with_counter_range_j(1000.0)
        .with_counter_update_period_ns(10 * MS);
    let w = window_of(&mut s);
    let r = EnergyRecord::from_window(&w, w.start_ns, w.end_ns, None, None);
    assert!((r.energy_j.unwrap() - 10.0 * 20.0).abs() < 1e-9, "{r:?}");
    assert!((r.avg_power_w.unwrap() - 200.0).abs() < 1e-9);
    assert_eq!(r.source, Some(EnergySource::TraceCounter));
    assert_eq!(r.coverage, Some(1.0));
    assert!(r.flags.is_empty(), "{:?}", r.flags);
}

#[test]
fn a_counter_that_goes_back_without_a_known_range_is_flagged_not_counted() {
    let mut s = TraceSensor::new(
        "gpu",
        vec![counter(0, 500.0), counter(100, 520.0), counter(200, 3.0)],
    );
    let t = window_of(&mut s).totals();
    assert_eq!(t.energy_j, None);
    assert!(has_flag(&t.flags, |f| *f == EnergyFlag::CounterWentBackwards));
}

/// 1 s at 100 W by the counter (readings every 50 ms), with sampled power reading `power_w`.
fn counter_and_power(power_w: f64) -> Window {
    let samples = ramp(0, 1000, 50, 0.0, 100.0)
        .into_iter()
        .map(|s| Sample {
            power_w: Some(power_w),
            ..s
        })
        .collect();
    window_of(&mut TraceSensor::new("gpu", samples).with_counter_update_period_ns(100 * MS))
}

#[test]
fn counter_and_integrated_power_within_five_percent_are_not_flagged() {
    let t = counter_and_power(104.0).totals();
    assert!((t.counter_energy_j.unwrap() - 100.0).abs() < 1e-9);
    assert!((t.integrated_energy_j.unwrap() - 104.0).abs() < 1e-9);
    assert!(!has_flag(&t.flags, |f| matches!(
        f,
        EnergyFlag::CounterPowerDisagree { .. }
    )));
}

#[test]
fn counter_and_integrated_power_disagreeing_are_flagged_and_the_counter_wins() {
    let t = counter_and_power(120.0).totals();
    assert!((t.energy_j.unwrap() - 100.0).abs() < 1e-9);
    let disagreement = t.flags.iter().find_map(|f| match f {
        EnergyFlag::CounterPowerDisagree {
            counter_j,
            integrated_j,
            relative_difference,
        } => Some((*counter_j, *integrated_j, *relative_difference)),
        _ => None,
    });
    let (c, p, rel) = disagreement.expect("flagged");
    assert!((c - 100.0).abs() < 1e-9 && (p - 120.0).abs() < 1e-9 && (rel - 0.2).abs() < 1e-9);
    assert_eq!(t.peak_power_w, Some(120.0));
}

#[test]
fn a_stop_request_ends_the_idle_baseline_within_a_fraction_of_a_second() {
    let mut idle: Vec<Box<dyn Sensor>> = vec![Box::new(TraceSensor::new(
        "gpu",
        ramp(0, 20_000, 100, 7.0, 50.0),
    ))];
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let setter = stop.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(100));
        setter.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let t0 = std::time::Instant::now();
    let r = measure_idle(
        &mut idle,
        std::time::Instant::now(),
        std::time::Duration::from_secs(10),
        &stop,
    );
    t.join().unwrap();
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(1),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(r.len(), 1);
}

#[test]
fn energy_above_idle_subtracts_idle_power_times_duration() {
    let mut idle: Vec<Box<dyn Sensor>> = vec![Box::new(TraceSensor::new(
        "gpu",
        ramp(0, 2000, 100, 7.0, 50.0),
    ))];
    let baseline = measure_idle(
        &mut idle,
        std::time::Instant::now(),
        std::time::Duration::ZERO,
        &std::sync::atomic::AtomicBool::new(false),
    )
    .remove(0)
    .unwrap();
    assert!((baseline.idle_power_w.unwrap() - 50.0).abs() < 1e-9);
    assert_eq!(baseline.source, Some(EnergySource::TraceCounter));

    // 2 s at 150 W: 300 J in total, 300 − 50 W × 2 s = 200 J above idle.
    let w = window_of(&mut TraceSensor::new("gpu", ramp(0, 2000, 100, 0.0, 150.0)));
    let r = EnergyRecord::from_window(&w, w.start_ns, w.end_ns, Some(100), Some(&baseline));
    assert!((r.energy_j.unwrap() - 300.0).abs() < 1e-9);
    assert!((r.energy_above_idle_j.unwrap() - 200.0).abs() < 1e-9);

    let other = IdleBaseline {
        device: "cpu".into(),
        ..baseline
    };
    let r = EnergyRecord::from_window(&w, w.start_ns, w.end_ns, Some(100), Some(&other));
    assert_eq!(r.energy_above_idle_j, None);
    assert!(has_flag(&r.flags, |f| matches!(
        f,
        EnergyFlag::IdleFromOtherDevice { .. }
    )));
}

#[test]
fn phases_of_one_window_get_their_own_joules_per_token() {
    // Prompt processing 0–1 s at 200 W (100 tokens), generation 1–3 s at 150 W (50 tokens).
    let mut samples = ramp(0, 1000, 50, 0.0, 200.0);
    samples.extend(ramp(1050, 3000, 50, 200.0 + 150.0 * 0.05, 150.0));
    let w =
        window_of(&mut TraceSensor::new("gpu", samples).with_counter_update_period_ns(100 * MS));
    let pp = EnergyRecord::from_window(&w, 0, 1000 * MS, Some(100), None);
    let tg = EnergyRecord::from_window(&w, 1000 * MS, 3000 * MS, Some(50), None);
    assert!((pp.energy_j.unwrap() - 200.0).abs() < 1e-9);
    assert!((pp.j_per_token.unwrap() - 2.0).abs() < 1e-9);
    assert!((pp.tokens_per_j.unwrap() - 0.5).abs() < 1e-9);
    assert!((tg.energy_j.unwrap() - 300.0).abs() < 1e-9);
    assert!((tg.j_per_token.unwrap() - 6.0).abs() < 1e-9);
    assert!((tg.avg_power_w.unwrap() - 150.0).abs() < 1e-9);
    // Between readings the counter is interpolated: 0.5–1.5 s is half at 200 W and half at 150 W.
    assert!((w.energy_between(500 * MS, 1500 * MS).unwrap() - 175.0).abs() < 1e-9);
    // The phases add up to the window.
    assert!(
        (pp.energy_j.unwrap() + tg.energy_j.unwrap() - w.totals().energy_j.unwrap()).abs() < 1e-9
    );
}

#[test]
fn a_window_shorter_than_the_counter_period_is_none_and_flagged_never_zero() {
    let w = window_of(
        &mut TraceSensor::new("gpu", ramp(0, 1000, 50, 0.0, 100.0))
            .with_counter_update_period_ns(100 * MS),
    );
    let r = EnergyRecord::from_window(&w, 500 * MS, 530 * MS, Some(3), None);
    assert_eq!(
        (r.energy_j, r.j_per_token, r.avg_power_w),
        (None, None, None)
    );
    assert!(has_flag(&r.flags, |f| *f
        == EnergyFlag::ShortWindow {
            window_ns: 30 * MS,
            period_ns: 100 * MS
        }));
}

#[test]
fn a_counter_that_did_not_tick_is_none_and_flagged() {
    let samples = vec![
        counter(0, 10.0),
        counter(100, 12.0),
        counter(150, 12.0),
        counter(300, 12.0),
        counter(400, 15.0),
    ];
    let w =
        window_of(&mut TraceSensor::new("gpu", samples).with_counter_update_period_ns(100 * MS));
    let t = w.totals_between(100 * MS, 300 * MS);
    assert_eq!(t.energy_j, None);
    assert!(has_flag(&t.flags, |f| *f
        == EnergyFlag::CounterUnchanged {
            window_ns: 200 * MS
        }));
}

#[test]
fn without_a_counter_sampled_power_is_integrated_and_coverage_reported() {
    // Power readings only from 250 ms of a 1 s window: 100 W over what is covered.
    let mut samples = vec![Sample {
        t_ns: 0,
        temperature_c: Some(40.0),
        ..Sample::default()
    }];
    samples.extend((1..=4).map(|i| Sample {
        t_ns: i * 250 * MS,
        power_w: Some(100.0),
        ..Sample::default()
    }));
    let w = window_of(&mut TraceSensor::new("gpu", samples).with_sample_interval_ns(250 * MS));
    let r = EnergyRecord::from_window(&w, 0, 1000 * MS, None, None);
    assert_eq!(r.source, Some(EnergySource::TracePower));
    assert_eq!(r.coverage, Some(0.75));
    assert!((r.integrated_energy_j.unwrap() - 75.0).abs() < 1e-9);
    assert!((r.energy_j.unwrap() - 100.0).abs() < 1e-9);
    assert!(has_flag(&r.flags, |f| *f
        == EnergyFlag::PartialCoverage { coverage: 0.75 }));
}

#[test]
fn throttling_during_a_phase_is_flagged_on_that_phase_only() {
    let mut samples = ramp(0, 1000, 100, 0.0, 100.0);
    samples[8].throttle = Some(Throttle {
        power_cap: true,
        ..Throttle::default()
    });
    let w = window_of(&mut TraceSensor::new("gpu", samples));
    let throttled = |r: &EnergyRecord| {
        has_flag(
            &r.flags,
            |f| matches!(f, EnergyFlag::Throttled(t) if t.power_cap),
        )
    };
    assert!(!throttled(&EnergyRecord::from_window(
        &w,
        0,
        500 * MS,
        None,
        None
    )));
    assert!(throttled(&EnergyRecord::from_window(
        &w,
        500 * MS,
        1000 * MS,
        None,
        None
    )));
}

#[test]
fn missing_readings_serialize_as_null() {
    let samples = (0..3).map(|i| Sample {
        t_ns: i * 100 * MS,
        graphics_clock_mhz: Some(1500),
        ..Sample::default()
    });
    let w = window_of(&mut TraceSensor::new("gpu", samples.collect()));
    let r = EnergyRecord::from_window(&w, w.start_ns, w.end_ns, Some(10), None);
    assert_eq!((r.energy_j, r.j_per_token, r.source), (None, None, None));
    let json = serde_json::to_string(&r).unwrap();
    for field in [
        "energy_j",
        "energy_above_idle_j",
        "avg_power_w",
        "peak_power_w",
        "coverage",
        "j_per_token",
    ] {
        assert!(
            json.contains(&format!("\"{field}\":null")),
            "{field} in {json}"
        );
    }
    assert!(
        json.contains("\"power_w\":null") && json.contains("\"graphics_clock_mhz\":1500"),
        "{json}"
    );
    let back: EnergyRecord = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);

    let absent = serde_json::to_value(EnergyRecord::absent("energy: absent (test)")).unwrap();
    assert_eq!(absent["energy_j"], serde_json::Value::Null);
    assert_eq!(absent["absent_reason"], "energy: absent (test)");
}

#[test]
fn a_recorded_window_replays_to_the_same_totals() {
    let w = counter_and_power(120.0);
    let json = serde_json::to_string(&w).unwrap();
    let replayed = window_of(&mut TraceSensor::from_window(
        &serde_json::from_str(&json).unwrap(),
    ));
    assert_eq!(replayed, w);
    assert_eq!(replayed.totals(), w.totals());
}

#[test]
fn probe_without_nvidia_or_rapl_reports_energy_absent_in_one_line() {
    let root = tempfile::tempdir().unwrap();
    let powercap = root.path().join("powercap");
    let config = ProbeConfig {
        powercap_root: powercap.clone(),
        ..ProbeConfig::default()
    };
    let p = probe(&config);
    assert!(p
        .sensors
        .iter()
        .any(|s| s.family() == SensorFamily::Process));
    match NvmlSensor::all(DEFAULT_SAMPLE_INTERVAL) {
        Err(e) => assert_eq!(
            p.energy_absent_reason(),
            Some(format!(
                "energy: absent (no NVIDIA GPU: {e}; no RAPL: {} not present)",
                powercap.display()
            ))
        ),
        Ok(_) => assert_eq!(p.energy_absent_reason(), None),
    }
}

#[test]
fn a_phase_over_several_repetitions_adds_their_energy_and_tokens() {
    // 2 s at 100 W by the counter. Prompt phases 0–200 ms and 1000–1200 ms at 100 W; generation the rest.
    let mut s = TraceSensor::new("gpu", ramp(0, 2000, 50, 0.0, 100.0))
        .with_counter_update_period_ns(100 * MS);
    let w = window_of(&mut s);
    let prompt =
        EnergyRecord::over_spans(&w, &[(0, 200 * MS), (1000 * MS, 1200 * MS)], Some(40), None);
    assert!((prompt.energy_j.unwrap() - 40.0).abs() < 1e-9, "{prompt:?}");
    assert!((prompt.avg_power_w.unwrap() - 100.0).abs() < 1e-9);
    assert!((prompt.j_per_token.unwrap() - 1.0).abs() < 1e-9);
    assert_eq!(prompt.coverage, Some(1.0));
    let gen = EnergyRecord::over_spans(
        &w,
        &[(200 * MS, 1000 * MS), (1200 * MS, 2000 * MS)],
        Some(32),
        None,
    );
    assert!((gen.energy_j.unwrap() - 160.0).abs() < 1e-9);
    assert!((gen.tokens_per_j.unwrap() - 0.2).abs() < 1e-12);

    // One span shorter than the counter's update period: the phase has no energy, and says why.
    let short =
        EnergyRecord::over_spans(&w, &[(0, 200 * MS), (1000 * MS, 1010 * MS)], Some(40), None);
    assert_eq!(short.energy_j, None);
    assert_eq!(short.j_per_token, None);
    assert!(has_flag(&short.flags, |f| matches!(
        f,
        EnergyFlag::ShortWindow { .. }
    )));
    let json = serde_json::to_value(&short).unwrap();
    assert!(json["energy_j"].is_null() && json["j_per_token"].is_null());
}

/// Counter readings every 50 ms: 200 W up to 1 s, 100 W after; the counter refreshes every 10 ms.
fn power_step() -> Window {
    let mut samples = ramp(0, 1000, 50, 0.0, 200.0);
    samples.extend(ramp(1050, 2000, 50, 205.0, 100.0));
    window_of(&mut TraceSensor::new("gpu", samples).with_counter_update_period_ns(10 * MS))
}

#[test]
fn each_edge_is_uncertain_by_its_local_power_over_its_distance_to_the_farther_reading() {
    let w = power_step();
    // 980–1480 ms: 200 W × 20 ms + 100 W × 480 ms = 52 J. The edge at 980 ms lies between readings at 950 and
    // 1000 ms (30 ms from the farther one) at 200 W: 6 J; the edge at 1480 ms between 1450 and 1500 ms at 100 W:
    // 3 J. 9 J of 52 J is over the 10% limit, and spans 0.1731 / 0.10 times as long would bring it under.
    let r = EnergyRecord::from_window(&w, 980 * MS, 1480 * MS, Some(50), None);
    assert!((r.energy_j.unwrap() - 52.0).abs() < 1e-9, "{r:?}");
    assert!(
        (r.energy_uncertainty_j.unwrap() - 9.0).abs() < 1e-9,
        "{r:?}"
    );
    let rel = 9.0 / 52.0;
    assert!((r.energy_uncertainty_rel.unwrap() - rel).abs() < 1e-12);
    let flag = r
        .flags
        .iter()
        .find(|f| matches!(f, EnergyFlag::Uncertain { .. }));
    match flag {
        Some(EnergyFlag::Uncertain {
            uncertainty_rel,
            limit_rel,
            span_factor,
        }) => {
            assert!((uncertainty_rel - rel).abs() < 1e-12);
            assert_eq!(*limit_rel, 0.10);
            assert!((span_factor - rel / 0.10).abs() < 1e-12);
        }
        _ => panic!("not flagged: {:?}", r.flags),
    }

    // Edges on readings are uncertain by one update period: 2 × 200 W × 10 ms = 4 J of 100 J, not flagged.
    let r = EnergyRecord::from_window(&w, 250 * MS, 750 * MS, None, None);
    assert!((r.energy_j.unwrap() - 100.0).abs() < 1e-9);
    assert!(
        (r.energy_uncertainty_j.unwrap() - 4.0).abs() < 1e-9,
        "{r:?}"
    );
    assert!(r.flags.is_empty(), "{:?}", r.flags);
}

#[test]
fn a_phase_adds_the_uncertainty_of_every_span_edge() {
    let w = power_step();
    // 250–750 ms: 4 J of 100 J; 980–1480 ms: 9 J of 52 J. Together 13 J of 152 J.
    let r = EnergyRecord::over_spans(
        &w,
        &[(250 * MS, 750 * MS), (980 * MS, 1480 * MS)],
        Some(10),
        None,
    );
    assert!((r.energy_j.unwrap() - 152.0).abs() < 1e-9);
    assert!((r.energy_uncertainty_j.unwrap() - 13.0).abs() < 1e-9);
    assert!((r.energy_uncertainty_rel.unwrap() - 13.0 / 152.0).abs() < 1e-12);
    assert!(
        !has_flag(&r.flags, |f| matches!(f, EnergyFlag::Uncertain { .. })),
        "the phase is under the limit even though one of its spans is not: {:?}",
        r.flags
    );
}

#[test]
fn sampled_power_edges_are_uncertain_by_the_larger_bracketing_reading() {
    // 100 W read every 100 ms. 1030–1480 ms: 45 J; edges 70 ms and 80 ms from their farther readings: 15 J.
    let samples = (0..=20u64)
        .map(|i| Sample {
            t_ns: i * 100 * MS,
            power_w: Some(100.0),
            ..Sample::default()
        })
        .collect();
    let w = window_of(&mut TraceSensor::new("gpu", samples).with_sample_interval_ns(100 * MS));
    let r = EnergyRecord::from_window(&w, 1030 * MS, 1480 * MS, None, None);
    assert_eq!(r.source, Some(EnergySource::TracePower));
    assert!((r.energy_j.unwrap() - 45.0).abs() < 1e-9);
    assert!(
        (r.energy_uncertainty_j.unwrap() - 15.0).abs() < 1e-9,
        "{r:?}"
    );
    assert!(has_flag(&r.flags, |f| matches!(
        f,
        EnergyFlag::Uncertain { .. }
    )));
}

#[test]
fn a_record_without_energy_has_no_coverage_and_no_uncertainty() {
    let w = window_of(
        &mut TraceSensor::new("gpu", ramp(0, 1000, 50, 0.0, 100.0))
            .with_counter_update_period_ns(100 * MS),
    );
    let r = EnergyRecord::from_window(&w, 500 * MS, 530 * MS, Some(3), None);
    assert_eq!(
        (
            r.energy_j,
            r.coverage,
            r.energy_uncertainty_j,
            r.energy_uncertainty_rel
        ),
        (None, None, None, None)
    );
    let phase = EnergyRecord::over_spans(&w, &[(0, 200 * MS), (500 * MS, 530 * MS)], None, None);
    assert_eq!((phase.energy_j, phase.coverage), (None, None));
}

#[test]
fn sampled_power_carries_the_readings_stated_accuracy_on_top_of_its_edges() {
    // 100 W read every 100 ms for 1 s; the span 0–1000 ms has its edges on readings (0 J), so only the readings'
    // ±5% remains: 5 J of 100 J.
    let samples = (0..=10u64)
        .map(|i| Sample {
            t_ns: i * 100 * MS,
            power_w: Some(100.0),
            ..Sample::default()
        })
        .collect();
    let mut w = window_of(&mut TraceSensor::new("gpu", samples).with_sample_interval_ns(100 * MS));
    let r = EnergyRecord::from_window(&w, 0, 1000 * MS, None, None);
    assert_eq!(r.energy_uncertainty_j, Some(0.0));
    w.power_accuracy_rel = Some(0.05);
    let r = EnergyRecord::from_window(&w, 0, 1000 * MS, None, None);
    assert!((r.energy_j.unwrap() - 100.0).abs() < 1e-9);
    assert!(
        (r.energy_uncertainty_j.unwrap() - 5.0).abs() < 1e-9,
        "{r:?}"
    );
}

#[test]
fn a_span_past_a_lost_devices_last_reading_has_no_energy_and_says_why() {
    // 100 W by the counter every 50 ms; the device answered up to 1000 ms, then was lost.
    let mut w = window_of(
        &mut TraceSensor::new("gpu", ramp(0, 1000, 50, 0.0, 100.0))
            .with_counter_update_period_ns(MS),
    );
    w.lost = Some(Lost {
        last_answered_ns: Some(1000 * MS),
        reason: "NVML_ERROR_GPU_IS_LOST".into(),
    });
    let before = EnergyRecord::from_window(&w, 100 * MS, 900 * MS, Some(8), None);
    assert!((before.energy_j.unwrap() - 80.0).abs() < 1e-9, "{before:?}");
    assert_eq!(before.absent_reason, None);
    let past = EnergyRecord::over_spans(
        &w,
        &[(100 * MS, 900 * MS), (950 * MS, 1200 * MS)],
        Some(8),
        None,
    );
    assert_eq!(
        (
            past.energy_j,
            past.j_per_token,
            past.energy_uncertainty_j,
            past.source
        ),
        (None, None, None, None)
    );
    assert_eq!(
        past.absent_reason.as_deref(),
        Some("energy: absent (gpu: lost: NVML_ERROR_GPU_IS_LOST)")
    );
    // Lost before its first reading: nothing in the window has energy.
    w.lost = Some(Lost {
        last_answered_ns: None,
        reason: "NVML_ERROR_GPU_IS_LOST".into(),
    });
    assert_eq!(w.totals_between(100 * MS, 200 * MS).energy_j, None);
}
