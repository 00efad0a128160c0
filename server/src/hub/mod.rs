//! The event hub: producers publish events, every connected dashboard
//! receives the current state first and then live events, each with a
//! strictly increasing `seq` (the protocol as implemented: `docs/hub.md`).
//!
//! - [`state`]: what is kept for late joiners, bounded by count and bytes;
//! - [`queue`]: each client's bounded queue (a stalled client never slows
//!   publishers or other clients);
//! - [`routes`]: `POST /publish`, `GET /ws`, `GET /api/snapshot`;
//! - [`persist`]: the state kept across restarts (`--state-dir`);
//!
//! Producers reach the hub through `cis490_publish` (HTTP), or
//! in-process through this hub's [`Publish`] implementation (the demo).
//!
//! An event is serialized before the hub's lock is taken; under it,
//! publishing only numbers the text, keeps it and hands it to every
//! client queue without waiting. Snapshots copy reference-counted texts
//! under the lock and sort and join them after it.

pub mod persist;
pub mod queue;
pub mod routes;
pub mod state;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use cis490_publish::{Publish, PublishError};
use cis490_shared::events::{Event, EventKind};
use serde_json::Value;

use queue::ClientQueue;
use state::{Bound, KeyedState, RecentFrames};

/// One published event as dashboards receive it.
#[derive(Debug, Clone)]
pub struct Serialized {
    /// Its type.
    pub kind: EventKind,
    /// Its state key (`attack_profile`, `metrics`, `progress`, `perf`).
    pub key: Option<Arc<str>>,
    /// Its number, strictly increasing per hub run.
    pub seq: u64,
    /// The JSON text sent, `seq` included.
    pub text: Arc<str>,
}

/// What the hub may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubLimits {
    /// Latest state events kept per kind (`attack_profile`, `metrics`,
    /// `progress`, `perf` each).
    pub state_per_kind: Bound,
    /// Recent `replay` frames kept.
    pub recent_replay: Bound,
    /// Recent `prediction` frames kept.
    pub recent_predictions: Bound,
    /// Events waiting for one client.
    pub client_queue: Bound,
}

const MIB: usize = 1 << 20;

/// The kinds kept as state per key (`attack_profile`, `metrics`,
/// `progress`, `perf`).
const KEYED_KINDS: usize = 4;

/// The `perf` sources of the server's own figures (the hub's counters,
/// the serving process's memory and CPU): they describe one hub run, so
/// they are not saved across restarts.
pub const SERVER_PERF_SOURCES: [&str; 2] = ["hub", "cis490-serve"];

/// Whether an event with this state key is saved across restarts
/// ([`persist`]): every kept state event but the server's own figures.
fn saved_across_restarts(key: &str) -> bool {
    let source = key.strip_prefix("perf/").and_then(|k| k.split_once('/')).map(|(source, _)| source);
    !source.is_some_and(|source| SERVER_PERF_SOURCES.contains(&source))
}

impl HubLimits {
    /// Most bytes of a state file ([`persist`]): every kept state event's
    /// text, a separator each, and the file's envelope.
    pub fn state_file_bytes(&self) -> usize {
        KEYED_KINDS * (self.state_per_kind.bytes + 2 * self.state_per_kind.events) + 1024
    }
}

impl Default for HubLimits {
    fn default() -> Self {
        Self {
            state_per_kind: Bound { events: 1024, bytes: 4 * MIB },
            recent_replay: Bound { events: 240, bytes: 2 * MIB },
            recent_predictions: Bound { events: 480, bytes: 2 * MIB },
            client_queue: Bound { events: 1024, bytes: 4 * MIB },
        }
    }
}

/// Counters the hub reports about itself (as `perf` events, source `hub`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HubStats {
    /// Connected clients.
    pub clients: usize,
    /// Events dropped for slow clients so far.
    pub dropped_events: u64,
    /// State events evicted to stay within [`HubLimits::state_per_kind`].
    pub evicted_events: u64,
    /// Clients disconnected for falling too far behind.
    pub overflowed_clients: u64,
}

#[derive(Debug)]
struct Inner {
    limits: HubLimits,
    next_seq: u64,
    state: BTreeMap<EventKind, KeyedState>,
    recent_replay: RecentFrames,
    recent_predictions: RecentFrames,
    clients: Vec<Arc<ClientQueue>>,
    dropped_by_gone_clients: u64,
    overflowed_gone_clients: u64,
    /// Changes of the state saved across restarts so far.
    saved_generation: u64,
}

impl Inner {
    fn new(limits: HubLimits) -> Self {
        Self {
            limits,
            next_seq: 0,
            state: BTreeMap::new(),
            recent_replay: RecentFrames::new(limits.recent_replay),
            recent_predictions: RecentFrames::new(limits.recent_predictions),
            clients: Vec::new(),
            dropped_by_gone_clients: 0,
            overflowed_gone_clients: 0,
            saved_generation: 0,
        }
    }

    fn keep(&mut self, event: &Serialized) {
        match (event.kind, &event.key) {
            (kind, Some(key)) => {
                if saved_across_restarts(key) {
                    self.saved_generation += 1;
                }
                let bound = self.limits.state_per_kind;
                self.state.entry(kind).or_insert_with(|| KeyedState::new(bound)).insert(event.clone());
            }
            (EventKind::Replay, None) => self.recent_replay.push(event.clone()),
            (_, None) => self.recent_predictions.push(event.clone()),
        }
    }

    fn forget_gone_clients(&mut self) {
        let (mut dropped, mut overflowed) = (0, 0);
        self.clients.retain(|c| {
            if c.is_closed() {
                dropped += c.dropped();
                overflowed += u64::from(c.overflowed());
                false
            } else {
                true
            }
        });
        self.dropped_by_gone_clients += dropped;
        self.overflowed_gone_clients += overflowed;
    }

    /// Every kept event, unordered (reference-counted copies).
    fn kept(&self) -> Vec<Serialized> {
        self.state
            .values()
            .flat_map(KeyedState::events)
            .chain(self.recent_replay.events())
            .chain(self.recent_predictions.events())
            .cloned()
            .collect()
    }
}

/// The hub's state and its clients.
#[derive(Debug)]
pub struct Hub {
    inner: Mutex<Inner>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// An event serialized for dashboards (stamped, keyed), before its `seq`.
struct Unnumbered {
    kind: EventKind,
    key: Option<Arc<str>>,
    text: String,
}

impl Unnumbered {
    /// `event` stamped at `now_ms` and serialized (outside the hub's lock).
    fn of(mut event: Event, now_ms: u64) -> Result<Self, serde_json::Error> {
        event.stamp(now_ms);
        Ok(Self { kind: event.kind(), key: event.state_key().map(Arc::from), text: serde_json::to_string(&event)? })
    }
}

/// `text` (a JSON object without `seq`) with `"seq":N` as its first field.
fn with_seq(seq: u64, text: &str) -> Arc<str> {
    match text.strip_prefix('{') {
        Some(rest) if rest.trim_start().starts_with('}') => format!("{{\"seq\":{seq}}}").into(),
        Some(rest) => format!("{{\"seq\":{seq},{rest}").into(),
        None => text.into(),
    }
}

/// Events sorted by `seq`.
fn in_seq_order(mut events: Vec<Serialized>) -> Vec<Serialized> {
    events.sort_unstable_by_key(|e| e.seq);
    events
}

impl Hub {
    /// An empty hub with the default [`HubLimits`].
    pub fn new() -> Self {
        Self::with_limits(HubLimits::default())
    }

    /// An empty hub holding at most `limits`.
    pub fn with_limits(limits: HubLimits) -> Self {
        Self { inner: Mutex::new(Inner::new(limits)) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Publishes one event: assigns `seq` (always, replacing a producer's,
    /// so it strictly increases per hub run), adds `ts` (Unix ms) when
    /// missing ([`Event::stamp`]), keeps it as state or as a recent frame,
    /// and queues it for every client. Returns the `seq`.
    pub fn publish(&self, event: Event) -> Result<u64, serde_json::Error> {
        Ok(self.publish_text(Unnumbered::of(event, now_ms())?))
    }

    /// Publishes events in order, all or none: each is serialized before
    /// the first is published. Returns their `seq`s.
    pub fn publish_all(&self, events: Vec<Event>) -> Result<Vec<u64>, serde_json::Error> {
        let now = now_ms();
        let texts = events.into_iter().map(|e| Unnumbered::of(e, now)).collect::<Result<Vec<_>, _>>()?;
        Ok(texts.into_iter().map(|text| self.publish_text(text)).collect())
    }

    /// Numbers, keeps and queues one serialized event.
    fn publish_text(&self, Unnumbered { kind, key, text }: Unnumbered) -> u64 {
        let mut inner = self.lock();
        inner.next_seq += 1;
        let seq = inner.next_seq;
        let event = Serialized { kind, key, seq, text: with_seq(seq, &text) };
        inner.keep(&event);
        inner.forget_gone_clients();
        for client in &inner.clients {
            client.push(event.clone());
        }
        seq
    }

    /// Registers a client: returns the state to send first, in `seq`
    /// order, and the queue of live events after it (taken under one lock,
    /// so nothing is missed or sent twice).
    pub fn subscribe(&self) -> (Vec<Serialized>, Arc<ClientQueue>) {
        let mut inner = self.lock();
        let kept = inner.kept();
        let queue = Arc::new(ClientQueue::new(inner.limits.client_queue));
        inner.clients.push(queue.clone());
        drop(inner);
        (in_seq_order(kept), queue)
    }

    /// The current state as the text of a JSON array, in `seq` order
    /// (`/api/snapshot`): the kept texts joined, not re-parsed.
    pub fn snapshot_text(&self) -> String {
        let kept = in_seq_order(self.lock().kept());
        let mut out = String::with_capacity(2 + kept.iter().map(|e| e.text.len() + 1).sum::<usize>());
        out.push('[');
        for (i, event) in kept.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&event.text);
        }
        out.push(']');
        out
    }

    /// The current state as parsed JSON (for in-process readers and tests).
    pub fn snapshot_json(&self) -> Value {
        serde_json::from_str(&self.snapshot_text()).unwrap_or(Value::Array(Vec::new()))
    }

    /// What this hub may hold.
    pub fn limits(&self) -> HubLimits {
        self.lock().limits
    }

    /// How many times the state saved across restarts has changed.
    pub fn state_generation(&self) -> u64 {
        self.lock().saved_generation
    }

    /// When the state saved across restarts changed since generation
    /// `since`: the generation now and the state file's text (the kept
    /// state events in `seq` order, but the server's own figures; see
    /// [`persist`]). Texts are copied under the lock, joined after it.
    pub fn saved_state_text(&self, since: u64) -> Option<(u64, String)> {
        let inner = self.lock();
        if inner.saved_generation == since {
            return None;
        }
        let generation = inner.saved_generation;
        let kept: Vec<Serialized> = inner
            .state
            .values()
            .flat_map(KeyedState::events)
            .filter(|e| e.key.as_deref().is_some_and(saved_across_restarts))
            .cloned()
            .collect();
        drop(inner);
        let kept = in_seq_order(kept);
        Some((generation, persist::file_text(kept.iter().map(|e| &*e.text), now_ms())))
    }

    /// Counters about clients, drops and evictions.
    pub fn stats(&self) -> HubStats {
        let inner = self.lock();
        HubStats {
            clients: inner.clients.iter().filter(|c| !c.is_closed()).count(),
            dropped_events: inner.dropped_by_gone_clients + inner.clients.iter().map(|c| c.dropped()).sum::<u64>(),
            evicted_events: inner.state.values().map(KeyedState::evicted).sum(),
            overflowed_clients: inner.overflowed_gone_clients
                + inner.clients.iter().filter(|c| c.overflowed()).count() as u64,
        }
    }

    /// Bytes of JSON text kept for late joiners (state and recent frames).
    pub fn kept_bytes(&self) -> usize {
        let inner = self.lock();
        inner.state.values().map(KeyedState::bytes).sum::<usize>()
            + inner.recent_replay.bytes()
            + inner.recent_predictions.bytes()
    }
}

/// The demo publishes to its own hub in-process, through the same trait
/// as producers that publish over HTTP.
impl Publish for Hub {
    fn publish(&self, events: &[Event]) -> Result<(), PublishError> {
        self.publish_all(events.to_vec())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn list(hub: &Hub) -> Vec<Value> {
        hub.snapshot_json().as_array().cloned().unwrap_or_default()
    }

    /// Publishes a fixture event (a test's own JSON, valid by construction).
    fn publish(hub: &Hub, event: Value) {
        let parsed = Event::from_value(event).unwrap_or_else(|e| panic!("{e}"));
        hub.publish(parsed).unwrap_or_else(|e| panic!("{e}"));
    }

    fn replay(t_s: u64, extra: Value) -> Value {
        let mut frame = json!({"type": "replay", "episode_id": "e", "host_id": "h", "t_s": t_s, "label": "benign",
                               "values": {}});
        if let (Some(frame), Some(extra)) = (frame.as_object_mut(), extra.as_object()) {
            frame.extend(extra.clone());
        }
        frame
    }

    #[test]
    fn state_is_latest_per_key_and_seq_increases() {
        let hub = Hub::new();
        let profile =
            |shape: &str| json!({"type": "attack_profile", "name": "io-walk", "shape": shape, "curve": [0.0]});
        publish(&hub, profile("old"));
        publish(&hub, replay(0, json!({"ts": 5, "seq": 99})));
        publish(&hub, profile("new"));
        let list = list(&hub);
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["seq"], 2, "a producer's seq is replaced");
        assert_eq!(list[0]["ts"], 5, "a producer's ts is kept");
        assert_eq!(list[1]["shape"], "new");
        assert_eq!(list[1]["seq"], 3);
        let (first, queue) = hub.subscribe();
        assert_eq!(first.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
        publish(&hub, replay(1, json!({})));
        assert_eq!(queue.len(), 1);
        assert_eq!(hub.stats(), HubStats { clients: 1, ..HubStats::default() });
    }

    #[test]
    fn state_is_evicted_per_kind_by_count_and_bytes_and_counted() {
        let limits = HubLimits {
            state_per_kind: Bound { events: 10, bytes: 2000 },
            recent_replay: Bound { events: 3, bytes: 1 << 20 },
            recent_predictions: Bound { events: 3, bytes: 400 },
            client_queue: Bound { events: 100, bytes: 1 << 20 },
        };
        let hub = Hub::with_limits(limits);
        let perf = |name: String| json!({"type": "perf", "source": "s", "name": name, "value": 1, "unit": "x"});
        for i in 0..25 {
            publish(&hub, perf(format!("k{i}")));
        }
        let profile = json!({"type": "attack_profile", "name": "io-walk", "shape": "s", "curve": [0.0]});
        publish(&hub, profile);
        let names: Vec<String> = list(&hub)
            .iter()
            .filter(|e| e["type"] == "perf")
            .filter_map(|e| e["name"].as_str().map(String::from))
            .collect();
        assert_eq!(names, (15..25).map(|i| format!("k{i}")).collect::<Vec<_>>(), "the newest 10 perf keys");
        assert_eq!(list(&hub).iter().filter(|e| e["type"] == "attack_profile").count(), 1, "other kinds untouched");
        assert_eq!(hub.stats().evicted_events, 15);
        // Bytes: three ~900-byte progress events do not fit in 2,000.
        for i in 0..3 {
            publish(
                &hub,
                json!({"type": "progress", "job": "j", "id": i.to_string(), "done": 1, "total": 2, "message": "m".repeat(800)}),
            );
        }
        let ids: Vec<Value> = list(&hub).iter().filter(|e| e["type"] == "progress").map(|e| e["id"].clone()).collect();
        assert_eq!(ids, [json!("1"), json!("2")]);
        assert_eq!(hub.stats().evicted_events, 16);
        // Frames: by count (replay) and by bytes (predictions, ~160 bytes each).
        for i in 0..5 {
            publish(&hub, replay(i, json!({})));
            publish(
                &hub,
                json!({"type": "prediction", "model": "m", "variant": "v", "episode_id": "e", "t_s": i, "probs": {},
                       "predicted": "p", "truth": "t", "latency_us": 1, "runtime": "server", "ts": 1}),
            );
        }
        let count = |kind: &str| list(&hub).iter().filter(|e| e["type"] == kind).count();
        assert_eq!((count("replay"), count("prediction")), (3, 2));
        assert!(hub.kept_bytes() < 3 * 2000 + 400 + 300, "three kinds of state and two rings");
    }

    #[test]
    fn the_snapshot_is_the_kept_texts_joined_in_seq_order() {
        let hub = Hub::new();
        publish(&hub, json!({"type": "perf", "source": "a", "name": "b", "value": 1, "unit": "x", "ts": 1}));
        publish(&hub, json!({"type": "perf", "source": "a", "name": "c", "value": 2.0, "unit": "x", "ts": 2}));
        assert_eq!(
            hub.snapshot_text(),
            r#"[{"seq":1,"type":"perf","source":"a","name":"b","value":1,"unit":"x","ts":1},{"seq":2,"type":"perf","source":"a","name":"c","value":2.0,"unit":"x","ts":2}]"#
        );
        assert_eq!(Hub::new().snapshot_text(), "[]");
        assert_eq!(&*with_seq(7, "{}"), r#"{"seq":7}"#);
    }
}
