//! `metrics` events from an evaluation report (`RUN/eval/report.json`,
//! see `docs/evaluation.md`): one event per model × variant × split entry
//! of `models`, each carrying the report's paired comparisons in which that
//! model × variant is `a` or `b`.

use std::path::Path;

use cis490_shared::Cause;
use cis490_shared::events::{EventError, check_event};
use serde_json::Value;

/// The report could not be turned into events.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Unreadable file or not JSON.
    #[error("cannot read {path}")]
    Read {
        /// The report.
        path: String,
        /// What went wrong.
        #[source]
        source: Cause,
    },
    /// An entry is not a valid `metrics` event.
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

/// The `metrics` events of the report at `path`.
pub fn events(path: &Path) -> Result<Vec<Value>, MetricsError> {
    let shown = path.display().to_string();
    let read = |source: Cause| MetricsError::Read { path: shown.clone(), source };
    let report: Value =
        serde_json::from_slice(&std::fs::read(path).map_err(|e| read(e.into()))?).map_err(|e| read(e.into()))?;
    let models = report.get("models").and_then(Value::as_array).ok_or_else(|| read("no `models` array".into()))?;
    let comparisons = report.get("comparisons").and_then(Value::as_array).cloned().unwrap_or_default();
    models
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let mut event = entry.clone();
            let Some(obj) = event.as_object_mut() else {
                return Err(MetricsError::Entry { path: shown.clone(), index, source: EventError::NotAnObject });
            };
            obj.insert("type".into(), "metrics".into());
            let model = obj.get("model").and_then(Value::as_str).unwrap_or_default().to_string();
            let variant = obj.get("variant").and_then(Value::as_str).unwrap_or_default().to_string();
            let is_this = |side: Option<&Value>| {
                let field = |k: &str| side.and_then(|s| s.get(k)).and_then(Value::as_str);
                field("model") == Some(model.as_str()) && field("variant") == Some(variant.as_str())
            };
            let mine: Vec<Value> =
                comparisons.iter().filter(|c| is_this(c.get("a")) || is_this(c.get("b"))).cloned().collect();
            obj.entry("comparisons").or_insert(Value::Array(mine));
            check_event(&event).map_err(|source| MetricsError::Entry { path: shown.clone(), index, source })?;
            Ok(event)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_entries_become_metrics_events_with_their_comparisons() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("report.json");
        let f1 = |p: f64| serde_json::json!({"point": p, "lo": p - 0.05, "hi": p + 0.05});
        let report = serde_json::json!({
            "models": [
                {"model": "gbt", "variant": "realistic", "split": "host", "macro_f1": f1(0.8), "untested_profiles": ["scan-and-dial"]},
                {"model": "mlp", "variant": "realistic", "split": "host", "macro_f1": f1(0.7), "untested_profiles": []},
            ],
            "comparisons": [
                {"a": {"model": "gbt", "variant": "realistic"}, "b": {"model": "mlp", "variant": "realistic"}, "p_holm": 0.01},
                {"a": {"model": "gbt", "variant": "oracle"}, "b": {"model": "mlp", "variant": "oracle"}, "p_holm": 0.2},
            ],
        });
        std::fs::write(&path, report.to_string())?;
        let events = events(&path)?;
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["type"], "metrics");
        assert_eq!(events[1]["comparisons"].as_array().map(Vec::len), Some(1));
        std::fs::write(&path, r#"{"models": [{"model": "gbt"}]}"#)?;
        let err = super::events(&path).err().map(|e| crate::error_chain(&e)).unwrap_or_default();
        assert!(err.contains("models[0]") && err.contains("variant"), "{err}");
        Ok(())
    }
}
