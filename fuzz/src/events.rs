//! The `events` target: `cis490_shared::events::check_event` and
//! `state_key` on any JSON a publisher could send.
//!
//! A first byte below 6 names an event type: the rest, when it parses as a
//! JSON object, gets that `type` (so the fuzzer reaches every type's field
//! checks without having to spell the type); any other first byte leaves
//! the whole input as it is. An array is checked element by element, as
//! the hub's `/publish` takes one. Properties: nothing panics; an accepted
//! event keeps its type's name; `state_key` is given exactly for the kinds
//! the hub keeps the latest of (all but `replay` and `prediction`); every
//! error has a message.

use cis490_shared::events::{EventKind, check_event, state_key};
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
    match &value {
        Value::Array(items) => items.iter().for_each(check_one),
        other => check_one(other),
    }
}

fn check_one(value: &Value) {
    match check_event(value) {
        Ok(kind) => {
            assert_eq!(value.get("type").and_then(Value::as_str), Some(kind.as_str()));
            assert_eq!(kind.as_str().parse::<EventKind>().ok(), Some(kind));
            let key = state_key(kind, value);
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
    // The hub may ask for a key before checking; it must never panic.
    for kind in EventKind::ALL {
        let _ = state_key(kind, value);
    }
}
