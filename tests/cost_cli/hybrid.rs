//! `cost`'s hybrid plans: the simulated year's optimum against a hand-computed year, the tiered split and the seed.

use super::*;

/// One year of the `wave` workload on `gpu-box` with `n` devices and overflow to gpt-4o-mini, recomputed by hand:
/// 300,000 requests a day shaped 1 + cos(2π(h − 14)/24) with no noise, one device serving 3600 / (800 / pp +
/// 200 / tg) requests an hour, $100 a month of amortisation per device, $200 a month of operations, 400 W busy,
/// 40 W idle, 100 W host, PUE 1.4, $0.15/kWh, and the cloud at $0.15 / $0.60 per 1M tokens.
fn wave_year_usd(pp: f64, tg: f64, n: u32) -> f64 {
    let seconds = 800.0 / pp + 200.0 / tg;
    let capacity = n as f64 * 3600.0 / seconds;
    let cloud_per_request = (800.0 * 0.15 + 200.0 * 0.6) / 1e6;
    let fixed_per_hour = (n as f64 * 100.0 + if n > 0 { 200.0 } else { 0.0 }) / 730.0;
    (0..8760)
        .map(|h| {
            let phase = 2.0 * std::f64::consts::PI * ((h % 24) as f64 - 14.0) / 24.0;
            let requests = 300_000.0 / 24.0 * (1.0 + phase.cos());
            let served = requests.min(capacity);
            let busy = served * seconds / 3600.0;
            let wh = busy * 400.0 + (n as f64 - busy).max(0.0) * 40.0 + n as f64 * 100.0;
            fixed_per_hour + wh / 1000.0 * 1.4 * 0.15 + (requests - served) * cloud_per_request
        })
        .sum()
}

#[test]
fn the_hybrid_optimum_is_the_cheapest_of_every_device_count_recomputed_by_hand() {
    let (o, _d) = cost(&[
        "--hardware",
        "gpu-box",
        "--workload",
        "wave",
        "--cloud",
        "gpt-4o-mini",
        "--hybrid",
        "-o",
        "json",
    ]);
    let r = json(&o);
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("result-rtx4090.json")).unwrap())
            .unwrap();
    let rate = |k: usize| {
        let ns = file["cases"][k]["samples_ns"].as_array().unwrap();
        let tokens = [512.0, 128.0][k];
        ns.iter()
            .map(|x| tokens / (x.as_f64().unwrap() / 1e9))
            .sum::<f64>()
            / ns.len() as f64
    };
    let (pp, tg) = (rate(0), rate(1));
    let h = &r["hybrid"];
    // The busiest hour (25,000 requests) needs 10 devices.
    let all_local = (25_000.0 * (800.0 / pp + 200.0 / tg) / 3600.0_f64).ceil() as u64;
    assert_eq!(h["all_local_devices"], all_local);
    let by_hand: Vec<f64> = (0..=all_local as u32 + 2)
        .map(|n| wave_year_usd(pp, tg, n))
        .collect();
    let rows = h["rows"].as_array().unwrap();
    assert_eq!(rows.len() as u64, all_local + 1);
    for row in rows {
        let n = row["devices"].as_u64().unwrap() as usize;
        let simulated = row["total_usd_per_year"].as_f64().unwrap();
        assert!(
            (simulated - by_hand[n]).abs() <= 1e-9 * by_hand[n],
            "N = {n}: {simulated} vs {}",
            by_hand[n]
        );
    }
    let best = (0..by_hand.len())
        .min_by(|&a, &b| by_hand[a].total_cmp(&by_hand[b]))
        .unwrap();
    assert!(
        best > 0 && (best as u64) < all_local,
        "the optimum of this workload lies between all cloud and all local: {best}"
    );
    assert_eq!(h["optimal_devices"], best as u64);
    // Same seed, same plan.
    let (again, _d) = cost(&[
        "--hardware",
        "gpu-box",
        "--workload",
        "wave",
        "--cloud",
        "gpt-4o-mini",
        "--hybrid",
        "-o",
        "json",
    ]);
    assert_eq!(json(&again)["hybrid"], r["hybrid"]);
}

#[test]
fn hybrid_plans_come_with_the_tiered_split_and_the_seed() {
    let (o, _d) = cost(&["--cloud", "gpt-4o", "--hybrid", "--seed", "3", "-o", "json"]);
    let r = json(&o);
    assert_eq!(r["hybrid"]["hours"], 8760);
    assert_eq!(r["hybrid"]["shape"]["seed"], 3);
    assert_eq!(r["hybrid"]["rows"][0]["devices"], 0);
    assert_eq!(r["hybrid"]["rows"][0]["overflow_share_fraction"], 1.0);
    assert_eq!(r["tiered"]["simple_share_fraction"], 0.5);
}
