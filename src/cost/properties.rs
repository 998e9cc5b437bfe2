//! Properties of the cost model over random inputs: local cost rises with electricity and hardware prices, the
//! break-even volume is where the monthly curves cross, and the optimal hybrid is never dearer than all-cloud or
//! all-local.

use super::breakeven::{break_even_volume, local_minus_cloud_usd_per_month};
use super::hybrid::{simulate, YearShape};
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn the_optimal_hybrid_is_never_dearer_than_all_cloud_or_all_local(
        l in local(), d in demand(), p in price(), seed in 0u64..1000, noise in 0.0..0.5f64,
    ) {
        let d = d.at(d.requests_per_day.min(50_000.0));
        let shape = YearShape {
            hourly_profile: (0..24).map(|h| 1.0 + 0.8 * ((h as f64 - 14.0) / 24.0 * std::f64::consts::TAU).cos()).collect(),
            weekday_profile: vec![1.1, 1.1, 1.1, 1.1, 1.1, 0.75, 0.75],
            noise_fraction: noise,
            seed,
        };
        let plan = simulate(&l, &d, &p, shape);
        prop_assume!(!plan.truncated);
        let best = plan.optimal().total_usd_per_year;
        let all_cloud = plan.rows[0].total_usd_per_year;
        let all_local = plan.rows.last().unwrap().total_usd_per_year;
        prop_assert!(best <= all_cloud && best <= all_local);
        prop_assert_eq!(plan.rows.last().unwrap().overflow_share_fraction, 0.0);
    }
}
