//! Properties of the cost model over random inputs: local cost rises with electricity and hardware prices, the
//! break-even volume is where the monthly curves cross, and the optimal hybrid is the argmin of every device
//! count's year recomputed by brute force.

use super::breakeven::{break_even_volume, local_minus_cloud_usd_per_month};
use super::hybrid::{hourly_demand, simulate, YearShape};
use super::model::{Demand, Local, Price, Throughput};
use crate::config::Tenure;
use proptest::prelude::*;

fn local() -> impl Strategy<Value = Local> {
    (
        (100.0..50_000.0f64, 12.0..60.0f64, 0.0..0.5f64),
        (50.0..1500.0f64, 0.0..200.0f64, 0.0..300.0f64),
        (0.02..0.5f64, 1.0..2.0f64, 0.0..3000.0f64),
        (100.0..20_000.0f64, 5.0..2000.0f64),
    )
        .prop_map(
            |((purchase, life, resale), (board, idle, host), (elec, pue, ops), (pp, tg))| Local {
                tenure: Tenure::Owned {
                    purchase_usd: purchase,
                    lifetime_months: life,
                    resale_fraction: resale,
                },
                board_power_w: board,
                idle_power_w: idle.min(board),
                host_power_w: host,
                electricity_usd_per_kwh: Some(elec),
                pue,
                ops_usd_per_month: ops,
                setup_usd: 0.0,
                throughput: Throughput {
                    input_tokens_per_s: pp,
                    output_tokens_per_s: tg,
                    operating_point_output_tokens_per_s: None,
                    energy: None,
                },
            },
        )
}

fn demand() -> impl Strategy<Value = Demand> {
    (
        1.0..500_000.0f64,
        10.0..4000.0f64,
        1.0..2000.0f64,
        1.0..6.0f64,
    )
        .prop_map(|(v, i, o, p)| Demand {
            requests_per_day: v,
            input_tokens_per_request: i,
            output_tokens_per_request: o,
            peak_to_mean: p,
            growth_per_month_fraction: 0.0,
            cached_input_fraction: 0.0,
        })
}

fn price() -> impl Strategy<Value = Price> {
    (0.01..20.0f64, 0.05..80.0f64).prop_map(|(i, o)| Price {
        usd_per_1m_input: i,
        usd_per_1m_output: o,
        usd_per_1m_cached_input: None,
    })
}

proptest! {
    #[test]
    fn local_cost_rises_with_the_electricity_price(l in local(), d in demand(), k in 1.01..5.0f64) {
        let n = l.devices_for(&d);
        let mut dearer = l.clone();
        dearer.electricity_usd_per_kwh = l.electricity_usd_per_kwh.map(|p| p * k);
        prop_assert!(dearer.monthly(&d, n).total_usd_per_month > l.monthly(&d, n).total_usd_per_month);
    }

    #[test]
    fn local_cost_rises_with_the_hardware_price(l in local(), d in demand(), k in 1.01..5.0f64) {
        let n = l.devices_for(&d);
        let mut dearer = l.clone();
        if let Tenure::Owned { purchase_usd, .. } = &mut dearer.tenure {
            *purchase_usd *= k;
        }
        prop_assert!(dearer.monthly(&d, n).total_usd_per_month > l.monthly(&d, n).total_usd_per_month);
        prop_assert!(dearer.upfront_usd(1) > l.upfront_usd(1));
    }

    #[test]
    fn break_even_volume_is_where_the_monthly_curves_cross(l in local(), d in demand(), p in price()) {
        let diff = |v: f64| local_minus_cloud_usd_per_month(&l, &d.at(v), &p);
        match break_even_volume(&l, &d, &p) {
            Some(v) => {
                let scale = p.usd_per_month(&d.at(v)).max(1.0);
                prop_assert!(diff(v) <= 1e-6 * scale, "local − cloud at {v}: {}", diff(v));
                // Below the crossing local is dearer everywhere (checked on a grid).
                for i in 1..200 {
                    let below = v * i as f64 / 200.0 * (1.0 - 1e-9);
                    prop_assert!(diff(below) > -1e-6 * scale, "local cheaper at {below} < {v}");
                }
            }
            None => {
                // Never: local is dearer on a grid up to a billion requests a day.
                for e in 0..=90 {
                    let v = 10f64.powf(e as f64 / 10.0);
                    prop_assert!(diff(v) > 0.0, "local cheaper at {v} but no break-even volume");
                }
            }
        }
    }
}

/// The year with `n` local devices, recomputed from the inputs alone: one device serves 3600 / (prompt seconds +
/// generation seconds) requests an hour; each hour pays the devices' amortisation and the operations (with any
/// device), energy (busy time at board power, the rest of the device-hours at idle power, host power throughout,
/// × PUE × electricity price) and the cloud for the requests beyond the devices' capacity.
fn brute_force_year_usd(l: &Local, d: &Demand, p: &Price, hours: &[f64], n: u32) -> f64 {
    let seconds = d.input_tokens_per_request / l.throughput.input_tokens_per_s
        + d.output_tokens_per_request / l.throughput.output_tokens_per_s;
    let capacity = n as f64 * 3600.0 / seconds;
    let Tenure::Owned {
        purchase_usd,
        lifetime_months,
        resale_fraction,
    } = l.tenure
    else {
        panic!("the strategy builds owned hardware");
    };
    let hardware = n as f64 * purchase_usd * (1.0 - resale_fraction) / lifetime_months / 730.0;
    let ops = if n > 0 {
        l.ops_usd_per_month / 730.0
    } else {
        0.0
    };
    let usd_per_kwh = l.electricity_usd_per_kwh.unwrap() * l.pue;
    let cloud_per_request = (d.input_tokens_per_request * p.usd_per_1m_input
        + d.output_tokens_per_request * p.usd_per_1m_output)
        / 1e6;
    hours
        .iter()
        .map(|&requests| {
            let served = requests.min(capacity);
            let busy_hours = served * seconds / 3600.0;
            let wh = busy_hours * l.board_power_w
                + (n as f64 - busy_hours).max(0.0) * l.idle_power_w
                + n as f64 * l.host_power_w;
            hardware + ops + wh / 1000.0 * usd_per_kwh + (requests - served) * cloud_per_request
        })
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn the_hybrid_optimum_is_the_brute_force_argmin_over_every_device_count(
        l in local(), d in demand(), p in price(), seed in 0u64..1000, noise in 0.0..0.5f64,
    ) {
        let d = d.at(d.requests_per_day.min(50_000.0));
        let shape = YearShape {
            hourly_profile: (0..24).map(|h| 1.0 + 0.8 * ((h as f64 - 14.0) / 24.0 * std::f64::consts::TAU).cos()).collect(),
            weekday_profile: vec![1.1, 1.1, 1.1, 1.1, 1.1, 0.75, 0.75],
            noise_fraction: noise,
            seed,
        };
        let hours = hourly_demand(&d, &shape);
        let plan = simulate(&l, &d, &p, shape);
        prop_assume!(!plan.truncated);
        // All local: the fewest devices whose capacity covers the busiest hour. Beyond it a device only adds cost,
        // so the brute force looks two further to be sure.
        let seconds = d.input_tokens_per_request / l.throughput.input_tokens_per_s
            + d.output_tokens_per_request / l.throughput.output_tokens_per_s;
        let peak = hours.iter().copied().fold(0.0, f64::max);
        let all_local = ((peak * seconds / 3600.0 - 1e-9).ceil().max(1.0)) as u32;
        let brute: Vec<f64> = (0..=all_local + 2)
            .map(|n| brute_force_year_usd(&l, &d, &p, &hours, n))
            .collect();
        let (best_n, best_usd) = brute
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map(|(n, v)| (n as u32, *v))
            .unwrap();
        prop_assert_eq!(plan.all_local_devices, all_local);
        prop_assert_eq!(plan.rows.len() as u32, all_local + 1);
        for row in &plan.rows {
            let want = brute[row.devices as usize];
            prop_assert!((row.total_usd_per_year - want).abs() <= 1e-9 * want.max(1.0),
                "N = {}: simulated {} vs recomputed {}", row.devices, row.total_usd_per_year, want);
        }
        let chosen = plan.optimal_devices;
        prop_assert!(
            chosen == best_n || (brute[chosen as usize] - best_usd).abs() <= 1e-9 * best_usd.max(1.0),
            "optimum N = {} ({}), brute force N = {} ({})", chosen, brute[chosen as usize], best_n, best_usd
        );
        prop_assert!((plan.optimal().total_usd_per_year - best_usd).abs() <= 1e-9 * best_usd.max(1.0));
        prop_assert_eq!(plan.rows.last().unwrap().overflow_share_fraction, 0.0);
    }
}
