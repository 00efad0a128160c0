//! The evaluation report (`RUN/eval/report.json`, format
//! `cis490-eval/1`, documented in `docs/evaluation.md`): its types live in
//! [`cis490_shared::evaluation`] (the dashboard reads them too) and are
//! re-exported here; this module adds the terminal summary.

pub use cis490_shared::evaluation::{
    BootstrapSettings, Comparison, ConfusionEntry, FORMAT, InDistribution, ModelEntry, ModelRef, Report, SIGNIFICANCE,
    SkippedModel, SplitSummary,
};

use cis490_shared::evaluation::Interval;

fn interval_text(i: &Interval) -> String {
    format!("{:.3} [{:.3}, {:.3}]", i.point, i.lo, i.hi)
}

/// The readable summary printed by `cis490 eval` and the demo.
pub fn summary_table(report: &Report) -> String {
    let mut out = format!(
        "{} split (held out: {}), {} test episodes, {} resamples of episodes, {:.0} % intervals\n",
        report.split.recipe,
        report.split.held_out.join(", "),
        report.split.test_episodes,
        report.bootstrap.resamples,
        report.bootstrap.confidence * 100.0
    );
    out.push_str(&format!(
        "{:<24} {:>24} {:>8} {:>8}  {}\n",
        "model", "held-out macro F1", "in-dist", "gap", "weakest class (F1)"
    ));
    for m in &report.models {
        let weakest = m
            .per_class
            .iter()
            .filter(|c| c.support > 0)
            .min_by(|a, b| a.f1.point.total_cmp(&b.f1.point))
            .map(|c| format!("{} {:.2}", c.label, c.f1.point))
            .unwrap_or_default();
        out.push_str(&format!(
            "{:<24} {:>24} {:>8.3} {:>+8.3}  {}\n",
            format!("{}-{}", m.model, m.variant),
            interval_text(&m.macro_f1),
            m.in_distribution.macro_f1.point,
            m.generalization_gap.point,
            weakest
        ));
    }
    if let Some(untested) = report.models.first().map(|m| &m.untested_profiles).filter(|u| !u.is_empty()) {
        out.push_str(&format!("untested profiles (no held-out episode): {}\n", untested.join(", ")));
    }
    for s in &report.skipped {
        out.push_str(&format!("skipped {}: {}\n", s.checkpoint, s.reason));
    }
    let mut significant: Vec<&Comparison> = report.comparisons.iter().filter(|c| c.significant).collect();
    significant.sort_by(|a, b| b.delta.point.abs().total_cmp(&a.delta.point.abs()));
    out.push_str(&format!(
        "{} of {} paired comparisons significant (Holm p < {SIGNIFICANCE})\n",
        significant.len(),
        report.comparisons.len()
    ));
    for c in significant.iter().take(8) {
        out.push_str(&format!(
            "  {} - {}: {:+.3} [{:+.3}, {:+.3}], p_holm {:.4}\n",
            c.a.name(),
            c.b.name(),
            c.delta.point,
            c.delta.lo,
            c.delta.hi,
            c.p_holm
        ));
    }
    out
}
