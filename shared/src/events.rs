//! The six dashboard event types (protocol v1, `events.md`) as one typed
//! [`Event`], the one parser of events ([`Event::from_value`]) and the
//! hub's envelope ([`Event::stamp`]).
//!
//! Events travel as JSON objects with a `type` and their own fields. The
//! parser reads each type's required fields, and the optional ones it
//! knows when present, into that type's struct, naming the first field
//! that is missing or of the wrong JSON type (the hub's 400 says what to
//! fix). It accepts exactly what v1 has always accepted, so the earlier
//! Python producers keep working, and what it accepts comes back out
//! unchanged when serialized: fields a type does not know stay in its
//! `extra` map (an optional field sent as `null` stays there too), and
//! numbers keep their written form ([`Number`]: `3` stays `3`, `3.0` stays
//! `3.0`). Fields the protocol checks only as an object or an array
//! (`values`, `probs`, `history`, `untested_profiles`) stay JSON as sent;
//! accessors read them. Only the field order changes: `type` first, then
//! the type's fields, then the others. (`extra` never holds a name its
//! type has, except as that `null`; producers keep it so.)

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::evaluation::{ClassScores, Comparison, ConfusionEntry, GroupScores, InDistribution, Interval};

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
}

impl std::str::FromStr for EventKind {
    type Err = EventError;
    fn from_str(s: &str) -> Result<Self, EventError> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| EventError::UnknownType(s.to_string()))
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

/// A JSON number as it was written: an integer stays an integer and a
/// float a float when the event is serialized again (never NaN or
/// infinite, which JSON cannot hold).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Number(serde_json::Number);

impl Number {
    /// A finite float; `None` for NaN and infinities.
    pub fn from_f64(x: f64) -> Option<Number> {
        serde_json::Number::from_f64(x).map(Number)
    }

    /// The value as a float (integers beyond 2^53 rounded).
    pub fn as_f64(&self) -> f64 {
        // Always `Some` without serde_json's `arbitrary_precision`.
        self.0.as_f64().unwrap_or(f64::NAN)
    }
}

macro_rules! number_from_integer {
    ($($t:ty),*) => {$(
        impl From<$t> for Number {
            fn from(n: $t) -> Number {
                Number(n.into())
            }
        }
    )*};
}
number_from_integer!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

impl From<Number> for Value {
    fn from(n: Number) -> Value {
        Value::Number(n.0)
    }
}

/// A telemetry frame of a replayed episode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayEvent {
    /// The episode.
    pub episode_id: String,
    /// Its host.
    pub host_id: String,
    /// Seconds since the episode start.
    pub t_s: Number,
    /// The ground-truth label now.
    pub label: String,
    /// Channel name → number, or `null` where the channel has no value.
    pub values: Map<String, Value>,
    /// Fields the protocol does not name, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ReplayEvent {
    /// The value of `channel`, if the frame gives it as a number.
    pub fn value(&self, channel: &str) -> Option<f64> {
        self.values.get(channel).and_then(Value::as_f64)
    }
}

/// A model's prediction for one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictionEvent {
    /// Architecture.
    pub model: String,
    /// Threat model (`realistic` or `oracle`).
    pub variant: String,
    /// The episode.
    pub episode_id: String,
    /// End of the window, seconds since the episode start.
    pub t_s: Number,
    /// Label → probability.
    pub probs: Map<String, Value>,
    /// The predicted label.
    pub predicted: String,
    /// The true label.
    pub truth: String,
    /// Inference time in µs.
    pub latency_us: Number,
    /// `server` or `browser`.
    pub runtime: String,
    /// Fields the protocol does not name, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl PredictionEvent {
    /// The probability of `label`, if the event gives it as a number.
    pub fn probability(&self, label: &str) -> Option<f64> {
        self.probs.get(label).and_then(Value::as_f64)
    }

    /// Every label given a number, with its probability.
    pub fn probabilities(&self) -> impl Iterator<Item = (&str, f64)> {
        self.probs.iter().filter_map(|(label, p)| Some((label.as_str(), p.as_f64()?)))
    }
}

/// One entry of a training `progress` event's `history`: an epoch's (or a
/// boosting round's) scores. A score sent as `null` or left out reads as
/// NaN (JSON has no NaN: a NaN is written as `null`), so an entry with a
/// missing score still places its epoch on the curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochScores {
    /// The epoch, or the boosting round, 1-based.
    pub epoch: Number,
    /// Mean training loss (`null` when NaN or not measured).
    #[serde(default = "not_a_number", deserialize_with = "nan_when_null")]
    pub train_loss: f64,
    /// Validation macro F1 (`null` when NaN or not measured).
    #[serde(default = "not_a_number", deserialize_with = "nan_when_null")]
    pub val_macro_f1: f64,
    /// Validation loss, when the trainer measures it (the trees: multiclass
    /// log-loss after each boosting round).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_loss: Option<f64>,
}

fn not_a_number() -> f64 {
    f64::NAN
}

fn nan_when_null<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Progress of a long job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProgressEvent {
    /// `validate`, `extract`, `train`, `eval`, ...
    pub job: String,
    /// Which run of the job (e.g. `gru-oracle`).
    pub id: String,
    /// Units done.
    pub done: Number,
    /// Units in all.
    pub total: Number,
    /// The unit counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// What the job is doing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Training: the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<Number>,
    /// Training: mean loss of the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_loss: Option<Number>,
    /// Training: validation macro F1 after the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_macro_f1: Option<Number>,
    /// Training: learning rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr: Option<Number>,
    /// Training: every epoch so far ([`EpochScores`] each, as sent), so a
    /// late dashboard draws whole curves from the hub's latest state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<Value>>,
    /// Fields the protocol does not name (status counts, pace, ...), as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ProgressEvent {
    /// Progress of `job` instance `id`: `done` of `total`, nothing else.
    pub fn new(job: &str, id: &str, done: u64, total: u64) -> Self {
        Self {
            job: job.into(),
            id: id.into(),
            done: done.into(),
            total: total.into(),
            unit: None,
            message: None,
            epoch: None,
            train_loss: None,
            val_macro_f1: None,
            lr: None,
            history: None,
            extra: Map::new(),
        }
    }

    /// The epoch this event reports, when it carries all three scores.
    pub fn epoch_scores(&self) -> Option<EpochScores> {
        Some(EpochScores {
            epoch: self.epoch.clone()?,
            train_loss: self.train_loss.as_ref()?.as_f64(),
            val_macro_f1: self.val_macro_f1.as_ref()?.as_f64(),
            val_loss: None,
        })
    }

    /// The entries of `history` that are epoch scores (others are skipped).
    pub fn history_scores(&self) -> Vec<EpochScores> {
        self.history.iter().flatten().filter_map(read_object).collect()
    }
}

/// A point estimate with its interval as a `metrics` event carries it, the
/// numbers as sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// The estimate.
    pub point: Number,
    /// Lower bound.
    pub lo: Number,
    /// Upper bound.
    pub hi: Number,
    /// Fields the protocol does not name, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Estimate {
    /// As the report's interval type.
    pub fn interval(&self) -> Interval {
        Interval { point: self.point.as_f64(), lo: self.lo.as_f64(), hi: self.hi.as_f64() }
    }
}

/// Evaluation results of one model, variant and split: an entry of the
/// report (`docs/evaluation.md`), its paired comparisons beside it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricsEvent {
    /// Architecture.
    pub model: String,
    /// Threat model.
    pub variant: String,
    /// Split recipe.
    pub split: String,
    /// Held-out macro F1.
    pub macro_f1: Estimate,
    /// Profiles without held-out test episodes, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untested_profiles: Option<Vec<Value>>,
    /// The other parts of the report entry ([`MetricsEvent::sections`])
    /// and fields the protocol does not name, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The report parts a `metrics` event may carry beside its required
/// fields, read with the report's types; a part, or an entry of a list,
/// that does not read is left out (earlier producers sent less).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct MetricsSections {
    /// Per-class scores, in report order.
    #[serde(default, deserialize_with = "each_that_reads")]
    pub per_class: Vec<ClassScores>,
    /// Per profile of the held-out episodes.
    #[serde(default, deserialize_with = "each_that_reads")]
    pub per_profile: Vec<GroupScores>,
    /// Per held-out host.
    #[serde(default, deserialize_with = "each_that_reads")]
    pub per_host: Vec<GroupScores>,
    /// The confusion matrix.
    #[serde(default, deserialize_with = "if_it_reads")]
    pub confusion: Option<ConfusionEntry>,
    /// The in-distribution side's scores.
    #[serde(default, deserialize_with = "if_it_reads")]
    pub in_distribution: Option<InDistribution>,
    /// In-distribution minus held-out macro F1.
    #[serde(default, deserialize_with = "if_it_reads")]
    pub generalization_gap: Option<Interval>,
    /// Paired comparisons in which this model is `a` or `b`.
    #[serde(default, deserialize_with = "each_that_reads")]
    pub comparisons: Vec<Comparison>,
}

/// `value` read as `T` when it is an object that reads (serde would also
/// read a struct from an array of its fields in order; the protocol never
/// sends those).
fn read_object<T: for<'a> Deserialize<'a>>(value: &Value) -> Option<T> {
    value.is_object().then(|| T::deserialize(value).ok()).flatten()
}

fn each_that_reads<'de, D: Deserializer<'de>, T: for<'a> Deserialize<'a>>(d: D) -> Result<Vec<T>, D::Error> {
    let items = match Value::deserialize(d)? {
        Value::Array(items) => items,
        _ => Vec::new(),
    };
    Ok(items.iter().filter_map(read_object).collect())
}

fn if_it_reads<'de, D: Deserializer<'de>, T: for<'a> Deserialize<'a>>(d: D) -> Result<Option<T>, D::Error> {
    Ok(read_object(&Value::deserialize(d)?))
}

impl MetricsEvent {
    /// The report parts this event carries (see [`MetricsSections`]).
    pub fn sections(&self) -> MetricsSections {
        MetricsSections::deserialize(&Value::Object(self.extra.clone())).unwrap_or_default()
    }

    /// The untested profiles given as strings.
    pub fn untested_profile_names(&self) -> Vec<String> {
        let names = self.untested_profiles.iter().flatten();
        names.filter_map(|n| n.as_str().map(String::from)).collect()
    }
}

/// A measured performance figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerfEvent {
    /// Who measured it (`hub`, `cis490-serve`, a model, ...).
    pub source: String,
    /// What was measured.
    pub name: String,
    /// The latest value.
    pub value: Number,
    /// Its unit.
    pub unit: String,
    /// Median, when the producer sends percentiles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50: Option<Number>,
    /// 95th percentile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p95: Option<Number>,
    /// 99th percentile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99: Option<Number>,
    /// Fields the protocol does not name, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl PerfEvent {
    /// `value` in `unit` measured by `source`, without percentiles.
    pub fn new(source: &str, name: &str, value: Number, unit: &str) -> Self {
        Self {
            source: source.into(),
            name: name.into(),
            value,
            unit: unit.into(),
            p50: None,
            p95: None,
            p99: None,
            extra: Map::new(),
        }
    }
}

/// The normalized curve of one attack profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackProfileEvent {
    /// The profile.
    pub name: String,
    /// Its shape in words.
    pub shape: String,
    /// The curve (80 numbers in [0, 1]).
    pub curve: Vec<Number>,
    /// The channel it was drawn from (the earlier Python producer sent none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Fields the protocol does not name, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One dashboard event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// `replay`.
    Replay(ReplayEvent),
    /// `prediction`.
    Prediction(PredictionEvent),
    /// `progress`.
    Progress(ProgressEvent),
    /// `metrics`.
    Metrics(MetricsEvent),
    /// `perf`.
    Perf(PerfEvent),
    /// `attack_profile`.
    AttackProfile(AttackProfileEvent),
}

impl Event {
    /// Its type.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Replay(_) => EventKind::Replay,
            Event::Prediction(_) => EventKind::Prediction,
            Event::Progress(_) => EventKind::Progress,
            Event::Metrics(_) => EventKind::Metrics,
            Event::Perf(_) => EventKind::Perf,
            Event::AttackProfile(_) => EventKind::AttackProfile,
        }
    }

    /// The fields its type does not name.
    pub fn extra(&self) -> &Map<String, Value> {
        match self {
            Event::Replay(e) => &e.extra,
            Event::Prediction(e) => &e.extra,
            Event::Progress(e) => &e.extra,
            Event::Metrics(e) => &e.extra,
            Event::Perf(e) => &e.extra,
            Event::AttackProfile(e) => &e.extra,
        }
    }

    fn extra_mut(&mut self) -> &mut Map<String, Value> {
        match self {
            Event::Replay(e) => &mut e.extra,
            Event::Prediction(e) => &mut e.extra,
            Event::Progress(e) => &mut e.extra,
            Event::Metrics(e) => &mut e.extra,
            Event::Perf(e) => &mut e.extra,
            Event::AttackProfile(e) => &mut e.extra,
        }
    }

    /// The envelope the hub gives every event it sends: a producer's `seq`
    /// is dropped (the hub numbers events itself, strictly increasing per
    /// run, and puts `seq` first in the text) and `ts` (Unix ms) is set to
    /// `now_ms` when missing.
    pub fn stamp(&mut self, now_ms: u64) {
        let extra = self.extra_mut();
        extra.remove("seq");
        extra.entry("ts").or_insert_with(|| now_ms.into());
    }

    /// The key under which the hub keeps the latest state event of a kind:
    /// `attack_profile` per name, `metrics` per model/variant/split,
    /// `progress` per job and id, `perf` per source and name. `None` for
    /// `replay` and `prediction` (kept as recent frames instead).
    pub fn state_key(&self) -> Option<String> {
        match self {
            Event::AttackProfile(e) => Some(format!("attack_profile/{}", e.name)),
            Event::Metrics(e) => Some(format!("metrics/{}/{}/{}", e.model, e.variant, e.split)),
            Event::Progress(e) => Some(format!("progress/{}/{}", e.job, e.id)),
            Event::Perf(e) => Some(format!("perf/{}/{}", e.source, e.name)),
            Event::Replay(_) | Event::Prediction(_) => None,
        }
    }

    /// Parses one event (see the module docs).
    pub fn from_value(value: Value) -> Result<Event, EventError> {
        let Value::Object(mut map) = value else { return Err(EventError::NotAnObject) };
        let kind: EventKind = match map.remove("type") {
            Some(Value::String(name)) => name.parse()?,
            _ => return Err(EventError::MissingType),
        };
        let mut f = Fields { kind, map };
        Ok(match kind {
            EventKind::Replay => Event::Replay(ReplayEvent {
                episode_id: f.required("episode_id")?,
                host_id: f.required("host_id")?,
                t_s: f.required("t_s")?,
                label: f.required("label")?,
                values: f.required("values")?,
                extra: f.rest(),
            }),
            EventKind::Prediction => Event::Prediction(PredictionEvent {
                model: f.required("model")?,
                variant: f.required("variant")?,
                episode_id: f.required("episode_id")?,
                t_s: f.required("t_s")?,
                probs: f.required("probs")?,
                predicted: f.required("predicted")?,
                truth: f.required("truth")?,
                latency_us: f.required("latency_us")?,
                runtime: f.required("runtime")?,
                extra: f.rest(),
            }),
            EventKind::Progress => Event::Progress(ProgressEvent {
                job: f.required("job")?,
                id: f.required("id")?,
                done: f.required("done")?,
                total: f.required("total")?,
                unit: f.optional("unit")?,
                message: f.optional("message")?,
                epoch: f.optional("epoch")?,
                train_loss: f.optional("train_loss")?,
                val_macro_f1: f.optional("val_macro_f1")?,
                lr: f.optional("lr")?,
                history: f.optional("history")?,
                extra: f.rest(),
            }),
            EventKind::Metrics => {
                let (model, variant, split) = (f.required("model")?, f.required("variant")?, f.required("split")?);
                let macro_f1: Map<String, Value> = f.required("macro_f1")?;
                let untested_profiles = f.optional("untested_profiles")?;
                let macro_f1 = f.estimate("macro_f1", macro_f1)?;
                Event::Metrics(MetricsEvent { model, variant, split, macro_f1, untested_profiles, extra: f.rest() })
            }
            EventKind::Perf => Event::Perf(PerfEvent {
                source: f.required("source")?,
                name: f.required("name")?,
                value: f.required("value")?,
                unit: f.required("unit")?,
                p50: f.optional("p50")?,
                p95: f.optional("p95")?,
                p99: f.optional("p99")?,
                extra: f.rest(),
            }),
            EventKind::AttackProfile => Event::AttackProfile(AttackProfileEvent {
                name: f.required("name")?,
                shape: f.required("shape")?,
                curve: f.required("curve")?,
                channel: f.optional("channel")?,
                extra: f.rest(),
            }),
        })
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Event, D::Error> {
        Event::from_value(Value::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A JSON value read as a field of a given JSON type.
trait FieldType: Sized {
    /// What the field must be, for error messages.
    const EXPECTED: &'static str;
    /// The value as this type, or `None` when it is another JSON type.
    fn read(value: Value) -> Option<Self>;
}

impl FieldType for String {
    const EXPECTED: &'static str = "a string";
    fn read(value: Value) -> Option<Self> {
        match value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

impl FieldType for Number {
    const EXPECTED: &'static str = "a number";
    fn read(value: Value) -> Option<Self> {
        match value {
            Value::Number(n) => Some(Number(n)),
            _ => None,
        }
    }
}

impl FieldType for Map<String, Value> {
    const EXPECTED: &'static str = "an object";
    fn read(value: Value) -> Option<Self> {
        match value {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }
}

impl FieldType for Vec<Value> {
    const EXPECTED: &'static str = "an array";
    fn read(value: Value) -> Option<Self> {
        match value {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }
}

impl FieldType for Vec<Number> {
    const EXPECTED: &'static str = "an array of numbers";
    fn read(value: Value) -> Option<Self> {
        let Value::Array(items) = value else { return None };
        items.into_iter().map(Number::read).collect()
    }
}

/// The fields of one event being parsed; what is not taken is `extra`.
struct Fields {
    kind: EventKind,
    map: Map<String, Value>,
}

impl Fields {
    fn wrong_type<T: FieldType>(&self, field: &str) -> EventError {
        EventError::WrongType { kind: self.kind.as_str(), field: field.to_string(), expected: T::EXPECTED }
    }

    /// Takes a field that must be present.
    fn required<T: FieldType>(&mut self, field: &str) -> Result<T, EventError> {
        let value = self
            .map
            .remove(field)
            .ok_or_else(|| EventError::MissingField { kind: self.kind.as_str(), field: field.to_string() })?;
        T::read(value).ok_or_else(|| self.wrong_type::<T>(field))
    }

    /// Takes a field that may be absent or `null` (a `null` stays in `extra`).
    fn optional<T: FieldType>(&mut self, field: &str) -> Result<Option<T>, EventError> {
        match self.map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.required(field).map(Some),
        }
    }

    /// Reads `{point, lo, hi}` numbers out of the object of `field`.
    fn estimate(&self, field: &str, map: Map<String, Value>) -> Result<Estimate, EventError> {
        let mut parts = Fields { kind: self.kind, map };
        let mut part = |name: &str| {
            parts.required::<Number>(name).map_err(|e| match e {
                EventError::MissingField { kind, field: f } => {
                    EventError::MissingField { kind, field: format!("{field}.{f}") }
                }
                EventError::WrongType { kind, field: f, expected } => {
                    EventError::WrongType { kind, field: format!("{field}.{f}"), expected }
                }
                other => other,
            })
        };
        let (point, lo, hi) = (part("point")?, part("lo")?, part("hi")?);
        Ok(Estimate { point, lo, hi, extra: parts.rest() })
    }

    fn rest(self) -> Map<String, Value> {
        self.map
    }
}

#[cfg(test)]
mod tests;
