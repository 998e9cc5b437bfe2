//! Criterion benchmark of the hybrid simulation: one year of hourly load, N = 0..=k devices (issue 6 asks for
//! well under 50 ms).

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use tokenmeter::config::Tenure;
use tokenmeter::cost::hybrid::{simulate, YearShape};
use tokenmeter::cost::{Demand, Local, Price, Throughput};

fn hybrid_year(c: &mut Criterion) {
    let local = Local {
        tenure: Tenure::Owned {
            purchase_usd: 3_000.0,
            lifetime_months: 36.0,
            resale_fraction: 0.2,
        },
        board_power_w: 450.0,
        idle_power_w: 30.0,
        host_power_w: 100.0,
        electricity_usd_per_kwh: Some(0.15),
        pue: 1.4,
        ops_usd_per_month: 375.0,
        setup_usd: 3_000.0,
        throughput: Throughput {
            input_tokens_per_s: 5_000.0,
            output_tokens_per_s: 120.0,
            operating_point_output_tokens_per_s: None,
            energy: None,
        },
    };
    let demand = Demand {
        requests_per_day: 100_000.0,
        input_tokens_per_request: 800.0,
        output_tokens_per_request: 200.0,
        peak_to_mean: 2.0,
        growth_per_month_fraction: 0.03,
        cached_input_fraction: 0.0,
    };
    let price = Price {
        usd_per_1m_input: 2.5,
        usd_per_1m_output: 10.0,
        usd_per_1m_cached_input: None,
    };
    let shape = YearShape {
        hourly_profile: (0..24)
            .map(|h| 1.0 + 0.9 * ((h as f64 - 14.0) / 24.0 * std::f64::consts::TAU).cos())
            .collect(),
        weekday_profile: vec![1.1, 1.1, 1.1, 1.1, 1.1, 0.75, 0.75],
        noise_fraction: 0.1,
        seed: 1,
    };
    let devices = simulate(&local, &demand, &price, shape.clone()).rows.len() - 1;
    c.bench_function(
        &format!("hybrid year, 8760 hours, N = 0..={devices}"),
        |b| {
            b.iter(|| {
                simulate(
                    black_box(&local),
                    black_box(&demand),
                    black_box(&price),
                    shape.clone(),
                )
            })
        },
    );
}

criterion_group!(benches, hybrid_year);
criterion_main!(benches);
