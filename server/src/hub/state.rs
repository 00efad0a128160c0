//! What the hub keeps for late-joining dashboards, bounded by count and by
//! bytes of JSON text: the latest state event per key of each kind (the
//! least recently updated key goes first, and is counted as evicted), and
//! the recent `replay` / `prediction` frames (a ring: the oldest goes
//! first, as frames always do).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use super::Serialized;

/// How much one kept collection may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// Events.
    pub events: usize,
    /// Bytes of JSON text (and state keys).
    pub bytes: usize,
}

impl Bound {
    /// Whether `events` events of `bytes` bytes exceed this bound.
    pub fn exceeded_by(self, events: usize, bytes: usize) -> bool {
        events > self.events || bytes > self.bytes
    }
}

/// Bytes an event costs where it is kept: its text and its key.
fn cost(event: &Serialized) -> usize {
    event.text.len() + event.key.as_ref().map_or(0, |k| k.len())
}

/// The latest event per key of one kind, least recently updated first out.
#[derive(Debug)]
pub struct KeyedState {
    bound: Bound,
    by_key: HashMap<Arc<str>, Serialized>,
    /// `seq` of each kept event → its key: the eviction order.
    by_age: BTreeMap<u64, Arc<str>>,
    bytes: usize,
    evicted: u64,
}

impl KeyedState {
    /// An empty table holding at most `bound`.
    pub fn new(bound: Bound) -> Self {
        Self { bound, by_key: HashMap::new(), by_age: BTreeMap::new(), bytes: 0, evicted: 0 }
    }

    /// Keeps `event` as the latest of its key (events without a key are
    /// ignored), then evicts the least recently updated keys while over the
    /// bound (an event larger than the whole byte bound is delivered live
    /// but not kept).
    pub fn insert(&mut self, event: Serialized) {
        let Some(key) = event.key.clone() else { return };
        self.bytes += cost(&event);
        self.by_age.insert(event.seq, key.clone());
        if let Some(old) = self.by_key.insert(key, event) {
            self.by_age.remove(&old.seq);
            self.bytes -= cost(&old);
        }
        while self.bound.exceeded_by(self.by_key.len(), self.bytes) {
            let Some((_, key)) = self.by_age.pop_first() else { break };
            if let Some(old) = self.by_key.remove(&key) {
                self.bytes -= cost(&old);
                self.evicted += 1;
            }
        }
    }

    /// Kept events (in no particular order).
    pub fn events(&self) -> impl Iterator<Item = &Serialized> {
        self.by_key.values()
    }

    /// Events kept.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Bytes kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Events evicted to stay within the bound so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }
}

/// The most recent frames of one stream, oldest first out.
#[derive(Debug)]
pub struct RecentFrames {
    bound: Bound,
    frames: VecDeque<Serialized>,
    bytes: usize,
}

impl RecentFrames {
    /// An empty ring holding at most `bound`.
    pub fn new(bound: Bound) -> Self {
        Self { bound, frames: VecDeque::new(), bytes: 0 }
    }

    /// Appends a frame, dropping the oldest while over the bound.
    pub fn push(&mut self, frame: Serialized) {
        self.bytes += cost(&frame);
        self.frames.push_back(frame);
        while self.bound.exceeded_by(self.frames.len(), self.bytes) {
            let Some(old) = self.frames.pop_front() else { break };
            self.bytes -= cost(&old);
        }
    }

    /// Kept frames, oldest first.
    pub fn events(&self) -> impl Iterator<Item = &Serialized> {
        self.frames.iter()
    }

    /// Frames kept.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Bytes kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cis490_shared::events::EventKind;

    fn event(seq: u64, key: &str, text_len: usize) -> Serialized {
        Serialized { kind: EventKind::Progress, key: Some(key.into()), seq, text: "x".repeat(text_len).into() }
    }

    fn keys(state: &KeyedState) -> Vec<String> {
        let mut keys: Vec<String> = state.events().filter_map(|e| e.key.as_deref().map(String::from)).collect();
        keys.sort();
        keys
    }

    #[test]
    fn state_evicts_the_least_recently_updated_key_by_count() {
        let mut state = KeyedState::new(Bound { events: 3, bytes: 1 << 20 });
        for (seq, key) in [(1, "a"), (2, "b"), (3, "c"), (4, "a"), (5, "d")] {
            state.insert(event(seq, key, 10));
        }
        assert_eq!(keys(&state), ["a", "c", "d"], "b was updated least recently");
        assert_eq!(state.evicted(), 1);
        assert_eq!(state.bytes(), 3 * 11);
    }

    #[test]
    fn state_evicts_by_bytes_and_replacing_a_key_frees_its_old_text() {
        let mut state = KeyedState::new(Bound { events: 100, bytes: 100 });
        state.insert(event(1, "a", 39));
        state.insert(event(2, "b", 39));
        assert_eq!((state.len(), state.bytes()), (2, 80));
        state.insert(event(3, "a", 9));
        assert_eq!((state.len(), state.bytes(), state.evicted()), (2, 50, 0), "a's old text no longer counts");
        state.insert(event(4, "c", 59));
        assert_eq!(keys(&state), ["a", "c"], "b goes first: 40 + 10 + 60 > 100");
        assert_eq!((state.bytes(), state.evicted()), (70, 1));
        state.insert(event(5, "huge", 200));
        assert!(state.is_empty(), "an event over the whole bound is not kept");
        assert_eq!(state.evicted(), 4);
    }

    #[test]
    fn recent_frames_are_bounded_by_count_and_bytes() {
        let frame =
            |seq: u64, len: usize| Serialized { kind: EventKind::Replay, key: None, seq, text: "x".repeat(len).into() };
        let mut ring = RecentFrames::new(Bound { events: 3, bytes: 100 });
        for seq in 1..=5 {
            ring.push(frame(seq, 10));
        }
        assert_eq!(ring.events().map(|e| e.seq).collect::<Vec<_>>(), [3, 4, 5]);
        ring.push(frame(6, 90));
        assert_eq!(ring.events().map(|e| e.seq).collect::<Vec<_>>(), [5, 6], "90 + 10 fit in 100");
        ring.push(frame(7, 91));
        assert_eq!(ring.events().map(|e| e.seq).collect::<Vec<_>>(), [7], "91 + 90 > 100");
        assert_eq!(ring.bytes(), 91);
    }
}
