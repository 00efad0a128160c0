//! What the dashboard keeps of `metrics` events (one model × variant ×
//! split of an evaluation report, `docs/evaluation.md`), and the grids the
//! metrics scene draws from them: models × profiles, models × hosts, and
//! the paired-significance matrix. Pure: unit-tested natively.
//!
//! The parts are the report's own types ([`cis490_shared::evaluation`]),
//! read by [`MetricsEvent::sections`]: only `model`, `variant`, `split` and
//! `macro_f1` are required (the earlier Python producers sent little
//! else); every other part is shown when present.

use cis490_shared::events::MetricsEvent;

pub use cis490_shared::evaluation::{ClassScores, Comparison, ConfusionEntry, GroupScores, Interval};

/// One line for a tooltip: every number a profile's or host's scores have.
pub fn group_detail(g: &GroupScores) -> String {
    let mut parts = vec![format!("{} episodes", g.episodes)];
    if let Some(f1) = g.macro_f1.known() {
        parts.push(format!("macro F1 {}", f1.text()));
    }
    if let Some(recall) = g.recall {
        parts.push(format!("recall {}", recall.text()));
    }
    if let Some(d) = g.attack_detected {
        parts.push(format!("attack detected {:.1} %", d * 100.0));
    }
    if let Some(f) = g.false_alarm {
        parts.push(format!("false alarm {:.1} %", f * 100.0));
    }
    format!("{}: {}", g.name, parts.join(", "))
}

/// One model × variant × split of an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsEntry {
    /// Architecture.
    pub model: String,
    /// Threat model.
    pub variant: String,
    /// Split recipe.
    pub split: String,
    /// Held-out macro F1.
    pub macro_f1: Interval,
    /// In-distribution macro F1, when the event has it.
    pub in_distribution: Option<Interval>,
    /// In-distribution minus held-out.
    pub gap: Option<Interval>,
    /// Per-class scores, in report order.
    pub per_class: Vec<ClassScores>,
    /// Per profile of the held-out episodes.
    pub per_profile: Vec<GroupScores>,
    /// Per held-out host.
    pub per_host: Vec<GroupScores>,
    /// The confusion matrix (empty when the event has none).
    pub confusion: ConfusionEntry,
    /// Profiles without held-out test episodes.
    pub untested_profiles: Vec<String>,
    /// Paired comparisons in which this model is `a` or `b`.
    pub comparisons: Vec<Comparison>,
}

impl MetricsEntry {
    /// What the dashboard keeps of a `metrics` event.
    pub fn from_event(event: &MetricsEvent) -> MetricsEntry {
        let sections = event.sections();
        MetricsEntry {
            model: event.model.clone(),
            variant: event.variant.clone(),
            split: event.split.clone(),
            macro_f1: event.macro_f1.interval(),
            in_distribution: sections.in_distribution.map(|d| d.macro_f1),
            gap: sections.generalization_gap,
            per_class: sections.per_class,
            per_profile: sections.per_profile,
            per_host: sections.per_host,
            confusion: sections.confusion.unwrap_or(ConfusionEntry { labels: Vec::new(), matrix: Vec::new() }),
            untested_profiles: event.untested_profile_names(),
            comparisons: sections.comparisons,
        }
    }

    /// `model-variant`.
    pub fn name(&self) -> String {
        format!("{}-{}", self.model, self.variant)
    }

    /// Whether a comparison made on `split` (or on an unnamed one) is of
    /// this entry's split.
    fn on_split(&self, split: Option<&str>) -> bool {
        split.is_none_or(|s| s == self.split)
    }
}

/// What to call each entry in tables: `model-variant`, with ` (split)`
/// added when the entries span more than one split.
pub fn display_names(entries: &[MetricsEntry]) -> Vec<String> {
    let several = entries.iter().any(|e| e.split != entries[0].split);
    entries.iter().map(|e| if several { format!("{} ({})", e.name(), e.split) } else { e.name() }).collect()
}

/// Groups (profiles or hosts) × models: `rows` in first-seen order, and
/// `cells[row][column]` the group's scores of `entries[column]`, if it has
/// that group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupGrid {
    /// Group names.
    pub rows: Vec<String>,
    /// One row per group, one cell per entry.
    pub cells: Vec<Vec<Option<GroupScores>>>,
}

/// The grid of `groups(entry)` over `entries`.
pub fn group_grid(entries: &[MetricsEntry], groups: fn(&MetricsEntry) -> &[GroupScores]) -> GroupGrid {
    let mut rows: Vec<String> = Vec::new();
    for g in entries.iter().flat_map(groups) {
        if !rows.contains(&g.name) {
            rows.push(g.name.clone());
        }
    }
    let cells = rows
        .iter()
        .map(|row| entries.iter().map(|e| groups(e).iter().find(|g| &g.name == row).cloned()).collect())
        .collect();
    GroupGrid { rows, cells }
}

/// The paired comparisons among `entries` as a square matrix (a
/// comparison belongs to the entries of its split):
/// `cells[i][j]` compares `entries[i]` with `entries[j]` as `i − j`
/// (a comparison reported as `j − i` is turned round), `None` where the
/// evaluation made none (e.g. across variants of different architectures)
/// or on the diagonal. Comparisons repeated by several entries count once.
pub fn significance_matrix(entries: &[MetricsEntry]) -> Vec<Vec<Option<Comparison>>> {
    let mut cells = vec![vec![None; entries.len()]; entries.len()];
    let find = |name: String, split: Option<&str>| entries.iter().position(|e| e.name() == name && e.on_split(split));
    for c in entries.iter().flat_map(|e| &e.comparisons) {
        let (Some(i), Some(j)) = (find(c.a.name(), c.split.as_deref()), find(c.b.name(), c.split.as_deref())) else {
            continue;
        };
        if i == j {
            continue;
        }
        cells[j][i] = Some(Comparison { a: c.b.clone(), b: c.a.clone(), delta: c.delta.negated(), ..c.clone() });
        cells[i][j] = Some(c.clone());
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;
    use cis490_shared::events::Event;
    use serde_json::{Value, json};

    fn f1(p: f64) -> Value {
        json!({"point": p, "lo": p - 0.05, "hi": p + 0.05})
    }

    fn entry(model: &str, variant: &str, extra: Value) -> MetricsEntry {
        let mut event =
            json!({"type": "metrics", "model": model, "variant": variant, "split": "host", "macro_f1": f1(0.8)});
        if let (Some(e), Some(x)) = (event.as_object_mut(), extra.as_object()) {
            e.extend(x.clone());
        }
        match Event::from_value(event.clone()) {
            Ok(Event::Metrics(metrics)) => MetricsEntry::from_event(&metrics),
            _ => panic!("not a metrics event: {event}"),
        }
    }

    #[test]
    fn breakdowns_and_comparisons_are_read_from_the_report_schema() {
        let e = entry(
            "gbt",
            "realistic",
            json!({
                "per_profile": [{"name": "io-walk", "episodes": 4, "windows": 90, "macro_f1": f1(0.7),
                                 "accuracy": f1(0.8), "recall": f1(0.6), "attack_detected": 0.75, "false_alarm": null},
                                {"nameless": true}],
                "per_host": [{"name": "rpi-01", "episodes": 9, "macro_f1": f1(0.9), "false_alarm": 0.02}],
                "comparisons": [{"split": "host", "a": {"model": "gbt", "variant": "realistic"},
                                 "b": {"model": "mlp", "variant": "realistic"}, "delta": f1(0.2),
                                 "p_value": 0.001, "p_holm": 0.018, "significant": true},
                                {"a": {"model": "gbt"}, "b": {}, "delta": f1(0.1), "p_holm": 0.5}],
            }),
        );
        assert_eq!(e.per_profile.len(), 1, "an unnamed group is left out");
        let io = &e.per_profile[0];
        assert_eq!(
            (io.episodes, io.recall.map(|r| r.point), io.attack_detected, io.false_alarm),
            (4, Some(0.6), Some(0.75), None)
        );
        assert_eq!(
            group_detail(io),
            "io-walk: 4 episodes, macro F1 0.700 [0.650, 0.750], recall 0.600 [0.550, 0.650], attack detected 75.0 %"
        );
        assert_eq!(e.per_host[0].false_alarm, Some(0.02));
        assert_eq!(e.comparisons.len(), 1, "a comparison without both sides is left out");
        assert_eq!(
            (e.comparisons[0].b.name(), e.comparisons[0].p_holm, e.comparisons[0].significant),
            ("mlp-realistic".to_string(), 0.018, true)
        );
        // A minimal event (earlier producers) still reads, with empty breakdowns.
        let bare = entry("mlp", "oracle", json!({}));
        assert!(bare.per_profile.is_empty() && bare.per_host.is_empty() && bare.comparisons.is_empty());
    }

    #[test]
    fn group_grid_lines_up_groups_across_models() {
        let group = |name: &str, p: f64| json!({"name": name, "episodes": 1, "macro_f1": f1(p)});
        let entries = [
            entry("gbt", "realistic", json!({"per_profile": [group("benign", 0.9), group("io-walk", 0.8)]})),
            entry("mlp", "realistic", json!({"per_profile": [group("bursty-c2", 0.5), group("benign", 0.7)]})),
        ];
        let grid = group_grid(&entries, |e| &e.per_profile);
        assert_eq!(grid.rows, vec!["benign", "io-walk", "bursty-c2"]);
        let point = |r: usize, c: usize| grid.cells[r][c].as_ref().and_then(|g| g.macro_f1.known()).map(|i| i.point);
        assert_eq!((point(0, 0), point(0, 1)), (Some(0.9), Some(0.7)));
        assert_eq!((point(1, 1), point(2, 0), point(2, 1)), (None, None, Some(0.5)));
    }

    #[test]
    fn significance_matrix_is_antisymmetric_and_counts_repeats_once() {
        let cmp = |a: (&str, &str), b: (&str, &str), d: f64, p: f64| {
            json!({"a": {"model": a.0, "variant": a.1}, "b": {"model": b.0, "variant": b.1},
                   "delta": {"point": d, "lo": d - 0.1, "hi": d + 0.05}, "p_holm": p, "significant": p < 0.05})
        };
        let gm = cmp(("gbt", "realistic"), ("mlp", "realistic"), 0.2, 0.01);
        let mo = cmp(("mlp", "realistic"), ("mlp", "oracle"), -0.15, 0.2);
        let unknown = cmp(("gbt", "realistic"), ("cnn", "realistic"), 0.1, 0.5);
        let entries = [
            entry("gbt", "realistic", json!({"comparisons": [gm.clone(), unknown]})),
            entry("mlp", "realistic", json!({"comparisons": [gm, mo.clone()]})),
            entry("mlp", "oracle", json!({"comparisons": [mo]})),
        ];
        let m = significance_matrix(&entries);
        let delta =
            |i: usize, j: usize| m[i][j].as_ref().map(|c| (c.delta.point, c.delta.lo, c.delta.hi, c.significant));
        assert_eq!(delta(0, 1), Some((0.2, 0.1, 0.25, true)));
        assert_eq!(delta(1, 0), Some((-0.2, -0.25, -0.1, true)), "turned round, interval too");
        let sides = m[1][0].as_ref().map(|c| (c.a.name(), c.b.name()));
        assert_eq!(sides, Some(("mlp-realistic".into(), "gbt-realistic".into())));
        assert_eq!(delta(1, 2).map(|d| d.0), Some(-0.15));
        assert_eq!(delta(2, 1).map(|d| d.0), Some(0.15));
        assert_eq!((delta(0, 2), delta(0, 0), delta(2, 2)), (None, None, None), "no comparison made, diagonal");
    }

    #[test]
    fn entries_of_two_splits_are_told_apart() {
        let on = |split: &str, d: f64| {
            json!({"split": split, "a": {"model": "gbt", "variant": "realistic"}, "b": {"model": "mlp", "variant": "realistic"},
                   "delta": {"point": d, "lo": d, "hi": d}, "p_holm": 0.01})
        };
        let entry_on = |model: &str, split: &str, cmp: Value| {
            let mut e = entry(model, "realistic", json!({"comparisons": [cmp]}));
            e.split = split.into();
            e
        };
        let entries = [
            entry_on("gbt", "host", on("host", 0.2)),
            entry_on("mlp", "host", on("host", 0.2)),
            entry_on("gbt", "time", on("time", -0.1)),
            entry_on("mlp", "time", on("time", -0.1)),
        ];
        let m = significance_matrix(&entries);
        let delta = |i: usize, j: usize| m[i][j].as_ref().map(|c| c.delta.point);
        assert_eq!((delta(0, 1), delta(2, 3), delta(3, 2)), (Some(0.2), Some(-0.1), Some(0.1)));
        assert_eq!((delta(0, 3), delta(2, 1)), (None, None), "never across splits");
        assert_eq!(display_names(&entries)[2], "gbt-realistic (time)");
        assert_eq!(display_names(&entries[..2]), ["gbt-realistic", "mlp-realistic"]);
    }
}
