//! One cost analysis: a measured result on one hardware entry for one workload against the chosen cloud offerings,
//! assembled into a `CostReport` (plain data; `report::cost` prints it, JSON serializes it).

use super::breakeven::{
    break_even_month, break_even_volume, cumulative_cash, BreakEven, CashPoint,
};
use super::hybrid::{self, HybridPlan, TieredPlan, YearShape, DEFAULT_HOURLY_NOISE_FRACTION};
use super::ledger::{Ledger, LedgerEntry, SourceKind};
use super::measured::{Basis, Measured, WorkDevice};
use super::model::{AppliedPrice, Demand, Local, LocalMonthly, Price, PriceTier};
use super::sensitivity::{tornado, Tornado};
use super::{DAYS_PER_MONTH, HOURS_PER_MONTH};
use crate::config::{CloudEntry, HardwareEntry, WorkloadEntry};
use crate::results::slo::Metric;
use serde::Serialize;

/// A configuration entry and where it was read.
#[derive(Debug)]
pub struct Located<'a, T> {
    pub file: &'a str,
    pub index: usize,
    pub entry: &'a T,
}

impl<T> Clone for Located<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Located<'_, T> {}

pub struct CostInputs<'a> {
    pub measured: &'a Measured,
    pub hardware: Located<'a, HardwareEntry>,
    pub workload: Located<'a, WorkloadEntry>,
    /// The first is the reference for the sensitivity table and the hybrid plans.
    pub clouds: Vec<Located<'a, CloudEntry>>,
    /// Seed of the hybrid simulation's noise; `None`: no hybrid plans.
    pub hybrid_seed: Option<u64>,
    /// Said to the reader first (which entries were chosen and why).
    pub notes: Vec<String>,
    /// A `load` result priced against a workload of another shape (`--allow-shape-mismatch`): how they differ.
    pub shape_mismatch: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloCheck {
    pub objective: String,
    /// `None` for a metric the single-stream estimate does not cover (then `met` is false).
    pub single_stream_estimate_ms: Option<f64>,
    pub max_ms: f64,
    pub met: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CloudComparison {
    pub provider: String,
    pub model: String,
    /// The prices applied: `batch` for a batch workload at an offering with batch prices, else `standard`.
    pub price_applied: PriceTier,
    /// Why standard prices apply to a batch workload (the offering has no batch price).
    pub price_note: Option<String>,
    pub usd_per_1m_input_applied: f64,
    pub usd_per_1m_output_applied: f64,
    pub cloud_usd_per_month: f64,
    pub local_usd_per_month: f64,
    pub local_minus_cloud_usd_per_month: f64,
    /// `None`: local never catches up within the horizon.
    pub break_even: Option<BreakEven>,
    /// `None`: local is never cheaper, at any volume.
    pub break_even_requests_per_day: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostReport {
    /// Set when a `load` result of another shape was priced anyway (`--allow-shape-mismatch`); first, so that a
    /// reader sees it before any figure.
    pub shape_mismatch: Option<String>,
    pub result_file: String,
    pub model: String,
    pub basis: Basis,
    pub basis_label: String,
    pub hardware: String,
    pub workload: String,
    pub notes: Vec<String>,
    pub device_seconds_per_request: f64,
    pub device_capacity_requests_per_day: f64,
    pub peak_requests_per_s: f64,
    /// IT energy of the working devices for one request (prompt and generation, PUE and host power excluded).
    pub serving_energy_j_per_request: f64,
    /// The same per output token (prompt share included).
    pub serving_energy_j_per_output_token: Option<f64>,
    /// True when measured energy replaces board power for all of the busy time.
    pub energy_measured: bool,
    /// Where the serving energy comes from, in words.
    pub energy_basis: String,
    /// True when the result's measured idle baseline replaces the configured idle power.
    pub idle_measured: bool,
    /// Whose energy and idle power were counted (`gpu`, `cpu_package`).
    pub work_device: WorkDevice,
    pub slo: Vec<SloCheck>,
    pub local: LocalMonthly,
    pub horizon_months: u32,
    pub clouds: Vec<CloudComparison>,
    pub reference_cloud: Option<String>,
    pub sensitivity: Option<Tornado>,
    pub tiered: Option<TieredPlan>,
    pub hybrid: Option<HybridPlan>,
    pub assumptions: Vec<LedgerEntry>,
}

/// Single-stream latency estimates for one request, no queueing (so a queueing objective is estimated at 0 ms).
/// TTFT is the time from the request's start to when its first output token is available: the end of the prefill
/// decode whose logits give it, so the prompt time alone. Each later token takes one decode: E2E is TTFT plus
/// (output tokens − 1) inter-token latencies.
fn slo_checks(local: &Local, d: &Demand, w: &WorkloadEntry) -> Vec<SloCheck> {
    let t = &local.throughput;
    let prompt_ms = d.input_tokens_per_request / t.input_tokens_per_s * 1000.0;
    let token_ms = 1000.0 / t.output_tokens_per_s;
    let later_tokens = (d.output_tokens_per_request - 1.0).max(0.0);
    w.slos()
        .into_iter()
        .map(|s| {
            let est = match s.metric {
                Metric::Ttft => Some(prompt_ms),
                Metric::Itl => Some(token_ms),
                Metric::E2e => Some(prompt_ms + later_tokens * token_ms),
                Metric::Queue => Some(0.0),
            };
            SloCheck {
                objective: s.objective(),
                single_stream_estimate_ms: est,
                max_ms: s.max_ms,
                met: est.is_some_and(|e| e <= s.max_ms),
            }
        })
        .collect()
}

/// In words: which busy-time energy was measured and on which devices, and what board power still prices.
fn energy_basis(m: &Measured) -> String {
    let on = m.work_device.label();
    match (
        &m.level_energy_j_per_output_token,
        &m.prompt_energy_j_per_token,
        &m.generation_energy_j_per_token,
    ) {
        (Some(_), _, _) => {
            format!("measured ({on}): the operating point level's energy over the output of the requests that met the SLO")
        }
        (None, Some(_), Some(_)) => format!("measured ({on}): prompt and generation"),
        (None, Some(_), None) => {
            format!("measured ({on}): prompt; generation at board power (no measured generation energy)")
        }
        (None, None, Some(_)) => {
            format!(
                "measured ({on}): generation; prompt at board power (no measured prompt energy)"
            )
        }
        (None, None, None) => {
            format!("assumption: board power for the busy time (no measured {on} energy)")
        }
    }
}

/// The local device as the analysis prices it: the hardware entry with the measured throughput and energy, and
/// the measured idle power where the result holds one.
fn local_of(inp: &CostInputs) -> Local {
    let mut local = Local::new(inp.hardware.entry, inp.measured.throughput());
    if let Some(idle) = &inp.measured.idle_power_w {
        local.idle_power_w = idle.value;
    }
    local
}

/// Cumulative cash of local against one cloud offering over the break-even horizon.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CloudCash {
    /// `provider/model`.
    pub cloud: String,
    pub points: Vec<CashPoint>,
}

/// Month by month, local against each chosen cloud offering, on the same terms as `analyse`'s break-even.
pub fn cumulative(inp: &CostInputs) -> Vec<CloudCash> {
    let local = local_of(inp);
    let w = inp.workload.entry;
    let d = Demand::from_workload(w);
    inp.clouds
        .iter()
        .map(|c| CloudCash {
            cloud: c.entry.label(),
            points: cumulative_cash(
                &local,
                &d,
                &Price::applied(c.entry, w.batch).price,
                local.horizon_months(),
            ),
        })
        .collect()
}

pub fn analyse(inp: &CostInputs) -> CostReport {
    let m = inp.measured;
    let h = inp.hardware.entry;
    let w = inp.workload.entry;
    let local = local_of(inp);
    let d = Demand::from_workload(w);
    let energy_measured = !local.throughput.uses_board_power();
    let idle_measured = m.idle_power_w.is_some();
    let prices: Vec<AppliedPrice> = inp
        .clouds
        .iter()
        .map(|c| Price::applied(c.entry, w.batch))
        .collect();

    let mut ledger = input_ledger(inp, &prices, energy_measured, idle_measured);
    let monthly = local.monthly_for_peak(&d);
    let seconds = local.device_seconds_per_request(&d);
    let serving_energy_j_per_request = local.energy_j_per_request(&d);
    let serving_energy = (d.output_tokens_per_request > 0.0)
        .then(|| serving_energy_j_per_request / d.output_tokens_per_request);
    let clouds = compare_clouds(inp, &prices, &local, &d, &monthly);
    let reference = inp
        .clouds
        .first()
        .zip(prices.first())
        .map(|(c, applied)| (c.entry.label(), applied.price));
    let sensitivity = reference.as_ref().map(|(_, p)| tornado(&local, &d, p));
    let tiered = match (&reference, w.simple_share_fraction, inp.hybrid_seed) {
        (Some((_, p)), Some(s), Some(_)) => Some(hybrid::tiered(&local, &d, p, s)),
        _ => None,
    };
    let hybrid = match (&reference, inp.hybrid_seed) {
        (Some((_, p)), Some(seed)) => Some(simulate_year(inp, &local, &d, p, seed, &mut ledger)),
        _ => None,
    };
    CostReport {
        shape_mismatch: inp.shape_mismatch.clone(),
        result_file: m.file.clone(),
        model: m.model.clone(),
        basis: m.basis(),
        basis_label: m.basis().label().to_string(),
        hardware: h.name.clone(),
        workload: w.name.clone(),
        notes: inp.notes.clone(),
        device_seconds_per_request: seconds,
        device_capacity_requests_per_day: local.capacity_requests_per_day(&d),
        peak_requests_per_s: hybrid::peak_requests_per_s(&d),
        serving_energy_j_per_request,
        serving_energy_j_per_output_token: serving_energy,
        energy_measured,
        energy_basis: energy_basis(m),
        idle_measured,
        work_device: m.work_device,
        slo: slo_checks(&local, &d, w),
        local: monthly,
        horizon_months: local.horizon_months(),
        clouds,
        reference_cloud: reference.map(|(name, _)| name),
        sensitivity,
        tiered,
        hybrid,
        assumptions: ledger.entries,
    }
}

/// The ledger of every input the analysis uses: the measured figures, the hardware, workload and cloud entries,
/// the calendar constants and, for a single-stream bench, its concurrency of one.
fn input_ledger(
    inp: &CostInputs,
    prices: &[AppliedPrice],
    energy_measured: bool,
    idle_measured: bool,
) -> Ledger {
    let mut ledger = Ledger::default();
    ledger.measured(inp.measured);
    ledger.hardware(
        inp.hardware.file,
        inp.hardware.index,
        inp.hardware.entry,
        energy_measured,
        idle_measured,
    );
    ledger.workload(inp.workload.file, inp.workload.index, inp.workload.entry);
    for (c, p) in inp.clouds.iter().zip(prices) {
        ledger.cloud(c.file, c.index, c.entry, p.tier);
    }
    ledger.add(
        "hours per month",
        HOURS_PER_MONTH,
        "hours",
        SourceKind::Default,
        "HOURS_PER_MONTH: 8760 / 12",
    );
    ledger.add(
        "days per month",
        DAYS_PER_MONTH,
        "days",
        SourceKind::Default,
        "DAYS_PER_MONTH: 365 / 12",
    );
    if inp.measured.basis() == Basis::SingleStreamBench {
        ledger.add(
            "concurrency",
            1.0,
            "requests at a time per device",
            SourceKind::Assumption,
            "single-stream bench: one request at a time (a `load` result gives the SLO operating point)",
        );
    }
    ledger
}

/// Local against each chosen cloud offering at its applied prices: monthly cost, break-even month and volume.
fn compare_clouds(
    inp: &CostInputs,
    prices: &[AppliedPrice],
    local: &Local,
    d: &Demand,
    monthly: &LocalMonthly,
) -> Vec<CloudComparison> {
    inp.clouds
        .iter()
        .zip(prices)
        .map(|(c, applied)| {
            let p = applied.price;
            let cloud = p.usd_per_month(d);
            CloudComparison {
                provider: c.entry.provider.clone(),
                model: c.entry.model.clone(),
                price_applied: applied.tier,
                price_note: applied.standard_because.clone(),
                usd_per_1m_input_applied: p.usd_per_1m_input,
                usd_per_1m_output_applied: p.usd_per_1m_output,
                cloud_usd_per_month: cloud,
                local_usd_per_month: monthly.total_usd_per_month,
                local_minus_cloud_usd_per_month: monthly.total_usd_per_month - cloud,
                break_even: break_even_month(local, d, &p, local.horizon_months()),
                break_even_requests_per_day: break_even_volume(local, d, &p),
            }
        })
        .collect()
}

/// The simulated hybrid year against the reference price `p`, recording its noise and seed in the ledger.
fn simulate_year(
    inp: &CostInputs,
    local: &Local,
    d: &Demand,
    p: &Price,
    seed: u64,
    ledger: &mut Ledger,
) -> HybridPlan {
    let w = inp.workload.entry;
    let noise = w
        .hourly_noise_fraction
        .unwrap_or(DEFAULT_HOURLY_NOISE_FRACTION);
    match w.hourly_noise_fraction {
        Some(_) => ledger.add(
            "hourly noise",
            noise,
            "fraction (1 sd)",
            SourceKind::Config,
            format!(
                "{}: workload[{}] ({}).hourly_noise_fraction",
                inp.workload.file, inp.workload.index, w.name
            ),
        ),
        None => ledger.add(
            "hourly noise",
            noise,
            "fraction (1 sd)",
            SourceKind::Default,
            "DEFAULT_HOURLY_NOISE_FRACTION",
        ),
    }
    ledger.add(
        "simulation seed",
        seed as f64,
        "",
        SourceKind::Config,
        "--seed",
    );
    hybrid::simulate(
        local,
        d,
        p,
        YearShape {
            hourly_profile: w.hourly_profile(),
            weekday_profile: w.weekday_profile(),
            noise_fraction: noise,
            seed,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::super::model::tests::{demand, owned};
    use super::*;
    use crate::config::Config;

    #[test]
    fn ttft_is_the_prompt_time_and_each_later_token_one_inter_token_latency() {
        let w = Config::parse(
            "[[workload]]\nname = \"w\"\nrequests_per_day = 1.0\ninput_tokens_per_request = 800.0\n\
             output_tokens_per_request = 200.0\nslo = [\"ttft_p95=200ms,itl_p95=9ms,e2e_p99=3s,queue_p50=1ms\"]\n",
            std::path::Path::new("m.toml"),
        )
        .unwrap()
        .workload[0]
            .clone();
        // 800 prompt tokens at 4000 tokens/s; 100 tokens/s generation.
        let checks = slo_checks(&owned(3000.0), &demand(1.0), &w);
        let got: Vec<(&str, Option<f64>, bool)> = checks
            .iter()
            .map(|c| (c.objective.as_str(), c.single_stream_estimate_ms, c.met))
            .collect();
        assert_eq!(
            got,
            [
                ("ttft_p95", Some(200.0), true),
                ("itl_p95", Some(10.0), false),
                ("e2e_p99", Some(200.0 + 199.0 * 10.0), true),
                ("queue_p50", Some(0.0), true),
            ]
        );
    }
}
