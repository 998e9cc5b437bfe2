//! Progress on stderr: a bar for a run's units (with its phase and the time left of a larger run's budget), and
//! short durations for it and for summaries.

use super::options::PhaseLabel;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// `1h02m`, `4m05s`, `12s`, `0.4s`.
pub fn short_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=9 => format!("{:.1}s", d.as_secs_f64()),
        10..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s / 60 % 60),
    }
}

/// A progress bar on stderr: `len` steps, or a spinner when the length is unknown; within a larger run, its phase
/// first and the time left of its budget last.
pub fn progress_bar(len: Option<u64>, unit: &str, phase: Option<&PhaseLabel>) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    let (head, tail) = match phase {
        Some(p) => (
            format!("{} | ", p.text.replace('{', "(").replace('}', ")")),
            if p.deadline.is_some() {
                ", {left} left"
            } else {
                ""
            },
        ),
        None => (String::new(), ""),
    };
    let template = match len {
        Some(_) => format!(
            "{head}{{bar:24}} {{pos}}/{{len}} {unit}  {{msg}}  [{{elapsed}}, ETA {{eta}}{tail}]"
        ),
        None => format!("{head}{{spinner}} {{msg}} [{{elapsed}}{tail}]"),
    };
    let mut style = ProgressStyle::with_template(&template)
        .expect("valid template")
        .progress_chars("=> ");
    if let Some(deadline) = phase.and_then(|p| p.deadline) {
        style = style.with_key(
            "left",
            move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                let _ = w.write_str(&short_duration(left));
            },
        );
    }
    bar.set_style(style);
    bar
}
