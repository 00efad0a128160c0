//! A dashboard client's bounded queue. Publishing never waits on it: when
//! it is full, high-rate events (`replay`, `prediction`, `perf`) are dropped
//! and counted, and state events replace an older queued event with the
//! same key (or push out a high-rate one), so a slow dashboard still ends
//! up with the latest state.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;

use cis490_shared::events::EventKind;
use tokio::sync::Notify;

/// One serialized event waiting for a client.
#[derive(Debug, Clone)]
pub struct Queued {
    /// Its type.
    pub kind: EventKind,
    /// Its state key (state events only).
    pub key: Option<String>,
    /// The JSON text sent to the client.
    pub text: Arc<str>,
}

#[derive(Debug, Default)]
struct Inner {
    items: VecDeque<Queued>,
    dropped: u64,
    closed: bool,
}

/// The bounded queue of one client.
#[derive(Debug)]
pub struct ClientQueue {
    inner: Mutex<Inner>,
    notify: Notify,
    capacity: usize,
}

impl ClientQueue {
    /// An empty queue holding at most `capacity` events (state events may
    /// exceed it by the number of distinct state keys).
    pub fn new(capacity: usize) -> Self {
        Self { inner: Mutex::new(Inner::default()), notify: Notify::new(), capacity: capacity.max(1) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned queue only means another thread panicked mid-push; the
        // data is still a valid queue.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues an event without waiting (see the module docs for the rules when full).
    pub fn push(&self, event: Queued) {
        let mut q = self.lock();
        if q.closed {
            return;
        }
        if q.items.len() < self.capacity {
            q.items.push_back(event);
        } else if !event.kind.is_state() {
            q.dropped += 1;
            return;
        } else if let Some(pos) = q.items.iter().position(|x| x.key.is_some() && x.key == event.key) {
            // Coalesce: the older state event goes, the newer one queues at
            // the back so `seq` still increases along the queue.
            q.items.remove(pos);
            q.items.push_back(event);
        } else if let Some(pos) = q.items.iter().position(|x| !x.kind.is_state()) {
            q.items.remove(pos);
            q.dropped += 1;
            q.items.push_back(event);
        } else {
            q.items.push_back(event);
        }
        drop(q);
        self.notify.notify_one();
    }

    /// Waits for queued events and takes them all.
    pub async fn next_batch(&self) -> Vec<Queued> {
        loop {
            {
                let mut q = self.lock();
                if !q.items.is_empty() {
                    return q.items.drain(..).collect();
                }
            }
            // A wake-up lost to a cancelled wait costs at most this delay.
            let _ = tokio::time::timeout(std::time::Duration::from_millis(200), self.notify.notified()).await;
        }
    }

    /// Events dropped for this client so far.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Marks the client gone: further pushes are ignored.
    pub fn close(&self) {
        let mut q = self.lock();
        q.closed = true;
        q.items.clear();
    }

    /// Whether the client is gone.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventKind, key: Option<&str>, text: &str) -> Queued {
        Queued { kind, key: key.map(str::to_string), text: text.into() }
    }

    #[test]
    fn a_full_queue_drops_streams_and_coalesces_state() {
        let q = ClientQueue::new(3);
        q.push(ev(EventKind::Replay, None, "r1"));
        q.push(ev(EventKind::Progress, Some("p/a"), "p1"));
        q.push(ev(EventKind::Replay, None, "r2"));
        q.push(ev(EventKind::Replay, None, "r3"));
        assert_eq!((q.len(), q.dropped()), (3, 1));
        q.push(ev(EventKind::Progress, Some("p/a"), "p2"));
        q.push(ev(EventKind::Metrics, Some("m/x"), "m1"));
        let texts: Vec<String> = q.lock().items.iter().map(|e| e.text.to_string()).collect();
        assert_eq!(texts, ["r2", "p2", "m1"], "p1 coalesced into p2, r1 pushed out by m1");
        assert_eq!(q.dropped(), 2);
        q.close();
        q.push(ev(EventKind::Replay, None, "late"));
        assert!(q.is_empty());
    }
}
