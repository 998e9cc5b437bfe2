//! Hybrid plans. The fallback pattern: a year simulated hour by hour (daily profile × weekday × growth × seeded
//! noise) with N local devices serving up to their capacity and the overflow going to the cloud, for N = 0 (all
//! cloud) up to the devices the busiest hour needs (all local). The tiered pattern: simple requests local, the
//! rest in the cloud.

use super::model::{Demand, Local, LocalMonthly, Price};
use super::{HOURS_PER_MONTH, SECONDS_PER_DAY};
use crate::config::Tenure;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

pub const HOURS_PER_YEAR: usize = 8760;
/// Hour-to-hour noise when the workload sets no `hourly_noise_fraction`: ±10% (one standard deviation), a round
/// figure for traffic that follows its daily profile closely.
pub const DEFAULT_HOURLY_NOISE_FRACTION: f64 = 0.1;
/// Most device counts simulated (N = 0..=this): beyond it the table would be unreadable.
pub const MAX_HYBRID_DEVICES: u32 = 1000;

/// How the simulated year's demand is drawn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct YearShape {
    /// 24 factors, mean 1, hour 0 first.
    pub hourly_profile: Vec<f64>,
    /// 7 factors, mean 1, Monday first (the year starts on a Monday).
    pub weekday_profile: Vec<f64>,
    pub noise_fraction: f64,
    pub seed: u64,
}

/// Requests arriving in each hour of the year.
pub fn hourly_demand(d: &Demand, shape: &YearShape) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(shape.seed);
    let per_hour = d.requests_per_day / 24.0;
    (0..HOURS_PER_YEAR)
        .map(|h| {
            let month = (h as f64 / HOURS_PER_MONTH) as u32;
            let base = per_hour
                * shape.hourly_profile[h % 24]
                * shape.weekday_profile[(h / 24) % 7]
                * (1.0 + d.growth_per_month_fraction).powi(month as i32);
            // Box–Muller: one standard normal from two uniforms.
            let u1: f64 = 1.0 - rng.random::<f64>();
            let u2: f64 = rng.random::<f64>();
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            base * (1.0 + shape.noise_fraction * z).max(0.0)
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HybridRow {
    pub devices: u32,
    /// Hardware amortised (or rented), energy and operations over the year.
    pub local_usd_per_year: f64,
    pub cloud_usd_per_year: f64,
    pub total_usd_per_year: f64,
    pub overflow_share_fraction: f64,
    /// Months until this plan's cumulative cash cost (purchase up front) falls to all-cloud's; past the simulated
    /// year it is extrapolated at month 12's saving. `None` for N = 0 and when it never happens within the horizon.
    pub break_even_after_months: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HybridPlan {
    pub hours: usize,
    pub requests_per_year: f64,
    pub peak_requests_per_hour: f64,
    pub device_capacity_requests_per_hour: f64,
    pub all_local_devices: u32,
    /// True when the busiest hour needs more than `MAX_HYBRID_DEVICES`: the table stops there.
    pub truncated: bool,
    pub optimal_devices: u32,
    pub rows: Vec<HybridRow>,
    pub shape: YearShape,
}

impl HybridPlan {
    pub fn optimal(&self) -> &HybridRow {
        &self.rows[self.optimal_devices as usize]
    }
}

/// One year with `n` devices.
fn year(
    local: &Local,
    d: &Demand,
    price: &Price,
    demand: &[f64],
    n: u32,
) -> (HybridRow, [f64; 12], [f64; 12]) {
    let capacity = n as f64 * local.capacity_requests_per_day(d) / 24.0;
    let seconds = local.device_seconds_per_request(d);
    let per_request = price.usd_per_request(d);
    let hourly_hardware = n as f64 * local.hardware_usd_per_device_month() / HOURS_PER_MONTH;
    let hourly_ops = if n > 0 {
        local.ops_usd_per_month / HOURS_PER_MONTH
    } else {
        0.0
    };
    let electricity = local.electricity_usd_per_kwh.unwrap_or(0.0) * local.pue;
    let cash_hardware = match local.tenure {
        Tenure::Owned { .. } => 0.0,
        Tenure::Rented { .. } => hourly_hardware,
    };
    let (mut local_usd, mut cloud_usd, mut overflow, mut total) = (0.0, 0.0, 0.0, 0.0);
    let mut hybrid_cash = [0.0; 12];
    let mut cloud_only = [0.0; 12];
    for (h, &req) in demand.iter().enumerate() {
        let served = req.min(capacity);
        let busy = served * seconds / 3600.0;
        let energy = local.it_energy_kwh(d, served, n as f64, busy) * electricity;
        let over = (req - served) * per_request;
        local_usd += hourly_hardware + energy + hourly_ops;
        cloud_usd += over;
        overflow += req - served;
        total += req;
        let m = ((h as f64 / HOURS_PER_MONTH) as usize).min(11);
        hybrid_cash[m] += cash_hardware + energy + hourly_ops + over;
        cloud_only[m] += req * per_request;
    }
    let row = HybridRow {
        devices: n,
        local_usd_per_year: local_usd,
        cloud_usd_per_year: cloud_usd,
        total_usd_per_year: local_usd + cloud_usd,
        overflow_share_fraction: if total > 0.0 { overflow / total } else { 0.0 },
        break_even_after_months: None,
    };
    (row, hybrid_cash, cloud_only)
}

/// Months until cumulative hybrid cash (upfront + monthly) meets cumulative all-cloud.
fn months_to_break_even(
    upfront: f64,
    hybrid: &[f64; 12],
    cloud: &[f64; 12],
    horizon: u32,
) -> Option<f64> {
    let mut gap = upfront;
    let mut saving = 0.0;
    for m in 0..12 {
        saving = cloud[m] - hybrid[m];
        if saving > 0.0 && gap <= saving {
            return Some(m as f64 + gap.max(0.0) / saving);
        }
        gap -= saving;
    }
    (saving > 0.0)
        .then(|| 12.0 + gap / saving)
        .filter(|m| *m <= horizon as f64)
}

/// Simulates N = 0..=k devices over the hourly `demand` and picks the cheapest year.
pub fn simulate(local: &Local, d: &Demand, price: &Price, shape: YearShape) -> HybridPlan {
    let demand = hourly_demand(d, &shape);
    let per_device_hour = local.capacity_requests_per_day(d) / 24.0;
    let peak = demand.iter().copied().fold(0.0, f64::max);
    let needed = ((peak / per_device_hour - 1e-9).ceil().max(1.0)).min(u32::MAX as f64) as u32;
    let k = needed.min(MAX_HYBRID_DEVICES);
    let rows: Vec<HybridRow> = (0..=k)
        .map(|n| {
            let (mut row, hybrid, cloud) = year(local, d, price, &demand, n);
            if n > 0 {
                let upfront = local.upfront_usd(n) + local.setup_usd;
                row.break_even_after_months =
                    months_to_break_even(upfront, &hybrid, &cloud, local.horizon_months());
            }
            row
        })
        .collect();
    let optimal = rows
        .iter()
        .min_by(|a, b| a.total_usd_per_year.total_cmp(&b.total_usd_per_year))
        .map(|r| r.devices)
        .unwrap_or(0);
    HybridPlan {
        hours: demand.len(),
        requests_per_year: demand.iter().sum(),
        peak_requests_per_hour: peak,
        device_capacity_requests_per_hour: per_device_hour,
        all_local_devices: needed,
        truncated: needed > k,
        optimal_devices: optimal,
        rows,
        shape,
    }
}

/// The tiered pattern: the simple share of requests served locally, the rest by the cloud offering.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TieredPlan {
    pub simple_share_fraction: f64,
    pub local_requests_per_day: f64,
    pub cloud_requests_per_day: f64,
    pub local: LocalMonthly,
    pub cloud_usd_per_month: f64,
    pub total_usd_per_month: f64,
    pub all_cloud_usd_per_month: f64,
    pub all_local_usd_per_month: f64,
}

pub fn tiered(local: &Local, d: &Demand, price: &Price, simple_share_fraction: f64) -> TieredPlan {
    let simple = d.at(d.requests_per_day * simple_share_fraction);
    let complex = d.at(d.requests_per_day - simple.requests_per_day);
    let local_part = local.monthly_for_peak(&simple);
    let cloud = price.usd_per_month(&complex);
    TieredPlan {
        simple_share_fraction,
        local_requests_per_day: simple.requests_per_day,
        cloud_requests_per_day: complex.requests_per_day,
        cloud_usd_per_month: cloud,
        total_usd_per_month: local_part.total_usd_per_month + cloud,
        local: local_part,
        all_cloud_usd_per_month: price.usd_per_month(d),
        all_local_usd_per_month: local.monthly_for_peak(d).total_usd_per_month,
    }
}

/// Requests per second at the busiest hour of a demand.
pub fn peak_requests_per_s(d: &Demand) -> f64 {
    d.requests_per_day * d.peak_to_mean / SECONDS_PER_DAY
}

#[cfg(test)]
mod tests {
    use super::super::model::tests::{demand, owned};
    use super::*;

    fn shape(noise: f64) -> YearShape {
        let hourly_profile: Vec<f64> = (0..24)
            .map(|h| if (9..17).contains(&h) { 2.0 } else { 0.5 })
            .collect();
        YearShape {
            hourly_profile,
            weekday_profile: vec![1.0; 7],
            noise_fraction: noise,
            seed: 7,
        }
    }

    fn price() -> Price {
        Price {
            usd_per_1m_input: 2.5,
            usd_per_1m_output: 10.0,
            usd_per_1m_cached_input: None,
        }
    }

    #[test]
    fn the_simulated_year_keeps_the_daily_volume_without_noise() {
        let d = demand(24_000.0);
        let hours = hourly_demand(&d, &shape(0.0));
        assert_eq!(hours.len(), 8760);
        assert!((hours.iter().sum::<f64>() - 24_000.0 * 365.0).abs() < 1e-6);
        assert_eq!(hours[10], 2000.0);
        assert_eq!(hours[3], 500.0);
    }

    #[test]
    fn the_same_seed_gives_the_same_year() {
        let d = demand(24_000.0);
        assert_eq!(
            hourly_demand(&d, &shape(0.2)),
            hourly_demand(&d, &shape(0.2))
        );
    }

    #[test]
    fn no_devices_is_all_cloud_and_enough_devices_leave_no_overflow() {
        let l = owned(15_000.0);
        let d = demand(30_000.0);
        let plan = simulate(&l, &d, &price(), shape(0.1));
        let first = &plan.rows[0];
        assert_eq!(first.overflow_share_fraction, 1.0);
        assert_eq!(first.local_usd_per_year, 0.0);
        let last = plan.rows.last().unwrap();
        assert_eq!(last.devices, plan.all_local_devices);
        assert_eq!(last.overflow_share_fraction, 0.0);
        let best = plan.optimal().total_usd_per_year;
        assert!(plan.rows.iter().all(|r| best <= r.total_usd_per_year));
    }

    #[test]
    fn tiered_routing_splits_the_volume() {
        let l = owned(15_000.0);
        let d = demand(30_000.0);
        let t = tiered(&l, &d, &price(), 0.6);
        assert!((t.local_requests_per_day - 18_000.0).abs() < 1e-9);
        assert!((t.cloud_usd_per_month - 0.4 * t.all_cloud_usd_per_month).abs() < 1e-6);
    }
}
