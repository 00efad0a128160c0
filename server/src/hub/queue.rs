//! A dashboard client's bounded queue (at most [`Bound`] events and bytes
//! waiting). Publishing never waits on it and does O(1) work per event:
//!
//! - high-rate events (`replay`, `prediction`, `perf`) wait in a FIFO and
//!   are dropped (and counted) when the queue is full;
//! - state events wait in a map by key: a newer one replaces the waiting
//!   one of its key; a new key on a full queue pushes out the oldest
//!   waiting high-rate event (counted as dropped);
//! - when only state events wait and a new key still does not fit, the
//!   client has fallen too far behind: the queue closes as *overflowed*,
//!   the hub disconnects the client, and its reconnect brings a fresh
//!   snapshot.
//!
//! Taking a batch merges the two by `seq`, so a client still sees `seq`
//! strictly increase.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::Mutex;

use tokio::sync::Notify;

use super::Serialized;
use super::state::Bound;

#[derive(Debug, Default)]
struct Inner {
    stream: VecDeque<Serialized>,
    state: HashMap<Arc<str>, Serialized>,
    bytes: usize,
    dropped: u64,
    closed: bool,
    overflowed: bool,
}

impl Inner {
    fn len(&self) -> usize {
        self.stream.len() + self.state.len()
    }

    fn close(&mut self) {
        self.closed = true;
        self.stream.clear();
        self.state.clear();
        self.bytes = 0;
    }
}

/// The bounded queue of one client.
#[derive(Debug)]
pub struct ClientQueue {
    inner: Mutex<Inner>,
    notify: Notify,
    bound: Bound,
}

impl ClientQueue {
    /// An empty queue holding at most `bound` (at least one event).
    pub fn new(bound: Bound) -> Self {
        let bound = Bound { events: bound.events.max(1), bytes: bound.bytes };
        Self { inner: Mutex::new(Inner::default()), notify: Notify::new(), bound }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned queue only means another thread panicked mid-push; the
        // data is still a valid queue.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues an event without waiting (see the module docs for the rules when full).
    pub fn push(&self, event: Serialized) {
        let mut q = self.lock();
        if q.closed {
            return;
        }
        match event.key.clone().filter(|_| event.kind.is_state()) {
            Some(key) => self.push_state(&mut q, key, event),
            None => self.push_stream(&mut q, event),
        }
        drop(q);
        self.notify.notify_one();
    }

    fn push_stream(&self, q: &mut Inner, event: Serialized) {
        if self.bound.exceeded_by(q.len() + 1, q.bytes + event.text.len()) {
            q.dropped += 1;
            return;
        }
        q.bytes += event.text.len();
        q.stream.push_back(event);
    }

    fn push_state(&self, q: &mut Inner, key: Arc<str>, event: Serialized) {
        q.bytes += event.text.len();
        if let Some(old) = q.state.insert(key, event) {
            q.bytes -= old.text.len();
        }
        while self.bound.exceeded_by(q.len(), q.bytes) {
            match q.stream.pop_front() {
                Some(old) => {
                    q.bytes -= old.text.len();
                    q.dropped += 1;
                }
                None => {
                    q.overflowed = true;
                    q.close();
                    return;
                }
            }
        }
    }

    /// Waits for queued events and takes them all, in `seq` order; `None`
    /// once the queue is closed (the client left, or fell too far behind).
    pub async fn next_batch(&self) -> Option<Vec<Serialized>> {
        loop {
            {
                let mut q = self.lock();
                if q.closed {
                    return None;
                }
                if q.len() > 0 {
                    let inner = &mut *q;
                    let mut batch: Vec<Serialized> =
                        inner.stream.drain(..).chain(inner.state.drain().map(|(_, e)| e)).collect();
                    inner.bytes = 0;
                    drop(q);
                    batch.sort_unstable_by_key(|e| e.seq);
                    return Some(batch);
                }
            }
            // `notify_one` keeps a permit when nobody waits, and a
            // cancelled wait hands its wake-up on, so none is lost.
            self.notify.notified().await;
        }
    }

    /// Events dropped for this client so far.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Marks the client gone: further pushes are ignored.
    pub fn close(&self) {
        self.lock().close();
        self.notify.notify_one();
    }

    /// Whether the client is gone.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Whether the queue closed because the client fell too far behind.
    pub fn overflowed(&self) -> bool {
        self.lock().overflowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cis490_shared::events::EventKind;

    fn ev(seq: u64, kind: EventKind, key: Option<&str>, text: &str) -> Serialized {
        Serialized { kind, key: key.map(Arc::from), seq, text: text.into() }
    }

    async fn texts(q: &ClientQueue) -> Vec<String> {
        q.next_batch().await.unwrap_or_default().iter().map(|e| e.text.to_string()).collect()
    }

    #[tokio::test]
    async fn a_full_queue_drops_streams_and_coalesces_state() {
        let q = ClientQueue::new(Bound { events: 3, bytes: 1 << 20 });
        q.push(ev(1, EventKind::Replay, None, "r1"));
        q.push(ev(2, EventKind::Progress, Some("p/a"), "p1"));
        q.push(ev(3, EventKind::Replay, None, "r2"));
        q.push(ev(4, EventKind::Replay, None, "r3"));
        assert_eq!((q.len(), q.dropped()), (3, 1));
        q.push(ev(5, EventKind::Progress, Some("p/a"), "p2"));
        q.push(ev(6, EventKind::Metrics, Some("m/x"), "m1"));
        assert_eq!(texts(&q).await, ["r2", "p2", "m1"], "p1 coalesced into p2, r1 pushed out by m1, in seq order");
        assert_eq!(q.dropped(), 2);
        q.close();
        q.push(ev(7, EventKind::Replay, None, "late"));
        assert!(q.is_empty());
        assert_eq!(q.next_batch().await.map(|b| b.len()), None, "a closed queue ends the client");
    }

    #[tokio::test]
    async fn bytes_are_bounded_too() {
        let q = ClientQueue::new(Bound { events: 100, bytes: 10 });
        q.push(ev(1, EventKind::Replay, None, "12345"));
        q.push(ev(2, EventKind::Perf, Some("perf/a"), "12345"));
        q.push(ev(3, EventKind::Prediction, None, "1"));
        assert_eq!((q.len(), q.dropped()), (2, 1), "perf is high-rate: dropped like a frame");
        q.push(ev(4, EventKind::Progress, Some("p/a"), "123"));
        assert_eq!((q.len(), q.dropped()), (2, 2), "the oldest frame made room for the state event");
        assert_eq!(texts(&q).await, ["12345", "123"]);
    }

    #[test]
    fn a_client_too_far_behind_on_state_is_closed_as_overflowed() {
        let q = ClientQueue::new(Bound { events: 2, bytes: 1 << 20 });
        q.push(ev(1, EventKind::Progress, Some("p/a"), "a"));
        q.push(ev(2, EventKind::Progress, Some("p/b"), "b"));
        q.push(ev(3, EventKind::Progress, Some("p/a"), "a2"));
        assert!(!q.is_closed(), "a known key is coalesced");
        q.push(ev(4, EventKind::Progress, Some("p/c"), "c"));
        assert!(q.is_closed() && q.overflowed() && q.is_empty());
    }

    /// Time to push `pushes` state events (8 keys in turn) into a queue
    /// of `capacity` already full of frames.
    fn pushes_into_a_full_queue(capacity: usize, pushes: u64) -> std::time::Duration {
        let q = ClientQueue::new(Bound { events: capacity, bytes: usize::MAX });
        for seq in 0..capacity as u64 {
            q.push(ev(seq, EventKind::Replay, None, "r"));
        }
        let keys: Vec<String> = (0..8).map(|k| format!("p/{k}")).collect();
        let started = std::time::Instant::now();
        for i in 0..pushes {
            q.push(ev(capacity as u64 + i, EventKind::Progress, Some(&keys[i as usize % 8]), "p"));
        }
        started.elapsed()
    }

    #[test]
    fn a_full_queue_costs_the_publisher_the_same_whatever_its_size() {
        // The old queue scanned itself for the key on every state push:
        // 100× the size made each push ~100× slower.
        let small = pushes_into_a_full_queue(100, 20_000);
        let large = pushes_into_a_full_queue(10_000, 20_000);
        assert!(
            large < small * 10 + std::time::Duration::from_millis(50),
            "capacity 10,000: {large:?}, capacity 100: {small:?}"
        );
    }
}
