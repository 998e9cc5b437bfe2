//! `[[hardware]]`: a machine that runs the local model, owned (bought and amortised) or rented by the hour, with
//! its power draw, electricity price, facility overhead (PUE) and operations time.

use super::check::At;
use super::ConfigError;
use serde::Deserialize;
use std::path::Path;
use toml::value::Datetime;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardwareEntry {
    pub name: String,
    /// Owned: purchase price of one device (the whole machine), paid up front.
    pub purchase_usd: Option<f64>,
    /// Owned: months over which the purchase is amortised.
    pub lifetime_months: Option<f64>,
    /// Owned: share of the purchase price recovered at the end of the lifetime (0 when absent).
    pub resale_fraction: Option<f64>,
    /// Rented: price of one device per hour, every hour of the month.
    pub usd_per_hour: Option<f64>,
    /// Accelerator (or CPU package) power while serving; the energy assumption when a result holds no measured
    /// energy.
    pub board_power_w: f64,
    /// Accelerator power while loaded but idle.
    pub idle_power_w: f64,
    /// The rest of the machine (CPU, memory, fans, disks), drawn every hour.
    pub host_power_w: f64,
    /// Required when owned; for rented hardware, absent means power is included in the rent.
    pub electricity_usd_per_kwh: Option<f64>,
    /// Power usage effectiveness: facility energy / IT energy (cooling and overhead). Required with electricity.
    pub pue: Option<f64>,
    pub ops_hours_per_month: f64,
    pub usd_per_ops_hour: f64,
    /// One-off set-up time before the first request (paid up front with the purchase).
    pub setup_hours: Option<f64>,
    pub memory_bandwidth_gb_per_s: Option<f64>,
    /// Device descriptions this entry stands for (matched, as substrings, against a result's devices).
    #[serde(default)]
    pub devices: Vec<String>,
    /// Result files measured on this hardware (paths as given to `cost --result`).
    #[serde(default)]
    pub results: Vec<String>,
    pub as_of: Option<Datetime>,
    pub source: Option<String>,
    pub notes: Option<String>,
}

/// How the hardware is paid for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tenure {
    Owned {
        purchase_usd: f64,
        lifetime_months: f64,
        resale_fraction: f64,
    },
    Rented {
        usd_per_hour: f64,
    },
}

impl HardwareEntry {
    /// Owned or rented; valid after `validate`.
    pub fn tenure(&self) -> Tenure {
        match (self.purchase_usd, self.usd_per_hour) {
            (Some(purchase_usd), _) => Tenure::Owned {
                purchase_usd,
                lifetime_months: self.lifetime_months.unwrap_or(f64::NAN),
                resale_fraction: self.resale_fraction.unwrap_or(0.0),
            },
            (None, Some(usd_per_hour)) => Tenure::Rented { usd_per_hour },
            (None, None) => Tenure::Rented {
                usd_per_hour: f64::NAN,
            },
        }
    }
}

pub(crate) fn validate(entries: &[HardwareEntry], path: &Path) -> Result<(), ConfigError> {
    for (index, h) in entries.iter().enumerate() {
        let at = At {
            path,
            table: "hardware",
            index,
            name: &h.name,
        };
        match (h.purchase_usd, h.usd_per_hour) {
            (Some(_), Some(_)) => {
                return Err(at.error(
                    "usd_per_hour",
                    "give either purchase_usd (owned) or usd_per_hour (rented), not both",
                ))
            }
            (None, None) => {
                return Err(at.error(
                    "purchase_usd",
                    "missing: expected purchase_usd (owned, USD) or usd_per_hour (rented, USD per hour)",
                ))
            }
            (Some(p), None) => {
                at.at_least("purchase_usd", p, 0.0, "USD")?;
                let months = h.lifetime_months.ok_or_else(|| {
                    at.error("lifetime_months", "missing: owned hardware needs its amortisation period in months")
                })?;
                at.positive("lifetime_months", months, "months")?;
                if let Some(r) = h.resale_fraction {
                    at.fraction("resale_fraction", r)?;
                }
                if h.electricity_usd_per_kwh.is_none() {
                    return Err(at.error(
                        "electricity_usd_per_kwh",
                        "missing: owned hardware needs an electricity price (USD per kWh)",
                    ));
                }
            }
            (None, Some(r)) => {
                at.at_least("usd_per_hour", r, 0.0, "USD per hour")?;
                for key in ["lifetime_months", "resale_fraction"] {
                    let given = match key {
                        "lifetime_months" => h.lifetime_months.is_some(),
                        _ => h.resale_fraction.is_some(),
                    };
                    if given {
                        return Err(at.error(key, "applies to owned hardware only (this entry has usd_per_hour)"));
                    }
                }
            }
        }
        at.at_least("board_power_w", h.board_power_w, 0.0, "W")?;
        at.at_least("idle_power_w", h.idle_power_w, 0.0, "W")?;
        at.at_least("host_power_w", h.host_power_w, 0.0, "W")?;
        at.opt_at_least(
            "electricity_usd_per_kwh",
            h.electricity_usd_per_kwh,
            0.0,
            "USD per kWh",
        )?;
        match (h.electricity_usd_per_kwh, h.pue) {
            (Some(_), None) => return Err(at.error(
                "pue",
                "missing: expected the facility overhead factor (≥ 1; 1.3–1.5 for +30–50% cooling)",
            )),
            (_, Some(p)) => at.at_least("pue", p, 1.0, "facility energy / IT energy")?,
            (None, None) => {}
        }
        at.at_least(
            "ops_hours_per_month",
            h.ops_hours_per_month,
            0.0,
            "hours per month",
        )?;
        at.at_least("usd_per_ops_hour", h.usd_per_ops_hour, 0.0, "USD per hour")?;
        at.opt_at_least("setup_hours", h.setup_hours, 0.0, "hours")?;
        if let Some(b) = h.memory_bandwidth_gb_per_s {
            at.positive("memory_bandwidth_gb_per_s", b, "GB/s")?;
        }
        if entries[..index].iter().any(|o| o.name == h.name) {
            return Err(at.error("name", format!("duplicate [[hardware]] '{}'", h.name)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use std::path::Path;

    const OWNED: &str = r#"
[[hardware]]
name = "box"
purchase_usd = 3000.0
lifetime_months = 36.0
board_power_w = 450.0
idle_power_w = 30.0
host_power_w = 100.0
electricity_usd_per_kwh = 0.15
pue = 1.4
ops_hours_per_month = 5.0
usd_per_ops_hour = 75.0
"#;

    fn parse(text: &str) -> Result<Config, crate::config::ConfigError> {
        Config::parse(text, Path::new("models.toml"))
    }

    #[test]
    fn owned_hardware_parses_with_its_tenure() {
        let c = parse(OWNED).unwrap();
        assert_eq!(
            c.hardware[0].tenure(),
            crate::config::Tenure::Owned {
                purchase_usd: 3000.0,
                lifetime_months: 36.0,
                resale_fraction: 0.0
            }
        );
    }

    #[test]
    fn a_negative_purchase_price_names_the_entry_and_key() {
        let e = parse(&OWNED.replace("3000.0", "-1.0")).unwrap_err();
        assert_eq!(e.location, "models.toml: hardware[0] (box).purchase_usd");
        assert!(
            e.what.contains("≥ 0") && e.what.contains("-1"),
            "{}",
            e.what
        );
    }

    #[test]
    fn owned_hardware_needs_an_electricity_price_and_a_pue() {
        let e = parse(&OWNED.replace("electricity_usd_per_kwh = 0.15\n", "")).unwrap_err();
        assert!(e.location.ends_with(".electricity_usd_per_kwh"), "{e}");
        let e = parse(&OWNED.replace("pue = 1.4\n", "")).unwrap_err();
        assert!(e.location.ends_with(".pue"), "{e}");
        let e = parse(&OWNED.replace("pue = 1.4", "pue = 0.9")).unwrap_err();
        assert!(e.what.contains("≥ 1"), "{e}");
    }

    #[test]
    fn rented_hardware_may_leave_power_to_the_rent_but_not_be_bought_too() {
        let rented = OWNED
            .replace(
                "purchase_usd = 3000.0\nlifetime_months = 36.0\n",
                "usd_per_hour = 2.5\n",
            )
            .replace("electricity_usd_per_kwh = 0.15\npue = 1.4\n", "");
        let c = parse(&rented).unwrap();
        assert_eq!(c.hardware[0].electricity_usd_per_kwh, None);
        let both = OWNED.replace("purchase_usd", "usd_per_hour = 2.5\npurchase_usd");
        assert!(parse(&both).unwrap_err().to_string().contains("not both"));
    }

    #[test]
    fn an_unknown_hardware_key_names_file_and_line() {
        let e = parse(&OWNED.replace("pue = 1.4", "pue = 1.4\nwatts = 3")).unwrap_err();
        assert_eq!(e.location, "models.toml:11");
        assert!(e.what.contains("watts"), "{}", e.what);
    }
}
