//! The tornado: each input moved down and up by `SENSITIVITY_STEP_FRACTION`, the others held, ranked by how far
//! the break-even month moves (a change to or from "never" counts as the whole horizon).

use super::breakeven::{break_even_month, local_minus_cloud_usd_per_month};
use super::model::{Demand, Local, Price};
use super::SENSITIVITY_STEP_FRACTION;
use crate::config::Tenure;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TornadoRow {
    pub input: &'static str,
    /// Break-even (months elapsed) with the input at −20% and +20%; `None`: never within the horizon.
    pub break_even_after_months_low: Option<f64>,
    pub break_even_after_months_high: Option<f64>,
    pub local_minus_cloud_usd_per_month_low: f64,
    pub local_minus_cloud_usd_per_month_high: f64,
    /// |break-even(low) − break-even(high)| in months, "never" counted as the horizon + 1.
    pub effect_months: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tornado {
    pub step_fraction: f64,
    pub horizon_months: u32,
    pub break_even_after_months: Option<f64>,
    pub local_minus_cloud_usd_per_month: f64,
    pub rows: Vec<TornadoRow>,
}

type Vary = fn(&mut Local, &mut Demand, &mut Price, f64);

/// The inputs varied: name, and how a factor applies to it. Utilisation moves through the peak-to-mean ratio
/// (the capacity provisioned for the peak is what idles), never below 1.
fn inputs(local: &Local) -> Vec<(&'static str, Vary)> {
    let mut v: Vec<(&'static str, Vary)> = Vec::new();
    if local.electricity_usd_per_kwh.is_some() {
        v.push(("electricity price", |l, _, _, k| {
            l.electricity_usd_per_kwh = l.electricity_usd_per_kwh.map(|p| p * k)
        }));
        v.push(("PUE", |l, _, _, k| l.pue = (l.pue * k).max(1.0)));
    }
    v.push(("hardware price", |l, _, _, k| match &mut l.tenure {
        Tenure::Owned { purchase_usd, .. } => *purchase_usd *= k,
        Tenure::Rented { usd_per_hour } => *usd_per_hour *= k,
    }));
    if let Tenure::Owned { .. } = local.tenure {
        v.push(("lifetime", |l, _, _, k| {
            if let Tenure::Owned {
                lifetime_months, ..
            } = &mut l.tenure
            {
                *lifetime_months *= k
            }
        }));
    }
    v.push(("utilisation", |_, d, _, k| {
        d.peak_to_mean = (d.peak_to_mean / k).max(1.0)
    }));
    v.push(("volume", |_, d, _, k| d.requests_per_day *= k));
    v.push(("throughput", |l, _, _, k| {
        let t = &mut l.throughput;
        t.input_tokens_per_s *= k;
        t.output_tokens_per_s *= k;
        t.operating_point_output_tokens_per_s =
            t.operating_point_output_tokens_per_s.map(|x| x * k);
    }));
    v.push(("cloud price", |_, _, p, k| {
        p.usd_per_1m_input *= k;
        p.usd_per_1m_output *= k;
        p.usd_per_1m_cached_input = p.usd_per_1m_cached_input.map(|x| x * k);
    }));
    v.push(("operations", |l, _, _, k| {
        l.ops_usd_per_month *= k;
        l.setup_usd *= k;
    }));
    v
}

pub fn tornado(local: &Local, d: &Demand, price: &Price) -> Tornado {
    let horizon = local.horizon_months();
    let never = horizon as f64 + 1.0;
    let eval = |l: &Local, d: &Demand, p: &Price| {
        (
            break_even_month(l, d, p, l.horizon_months()).map(|b| b.after_months),
            local_minus_cloud_usd_per_month(l, d, p),
        )
    };
    let (base_be, base_diff) = eval(local, d, price);
    let mut rows: Vec<TornadoRow> = inputs(local)
        .into_iter()
        .map(|(input, vary)| {
            let run = |k: f64| {
                let (mut l, mut dd, mut p) = (local.clone(), *d, *price);
                vary(&mut l, &mut dd, &mut p, k);
                eval(&l, &dd, &p)
            };
            let (lo_be, lo_diff) = run(1.0 - SENSITIVITY_STEP_FRACTION);
            let (hi_be, hi_diff) = run(1.0 + SENSITIVITY_STEP_FRACTION);
            TornadoRow {
                input,
                break_even_after_months_low: lo_be,
                break_even_after_months_high: hi_be,
                local_minus_cloud_usd_per_month_low: lo_diff,
                local_minus_cloud_usd_per_month_high: hi_diff,
                effect_months: (lo_be.unwrap_or(never) - hi_be.unwrap_or(never)).abs(),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.effect_months.total_cmp(&a.effect_months).then_with(|| {
            let swing = |r: &TornadoRow| {
                (r.local_minus_cloud_usd_per_month_low - r.local_minus_cloud_usd_per_month_high)
                    .abs()
            };
            swing(b).total_cmp(&swing(a))
        })
    });
    Tornado {
        step_fraction: SENSITIVITY_STEP_FRACTION,
        horizon_months: horizon,
        break_even_after_months: base_be,
        local_minus_cloud_usd_per_month: base_diff,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::tests::{demand, owned};
    use super::*;

    #[test]
    fn rows_are_ranked_by_their_effect_on_break_even() {
        let l = owned(15_000.0);
        let p = Price {
            usd_per_1m_input: 2.5,
            usd_per_1m_output: 10.0,
            usd_per_1m_cached_input: None,
        };
        let t = tornado(&l, &demand(20_000.0), &p);
        assert!(t.break_even_after_months.is_some());
        assert_eq!(t.rows.len(), 9);
        assert!(t
            .rows
            .windows(2)
            .all(|w| w[0].effect_months >= w[1].effect_months));
        // Cloud price and volume move the saving itself; they outrank electricity.
        let rank = |name: &str| t.rows.iter().position(|r| r.input == name).unwrap();
        assert!(rank("cloud price") < rank("electricity price"));
        // Cheaper hardware breaks even sooner.
        let hw = &t.rows[rank("hardware price")];
        assert!(hw.break_even_after_months_low.unwrap() < hw.break_even_after_months_high.unwrap());
    }
}
