//! The arithmetic of one month: what local serving costs (amortisation or rent, energy × PUE including idle hours,
//! operations), what the cloud costs for the same requests, and how many devices the peak needs.

use super::{DAYS_PER_MONTH, HOURS_PER_MONTH, SECONDS_PER_DAY};
use crate::config::{CloudEntry, HardwareEntry, Tenure, WorkloadEntry};
use serde::Serialize;

/// How fast one device serves, from a result file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throughput {
    /// Prompt processing, one request at a time (`pp` avg_ts).
    pub input_tokens_per_s: f64,
    /// Generation, one request at a time (`tg` avg_ts).
    pub output_tokens_per_s: f64,
    /// Output tokens/s of one device at the SLO operating point of a `load` sweep (concurrent requests, prompt
    /// processing of the load's requests included). When present it sets the capacity.
    pub operating_point_output_tokens_per_s: Option<f64>,
    /// Measured energy of the working devices, replacing the board-power assumption for the busy time; `None`:
    /// nothing measured.
    pub energy: Option<Energy>,
}

/// Measured serving energy on the devices that did the work.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Energy {
    /// Single-stream bench phases: joules per prompt token and per generated token. A phase without a
    /// measurement is charged at board power for its single-stream seconds.
    Phases {
        j_per_input_token: Option<f64>,
        j_per_output_token: Option<f64>,
    },
    /// A load level's whole energy over its output tokens (prompt processing of its requests included).
    Level { j_per_output_token: f64 },
}

impl Throughput {
    /// Whether board power still prices some of the busy time (nothing measured, or one bench phase unmeasured).
    pub fn uses_board_power(&self) -> bool {
        match self.energy {
            None => true,
            Some(Energy::Level { .. }) => false,
            Some(Energy::Phases {
                j_per_input_token,
                j_per_output_token,
            }) => j_per_input_token.is_none() || j_per_output_token.is_none(),
        }
    }
}

/// One kind of local device and what running it costs.
#[derive(Debug, Clone, PartialEq)]
pub struct Local {
    pub tenure: Tenure,
    pub board_power_w: f64,
    pub idle_power_w: f64,
    pub host_power_w: f64,
    /// `None`: power is included in the rent.
    pub electricity_usd_per_kwh: Option<f64>,
    pub pue: f64,
    /// Operations for the deployment (any number of devices ≥ 1).
    pub ops_usd_per_month: f64,
    /// One-off set-up, paid up front.
    pub setup_usd: f64,
    pub throughput: Throughput,
}

/// The requests a workload sends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Demand {
    pub requests_per_day: f64,
    pub input_tokens_per_request: f64,
    pub output_tokens_per_request: f64,
    /// Busiest hour / mean hour.
    pub peak_to_mean: f64,
    pub growth_per_month_fraction: f64,
    pub cached_input_fraction: f64,
}

/// A cloud offering's prices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub usd_per_1m_input: f64,
    pub usd_per_1m_output: f64,
    pub usd_per_1m_cached_input: Option<f64>,
}

/// Local cost of one month at one volume.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocalMonthly {
    pub devices: u32,
    pub requests_per_day: f64,
    /// Amortisation (owned: purchase × (1 − resale) / lifetime) or rent, all devices.
    pub hardware_usd_per_month: f64,
    /// Facility energy (IT energy × PUE).
    pub energy_kwh_per_month: f64,
    /// `None` when power is included in the rent.
    pub energy_usd_per_month: Option<f64>,
    pub ops_usd_per_month: f64,
    pub total_usd_per_month: f64,
    /// Device-hours spent serving / device-hours available.
    pub utilisation_fraction: f64,
    pub busy_device_hours_per_month: f64,
    pub usd_per_1m_input: Option<f64>,
    pub usd_per_1m_output: Option<f64>,
}

impl Demand {
    pub fn from_workload(w: &WorkloadEntry) -> Demand {
        Demand {
            requests_per_day: w.requests_per_day,
            input_tokens_per_request: w.input_tokens_per_request.mean(),
            output_tokens_per_request: w.output_tokens_per_request.mean(),
            peak_to_mean: w.peak_to_mean(),
            growth_per_month_fraction: w.growth_per_month_fraction.unwrap_or(0.0),
            cached_input_fraction: w.cached_input_fraction.unwrap_or(0.0),
        }
    }

    /// The same demand at another volume.
    pub fn at(&self, requests_per_day: f64) -> Demand {
        Demand {
            requests_per_day,
            ..*self
        }
    }

    /// Volume in month `m` (0 = the first month) with compound growth.
    pub fn requests_per_day_in_month(&self, m: u32) -> f64 {
        self.requests_per_day * (1.0 + self.growth_per_month_fraction).powi(m as i32)
    }
}

/// Which of an offering's prices a workload pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceTier {
    Standard,
    Batch,
}

impl PriceTier {
    pub fn label(self) -> &'static str {
        match self {
            PriceTier::Standard => "standard",
            PriceTier::Batch => "batch",
        }
    }
}

/// The prices a workload pays at one offering, and why when it asked for batch prices but pays standard ones.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedPrice {
    pub price: Price,
    pub tier: PriceTier,
    pub standard_because: Option<String>,
}

impl Price {
    /// The offering's standard prices.
    pub fn from_cloud(c: &CloudEntry) -> Price {
        Price {
            usd_per_1m_input: c.usd_per_1m_input,
            usd_per_1m_output: c.usd_per_1m_output,
            usd_per_1m_cached_input: c.usd_per_1m_cached_input,
        }
    }

    /// The prices a workload pays: batch work pays the offering's batch input and output prices when it has both
    /// (cached input then at the lower of the cached and the batch input price); otherwise the standard prices,
    /// saying why when batch was asked for.
    pub fn applied(c: &CloudEntry, batch: bool) -> AppliedPrice {
        let standard = Price::from_cloud(c);
        if !batch {
            return AppliedPrice {
                price: standard,
                tier: PriceTier::Standard,
                standard_because: None,
            };
        }
        match (c.usd_per_1m_batch_input, c.usd_per_1m_batch_output) {
            (Some(input), Some(output)) => AppliedPrice {
                price: Price {
                    usd_per_1m_input: input,
                    usd_per_1m_output: output,
                    usd_per_1m_cached_input: c.usd_per_1m_cached_input.map(|p| p.min(input)),
                },
                tier: PriceTier::Batch,
                standard_because: None,
            },
            (input, output) => {
                let missing: Vec<&str> = [
                    ("usd_per_1m_batch_input", input),
                    ("usd_per_1m_batch_output", output),
                ]
                .into_iter()
                .filter(|(_, p)| p.is_none())
                .map(|(k, _)| k)
                .collect();
                AppliedPrice {
                    price: standard,
                    tier: PriceTier::Standard,
                    standard_because: Some(format!(
                        "batch workload, but {} has no {}: standard prices applied",
                        c.label(),
                        missing.join(" or ")
                    )),
                }
            }
        }
    }

    pub fn usd_per_request(&self, d: &Demand) -> f64 {
        let cached = d.cached_input_fraction;
        let cached_price = self
            .usd_per_1m_cached_input
            .unwrap_or(self.usd_per_1m_input);
        (d.input_tokens_per_request
            * ((1.0 - cached) * self.usd_per_1m_input + cached * cached_price)
            + d.output_tokens_per_request * self.usd_per_1m_output)
            / 1e6
    }

    pub fn usd_per_month(&self, d: &Demand) -> f64 {
        d.requests_per_day * DAYS_PER_MONTH * self.usd_per_request(d)
    }
}

impl Local {
    pub fn new(h: &HardwareEntry, throughput: Throughput) -> Local {
        Local {
            tenure: h.tenure(),
            board_power_w: h.board_power_w,
            idle_power_w: h.idle_power_w,
            host_power_w: h.host_power_w,
            electricity_usd_per_kwh: h.electricity_usd_per_kwh,
            pue: h.pue.unwrap_or(1.0),
            ops_usd_per_month: h.ops_hours_per_month * h.usd_per_ops_hour,
            setup_usd: h.setup_hours.unwrap_or(0.0) * h.usd_per_ops_hour,
            throughput,
        }
    }

    /// Single-stream seconds spent on a request's prompt and on its output.
    fn single_stream_seconds(&self, d: &Demand) -> (f64, f64) {
        (
            d.input_tokens_per_request / self.throughput.input_tokens_per_s,
            d.output_tokens_per_request / self.throughput.output_tokens_per_s,
        )
    }

    /// Device-seconds one request occupies: at the operating point, output tokens over the measured rate; else
    /// prompt then generation, one request at a time.
    pub fn device_seconds_per_request(&self, d: &Demand) -> f64 {
        match self.throughput.operating_point_output_tokens_per_s {
            Some(rate) => d.output_tokens_per_request / rate,
            None => {
                let (i, o) = self.single_stream_seconds(d);
                i + o
            }
        }
    }

    /// Share of a request's device time spent on its prompt (to split cost between input and output tokens).
    pub fn input_time_share(&self, d: &Demand) -> f64 {
        let (i, o) = self.single_stream_seconds(d);
        if i + o > 0.0 {
            i / (i + o)
        } else {
            0.0
        }
    }

    /// Requests per day one device serves when busy all day.
    pub fn capacity_requests_per_day(&self, d: &Demand) -> f64 {
        SECONDS_PER_DAY / self.device_seconds_per_request(d)
    }

    /// Devices the busiest hour needs (at least one).
    pub fn devices_for(&self, d: &Demand) -> u32 {
        let peak = d.requests_per_day * d.peak_to_mean;
        let n = (peak / self.capacity_requests_per_day(d) - 1e-9).ceil();
        n.max(1.0).min(u32::MAX as f64) as u32
    }

    /// Hardware cost of one device per month: amortisation or rent.
    pub fn hardware_usd_per_device_month(&self) -> f64 {
        match self.tenure {
            Tenure::Owned {
                purchase_usd,
                lifetime_months,
                resale_fraction,
            } => purchase_usd * (1.0 - resale_fraction) / lifetime_months,
            Tenure::Rented { usd_per_hour } => usd_per_hour * HOURS_PER_MONTH,
        }
    }

    /// Paid up front for `new_devices` more devices (the purchase price; nothing for rented hardware).
    pub fn upfront_usd(&self, new_devices: u32) -> f64 {
        match self.tenure {
            Tenure::Owned { purchase_usd, .. } => purchase_usd * new_devices as f64,
            Tenure::Rented { .. } => 0.0,
        }
    }

    /// Joules the working devices draw serving one request: input tokens × prompt J/token + output tokens ×
    /// generation J/token when measured per phase (a phase not measured: its single-stream seconds at board
    /// power), output tokens × J/token of a load level, or else the request's device time at board power.
    pub fn energy_j_per_request(&self, d: &Demand) -> f64 {
        let board = |seconds: f64| seconds * self.board_power_w;
        match self.throughput.energy {
            Some(Energy::Level { j_per_output_token }) => {
                d.output_tokens_per_request * j_per_output_token
            }
            Some(Energy::Phases {
                j_per_input_token,
                j_per_output_token,
            }) => {
                let (prompt_s, generation_s) = self.single_stream_seconds(d);
                j_per_input_token.map_or(board(prompt_s), |j| d.input_tokens_per_request * j)
                    + j_per_output_token
                        .map_or(board(generation_s), |j| d.output_tokens_per_request * j)
            }
            None => board(self.device_seconds_per_request(d)),
        }
    }

    /// IT energy in kWh for `hours` device-hours available of which `busy_hours` serve `requests`: the requests'
    /// energy, idle power for the rest of the hours and host power for all of them.
    pub fn it_energy_kwh(
        &self,
        d: &Demand,
        requests: f64,
        device_hours: f64,
        busy_hours: f64,
    ) -> f64 {
        let busy_wh = requests * self.energy_j_per_request(d) / 3600.0;
        let idle_wh = (device_hours - busy_hours).max(0.0) * self.idle_power_w;
        (busy_wh + idle_wh + device_hours * self.host_power_w) / 1000.0
    }

    /// The month at `d.requests_per_day` on `devices` devices.
    pub fn monthly(&self, d: &Demand, devices: u32) -> LocalMonthly {
        let requests = d.requests_per_day * DAYS_PER_MONTH;
        let busy = requests * self.device_seconds_per_request(d) / 3600.0;
        let available = devices as f64 * HOURS_PER_MONTH;
        let kwh = self.it_energy_kwh(d, requests, available, busy) * self.pue;
        let energy_usd = self.electricity_usd_per_kwh.map(|p| kwh * p);
        let hardware = devices as f64 * self.hardware_usd_per_device_month();
        let ops = if devices > 0 {
            self.ops_usd_per_month
        } else {
            0.0
        };
        let total = hardware + energy_usd.unwrap_or(0.0) + ops;
        let share_in = self.input_time_share(d);
        let per_1m = |tokens: f64, share: f64| (tokens > 0.0).then(|| total * share / tokens * 1e6);
        LocalMonthly {
            devices,
            requests_per_day: d.requests_per_day,
            hardware_usd_per_month: hardware,
            energy_kwh_per_month: kwh,
            energy_usd_per_month: energy_usd,
            ops_usd_per_month: ops,
            total_usd_per_month: total,
            utilisation_fraction: if available > 0.0 {
                busy / available
            } else {
                0.0
            },
            busy_device_hours_per_month: busy,
            usd_per_1m_input: per_1m(requests * d.input_tokens_per_request, share_in),
            usd_per_1m_output: per_1m(requests * d.output_tokens_per_request, 1.0 - share_in),
        }
    }

    /// The month with as many devices as the peak needs.
    pub fn monthly_for_peak(&self, d: &Demand) -> LocalMonthly {
        self.monthly(d, self.devices_for(d))
    }

    /// What a month costs in cash once the hardware is paid (owned: energy and operations; rented: everything).
    pub fn running_usd_per_month(&self, d: &Demand, devices: u32) -> f64 {
        let m = self.monthly(d, devices);
        match self.tenure {
            Tenure::Owned { .. } => m.total_usd_per_month - m.hardware_usd_per_month,
            Tenure::Rented { .. } => m.total_usd_per_month,
        }
    }

    /// Break-even horizon in months: the hardware's lifetime, or `RENTED_HORIZON_MONTHS`.
    pub fn horizon_months(&self) -> u32 {
        match self.tenure {
            Tenure::Owned {
                lifetime_months, ..
            } => lifetime_months.ceil().max(1.0) as u32,
            Tenure::Rented { .. } => super::RENTED_HORIZON_MONTHS,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn owned(purchase_usd: f64) -> Local {
        Local {
            tenure: Tenure::Owned {
                purchase_usd,
                lifetime_months: 36.0,
                resale_fraction: 0.0,
            },
            board_power_w: 400.0,
            idle_power_w: 50.0,
            host_power_w: 100.0,
            electricity_usd_per_kwh: Some(0.15),
            pue: 1.4,
            ops_usd_per_month: 300.0,
            setup_usd: 0.0,
            throughput: Throughput {
                input_tokens_per_s: 4000.0,
                output_tokens_per_s: 100.0,
                operating_point_output_tokens_per_s: None,
                energy: None,
            },
        }
    }

    pub fn demand(requests_per_day: f64) -> Demand {
        Demand {
            requests_per_day,
            input_tokens_per_request: 800.0,
            output_tokens_per_request: 200.0,
            peak_to_mean: 2.0,
            growth_per_month_fraction: 0.0,
            cached_input_fraction: 0.0,
        }
    }

    #[test]
    fn a_request_occupies_prompt_time_plus_generation_time() {
        let l = owned(3000.0);
        // 800 / 4000 + 200 / 100 = 2.2 s
        assert!((l.device_seconds_per_request(&demand(1.0)) - 2.2).abs() < 1e-12);
        assert!((l.input_time_share(&demand(1.0)) - 0.2 / 2.2).abs() < 1e-12);
    }

    #[test]
    fn devices_cover_the_busiest_hour() {
        let l = owned(3000.0);
        // capacity 86400 / 2.2 = 39272.7 requests/day; peak 2×
        assert_eq!(l.devices_for(&demand(19_000.0)), 1);
        assert_eq!(l.devices_for(&demand(20_000.0)), 2);
        assert_eq!(l.devices_for(&demand(0.0)), 1);
    }

    #[test]
    fn energy_counts_busy_idle_and_host_power_times_pue() {
        let l = owned(3600.0);
        let d = demand(10_000.0);
        let m = l.monthly(&d, 1);
        let busy = 10_000.0 * DAYS_PER_MONTH * 2.2 / 3600.0;
        let it_kwh = (busy * 400.0 + (730.0 - busy) * 50.0 + 730.0 * 100.0) / 1000.0;
        assert!((m.energy_kwh_per_month - it_kwh * 1.4).abs() < 1e-9);
        assert!((m.energy_usd_per_month.unwrap() - it_kwh * 1.4 * 0.15).abs() < 1e-9);
        assert!((m.hardware_usd_per_month - 100.0).abs() < 1e-12);
        assert!((m.total_usd_per_month - (100.0 + it_kwh * 1.4 * 0.15 + 300.0)).abs() < 1e-9);
        assert!((m.utilisation_fraction - busy / 730.0).abs() < 1e-12);
    }

    #[test]
    fn per_token_costs_add_up_to_the_month() {
        let l = owned(3000.0);
        let d = demand(10_000.0);
        let m = l.monthly(&d, 1);
        let tokens = 10_000.0 * DAYS_PER_MONTH;
        let sum = m.usd_per_1m_input.unwrap() * tokens * 800.0 / 1e6
            + m.usd_per_1m_output.unwrap() * tokens * 200.0 / 1e6;
        assert!((sum - m.total_usd_per_month).abs() < 1e-6);
    }

    #[test]
    fn an_operating_point_sets_capacity_and_measured_energy_sets_busy_energy() {
        let mut l = owned(3000.0);
        l.throughput.operating_point_output_tokens_per_s = Some(800.0);
        l.throughput.energy = Some(Energy::Level {
            j_per_output_token: 0.9,
        });
        let d = demand(10_000.0);
        assert!((l.device_seconds_per_request(&d) - 0.25).abs() < 1e-12);
        let m = l.monthly(&d, 1);
        let requests = 10_000.0 * DAYS_PER_MONTH;
        let busy = requests * 0.25 / 3600.0;
        let it_kwh =
            (requests * 200.0 * 0.9 / 3600.0 + (730.0 - busy) * 50.0 + 730.0 * 100.0) / 1000.0;
        assert!((m.energy_kwh_per_month - it_kwh * 1.4).abs() < 1e-9);
    }

    #[test]
    fn measured_phases_charge_prompt_and_generation_energy_per_token() {
        let mut l = owned(3000.0);
        let d = demand(10_000.0);
        // Nothing measured: 2.2 s of board power (400 W).
        assert!((l.energy_j_per_request(&d) - 880.0).abs() < 1e-9);
        // 800 × 0.05 + 200 × 2.0 J.
        l.throughput.energy = Some(Energy::Phases {
            j_per_input_token: Some(0.05),
            j_per_output_token: Some(2.0),
        });
        assert!((l.energy_j_per_request(&d) - 440.0).abs() < 1e-9);
        assert!(!l.throughput.uses_board_power());
        let m = l.monthly(&d, 1);
        let requests = 10_000.0 * DAYS_PER_MONTH;
        let busy = requests * 2.2 / 3600.0;
        let it_kwh = (requests * 440.0 / 3600.0 + (730.0 - busy) * 50.0 + 730.0 * 100.0) / 1000.0;
        assert!((m.energy_kwh_per_month - it_kwh * 1.4).abs() < 1e-9);
        // Prompt not measured: its 0.2 s at board power (80 J) + 200 × 2.0 J.
        l.throughput.energy = Some(Energy::Phases {
            j_per_input_token: None,
            j_per_output_token: Some(2.0),
        });
        assert!((l.energy_j_per_request(&d) - 480.0).abs() < 1e-9);
        assert!(l.throughput.uses_board_power());
    }

    fn cloud(batch_input: Option<f64>, batch_output: Option<f64>) -> CloudEntry {
        CloudEntry {
            provider: "p".into(),
            model: "m".into(),
            usd_per_1m_input: 2.0,
            usd_per_1m_output: 8.0,
            usd_per_1m_cached_input: Some(0.5),
            usd_per_1m_batch_input: batch_input,
            usd_per_1m_batch_output: batch_output,
            as_of: "2025-06-01".parse().unwrap(),
            source: "test".into(),
            notes: None,
        }
    }

    #[test]
    fn a_batch_workload_pays_batch_prices_where_the_offering_has_them() {
        let both = cloud(Some(1.0), Some(4.0));
        let a = Price::applied(&both, true);
        assert_eq!(a.tier, PriceTier::Batch);
        assert_eq!(a.standard_because, None);
        // 800 × 1.0 + 200 × 4.0 per 1M.
        assert!((a.price.usd_per_request(&demand(1.0)) - 1600.0 / 1e6).abs() < 1e-15);
        let a = Price::applied(&both, false);
        assert_eq!(a.tier, PriceTier::Standard);
        assert_eq!(a.price, Price::from_cloud(&both));

        let a = Price::applied(&cloud(Some(1.0), None), true);
        assert_eq!(a.tier, PriceTier::Standard);
        assert_eq!(
            a.standard_because.as_deref(),
            Some("batch workload, but p/m has no usd_per_1m_batch_output: standard prices applied")
        );
        let a = Price::applied(&cloud(None, None), true);
        assert_eq!(
            a.standard_because.as_deref(),
            Some(
                "batch workload, but p/m has no usd_per_1m_batch_input or usd_per_1m_batch_output: \
                 standard prices applied"
            )
        );
        assert_eq!(a.price, Price::from_cloud(&cloud(None, None)));
    }

    #[test]
    fn rent_without_electricity_has_no_energy_cost() {
        let mut l = owned(0.0);
        l.tenure = Tenure::Rented { usd_per_hour: 2.0 };
        l.electricity_usd_per_kwh = None;
        let m = l.monthly(&demand(1000.0), 1);
        assert_eq!(m.energy_usd_per_month, None);
        assert!((m.total_usd_per_month - (2.0 * 730.0 + 300.0)).abs() < 1e-9);
    }

    #[test]
    fn cached_input_is_billed_at_the_cached_price() {
        let p = Price {
            usd_per_1m_input: 2.0,
            usd_per_1m_output: 8.0,
            usd_per_1m_cached_input: Some(0.5),
        };
        let mut d = demand(1.0);
        d.cached_input_fraction = 0.5;
        // 400 × 2 + 400 × 0.5 + 200 × 8 = 2600 per 1M
        assert!((p.usd_per_request(&d) - 2600.0 / 1e6).abs() < 1e-15);
    }
}
