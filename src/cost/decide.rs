//! `decide`: the seed article's decision graph over six dimensions (data sensitivity, latency, volume pattern,
//! capability, cost, team), with the article's hybrid patterns where two dimensions pull apart. Every dimension
//! gets one line: its answer, where the answer came from, and what it means for the decision.

use crate::config::decision::{
    name_of, Capability, CostVerdict, DataSensitivity, Latency, Team, VolumePattern,
};
use serde::Serialize;

/// Monthly volumes below which the seed's volume graph says "cloud almost always" (10K calls) and above which it
/// says "local likely better" (100K calls).
pub const LOW_VOLUME_REQUESTS_PER_MONTH: f64 = 10_000.0;
pub const HIGH_VOLUME_REQUESTS_PER_MONTH: f64 = 100_000.0;
/// Growth per month from which a workload counts as "growing" (+10% a month doubles in about seven months).
pub const GROWING_FRACTION_PER_MONTH: f64 = 0.10;
/// Peak-to-mean ratio from which a workload counts as "spiky".
pub const SPIKY_PEAK_TO_MEAN: f64 = 3.0;
/// Payback within which the seed's volume graph calls local "likely better" (12 months).
pub const PAYBACK_MONTHS: f64 = 12.0;

/// An answer and where it came from (`flag`, `[decision]`, `measured: …`, `derived: …`).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer<T> {
    pub value: T,
    pub source: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answers {
    pub data_sensitivity: Option<Answer<DataSensitivity>>,
    pub latency: Option<Answer<Latency>>,
    pub volume_pattern: Option<Answer<VolumePattern>>,
    pub capability: Option<Answer<Capability>>,
    pub cost: Option<Answer<CostVerdict>>,
    pub team: Option<Answer<Team>>,
    /// Share of simple requests (enables the tiered pattern).
    pub simple_share_fraction: Option<f64>,
    /// Measured latency, shown on the latency line.
    pub latency_evidence: Option<String>,
}

/// The volume pattern a workload's numbers suggest (growth, then spikiness, then the volume thresholds).
pub fn volume_pattern_of(
    requests_per_day: f64,
    peak_to_mean: f64,
    growth_per_month_fraction: f64,
) -> (VolumePattern, String) {
    let per_month = requests_per_day * super::DAYS_PER_MONTH;
    if growth_per_month_fraction >= GROWING_FRACTION_PER_MONTH {
        (
            VolumePattern::Growing,
            format!(
                "growth {:.0}%/month ≥ {:.0}%",
                growth_per_month_fraction * 100.0,
                GROWING_FRACTION_PER_MONTH * 100.0
            ),
        )
    } else if peak_to_mean >= SPIKY_PEAK_TO_MEAN {
        (
            VolumePattern::Spiky,
            format!("peak-to-mean {peak_to_mean:.1} ≥ {SPIKY_PEAK_TO_MEAN}"),
        )
    } else if per_month < LOW_VOLUME_REQUESTS_PER_MONTH {
        (
            VolumePattern::Sporadic,
            format!("{per_month:.0} requests/month < {LOW_VOLUME_REQUESTS_PER_MONTH:.0}"),
        )
    } else if per_month >= HIGH_VOLUME_REQUESTS_PER_MONTH {
        (
            VolumePattern::SteadyHigh,
            format!("{per_month:.0} requests/month ≥ {HIGH_VOLUME_REQUESTS_PER_MONTH:.0}"),
        )
    } else {
        (
            VolumePattern::SteadyLow,
            format!("{per_month:.0} requests/month"),
        )
    }
}

/// The seed's hybrid patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HybridPattern {
    /// Complex requests to a cloud frontier model, simple ones local.
    Tiered,
    /// Local for normal load, cloud for the overflow.
    Fallback,
    /// Sensitive data local, the rest in the cloud.
    PrivacySensitiveSplit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "pattern")]
pub enum Recommendation {
    Cloud,
    /// The seed's "cloud with migration plan".
    CloudWithMigrationPlan,
    Local,
    Hybrid(HybridPattern),
}

impl std::fmt::Display for Recommendation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Recommendation::Cloud => "cloud",
            Recommendation::CloudWithMigrationPlan => "cloud, with a migration plan",
            Recommendation::Local => "local",
            Recommendation::Hybrid(HybridPattern::Tiered) => {
                "hybrid: tiered (simple requests local, complex ones to a cloud frontier model)"
            }
            Recommendation::Hybrid(HybridPattern::Fallback) => {
                "hybrid: fallback (local for normal load, cloud for the overflow)"
            }
            Recommendation::Hybrid(HybridPattern::PrivacySensitiveSplit) => {
                "hybrid: privacy-sensitive split (sensitive data local, the rest in the cloud)"
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DimensionLine {
    pub dimension: &'static str,
    /// `None`: not answered.
    pub answer: Option<String>,
    pub source: Option<String>,
    pub verdict: String,
    /// Whether the decision path went through this dimension.
    pub on_path: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub lines: Vec<DimensionLine>,
    pub recommendation: Recommendation,
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("decide: the {dimension} dimension is needed on this path ({why}): give {how}")]
pub struct MissingAnswer {
    pub dimension: &'static str,
    pub why: String,
    pub how: &'static str,
}

const DIMENSIONS: [&str; 6] = [
    "data sensitivity",
    "latency",
    "volume pattern",
    "capability",
    "cost",
    "team",
];

fn need<'a, T>(
    a: &'a Option<Answer<T>>,
    dimension: &'static str,
    why: &str,
    how: &'static str,
) -> Result<&'a Answer<T>, MissingAnswer> {
    a.as_ref().ok_or_else(|| MissingAnswer {
        dimension,
        why: why.to_string(),
        how,
    })
}

/// Walks the decision graph. A dimension the path needs but that has no answer is an error naming its flag.
pub fn decide(a: &Answers) -> Result<Decision, MissingAnswer> {
    let mut verdicts: [Option<String>; 6] = Default::default();
    let rec = walk(a, &mut verdicts)?;
    let answer_of = |i: usize| -> (Option<String>, Option<String>) {
        fn pair<T: Serialize>(x: &Option<Answer<T>>) -> (Option<String>, Option<String>) {
            x.as_ref().map_or((None, None), |x| {
                (Some(name_of(&x.value)), Some(x.source.clone()))
            })
        }
        match i {
            0 => pair(&a.data_sensitivity),
            1 => pair(&a.latency),
            2 => pair(&a.volume_pattern),
            3 => pair(&a.capability),
            4 => pair(&a.cost),
            _ => pair(&a.team),
        }
    };
    let lines = DIMENSIONS
        .iter()
        .enumerate()
        .map(|(i, dim)| {
            let (answer, source) = answer_of(i);
            let on_path = verdicts[i].is_some();
            let mut verdict = verdicts[i].clone().unwrap_or_else(|| {
                if answer.is_some() {
                    "not on the decision path".into()
                } else {
                    "not answered (not needed)".into()
                }
            });
            if i == 1 {
                if let Some(e) = &a.latency_evidence {
                    verdict.push_str(&format!(" [{e}]"));
                }
            }
            DimensionLine {
                dimension: dim,
                answer,
                source,
                verdict,
                on_path,
            }
        })
        .collect();
    Ok(Decision {
        lines,
        recommendation: rec,
    })
}

fn walk(a: &Answers, v: &mut [Option<String>; 6]) -> Result<Recommendation, MissingAnswer> {
    let frontier = matches!(
        a.capability.as_ref().map(|c| c.value),
        Some(Capability::Frontier)
    );
    let data = need(
        &a.data_sensitivity,
        "data sensitivity",
        "the first question",
        "--data-sensitivity or [decision] data_sensitivity",
    )?;
    if matches!(
        data.value,
        DataSensitivity::Regulated | DataSensitivity::Critical
    ) {
        if frontier {
            v[0] = Some("sensitive data stays local; frontier capability only exists in the cloud → privacy-sensitive split".into());
            v[3] = Some("frontier: the non-sensitive part goes to the cloud".into());
            return Ok(Recommendation::Hybrid(HybridPattern::PrivacySensitiveSplit));
        }
        v[0] = Some("regulated or critical data: strong local preference".into());
        return Ok(Recommendation::Local);
    }
    v[0] = Some("public or internal data: the cloud is acceptable → latency".into());
    let latency = need(
        &a.latency,
        "latency",
        "data may leave",
        "--latency or [decision] latency",
    )?;
    if matches!(latency.value, Latency::RealTime | Latency::Embedded) {
        v[1] = Some(
            "real-time or embedded: network round trips (50–200 ms) rule the cloud out → local"
                .into(),
        );
        return Ok(Recommendation::Local);
    }
    v[1] = Some("batch or interactive: the cloud's latency is acceptable → volume pattern".into());
    let volume = need(
        &a.volume_pattern,
        "volume pattern",
        "latency allows the cloud",
        "--volume or [decision] volume_pattern",
    )?;
    let local_cheaper = a
        .cost
        .as_ref()
        .map(|c| c.value == CostVerdict::LocalCheaper);
    match volume.value {
        VolumePattern::Sporadic => {
            v[2] = Some("sporadic: pay per use → cloud".into());
            Ok(Recommendation::Cloud)
        }
        VolumePattern::Spiky => {
            if local_cheaper == Some(true) {
                v[2] = Some("spiky: the cloud absorbs the bursts → fallback".into());
                v[4] = Some("local is cheaper for the base load → local for normal load, cloud for the overflow".into());
                Ok(Recommendation::Hybrid(HybridPattern::Fallback))
            } else {
                v[2] = Some("spiky: pay per use, the cloud absorbs the bursts → cloud".into());
                Ok(Recommendation::Cloud)
            }
        }
        VolumePattern::SteadyHigh => {
            v[2] = Some("steady high: hardware amortises → capability".into());
            let cap = need(
                &a.capability,
                "capability",
                "steady high volume",
                "--capability or [decision] capability",
            )?;
            if cap.value == Capability::Frontier {
                if a.simple_share_fraction.is_some_and(|s| s > 0.0) {
                    v[3] = Some("frontier for the complex requests, the simple share can run locally → tiered".into());
                    return Ok(Recommendation::Hybrid(HybridPattern::Tiered));
                }
                v[3] = Some("frontier: only the cloud has it → cloud".into());
                return Ok(Recommendation::Cloud);
            }
            v[3] =
                Some("good enough, specialized or simple: a local model can do it → team".into());
            team(a, v)
        }
        VolumePattern::SteadyLow | VolumePattern::Growing => {
            v[2] = Some(format!(
                "{}: depends on cost → cost",
                name_of(&volume.value)
            ));
            let cost = need(
                &a.cost,
                "cost",
                "steady-low or growing volume",
                "--result (measured) or --cost local-cheaper|cloud-cheaper",
            )?;
            match cost.value {
                CostVerdict::CloudCheaper if volume.value == VolumePattern::Growing => {
                    v[4] = Some("cloud cheaper now; growth may flip it → start in the cloud, plan the migration".into());
                    Ok(Recommendation::CloudWithMigrationPlan)
                }
                CostVerdict::CloudCheaper => {
                    v[4] = Some("cloud cheaper → cloud".into());
                    Ok(Recommendation::Cloud)
                }
                CostVerdict::LocalCheaper => {
                    v[4] = Some("local cheaper → team".into());
                    team(a, v)
                }
            }
        }
    }
}

fn team(a: &Answers, v: &mut [Option<String>; 6]) -> Result<Recommendation, MissingAnswer> {
    let t = need(
        &a.team,
        "team",
        "a local model would do",
        "--team or [decision] team",
    )?;
    Ok(match t.value {
        Team::Advanced => {
            v[5] = Some("advanced: can run local infrastructure → local".into());
            Recommendation::Local
        }
        Team::Intermediate => {
            v[5] = Some(
                "intermediate: local for normal load, the cloud as a safety net → fallback".into(),
            );
            Recommendation::Hybrid(HybridPattern::Fallback)
        }
        Team::None | Team::Basic => {
            v[5] = Some(
                "none or basic: cloud until the team can run it → cloud with a migration plan"
                    .into(),
            );
            Recommendation::CloudWithMigrationPlan
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ans<T>(value: T) -> Option<Answer<T>> {
        Some(Answer {
            value,
            source: "flag".into(),
        })
    }

    fn base() -> Answers {
        Answers {
            data_sensitivity: ans(DataSensitivity::Internal),
            latency: ans(Latency::Interactive),
            volume_pattern: ans(VolumePattern::SteadyHigh),
            capability: ans(Capability::GoodEnough),
            cost: None,
            team: ans(Team::Advanced),
            simple_share_fraction: None,
            latency_evidence: None,
        }
    }

    #[test]
    fn steady_high_volume_good_enough_model_and_advanced_team_go_local() {
        let d = decide(&base()).unwrap();
        assert_eq!(d.recommendation, Recommendation::Local);
        assert_eq!(d.lines.len(), 6);
        let path: Vec<bool> = d.lines.iter().map(|l| l.on_path).collect();
        assert_eq!(path, [true, true, true, true, false, true]);
    }

    #[test]
    fn regulated_data_goes_local_and_frontier_needs_make_it_a_privacy_split() {
        let mut a = base();
        a.data_sensitivity = ans(DataSensitivity::Regulated);
        assert_eq!(decide(&a).unwrap().recommendation, Recommendation::Local);
        a.capability = ans(Capability::Frontier);
        assert_eq!(
            decide(&a).unwrap().recommendation,
            Recommendation::Hybrid(HybridPattern::PrivacySensitiveSplit)
        );
    }

    #[test]
    fn real_time_latency_goes_local() {
        let mut a = base();
        a.latency = ans(Latency::RealTime);
        assert_eq!(decide(&a).unwrap().recommendation, Recommendation::Local);
    }

    #[test]
    fn spiky_load_goes_to_the_cloud_unless_local_is_cheaper_for_the_base() {
        let mut a = base();
        a.volume_pattern = ans(VolumePattern::Spiky);
        assert_eq!(decide(&a).unwrap().recommendation, Recommendation::Cloud);
        a.cost = ans(CostVerdict::LocalCheaper);
        assert_eq!(
            decide(&a).unwrap().recommendation,
            Recommendation::Hybrid(HybridPattern::Fallback)
        );
    }

    #[test]
    fn frontier_capability_with_simple_requests_is_tiered() {
        let mut a = base();
        a.capability = ans(Capability::Frontier);
        assert_eq!(decide(&a).unwrap().recommendation, Recommendation::Cloud);
        a.simple_share_fraction = Some(0.6);
        assert_eq!(
            decide(&a).unwrap().recommendation,
            Recommendation::Hybrid(HybridPattern::Tiered)
        );
    }

    #[test]
    fn growing_volume_with_cheaper_cloud_starts_in_the_cloud_with_a_migration_plan() {
        let mut a = base();
        a.volume_pattern = ans(VolumePattern::Growing);
        a.cost = ans(CostVerdict::CloudCheaper);
        assert_eq!(
            decide(&a).unwrap().recommendation,
            Recommendation::CloudWithMigrationPlan
        );
    }

    #[test]
    fn a_basic_team_gets_cloud_with_a_migration_plan() {
        let mut a = base();
        a.team = ans(Team::Basic);
        assert_eq!(
            decide(&a).unwrap().recommendation,
            Recommendation::CloudWithMigrationPlan
        );
    }

    #[test]
    fn a_needed_dimension_without_an_answer_names_its_flag() {
        let mut a = base();
        a.volume_pattern = ans(VolumePattern::SteadyLow);
        let e = decide(&a).unwrap_err();
        assert_eq!(e.dimension, "cost");
        assert!(e.to_string().contains("--result"), "{e}");
    }

    #[test]
    fn workload_numbers_suggest_a_volume_pattern() {
        assert_eq!(
            volume_pattern_of(100_000.0, 2.0, 0.0).0,
            VolumePattern::SteadyHigh
        );
        assert_eq!(
            volume_pattern_of(100.0, 2.0, 0.0).0,
            VolumePattern::Sporadic
        );
        assert_eq!(
            volume_pattern_of(1_000.0, 2.0, 0.0).0,
            VolumePattern::SteadyLow
        );
        assert_eq!(volume_pattern_of(1_000.0, 4.0, 0.0).0, VolumePattern::Spiky);
        assert_eq!(
            volume_pattern_of(1_000.0, 4.0, 0.2).0,
            VolumePattern::Growing
        );
    }
}
