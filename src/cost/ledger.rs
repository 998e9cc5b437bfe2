//! The assumptions ledger: every number the cost model used, with its unit and where it came from (a result
//! file's field, a models.toml key, a named default, or a stated assumption).

use super::measured::{Figure, Measured};
use super::model::PriceTier;
use crate::config::{CloudEntry, HardwareEntry, WorkloadEntry};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Measured,
    Config,
    Default,
    Assumption,
}

impl SourceKind {
    /// As reports print it.
    pub fn label(self) -> &'static str {
        match self {
            SourceKind::Measured => "measured",
            SourceKind::Config => "configured",
            SourceKind::Default => "default",
            SourceKind::Assumption => "assumption",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerEntry {
    pub input: String,
    pub value: f64,
    pub unit: String,
    pub source_kind: SourceKind,
    pub source: String,
}

/// Builds the ledger as the analysis adds to it.
#[derive(Debug, Default)]
pub struct Ledger {
    pub entries: Vec<LedgerEntry>,
}

impl Ledger {
    pub fn add(
        &mut self,
        input: impl Into<String>,
        value: f64,
        unit: &str,
        kind: SourceKind,
        source: impl Into<String>,
    ) {
        self.entries.push(LedgerEntry {
            input: input.into(),
            value,
            unit: unit.into(),
            source_kind: kind,
            source: source.into(),
        });
    }

    fn figure(&mut self, input: &str, f: &Figure, unit: &str) {
        self.add(input, f.value, unit, SourceKind::Measured, f.source.clone());
    }

    pub fn measured(&mut self, m: &Measured) {
        self.figure("input throughput", &m.input_tokens_per_s, "tokens/s");
        self.figure("output throughput", &m.output_tokens_per_s, "tokens/s");
        if let Some(f) = &m.operating_point_output_tokens_per_s {
            self.figure(
                "output throughput at the SLO operating point",
                f,
                "tokens/s",
            );
        }
        if let Some(f) = &m.operating_point_total_tokens_per_s {
            self.figure("total throughput at the SLO operating point", f, "tokens/s");
        }
        if let Some(f) = &m.operating_point_requests_per_s {
            self.figure("requests at the SLO operating point", f, "requests/s");
        }
        let on = m.work_device.label();
        if let Some(f) = &m.prompt_energy_j_per_token {
            self.figure(&format!("prompt energy ({on})"), f, "J/input token");
        }
        if let Some(f) = &m.generation_energy_j_per_token {
            self.figure(&format!("generation energy ({on})"), f, "J/output token");
        }
        if let Some(f) = &m.level_energy_j_per_output_token {
            self.figure(
                &format!(
                    "energy at the SLO operating point ({on}, prompt processing included; all the level's energy \
                     over the output of the requests that met the SLO)"
                ),
                f,
                "J/output token",
            );
        }
        if let Some(f) = &m.level_energy_j_per_good_request {
            self.figure(
                &format!(
                    "energy per good request at the SLO operating point ({on}; all the level's energy over the \
                     requests that met the SLO)"
                ),
                f,
                "J/request",
            );
        }
        if let Some(f) = &m.idle_power_w {
            self.figure(&format!("idle power ({on}, measured)"), f, "W");
        }
    }

    /// `energy_measured`: measured energy prices all of the busy time; `idle_measured`: the result's idle
    /// baseline replaces `idle_power_w`.
    pub fn hardware(
        &mut self,
        file: &str,
        index: usize,
        h: &HardwareEntry,
        energy_measured: bool,
        idle_measured: bool,
    ) {
        let key = |k: &str| format!("{file}: hardware[{index}] ({}).{k}", h.name);
        self.hardware_capital(h, &key);
        self.hardware_power(h, &key, energy_measured, idle_measured);
        self.hardware_operations(h, &key);
    }

    /// A configured hardware value, when set, under its models.toml key.
    fn configured(&mut self, input: &str, v: Option<f64>, unit: &str, key: String) {
        if let Some(v) = v {
            self.add(input, v, unit, SourceKind::Config, key);
        }
    }

    /// What the device costs to own or rent: purchase price, lifetime, resale value and rent.
    fn hardware_capital(&mut self, h: &HardwareEntry, key: &dyn Fn(&str) -> String) {
        self.configured(
            "purchase price per device",
            h.purchase_usd,
            "USD",
            key("purchase_usd"),
        );
        self.configured(
            "lifetime",
            h.lifetime_months,
            "months",
            key("lifetime_months"),
        );
        match h.resale_fraction {
            Some(r) => self.add(
                "resale value",
                r,
                "fraction of purchase",
                SourceKind::Config,
                key("resale_fraction"),
            ),
            None if h.purchase_usd.is_some() => self.add(
                "resale value",
                0.0,
                "fraction of purchase",
                SourceKind::Default,
                "resale_fraction not set: nothing recovered",
            ),
            None => {}
        }
        self.configured(
            "rent per device",
            h.usd_per_hour,
            "USD/hour",
            key("usd_per_hour"),
        );
    }

    /// What powering the device costs: board, idle and host power, electricity price and PUE, saying which power
    /// figures measurements replace.
    fn hardware_power(
        &mut self,
        h: &HardwareEntry,
        key: &dyn Fn(&str) -> String,
        energy_measured: bool,
        idle_measured: bool,
    ) {
        if energy_measured {
            self.configured(
                "board power (not used: energy measured)",
                Some(h.board_power_w),
                "W",
                key("board_power_w"),
            );
        } else {
            self.add(
                "board power while serving",
                h.board_power_w,
                "W",
                SourceKind::Assumption,
                format!(
                    "{} — the result holds no measured energy for all of the busy time",
                    key("board_power_w")
                ),
            );
        }
        let idle = if idle_measured {
            "idle power (not used: idle measured)"
        } else {
            "idle power"
        };
        self.configured(idle, Some(h.idle_power_w), "W", key("idle_power_w"));
        self.configured("host power", Some(h.host_power_w), "W", key("host_power_w"));
        match h.electricity_usd_per_kwh {
            Some(p) => self.add(
                "electricity",
                p,
                "USD/kWh",
                SourceKind::Config,
                key("electricity_usd_per_kwh"),
            ),
            None => self.add(
                "electricity",
                0.0,
                "USD/kWh",
                SourceKind::Assumption,
                format!(
                    "{} not set: power included in the rent",
                    key("electricity_usd_per_kwh")
                ),
            ),
        }
        self.configured(
            "PUE (cooling and facility overhead)",
            h.pue,
            "×",
            key("pue"),
        );
    }

    /// The people's time: operations hours and rate, and set-up hours.
    fn hardware_operations(&mut self, h: &HardwareEntry, key: &dyn Fn(&str) -> String) {
        self.configured(
            "operations",
            Some(h.ops_hours_per_month),
            "hours/month",
            key("ops_hours_per_month"),
        );
        self.configured(
            "operations rate",
            Some(h.usd_per_ops_hour),
            "USD/hour",
            key("usd_per_ops_hour"),
        );
        self.configured("set-up", h.setup_hours, "hours", key("setup_hours"));
    }

    pub fn workload(&mut self, file: &str, index: usize, w: &WorkloadEntry) {
        let key = |k: &str| format!("{file}: workload[{index}] ({}).{k}", w.name);
        self.add(
            "volume",
            w.requests_per_day,
            "requests/day",
            SourceKind::Config,
            key("requests_per_day"),
        );
        self.add(
            "input tokens per request (mean)",
            w.input_tokens_per_request.mean(),
            "tokens",
            SourceKind::Config,
            key("input_tokens_per_request"),
        );
        self.add(
            "output tokens per request (mean)",
            w.output_tokens_per_request.mean(),
            "tokens",
            SourceKind::Config,
            key("output_tokens_per_request"),
        );
        let (kind, src) = if w.hourly_weights.is_some() {
            (SourceKind::Config, key("hourly_weights"))
        } else if w.peak_to_mean_ratio.is_some() {
            (SourceKind::Config, key("peak_to_mean_ratio"))
        } else {
            (
                SourceKind::Default,
                "no hourly_weights or peak_to_mean_ratio: flat load".to_string(),
            )
        };
        self.add("peak-to-mean ratio", w.peak_to_mean(), "×", kind, src);
        match w.growth_per_month_fraction {
            Some(g) => self.add(
                "growth",
                g,
                "fraction/month",
                SourceKind::Config,
                key("growth_per_month_fraction"),
            ),
            None => self.add(
                "growth",
                0.0,
                "fraction/month",
                SourceKind::Default,
                "growth_per_month_fraction not set: flat",
            ),
        }
        if w.batch {
            self.add(
                "batch work",
                1.0,
                "true: batch prices where offered",
                SourceKind::Config,
                key("batch"),
            );
        }
        if let Some(c) = w.cached_input_fraction {
            self.add(
                "cached input",
                c,
                "fraction of input tokens",
                SourceKind::Config,
                key("cached_input_fraction"),
            );
        }
        if let Some(s) = w.simple_share_fraction {
            self.add(
                "simple requests",
                s,
                "fraction",
                SourceKind::Config,
                key("simple_share_fraction"),
            );
        }
    }

    /// An offering's prices; with `tier` batch, its batch prices are the ones applied.
    pub fn cloud(&mut self, file: &str, index: usize, c: &CloudEntry, tier: PriceTier) {
        let key = |k: &str| {
            format!(
                "{file}: cloud[{index}] ({}).{k} (as of {})",
                c.label(),
                c.as_of
            )
        };
        let name = c.label();
        let standard = match tier {
            PriceTier::Standard => "",
            PriceTier::Batch => " (not used: batch price applied)",
        };
        self.add(
            format!("{name} input{standard}"),
            c.usd_per_1m_input,
            "USD/1M tokens",
            SourceKind::Config,
            format!("{}; {}", key("usd_per_1m_input"), c.source),
        );
        self.add(
            format!("{name} output{standard}"),
            c.usd_per_1m_output,
            "USD/1M tokens",
            SourceKind::Config,
            key("usd_per_1m_output"),
        );
        if let Some(p) = c.usd_per_1m_cached_input {
            self.add(
                format!("{name} cached input"),
                p,
                "USD/1M tokens",
                SourceKind::Config,
                key("usd_per_1m_cached_input"),
            );
        }
        if tier == PriceTier::Batch {
            for (what, price, k) in [
                (
                    "batch input",
                    c.usd_per_1m_batch_input,
                    "usd_per_1m_batch_input",
                ),
                (
                    "batch output",
                    c.usd_per_1m_batch_output,
                    "usd_per_1m_batch_output",
                ),
            ] {
                if let Some(p) = price {
                    self.add(
                        format!("{name} {what}"),
                        p,
                        "USD/1M tokens",
                        SourceKind::Config,
                        key(k),
                    );
                }
            }
        }
    }
}
