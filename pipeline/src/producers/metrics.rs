//! `metrics` events from an evaluation report (`RUN/eval/report.json`,
//! see `docs/evaluation.md`): one event per model × variant × split entry
//! of `models`, each carrying the report's paired comparisons in which that
//! model × variant is `a` or `b`.

use std::path::Path;

use cis490_shared::Cause;
use cis490_shared::evaluation::Report;
use cis490_shared::events::{Event, EventError};
use serde_json::Value;

/// The report could not be turned into events.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Unreadable file or not a report.
    #[error("cannot read {path}")]
    Read {
        /// The report.
        path: String,
        /// What went wrong.
        #[source]
        source: Cause,
    },
    /// An entry is not a valid `metrics` event (an undefined macro F1).
    #[error("{path}: models[{index}] is not a metrics event")]
    Entry {
        /// The report.
        path: String,
        /// Position in `models`.
        index: usize,
        /// The schema error.
        source: EventError,
    },
}

/// The `metrics` events of the report at `path`: each entry's fields,
/// `type`, and its comparisons.
pub fn events(path: &Path) -> Result<Vec<Event>, MetricsError> {
    let shown = path.display().to_string();
    let read = |source: Cause| MetricsError::Read { path: shown.clone(), source };
    let bytes = std::fs::read(path).map_err(|e| read(e.into()))?;
    let report: Report = serde_json::from_slice(&bytes).map_err(|e| read(e.into()))?;
    let entry_event = |index: usize, entry| -> Result<Event, MetricsError> {
        let json = |e: serde_json::Error| read(format!("models[{index}]: {e}").into());
        let mut value = serde_json::to_value(entry).map_err(json)?;
        if let Value::Object(fields) = &mut value {
            fields.insert("type".into(), "metrics".into());
            fields.insert("comparisons".into(), serde_json::to_value(report.comparisons_of(entry)).map_err(json)?);
        }
        Event::from_value(value).map_err(|source| MetricsError::Entry { path: shown.clone(), index, source })
    };
    report.models.iter().enumerate().map(|(index, entry)| entry_event(index, entry)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cis490_shared::evaluation::{
        BootstrapSettings, Comparison, ConfusionEntry, InDistribution, Interval, ModelEntry, ModelRef, SplitSummary,
    };

    fn f1(point: f64) -> Interval {
        Interval { point, lo: point - 0.05, hi: point + 0.05 }
    }

    fn entry(model: &str, variant: &str, point: f64) -> ModelEntry {
        ModelEntry {
            model: model.into(),
            variant: variant.into(),
            split: "host".into(),
            checkpoint: format!("run/{model}-{variant}/checkpoint.bin"),
            episodes: 3,
            windows: 30,
            macro_f1: f1(point),
            accuracy: f1(point),
            per_class: Vec::new(),
            per_profile: Vec::new(),
            per_host: Vec::new(),
            confusion: ConfusionEntry { labels: vec!["benign".into()], matrix: vec![vec![30]] },
            untested_profiles: vec!["scan-and-dial".into()],
            in_distribution: InDistribution {
                episodes: 2,
                windows: 20,
                macro_f1: f1(0.9),
                accuracy: f1(0.9),
                per_class: Vec::new(),
            },
            generalization_gap: f1(0.9 - point),
        }
    }

    fn report(models: Vec<ModelEntry>) -> Report {
        let side = |model: &str, variant: &str| ModelRef { model: model.into(), variant: variant.into() };
        let compare = |a, b, p_holm| Comparison {
            split: Some("host".into()),
            a,
            b,
            delta: f1(0.1),
            p_value: p_holm,
            p_holm,
            significant: p_holm < 0.05,
        };
        Report {
            format: cis490_shared::evaluation::FORMAT.into(),
            run: "run".into(),
            split: SplitSummary {
                file: "split.json".into(),
                recipe: "host".into(),
                held_out: vec!["rpi-01".into()],
                digest: "d".into(),
                test_episodes: 3,
                in_distribution_episodes: 2,
                in_distribution_source: "in_distribution".into(),
            },
            bootstrap: BootstrapSettings {
                unit: "episode".into(),
                resamples: 100,
                seed: 1,
                confidence: 0.95,
                interval: "percentile".into(),
                p_value: "paired".into(),
                correction: "holm".into(),
                macro_f1: "macro".into(),
            },
            labels: vec!["benign".into()],
            models,
            comparisons: vec![
                compare(side("gbt", "realistic"), side("mlp", "realistic"), 0.01),
                compare(side("gbt", "oracle"), side("mlp", "oracle"), 0.2),
            ],
            skipped: Vec::new(),
        }
    }

    #[test]
    fn report_entries_become_metrics_events_with_their_comparisons() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("report.json");
        let written = report(vec![entry("gbt", "realistic", 0.8), entry("mlp", "realistic", 0.7)]);
        std::fs::write(&path, serde_json::to_vec_pretty(&written)?)?;
        let events = events(&path)?;
        assert_eq!(events.len(), 2);
        let Event::Metrics(mlp) = &events[1] else { return Err("not a metrics event".into()) };
        assert_eq!((mlp.model.as_str(), mlp.macro_f1.interval()), ("mlp", f1(0.7)));
        let sections = mlp.sections();
        assert_eq!(sections.comparisons, written.comparisons[..1].to_vec(), "only its own comparisons");
        assert_eq!(sections.in_distribution.map(|d| d.windows), Some(20));
        assert_eq!(mlp.untested_profile_names(), vec!["scan-and-dial"]);
        // Every field of the entry reaches the event.
        let event_fields = serde_json::to_value(&events[0])?;
        let entry_fields = serde_json::to_value(&written.models[0])?;
        for (name, value) in entry_fields.as_object().into_iter().flatten() {
            assert_eq!(event_fields.get(name), Some(value), "{name}");
        }
        Ok(())
    }

    #[test]
    fn a_damaged_report_or_an_undefined_macro_f1_is_named() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("report.json");
        std::fs::write(&path, r#"{"models": [{"model": "gbt"}]}"#)?;
        let err = events(&path).err().map(|e| crate::error_chain(&e)).unwrap_or_default();
        assert!(err.contains("report.json") && err.contains("missing field"), "{err}");
        let mut undefined = entry("gbt", "realistic", 0.8);
        undefined.macro_f1.lo = f64::NAN;
        std::fs::write(&path, serde_json::to_vec(&report(vec![entry("cnn", "oracle", 0.5), undefined]))?)?;
        let err = events(&path).err().map(|e| crate::error_chain(&e)).unwrap_or_default();
        assert!(err.contains("models[1]") && err.contains("macro_f1.lo"), "{err}");
        Ok(())
    }
}
