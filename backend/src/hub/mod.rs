//! The event hub: producers publish events, every connected dashboard
//! receives the current state first and then live events, each with a
//! strictly increasing `seq` (protocol: `events.md`).
//!
//! - [`queue`]: each client's bounded queue (a stalled client never slows
//!   publishers or other clients);
//! - [`routes`]: `POST /publish`, `GET /ws`, `GET /api/snapshot`;
//! - [`client`]: publishing over HTTP or in-process;
//! - [`retry`]: producers that reconnect to a restarted hub;
//! - [`background`]: publishing from jobs without ever waiting for the hub;
//! - [`progress_events`]: throttled `progress` events for long jobs.
//!
//! Publishing takes one short lock: it numbers the event, serializes it
//! once, updates the state and pushes the text to every client queue
//! without waiting.

pub mod background;
pub mod client;
pub mod progress_events;
pub mod queue;
pub mod retry;
pub mod routes;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use cis490_shared::events::{EventKind, state_key};
use serde_json::Value;

use queue::{ClientQueue, Queued};

/// Recent `replay` frames kept for late-joining dashboards.
pub const RECENT_REPLAY: usize = 240;
/// Recent `prediction` frames kept for late-joining dashboards.
pub const RECENT_PREDICTIONS: usize = 480;
/// Events a client may have waiting before high-rate ones are dropped.
pub const CLIENT_QUEUE: usize = 1024;

#[derive(Debug, Default)]
struct Inner {
    next_seq: u64,
    state: BTreeMap<String, (u64, Queued)>,
    recent_replay: VecDeque<(u64, Queued)>,
    recent_predictions: VecDeque<(u64, Queued)>,
    clients: Vec<Arc<ClientQueue>>,
    dropped_by_gone_clients: u64,
}

/// The hub's state and its clients.
#[derive(Debug, Default)]
pub struct Hub {
    inner: Mutex<Inner>,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl Hub {
    /// An empty hub.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Publishes one checked event: assigns `seq` (always, so it strictly
    /// increases per hub run), adds `ts` (Unix ms) when missing, keeps it as
    /// state or as a recent frame, and queues it for every client. Returns
    /// the `seq`.
    pub fn publish(&self, kind: EventKind, mut event: Value) -> u64 {
        let mut inner = self.lock();
        inner.next_seq += 1;
        let seq = inner.next_seq;
        if let Some(obj) = event.as_object_mut() {
            obj.insert("seq".into(), seq.into());
            obj.entry("ts").or_insert_with(|| now_ms().into());
        }
        let key = state_key(kind, &event);
        let queued = Queued { kind, key: key.clone(), text: event.to_string().into() };
        match (kind, key) {
            (_, Some(key)) => {
                inner.state.insert(key, (seq, queued.clone()));
            }
            (EventKind::Replay, None) => push_bounded(&mut inner.recent_replay, (seq, queued.clone()), RECENT_REPLAY),
            _ => push_bounded(&mut inner.recent_predictions, (seq, queued.clone()), RECENT_PREDICTIONS),
        }
        let mut gone = 0;
        inner.clients.retain(|c| {
            if c.is_closed() {
                gone += c.dropped();
                false
            } else {
                true
            }
        });
        inner.dropped_by_gone_clients += gone;
        for client in &inner.clients {
            client.push(queued.clone());
        }
        seq
    }

    /// The current state in `seq` order: latest state events, then recent frames.
    fn snapshot_locked(inner: &Inner) -> Vec<Queued> {
        let mut all: Vec<&(u64, Queued)> =
            inner.state.values().chain(&inner.recent_replay).chain(&inner.recent_predictions).collect();
        all.sort_by_key(|(seq, _)| *seq);
        all.into_iter().map(|(_, q)| q.clone()).collect()
    }

    /// Registers a client: returns the state to send first and the queue of
    /// live events after it (taken under one lock, so nothing is missed or
    /// sent twice).
    pub fn subscribe(&self) -> (Vec<Queued>, Arc<ClientQueue>) {
        let mut inner = self.lock();
        let snapshot = Self::snapshot_locked(&inner);
        let queue = Arc::new(ClientQueue::new(CLIENT_QUEUE));
        inner.clients.push(queue.clone());
        (snapshot, queue)
    }

    /// The current state as a JSON array, in `seq` order (`/api/snapshot`).
    pub fn snapshot_json(&self) -> Value {
        let inner = self.lock();
        let events: Vec<Value> =
            Self::snapshot_locked(&inner).iter().filter_map(|q| serde_json::from_str(&q.text).ok()).collect();
        Value::Array(events)
    }

    /// Connected clients and events dropped for slow clients so far.
    pub fn stats(&self) -> (usize, u64) {
        let inner = self.lock();
        let live = inner.clients.iter().filter(|c| !c.is_closed()).count();
        let dropped = inner.dropped_by_gone_clients + inner.clients.iter().map(|c| c.dropped()).sum::<u64>();
        (live, dropped)
    }
}

fn push_bounded<T>(ring: &mut VecDeque<T>, item: T, cap: usize) {
    if ring.len() == cap {
        ring.pop_front();
    }
    ring.push_back(item);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn state_is_latest_per_key_and_seq_increases() {
        let hub = Hub::new();
        let profile =
            |shape: &str| json!({"type": "attack_profile", "name": "io-walk", "shape": shape, "curve": [0.0]});
        hub.publish(EventKind::AttackProfile, profile("old"));
        hub.publish(EventKind::Replay, json!({"type": "replay", "ts": 5}));
        hub.publish(EventKind::AttackProfile, profile("new"));
        let snap = hub.snapshot_json();
        let list = snap.as_array().map(Vec::as_slice).unwrap_or_default();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["seq"], 2);
        assert_eq!(list[0]["ts"], 5, "a producer's ts is kept");
        assert_eq!(list[1]["shape"], "new");
        assert_eq!(list[1]["seq"], 3);
        let (first, queue) = hub.subscribe();
        assert_eq!(first.len(), 2);
        hub.publish(EventKind::Replay, json!({"type": "replay"}));
        assert_eq!(queue.len(), 1);
        assert_eq!(hub.stats(), (1, 0));
    }
}
