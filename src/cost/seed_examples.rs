//! The seed article's worked break-even examples, rebuilt from the inputs it states: 100,000 and 1,000 calls a day
//! at mid-tier prices ($0.001–0.01 per 1K tokens), requests of 500–5,000 tokens, about $15,000 of hardware plus
//! about $500 a month to run it (electricity $0.10–0.30/kWh, GPUs at 200–400 W, +30–50% cooling, 5–20 hours of
//! operations a month).

use super::breakeven::break_even_month;
use super::model::{Demand, Local, Price, Throughput};
use crate::config::Tenure;

/// A $15,000 four-GPU server: 4 × 300 W under load, 4 × 50 W idle, 200 W for the rest, $0.15/kWh, PUE 1.4,
/// 6 hours of operations a month at $55 an hour; serving 400 output tokens/s across concurrent requests.
fn server() -> Local {
    Local {
        tenure: Tenure::Owned {
            purchase_usd: 15_000.0,
            lifetime_months: 36.0,
            resale_fraction: 0.0,
        },
        board_power_w: 1200.0,
        idle_power_w: 200.0,
        host_power_w: 200.0,
        electricity_usd_per_kwh: Some(0.15),
        pue: 1.4,
        ops_usd_per_month: 6.0 * 55.0,
        setup_usd: 0.0,
        throughput: Throughput {
            input_tokens_per_s: 10_000.0,
            output_tokens_per_s: 60.0,
            operating_point_output_tokens_per_s: Some(400.0),
            energy: None,
        },
    }
}

/// 1,000 tokens a call (750 in, 250 out), steady load.
fn calls(per_day: f64) -> Demand {
    Demand {
        requests_per_day: per_day,
        input_tokens_per_request: 750.0,
        output_tokens_per_request: 250.0,
        peak_to_mean: 1.0,
        growth_per_month_fraction: 0.0,
        cached_input_fraction: 0.0,
    }
}

/// Mid-tier: $1 and $3.25 per 1M tokens ($0.001 and $0.00325 per 1K).
fn mid_tier() -> [Price; 2] {
    [1.0, 3.25].map(|p| Price {
        usd_per_1m_input: p,
        usd_per_1m_output: p,
        usd_per_1m_cached_input: None,
    })
}

#[test]
fn seed_100k_calls_a_day_breaks_even_within_two_to_six_months() {
    let local = server();
    let d = calls(100_000.0);
    assert_eq!(local.devices_for(&d), 1);
    let running = local.running_usd_per_month(&d, 1);
    assert!(
        (400.0..=600.0).contains(&running),
        "about $500/month operational: {running}"
    );
    for price in mid_tier() {
        let cloud = price.usd_per_month(&d);
        assert!(
            (3_000.0..=10_000.0).contains(&cloud),
            "cloud ~$3,000–10,000/month: {cloud}"
        );
        let be = break_even_month(&local, &d, &price, 36).expect("breaks even");
        assert!(
            (2..=6).contains(&be.month),
            "break-even month {be:?} for cloud ${cloud:.0}/month"
        );
        assert!(local.monthly(&d, 1).total_usd_per_month < cloud);
    }
}

#[test]
fn seed_1k_calls_a_day_never_breaks_even() {
    let local = server();
    let d = calls(1_000.0);
    for price in mid_tier() {
        let cloud = price.usd_per_month(&d);
        assert!(
            (30.0..=100.0).contains(&cloud),
            "cloud ~$30–100/month: {cloud}"
        );
        assert!(
            local.running_usd_per_month(&d, 1) > cloud,
            "local costs more every month"
        );
        assert_eq!(break_even_month(&local, &d, &price, 36), None);
        assert_eq!(break_even_month(&local, &d, &price, 1200), None);
    }
}
