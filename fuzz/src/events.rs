//! The `events` target: `cis490_shared::events::Event::from_value` (the
//! hub's parser of what publishers send) on any JSON a publisher could send.
//!
//! A first byte below 6 names an event type: the rest, when it parses as a
//! JSON object, gets that `type` (so the fuzzer reaches every type's field
//! checks without having to spell the type); any other first byte leaves
//! the whole input as it is. An array is parsed element by element, as
//! the hub's `/publish` takes one. Properties: nothing panics; an accepted
//! event keeps its type's name and comes back out unchanged when
//! serialized (numbers and unknown fields included), and its text parses
//! again; a state key is given exactly for the kinds the hub
//! keeps the latest of (all but `replay` and `prediction`); every error has
//! a message.

use cis490_shared::events::{Event, EventKind};
use serde_json::Value;

/// The target: one input, any bytes.
pub fn events(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return };
    let forced = EventKind::ALL.get(usize::from(selector)).copied();
    let input = if forced.is_some() { rest } else { data };
    let Ok(mut value) = serde_json::from_slice::<Value>(input) else { return };
    if let (Some(kind), Some(object)) = (forced, value.as_object_mut()) {
        object.insert("type".into(), Value::String(kind.as_str().into()));
    }
    match value {
        Value::Array(items) => items.into_iter().for_each(parse_one),
        other => parse_one(other),
    }
}

fn parse_one(value: Value) {
    match Event::from_value(value.clone()) {
        Ok(event) => {
            let kind = event.kind();
            assert_eq!(value.get("type").and_then(Value::as_str), Some(kind.as_str()));
            assert_eq!(kind.as_str().parse::<EventKind>().ok(), Some(kind));
            let sent = serde_json::to_value(&event).ok();
            assert_eq!(sent.as_ref(), Some(&value), "re-serialized differently");
            // The text parses again (its floats exactly only with serde_json's
            // `float_roundtrip`, which the hub has and this crate has not).
            let text = serde_json::to_string(&event).unwrap_or_default();
            let again: Option<Event> = serde_json::from_str(&text).ok();
            assert_eq!(again.map(|e| e.kind()), Some(kind), "{text}");
            let key = event.state_key();
            // Every kind but the two frame streams keeps its latest per key
            // (`perf` too, though it is not `is_state`: it may be dropped).
            let keyed = !matches!(kind, EventKind::Replay | EventKind::Prediction);
            assert_eq!(key.is_some(), keyed, "{kind:?}: {key:?}");
            assert!(!kind.is_state() || keyed);
            if let Some(key) = key {
                assert!(key.starts_with(kind.as_str()), "{key}");
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}
