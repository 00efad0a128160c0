//! The evaluation report (`RUN/eval/report.json`, format
//! `cis490-eval/1`, documented in `docs/evaluation.md`) and its terminal
//! summary.

use super::bootstrap::Interval;
use super::scoring::{ClassScores, GroupScores};

/// The report format written in `format`.
pub const FORMAT: &str = "cis490-eval/1";
/// Holm-adjusted p-values below this are called significant.
pub const SIGNIFICANCE: f64 = 0.05;

/// The whole report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Report {
    /// [`FORMAT`].
    pub format: String,
    /// The training run evaluated.
    pub run: String,
    /// The split and its sides.
    pub split: SplitSummary,
    /// How intervals and p-values were computed.
    pub bootstrap: BootstrapSettings,
    /// All class labels, in model output order.
    pub labels: Vec<String>,
    /// One entry per model × variant, scored on the held-out test side.
    pub models: Vec<ModelEntry>,
    /// Paired comparisons of models on the held-out test side.
    pub comparisons: Vec<Comparison>,
    /// Checkpoints of the run that could not be loaded, with the reason.
    pub skipped: Vec<SkippedModel>,
}

/// A checkpoint left out of the evaluation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SkippedModel {
    /// The checkpoint file.
    pub checkpoint: String,
    /// Why it could not be loaded.
    pub reason: String,
}

/// The split the models were scored on.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SplitSummary {
    /// The split file.
    pub file: String,
    /// `host`, `sample` or `time`.
    pub recipe: String,
    /// What was held out.
    pub held_out: Vec<String>,
    /// Fingerprint of the sides (checkpoints record it at training).
    pub digest: String,
    /// Held-out test episodes.
    pub test_episodes: usize,
    /// In-distribution test episodes.
    pub in_distribution_episodes: usize,
    /// Which side gave the in-distribution number: `in_distribution` (the
    /// split's carve-out, never seen in training) or `validation` (splits
    /// made without one; optimistic, as early stopping chose on it).
    pub in_distribution_source: String,
}

/// The resampling behind every interval and p-value.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BootstrapSettings {
    /// Always `episode`: whole episodes are resampled.
    pub unit: String,
    /// Number of resamples.
    pub resamples: usize,
    /// Seed of the draws.
    pub seed: u64,
    /// Interval coverage, e.g. 0.95.
    pub confidence: f64,
    /// How intervals are read off the resamples.
    pub interval: String,
    /// How p-values are computed.
    pub p_value: String,
    /// Correction for many comparisons.
    pub correction: String,
    /// The macro F1 convention.
    pub macro_f1: String,
}

/// A confusion matrix over the labels seen in truth or predictions.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConfusionEntry {
    /// Row and column labels.
    pub labels: Vec<String>,
    /// `matrix[truth][predicted]` window counts.
    pub matrix: Vec<Vec<u64>>,
}

/// The in-distribution side's scores, beside a held-out entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InDistribution {
    /// Episodes scored.
    pub episodes: usize,
    /// Windows scored.
    pub windows: u64,
    /// Macro F1.
    pub macro_f1: Interval,
    /// Accuracy.
    pub accuracy: Interval,
    /// Per-class scores.
    pub per_class: Vec<ClassScores>,
}

/// One model × variant.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ModelEntry {
    /// Architecture.
    pub model: String,
    /// Threat model.
    pub variant: String,
    /// The split's recipe.
    pub split: String,
    /// The checkpoint scored.
    pub checkpoint: String,
    /// Held-out test episodes scored.
    pub episodes: usize,
    /// Held-out test windows scored.
    pub windows: u64,
    /// Macro F1 on the held-out test side.
    pub macro_f1: Interval,
    /// Accuracy on the held-out test side.
    pub accuracy: Interval,
    /// Per-class scores.
    pub per_class: Vec<ClassScores>,
    /// Per profile of the episodes.
    pub per_profile: Vec<GroupScores>,
    /// Per host.
    pub per_host: Vec<GroupScores>,
    /// Confusion matrix.
    pub confusion: ConfusionEntry,
    /// Profiles with no held-out test episode: not in these numbers.
    pub untested_profiles: Vec<String>,
    /// The same model on the in-distribution side.
    pub in_distribution: InDistribution,
    /// In-distribution minus held-out macro F1 (independent resamples).
    pub generalization_gap: Interval,
}

/// A model named by architecture and variant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModelRef {
    /// Architecture.
    pub model: String,
    /// Threat model.
    pub variant: String,
}

/// A paired comparison on the held-out test side's resamples.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Comparison {
    /// The split's recipe.
    pub split: String,
    /// First model.
    pub a: ModelRef,
    /// Second model.
    pub b: ModelRef,
    /// Macro F1 of a minus that of b.
    pub delta: Interval,
    /// Two-sided p-value of no difference.
    pub p_value: f64,
    /// Holm-adjusted over every comparison of the report.
    pub p_holm: f64,
    /// `p_holm` < [`SIGNIFICANCE`].
    pub significant: bool,
}

fn interval_text(i: &Interval) -> String {
    format!("{:.3} [{:.3}, {:.3}]", i.point, i.lo, i.hi)
}

fn name(m: &ModelRef) -> String {
    format!("{}-{}", m.model, m.variant)
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
            name(&c.a),
            name(&c.b),
            c.delta.point,
            c.delta.lo,
            c.delta.hi,
            c.p_holm
        ));
    }
    out
}
