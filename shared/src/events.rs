//! The six dashboard event types and their schema checks (protocol v1).
//!
//! Events travel as JSON objects with a `type` and their own fields;
//! unknown fields are kept. The hub forwards the JSON it received (adding
//! `seq` and `ts`), so the earlier Python producers' events reach
//! dashboards unchanged; [`check_event`] only verifies that the fields each
//! type needs are present with the right JSON type, and names the first
//! one that is not.

use serde_json::{Map, Value};

/// The six event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// A telemetry frame of a replayed episode.
    Replay,
    /// A model's prediction for one window.
    Prediction,
    /// Progress of a long job.
    Progress,
    /// Evaluation results of one model, variant and split.
    Metrics,
    /// A measured performance figure.
    Perf,
    /// The normalized curve of one attack profile.
    AttackProfile,
}

impl EventKind {
    /// All six types.
    pub const ALL: [EventKind; 6] = [
        EventKind::Replay,
        EventKind::Prediction,
        EventKind::Progress,
        EventKind::Metrics,
        EventKind::Perf,
        EventKind::AttackProfile,
    ];

    /// The `type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Replay => "replay",
            EventKind::Prediction => "prediction",
            EventKind::Progress => "progress",
            EventKind::Metrics => "metrics",
            EventKind::Perf => "perf",
            EventKind::AttackProfile => "attack_profile",
        }
    }

    /// Whether dashboards need only the latest of these per key (state),
    /// as opposed to a high-rate stream that may be dropped under load.
    pub fn is_state(self) -> bool {
        matches!(self, EventKind::Progress | EventKind::Metrics | EventKind::AttackProfile)
    }

    /// The fields this type requires and their JSON types.
    fn required(self) -> &'static [(&'static str, JsonType)] {
        use JsonType::{Number as N, Object as O, String as S};
        match self {
            EventKind::Replay => &[("episode_id", S), ("host_id", S), ("t_s", N), ("label", S), ("values", O)],
            EventKind::Prediction => &[
                ("model", S),
                ("variant", S),
                ("episode_id", S),
                ("t_s", N),
                ("probs", O),
                ("predicted", S),
                ("truth", S),
                ("latency_us", N),
                ("runtime", S),
            ],
            EventKind::Progress => &[("job", S), ("id", S), ("done", N), ("total", N)],
            EventKind::Metrics => &[("model", S), ("variant", S), ("split", S), ("macro_f1", O)],
            EventKind::Perf => &[("source", S), ("name", S), ("value", N), ("unit", S)],
            EventKind::AttackProfile => &[("name", S), ("shape", S), ("curve", JsonType::NumberArray)],
        }
    }

    /// Optional fields that must have the given type when present.
    fn optional(self) -> &'static [(&'static str, JsonType)] {
        use JsonType::{Number as N, String as S};
        match self {
            EventKind::Progress => &[
                ("unit", S),
                ("message", S),
                ("epoch", N),
                ("train_loss", N),
                ("val_macro_f1", N),
                ("lr", N),
                ("history", JsonType::Array),
            ],
            EventKind::Perf => &[("p50", N), ("p95", N), ("p99", N)],
            EventKind::AttackProfile => &[("channel", S)],
            EventKind::Metrics => &[("untested_profiles", JsonType::Array)],
            _ => &[],
        }
    }
}

impl std::str::FromStr for EventKind {
    type Err = EventError;
    fn from_str(s: &str) -> Result<Self, EventError> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| EventError::UnknownType(s.to_string()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonType {
    String,
    Number,
    Object,
    Array,
    NumberArray,
}

impl JsonType {
    fn name(self) -> &'static str {
        match self {
            JsonType::String => "a string",
            JsonType::Number => "a number",
            JsonType::Object => "an object",
            JsonType::Array => "an array",
            JsonType::NumberArray => "an array of numbers",
        }
    }

    fn matches(self, v: &Value) -> bool {
        match self {
            JsonType::String => v.is_string(),
            JsonType::Number => v.is_number(),
            JsonType::Object => v.is_object(),
            JsonType::Array => v.is_array(),
            JsonType::NumberArray => v.as_array().is_some_and(|a| a.iter().all(Value::is_number)),
        }
    }
}

/// Why a JSON value is not a valid event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not a JSON object.
    #[error("an event must be a JSON object")]
    NotAnObject,
    /// No `type` field, or not a string.
    #[error("field \"type\" is missing or not a string")]
    MissingType,
    /// A `type` that is not one of the six.
    #[error("unknown event type {0:?} (expected one of replay, prediction, progress, metrics, perf, attack_profile)")]
    UnknownType(String),
    /// A required field is absent.
    #[error("{kind} event: field {field:?} is missing")]
    MissingField {
        /// The event type.
        kind: &'static str,
        /// The field.
        field: String,
    },
    /// A field has the wrong JSON type.
    #[error("{kind} event: field {field:?} must be {expected}")]
    WrongType {
        /// The event type.
        kind: &'static str,
        /// The field.
        field: String,
        /// What it must be.
        expected: &'static str,
    },
}

/// Checks one event; returns its type.
pub fn check_event(value: &Value) -> Result<EventKind, EventError> {
    let obj = value.as_object().ok_or(EventError::NotAnObject)?;
    let kind: EventKind = obj.get("type").and_then(Value::as_str).ok_or(EventError::MissingType)?.parse()?;
    for (field, ty) in kind.required() {
        match obj.get(*field) {
            None => return Err(EventError::MissingField { kind: kind.as_str(), field: (*field).to_string() }),
            Some(v) if !ty.matches(v) => {
                return Err(EventError::WrongType {
                    kind: kind.as_str(),
                    field: (*field).to_string(),
                    expected: ty.name(),
                });
            }
            Some(_) => {}
        }
    }
    for (field, ty) in kind.optional() {
        if let Some(v) = obj.get(*field)
            && !v.is_null()
            && !ty.matches(v)
        {
            return Err(EventError::WrongType {
                kind: kind.as_str(),
                field: (*field).to_string(),
                expected: ty.name(),
            });
        }
    }
    if kind == EventKind::Metrics {
        check_interval(obj, kind)?;
    }
    Ok(kind)
}

fn check_interval(obj: &Map<String, Value>, kind: EventKind) -> Result<(), EventError> {
    let Some(f1) = obj.get("macro_f1").and_then(Value::as_object) else { return Ok(()) };
    for part in ["point", "lo", "hi"] {
        match f1.get(part) {
            None => return Err(EventError::MissingField { kind: kind.as_str(), field: format!("macro_f1.{part}") }),
            Some(v) if !v.is_number() => {
                return Err(EventError::WrongType {
                    kind: kind.as_str(),
                    field: format!("macro_f1.{part}"),
                    expected: "a number",
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The key under which the hub keeps the latest state event of a kind:
/// `attack_profile` per name, `metrics` per model/variant/split,
/// `progress` per job and id, `perf` per source and name. `None` for
/// `replay` and `prediction` (kept as recent frames instead).
pub fn state_key(kind: EventKind, value: &Value) -> Option<String> {
    let f = |name: &str| value.get(name).and_then(Value::as_str).unwrap_or("");
    match kind {
        EventKind::AttackProfile => Some(format!("attack_profile/{}", f("name"))),
        EventKind::Metrics => Some(format!("metrics/{}/{}/{}", f("model"), f("variant"), f("split"))),
        EventKind::Progress => Some(format!("progress/{}/{}", f("job"), f("id"))),
        EventKind::Perf => Some(format!("perf/{}/{}", f("source"), f("name"))),
        EventKind::Replay | EventKind::Prediction => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_earlier_python_producers_event_is_valid() {
        let curve: Vec<f64> = (0..80).map(|i| f64::from(i) / 79.0).collect();
        let e = json!({"type": "attack_profile", "name": "cpu-saturate", "shape": "sustained 1-vCPU peg (XMRig)", "curve": curve});
        assert_eq!(check_event(&e), Ok(EventKind::AttackProfile));
        assert_eq!(state_key(EventKind::AttackProfile, &e).as_deref(), Some("attack_profile/cpu-saturate"));
    }

    #[test]
    fn every_type_names_its_missing_or_mistyped_field() {
        let valid = [
            json!({"type": "replay", "episode_id": "e", "host_id": "h", "t_s": 1.5, "label": "benign", "values": {"proc.cpu_user": 1.0, "guest.load1": null}}),
            json!({"type": "prediction", "model": "gbt", "variant": "realistic", "episode_id": "e", "t_s": 10, "probs": {"benign": 1.0}, "predicted": "benign", "truth": "benign", "latency_us": 120, "runtime": "server"}),
            json!({"type": "progress", "job": "validate", "id": "v1", "done": 3, "total": 10, "unit": "episodes", "message": "x"}),
            json!({"type": "metrics", "model": "gbt", "variant": "oracle", "split": "host", "macro_f1": {"point": 0.8, "lo": 0.7, "hi": 0.9}}),
            json!({"type": "perf", "source": "hub", "name": "fanout", "value": 3, "unit": "events/s", "p99": 1.0}),
        ];
        for v in &valid {
            assert!(check_event(v).is_ok(), "{v}");
            let kind = check_event(v).unwrap_or(EventKind::Replay);
            // Removing any required field is named.
            for (field, _) in kind.required() {
                let mut broken = v.clone();
                broken.as_object_mut().map(|o| o.remove(*field));
                assert_eq!(
                    check_event(&broken),
                    Err(EventError::MissingField { kind: kind.as_str(), field: (*field).to_string() })
                );
            }
        }
        let wrong = json!({"type": "perf", "source": "hub", "name": "x", "value": "fast", "unit": "s"});
        assert!(matches!(check_event(&wrong), Err(EventError::WrongType { field, .. }) if field == "value"));
        let f1 = json!({"type": "metrics", "model": "m", "variant": "v", "split": "s", "macro_f1": {"point": 0.5, "lo": 0.4}});
        assert!(matches!(check_event(&f1), Err(EventError::MissingField { field, .. }) if field == "macro_f1.hi"));
        assert_eq!(check_event(&json!([1])), Err(EventError::NotAnObject));
        assert_eq!(check_event(&json!({"name": "x"})), Err(EventError::MissingType));
        assert!(matches!(check_event(&json!({"type": "nope"})), Err(EventError::UnknownType(_))));
    }
}
