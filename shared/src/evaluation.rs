//! The evaluation report (`RUN/eval/report.json`, format [`FORMAT`],
//! documented in `docs/evaluation.md`) as types: the backend writes a
//! [`Report`], the `metrics` producer reads it back, and the dashboard reads
//! its parts from `metrics` events. The conventions every reader shares
//! live here once: the significance threshold ([`SIGNIFICANCE`]), the order
//! models are listed in ([`MODEL_ORDER`], [`VARIANT_ORDER`],
//! [`report_order`]); the label order is [`crate::label::Label::ALL`].
//!
//! Serialization is the report format itself: field order and number
//! formatting are what `cis490 eval` has always written (NaN, an undefined
//! score or bound, is `null`). Reading accepts what the dashboard has met
//! from sparser producers: interval bounds may be missing (NaN), counts
//! default to 0, a group's scores may be missing (NaN), a confusion count
//! written as a float counts, and a comparison may come without its
//! split, its raw or its Holm-adjusted p-value (the other stands in) and
//! its `significant` flag (Holm p < [`SIGNIFICANCE`]).

use serde::{Deserialize, Deserializer, Serialize};

/// The report format written in `format`.
pub const FORMAT: &str = "cis490-eval/1";
/// Holm-adjusted p-values below this are called significant.
pub const SIGNIFICANCE: f64 = 0.05;
/// The six architectures in the order reports and dashboards list them.
pub const MODEL_ORDER: [&str; 6] = ["gbt", "mlp", "cnn", "gru", "lstm", "transformer"];
/// The threat models in the order reports and dashboards list them.
pub const VARIANT_ORDER: [&str; 2] = ["realistic", "oracle"];

/// Where a model × variant goes in a report: by [`MODEL_ORDER`], then
/// [`VARIANT_ORDER`]; names not listed come after the listed ones.
pub fn report_order(model: &str, variant: &str) -> (usize, usize) {
    let rank = |names: &[&str], name: &str| names.iter().position(|n| *n == name).unwrap_or(names.len());
    (rank(&MODEL_ORDER, model), rank(&VARIANT_ORDER, variant))
}

/// A number that is NaN where the report has `null` (an undefined score).
fn nan_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

fn nan() -> f64 {
    f64::NAN
}

/// A point estimate and its percentile interval (NaN where undefined).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// The estimate on the data as observed.
    #[serde(deserialize_with = "nan_if_null")]
    pub point: f64,
    /// Lower bound.
    #[serde(default = "nan", deserialize_with = "nan_if_null")]
    pub lo: f64,
    /// Upper bound.
    #[serde(default = "nan", deserialize_with = "nan_if_null")]
    pub hi: f64,
}

impl Interval {
    /// Nothing known: every part NaN.
    pub const UNKNOWN: Interval = Interval { point: f64::NAN, lo: f64::NAN, hi: f64::NAN };

    /// The interval when its estimate is known (a number).
    pub fn known(self) -> Option<Interval> {
        self.point.is_finite().then_some(self)
    }

    /// The interval with its sign flipped (a − b read as b − a).
    pub fn negated(self) -> Interval {
        Interval { point: -self.point, lo: -self.hi, hi: -self.lo }
    }

    /// `0.905 [0.853, 0.945]`, or just the estimate without bounds.
    pub fn text(&self) -> String {
        if self.lo.is_finite() && self.hi.is_finite() {
            format!("{:.3} [{:.3}, {:.3}]", self.point, self.lo, self.hi)
        } else {
            format!("{:.3}", self.point)
        }
    }
}

fn unknown() -> Interval {
    Interval::UNKNOWN
}

/// Per-class scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// The label.
    pub label: String,
    /// Windows whose truth is this label.
    #[serde(default)]
    pub support: u64,
    /// Windows predicted as this label.
    #[serde(default)]
    pub predicted: u64,
    /// Precision (null when never predicted).
    pub precision: Option<f64>,
    /// Recall (null when absent from the truth).
    pub recall: Option<f64>,
    /// F1 with its interval.
    pub f1: Interval,
}

/// Scores of a group of episodes (one profile or one host).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupScores {
    /// The profile (`benign` for all-benign episodes) or the host id.
    pub name: String,
    /// Episodes with at least one scored window.
    #[serde(default)]
    pub episodes: usize,
    /// Windows scored.
    #[serde(default)]
    pub windows: u64,
    /// Macro F1 over the group's windows.
    #[serde(default = "unknown")]
    pub macro_f1: Interval,
    /// Accuracy over the group's windows.
    #[serde(default = "unknown")]
    pub accuracy: Interval,
    /// Profiles only: recall of the profile's own label (benign: benign
    /// windows called benign).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall: Option<Interval>,
    /// Attack-labelled windows predicted as any attack (null without any).
    pub attack_detected: Option<f64>,
    /// Benign windows predicted as an attack (null without any).
    pub false_alarm: Option<f64>,
}

/// Window counts, where a count written as a float (`850.0`) still counts
/// and anything else is 0, keeping the columns aligned.
fn lenient_counts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u64>>, D::Error> {
    let rows = Vec::<Vec<serde_json::Value>>::deserialize(d)?;
    Ok(rows
        .iter()
        .map(|row| row.iter().map(|n| n.as_f64().map_or(0, |n| n.max(0.0).round() as u64)).collect())
        .collect())
}

/// A confusion matrix over the labels seen in truth or predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfusionEntry {
    /// Row and column labels.
    pub labels: Vec<String>,
    /// `matrix[truth][predicted]` window counts.
    #[serde(deserialize_with = "lenient_counts")]
    pub matrix: Vec<Vec<u64>>,
}

/// The in-distribution side's scores, beside a held-out entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InDistribution {
    /// Episodes scored.
    #[serde(default)]
    pub episodes: usize,
    /// Windows scored.
    #[serde(default)]
    pub windows: u64,
    /// Macro F1.
    pub macro_f1: Interval,
    /// Accuracy.
    #[serde(default = "unknown")]
    pub accuracy: Interval,
    /// Per-class scores.
    #[serde(default)]
    pub per_class: Vec<ClassScores>,
}

/// One model × variant, scored on the held-out test side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRef {
    /// Architecture.
    pub model: String,
    /// Threat model.
    pub variant: String,
}

impl ModelRef {
    /// `model-variant`, as run folders and tables name it.
    pub fn name(&self) -> String {
        format!("{}-{}", self.model, self.variant)
    }
}

/// A paired comparison on the held-out test side's resamples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ComparisonAsRead")]
pub struct Comparison {
    /// The split's recipe (`None` when a producer did not say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
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

/// A comparison as read, before the missing parts are filled in.
#[derive(Deserialize)]
struct ComparisonAsRead {
    split: Option<String>,
    a: ModelRef,
    b: ModelRef,
    delta: Interval,
    p_value: Option<f64>,
    p_holm: Option<f64>,
    significant: Option<bool>,
}

impl TryFrom<ComparisonAsRead> for Comparison {
    type Error = &'static str;

    fn try_from(c: ComparisonAsRead) -> Result<Self, Self::Error> {
        let p_holm = c.p_holm.or(c.p_value).ok_or("a comparison needs p_holm or p_value")?;
        Ok(Comparison {
            split: c.split,
            a: c.a,
            b: c.b,
            delta: c.delta,
            p_value: c.p_value.unwrap_or(p_holm),
            p_holm,
            significant: c.significant.unwrap_or(p_holm < SIGNIFICANCE),
        })
    }
}

/// A checkpoint left out of the evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedModel {
    /// The checkpoint file.
    pub checkpoint: String,
    /// Why it could not be loaded.
    pub reason: String,
}

/// The split the models were scored on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

impl Report {
    /// The comparisons in which `entry`'s model × variant is `a` or `b`.
    pub fn comparisons_of(&self, entry: &ModelEntry) -> Vec<Comparison> {
        let is_entry = |m: &ModelRef| m.model == entry.model && m.variant == entry.variant;
        self.comparisons.iter().filter(|c| is_entry(&c.a) || is_entry(&c.b)).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn undefined_scores_are_null_in_the_file_and_nan_when_read() -> Result<(), serde_json::Error> {
        let i = Interval { point: 0.5, lo: f64::NAN, hi: 0.75 };
        let text = serde_json::to_string(&i)?;
        assert_eq!(text, r#"{"point":0.5,"lo":null,"hi":0.75}"#);
        let back: Interval = serde_json::from_str(&text)?;
        assert!(back.lo.is_nan() && back.hi == 0.75);
        let bare: Interval = serde_json::from_str(r#"{"point": 1}"#)?;
        assert_eq!((bare.point, bare.text()), (1.0, "1.000".to_string()));
        assert_eq!(Interval::UNKNOWN.known(), None);
        assert_eq!(i.negated().lo, -0.75);
        Ok(())
    }

    #[test]
    fn a_comparison_without_split_holm_or_flag_is_completed() -> Result<(), serde_json::Error> {
        let delta = json!({"point": 0.1, "lo": 0.0, "hi": 0.2});
        let sides =
            json!({"a": {"model": "gbt", "variant": "realistic"}, "b": {"model": "mlp", "variant": "realistic"}});
        let with = |extra: serde_json::Value| {
            let mut c = sides.clone();
            if let (Some(c), Some(extra)) = (c.as_object_mut(), extra.as_object()) {
                c.extend(extra.clone());
                c.insert("delta".into(), delta.clone());
            }
            serde_json::from_value::<Comparison>(c)
        };
        let raw_only = with(json!({"p_value": 0.01}))?;
        assert_eq!((raw_only.split, raw_only.p_holm, raw_only.significant), (None, 0.01, true));
        let holm_only = with(json!({"split": "host", "p_holm": SIGNIFICANCE}))?;
        assert_eq!((holm_only.p_value, holm_only.significant), (SIGNIFICANCE, false), "not below the threshold");
        let flagged = with(json!({"p_value": 0.2, "p_holm": 0.9, "significant": true}))?;
        assert!(flagged.significant, "the report's flag wins");
        assert!(with(json!({})).is_err(), "no p-value at all");
        assert_eq!(raw_only.a.name(), "gbt-realistic");
        Ok(())
    }

    #[test]
    fn sparse_parts_read_with_defaults() -> Result<(), serde_json::Error> {
        let class: ClassScores = serde_json::from_value(json!({"label": "benign", "f1": {"point": 0.9}}))?;
        assert_eq!((class.support, class.precision), (0, None));
        let group: GroupScores = serde_json::from_value(json!({"name": "rpi-01", "false_alarm": 0.02}))?;
        assert_eq!((group.episodes, group.macro_f1.known(), group.false_alarm), (0, None, Some(0.02)));
        let confusion: ConfusionEntry =
            serde_json::from_value(json!({"labels": ["a", "b"], "matrix": [[850.0, "x"], [1, 2]]}))?;
        assert_eq!(confusion.matrix, vec![vec![850, 0], vec![1, 2]]);
        Ok(())
    }

    #[test]
    fn models_are_ordered_by_architecture_then_realistic_first() {
        let mut names = vec![("mlp", "oracle"), ("zeta", "realistic"), ("gbt", "oracle"), ("mlp", "realistic")];
        names.sort_by_key(|(m, v)| report_order(m, v));
        assert_eq!(names, vec![("gbt", "oracle"), ("mlp", "realistic"), ("mlp", "oracle"), ("zeta", "realistic")]);
    }
}
