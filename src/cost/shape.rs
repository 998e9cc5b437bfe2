//! Whether a `load` result measured the workload it is asked to price: its requests' lengths and its SLO against
//! the workload's. The operating point's throughput and energy hold only for requests of the shape the load run
//! sent, under the objectives it checked.

use super::measured::LoadShape;
use crate::config::WorkloadEntry;
use crate::results::slo::SloTerm;

/// How far a load run's mean input or output tokens per request may be from the workload's mean, as a fraction of
/// the workload's: ±25%. Prompt processing and generation costs per token move with the lengths (attention over a
/// longer context, the share of time in prefill), so a run beyond this measured another workload.
pub const SHAPE_LENGTH_TOLERANCE_FRACTION: f64 = 0.25;

fn terms(slo: &[SloTerm]) -> String {
    if slo.is_empty() {
        return "none".into();
    }
    slo.iter()
        .map(|t| format!("{}≤{}ms", t.objective(), t.max_ms))
        .collect::<Vec<_>>()
        .join(",")
}

/// Why the load run's SLO does not stand for the workload's; `None` when it does: the same objectives
/// (metric and percentile), each limit no looser than the workload's.
fn slo_difference(load: &[SloTerm], workload: &[SloTerm]) -> Option<String> {
    let missing: Vec<String> = workload
        .iter()
        .filter(|w| !load.iter().any(|l| l.objective() == w.objective()))
        .map(SloTerm::objective)
        .collect();
    let extra: Vec<String> = load
        .iter()
        .filter(|l| !workload.iter().any(|w| w.objective() == l.objective()))
        .map(SloTerm::objective)
        .collect();
    let looser: Vec<String> = load
        .iter()
        .filter_map(|l| {
            let w = workload.iter().find(|w| w.objective() == l.objective())?;
            (l.max_ms > w.max_ms)
                .then(|| format!("{} {}ms > {}ms", l.objective(), l.max_ms, w.max_ms))
        })
        .collect();
    let mut why = Vec::new();
    if !missing.is_empty() {
        why.push(format!("not checked: {}", missing.join(", ")));
    }
    if !extra.is_empty() {
        why.push(format!("not the workload's: {}", extra.join(", ")));
    }
    if !looser.is_empty() {
        why.push(format!("looser: {}", looser.join(", ")));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// The differences between a load run's shape and a workload's beyond `SHAPE_LENGTH_TOLERANCE_FRACTION` and
/// the SLO rule, in one line naming both; `None` when the load run stands for the workload.
pub fn mismatch(load: &LoadShape, workload: &WorkloadEntry, workload_at: &str) -> Option<String> {
    let mut diffs = Vec::new();
    for (what, measured, wanted) in [
        (
            "input tokens",
            &load.input_tokens_per_request,
            workload.input_tokens_per_request.mean(),
        ),
        (
            "output tokens",
            &load.output_tokens_per_request,
            workload.output_tokens_per_request.mean(),
        ),
    ] {
        let off = (measured.value - wanted).abs();
        if off > SHAPE_LENGTH_TOLERANCE_FRACTION * wanted {
            diffs.push(format!(
                "{what} per request {} ({}) vs {wanted} ({workload_at})",
                measured.value, measured.source
            ));
        }
    }
    let wanted_slo = workload.slos();
    if let Some(why) = slo_difference(&load.slo, &wanted_slo) {
        diffs.push(format!(
            "SLO {} ({}) vs {} ({workload_at}.slo): {why}",
            terms(&load.slo),
            load.slo_source,
            terms(&wanted_slo)
        ));
    }
    (!diffs.is_empty()).then(|| {
        format!(
            "the load run does not match workload '{}' (lengths within ±{:.0}%, the same SLO objectives, none \
             looser): {}",
            workload.name,
            SHAPE_LENGTH_TOLERANCE_FRACTION * 100.0,
            diffs.join("; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::cost::Figure;
    use crate::results::slo::parse_slo;
    use std::path::Path;

    fn workload(input: f64, output: f64, slo: &str) -> WorkloadEntry {
        let text = format!(
            "[[workload]]\nname = \"w\"\nrequests_per_day = 1000.0\ninput_tokens_per_request = {input:?}\n\
             output_tokens_per_request = {output:?}\nslo = [\"{slo}\"]\n"
        );
        Config::parse(&text, Path::new("m.toml")).unwrap().workload[0].clone()
    }

    fn load(input: f64, output: f64, slo: &str) -> LoadShape {
        LoadShape {
            input_tokens_per_request: Figure {
                value: input,
                source: "l.json load.levels[1].input_tokens".into(),
            },
            output_tokens_per_request: Figure {
                value: output,
                source: "l.json load.levels[1].output_tokens".into(),
            },
            slo: parse_slo(slo).unwrap(),
            slo_source: "l.json load.slo".into(),
        }
    }

    #[test]
    fn lengths_within_the_tolerance_and_a_stricter_slo_match() {
        let w = workload(1000.0, 200.0, "ttft_p95=1s,itl_p95=100ms");
        let at = "m.toml: workload[0] (w)";
        assert_eq!(
            mismatch(&load(1250.0, 150.0, "ttft_p95=1s,itl_p95=100ms"), &w, at),
            None
        );
        assert_eq!(
            mismatch(&load(750.0, 250.0, "itl_p95=50ms,ttft_p95=500ms"), &w, at),
            None
        );
    }

    #[test]
    fn lengths_beyond_the_tolerance_are_named_with_both_sources() {
        let w = workload(1500.0, 300.0, "ttft_p95=2s,itl_p95=250ms");
        let m = mismatch(
            &load(256.0, 64.0, "ttft_p95=2s,itl_p95=250ms"),
            &w,
            "m.toml: workload[0] (w)",
        )
        .unwrap();
        assert_eq!(
            m,
            "the load run does not match workload 'w' (lengths within ±25%, the same SLO objectives, none looser): \
             input tokens per request 256 (l.json load.levels[1].input_tokens) vs 1500 (m.toml: workload[0] (w)); \
             output tokens per request 64 (l.json load.levels[1].output_tokens) vs 300 (m.toml: workload[0] (w))"
        );
        assert!(!m.contains('\n'));
        // Just past the edge: 1500 × 1.25 = 1875.
        assert!(mismatch(&load(1876.0, 300.0, "ttft_p95=2s,itl_p95=250ms"), &w, "w").is_some());
        assert!(mismatch(&load(1875.0, 300.0, "ttft_p95=2s,itl_p95=250ms"), &w, "w").is_none());
    }

    #[test]
    fn a_looser_missing_or_other_slo_objective_is_a_mismatch() {
        let w = workload(1000.0, 200.0, "ttft_p95=1s,itl_p95=100ms");
        let why = |slo: &str| mismatch(&load(1000.0, 200.0, slo), &w, "w").unwrap();
        assert!(why("ttft_p95=2s,itl_p95=100ms").ends_with("looser: ttft_p95 2000ms > 1000ms"));
        assert!(why("ttft_p95=1s").ends_with("not checked: itl_p95"));
        assert!(why("ttft_p99=1s,itl_p95=100ms")
            .ends_with("not checked: ttft_p95; not the workload's: ttft_p99"));
        assert!(
            why("ttft_p95=1s,itl_p95=100ms,e2e_p95=5s").ends_with("not the workload's: e2e_p95")
        );
    }
}
