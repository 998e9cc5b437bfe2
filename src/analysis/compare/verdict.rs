//! The verdict rule on one figure (its whole interval beyond the noise band), a figure's comparison with the note
//! that says why it was not tested, Holm's correction over every gated figure, and the count of verdicts.

use super::{Better, Counts, Family, Joined, MetricComparison, Verdict};
use crate::stats::ratio::{self, Method, Ratio};

pub(super) fn verdict(r: &Ratio, better: Better, noise: f64) -> Verdict {
    let (Some(lo), Some(hi)) = (r.lower, r.upper) else {
        return Verdict::Unchanged;
    };
    let up = 1.0 + noise;
    let down = 1.0 / up;
    let (gain, loss) = match better {
        Better::Higher => (lo > up, hi < down),
        Better::Lower => (hi < down, lo > up),
    };
    if loss {
        Verdict::Slower
    } else if gain {
        Verdict::Faster
    } else {
        Verdict::Unchanged
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn metric(
    name: &str,
    unit: &str,
    better: Better,
    base: Option<f64>,
    new: Option<f64>,
    r: Option<Ratio>,
    gating: bool,
    noise: f64,
    mut note: Option<String>,
) -> MetricComparison {
    let tested = r.as_ref().is_some_and(|r| r.lower.is_some());
    let v = r
        .as_ref()
        .map_or(Verdict::Unchanged, |r| verdict(r, better, noise));
    let underpowered = r
        .as_ref()
        .is_some_and(|r| r.detectable.is_some_and(|d| ratio::underpowered(d, noise)));
    if !tested && note.is_none() {
        note = Some(match &r {
            None if base.is_some() && new.is_some() => "no ratio: the base figure is zero".into(),
            None => "absent on a side".into(),
            Some(r) if r.method == Method::Single => "one figure per side: not tested".into(),
            Some(r) => format!("too few samples to test (n={}/{})", r.n_base, r.n_new),
        });
    }
    MetricComparison {
        metric: name.into(),
        unit: unit.into(),
        better,
        base,
        new,
        verdict: v,
        tested,
        underpowered,
        gating: gating && tested,
        holm_rejected: None,
        ratio: r,
        note,
    }
}

/// Why a side with one run does not gate.
pub(super) const ONE_RUN: &str =
    "one run on a side: this interval is within the run, which leaves out run-to-run \
variance, so it does not gate (use --interleave, or two or more runs per side)";

pub(super) fn single(
    base: Option<f64>,
    new: Option<f64>,
    n_base: usize,
    n_new: usize,
) -> Option<Ratio> {
    base.zip(new).filter(|(b, _)| *b > 0.0).map(|(b, n)| Ratio {
        method: Method::Single,
        ratio: n / b,
        lower: None,
        upper: None,
        p_value: None,
        p_band: None,
        n_base,
        n_new,
        detectable: None,
        samples_needed: None,
    })
}

/// Holm's step-down over every gated figure: sorted by `p_band`, the i-th smallest (from 0) of m passes when it
/// and every smaller one are at most `alpha / (m − i)`. A gated figure beyond the band that does not pass becomes
/// `unchanged`, with a note; its interval stays as computed.
pub(super) fn holm(joined: &mut [Joined], alpha: f64) -> Family {
    let mut gated: Vec<(usize, usize, f64)> = Vec::new();
    for (j, jn) in joined.iter().enumerate() {
        for (k, m) in jn.metrics.iter().enumerate() {
            if m.gating {
                let p = m.ratio.as_ref().and_then(|r| r.p_band).unwrap_or(1.0);
                gated.push((j, k, p));
            }
        }
    }
    gated.sort_by(|a, b| a.2.total_cmp(&b.2));
    let m = gated.len();
    let (mut rejected, mut kept) = (0, 0);
    let mut passing = true;
    for (i, &(j, k, p)) in gated.iter().enumerate() {
        passing = passing && p <= alpha / (m - i) as f64;
        let metric = &mut joined[j].metrics[k];
        metric.holm_rejected = Some(passing);
        if passing {
            rejected += 1;
        } else if metric.verdict != Verdict::Unchanged {
            kept += 1;
            metric.verdict = Verdict::Unchanged;
            let why = format!(
                "beyond the band on its own (p = {p:.3}), not after Holm's correction over {m} gated figures"
            );
            metric.note = Some(match metric.note.take() {
                Some(n) => format!("{n}; {why}"),
                None => why,
            });
        }
    }
    Family {
        correction: "holm".into(),
        gated: m,
        rejected,
        kept_unchanged: kept,
    }
}

/// The joined cases and levels by verdict, and those whose gating figure is underpowered.
pub(super) fn count_verdicts(joined: &[Joined]) -> Counts {
    let mut counts = Counts {
        faster: 0,
        unchanged: 0,
        slower: 0,
        underpowered: 0,
    };
    for j in joined {
        match j.verdict() {
            Verdict::Faster => counts.faster += 1,
            Verdict::Unchanged => counts.unchanged += 1,
            Verdict::Slower => counts.slower += 1,
        }
        if j.metrics.iter().any(|m| m.gating && m.underpowered) {
            counts.underpowered += 1;
        }
    }
    counts
}
