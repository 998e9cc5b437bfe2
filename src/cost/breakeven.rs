//! When local pays off: the break-even month (cumulative cash, the purchase paid up front, volume growing as the
//! workload says) and the break-even volume (requests/day at which the monthly costs cross, hardware amortised).

use super::model::{Demand, Local, Price};
use super::DAYS_PER_MONTH;
use serde::Serialize;

/// Where cumulative local cost meets cumulative cloud cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BreakEven {
    /// Months elapsed until the cumulative costs meet (fractional; linear within a month).
    pub after_months: f64,
    /// The month in which they meet (1 = the first month).
    pub month: u32,
}

impl BreakEven {
    fn at(after_months: f64) -> BreakEven {
        BreakEven {
            after_months,
            month: (after_months.ceil() as u32).max(1),
        }
    }
}

/// Month by month over `horizon_months`: local pays set-up and devices up front (more devices when growth needs
/// them), then its running cost; the cloud bills the month's requests. `None`: local never catches up within the
/// horizon. Resale value is not credited (the comparison stays conservative for local).
pub fn break_even_month(
    local: &Local,
    d: &Demand,
    price: &Price,
    horizon_months: u32,
) -> Option<BreakEven> {
    let mut gap = local.setup_usd; // cumulative local − cumulative cloud
    let mut devices = 0;
    for m in 0..horizon_months {
        let month = d.at(d.requests_per_day_in_month(m));
        let needed = local.devices_for(&month).max(devices);
        gap += local.upfront_usd(needed - devices);
        devices = needed;
        let saving = price.usd_per_month(&month) - local.running_usd_per_month(&month, devices);
        if saving > 0.0 && gap <= saving {
            return Some(BreakEven::at(m as f64 + gap.max(0.0) / saving));
        }
        gap -= saving;
    }
    None
}

/// Cumulative cash at one moment of the horizon.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CashPoint {
    /// Months elapsed (0: the start, before the first month's running costs).
    pub after_months: f64,
    pub local_usd: f64,
    pub cloud_usd: f64,
}

/// Cumulative cash of local and cloud over `horizon_months`, as `break_even_month` counts it: set-up and devices
/// paid at the start of the month that needs them (two points at that month: before and after), running costs
/// and the cloud's bill at each month's end. Linear between points, so the curves cross where
/// `break_even_month` says.
pub fn cumulative_cash(
    local: &Local,
    d: &Demand,
    price: &Price,
    horizon_months: u32,
) -> Vec<CashPoint> {
    let mut local_usd = local.setup_usd;
    let mut cloud_usd = 0.0;
    let mut devices = 0;
    let mut points = vec![CashPoint {
        after_months: 0.0,
        local_usd,
        cloud_usd,
    }];
    for m in 0..horizon_months {
        let month = d.at(d.requests_per_day_in_month(m));
        let needed = local.devices_for(&month).max(devices);
        let upfront = local.upfront_usd(needed - devices);
        devices = needed;
        if upfront > 0.0 {
            local_usd += upfront;
            points.push(CashPoint {
                after_months: m as f64,
                local_usd,
                cloud_usd,
            });
        }
        local_usd += local.running_usd_per_month(&month, devices);
        cloud_usd += price.usd_per_month(&month);
        points.push(CashPoint {
            after_months: (m + 1) as f64,
            local_usd,
            cloud_usd,
        });
    }
    points
}

/// Monthly cost difference local − cloud at a volume, with as many devices as the peak needs (amortised).
pub fn local_minus_cloud_usd_per_month(local: &Local, d: &Demand, price: &Price) -> f64 {
    local.monthly_for_peak(d).total_usd_per_month - price.usd_per_month(d)
}

/// The lowest volume (requests/day) at which local's monthly cost (devices for the peak, hardware amortised) is no
/// more than the cloud's. Growth is ignored. `None`: local never wins at any volume.
///
/// With `n` devices local cost is linear in volume, `A(n) + b·V`, for volumes whose peak `n` devices serve,
/// `V ≤ n·C` (C: requests/day per device at the peak); the cloud costs `c·V`. They cross in segment `n` when
/// `A(n) / (c − b) ≤ n·C`. `A(n) = ops + n·F` (F: one device's fixed cost), so the first such `n` is
/// `ops / (C·(c − b) − F)` rounded up.
pub fn break_even_volume(local: &Local, d: &Demand, price: &Price) -> Option<f64> {
    let total = |v: f64, n: u32| local.monthly(&d.at(v), n).total_usd_per_month;
    let c = price.usd_per_request(d) * DAYS_PER_MONTH;
    let b = total(1.0, 1) - total(0.0, 1);
    if c <= b {
        return None;
    }
    let a1 = total(0.0, 1);
    let f = total(0.0, 2) - a1;
    let ops = a1 - f;
    let per_device = local.capacity_requests_per_day(d) / d.peak_to_mean;
    let margin = per_device * (c - b) - f;
    if margin <= 0.0 {
        return (ops <= 0.0 && margin == 0.0).then_some(0.0);
    }
    let mut n = ((ops / margin).ceil().max(1.0)).min(u32::MAX as f64 - 2.0) as u32;
    // Guard the rounding at the segment boundary.
    if n > 1 && total(0.0, n - 1) / (c - b) <= (n - 1) as f64 * per_device {
        n -= 1;
    }
    for n in n..n + 3 {
        let v = total(0.0, n) / (c - b);
        if v <= n as f64 * per_device * (1.0 + 1e-12) {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::model::tests::{demand, owned};
    use super::*;
    use crate::config::Tenure;

    fn price(usd_per_1m_input: f64, usd_per_1m_output: f64) -> Price {
        Price {
            usd_per_1m_input,
            usd_per_1m_output,
            usd_per_1m_cached_input: None,
        }
    }

    #[test]
    fn break_even_month_is_upfront_over_monthly_saving() {
        let l = owned(15_000.0);
        let d = demand(15_000.0);
        let p = price(2.5, 10.0);
        assert_eq!(l.devices_for(&d), 1);
        let saving = p.usd_per_month(&d) - l.running_usd_per_month(&d, 1);
        let be = break_even_month(&l, &d, &p, 36).unwrap();
        assert!((be.after_months - 15_000.0 / saving).abs() < 1e-9, "{be:?}");
        assert_eq!(be.month, (15_000.0 / saving).ceil() as u32);
    }

    #[test]
    fn cumulative_curves_cross_at_the_break_even_month() {
        let l = owned(15_000.0);
        let mut d = demand(15_000.0);
        d.growth_per_month_fraction = 0.02;
        let p = price(2.5, 10.0);
        let be = break_even_month(&l, &d, &p, 36).unwrap();
        let cash = cumulative_cash(&l, &d, &p, 36);
        assert_eq!(cash[0].after_months, 0.0);
        assert_eq!(cash.last().unwrap().after_months, 36.0);
        // linear between the points around the crossing
        let i = cash
            .windows(2)
            .position(|w| {
                w[0].after_months <= be.after_months && be.after_months <= w[1].after_months
            })
            .unwrap();
        let (a, b) = (cash[i], cash[i + 1]);
        let t = (be.after_months - a.after_months) / (b.after_months - a.after_months);
        let gap = |p: CashPoint| p.local_usd - p.cloud_usd;
        let at = gap(a) + t * (gap(b) - gap(a));
        assert!(at.abs() < 1e-6 * b.cloud_usd, "{at} at {be:?}");
    }

    #[test]
    fn cheap_cloud_never_breaks_even() {
        let l = owned(15_000.0);
        let d = demand(1_000.0);
        assert_eq!(break_even_month(&l, &d, &price(0.15, 0.6), 36), None);
        assert_eq!(break_even_volume(&l, &d, &price(0.0, 0.0)), None);
    }

    #[test]
    fn growth_brings_break_even_forward() {
        let l = owned(15_000.0);
        let p = price(2.5, 10.0);
        let flat = demand(10_000.0);
        let mut growing = flat;
        growing.growth_per_month_fraction = 0.03;
        let a = break_even_month(&l, &flat, &p, 36).unwrap();
        let b = break_even_month(&l, &growing, &p, 36).unwrap();
        assert!(b.after_months < a.after_months, "{a:?} {b:?}");
    }

    #[test]
    fn rented_hardware_breaks_even_in_the_first_month_or_never() {
        let mut l = owned(0.0);
        l.tenure = Tenure::Rented { usd_per_hour: 1.0 };
        let p = price(2.5, 10.0);
        let be = break_even_month(&l, &demand(30_000.0), &p, 36).unwrap();
        assert_eq!(be.month, 1);
        assert_eq!(break_even_month(&l, &demand(100.0), &p, 36), None);
    }

    #[test]
    fn break_even_volume_is_where_the_monthly_costs_meet() {
        let l = owned(15_000.0);
        let d = demand(1.0);
        let p = price(2.5, 10.0);
        let v = break_even_volume(&l, &d, &p).unwrap();
        let at = |v: f64| local_minus_cloud_usd_per_month(&l, &d.at(v), &p);
        assert!(at(v).abs() < 1e-6 * p.usd_per_month(&d.at(v)), "{}", at(v));
        assert!(at(v * 0.999) > 0.0);
        assert!(at(v * 1.001) < 0.0);
    }
}
