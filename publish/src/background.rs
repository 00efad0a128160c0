//! Publishing that never holds up the job: events go to a bounded queue
//! and a background thread delivers them, reconnecting when the hub is
//! away.
//!
//! `validate`, `extract`, `train` and `eval` report progress from their
//! worker threads; a hub that is down or unreachable (a connect that waits
//! for its timeout) must not slow them, and a job's own outputs never
//! depend on the hub. [`Background::publish`] only queues (at most
//! [`QUEUE_EVENTS`]; past that the oldest are dropped and counted); the
//! thread sends in order, retries with the backoff of [`super::retry`]
//! while the hub is unreachable, and drops events the hub refuses. When the
//! last handle goes, what is still queued gets [`FLUSH_FOR`] to be
//! delivered, then the rest is reported as lost.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use cis490_shared::events::Event;

use super::retry::backoff;
use super::{Publish, PublishError};

/// Most events waiting for the hub.
pub const QUEUE_EVENTS: usize = 4096;
/// How long queued events may still be delivered once the job is done.
pub const FLUSH_FOR: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
struct Queue {
    events: VecDeque<Event>,
    dropped: u64,
    closing: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A publisher whose `publish` returns at once (see the module docs).
pub struct Background {
    shared: Arc<Shared>,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Starts the delivery thread for `inner` (one attempt per call, e.g.
    /// an [`super::HttpPublisher`]).
    pub fn start(inner: Box<dyn Publish>) -> Self {
        let shared = Arc::new(Shared { queue: Mutex::new(Queue::default()), wake: Condvar::new() });
        let worker_shared = shared.clone();
        let worker = std::thread::Builder::new()
            .name("hub-publisher".into())
            .spawn(move || deliver(&worker_shared, inner.as_ref()))
            .map_err(|e| tracing::warn!("cannot start the hub publisher thread: {e}; events are not sent"))
            .ok();
        Self { shared, worker }
    }

    /// Events dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.lock().dropped
    }
}

impl Publish for Background {
    fn publish(&self, events: &[Event]) -> Result<(), PublishError> {
        let mut q = self.shared.lock();
        for event in events {
            if q.events.len() >= QUEUE_EVENTS {
                q.events.pop_front();
                q.dropped += 1;
            }
            q.events.push_back(event.clone());
        }
        drop(q);
        self.shared.wake.notify_one();
        Ok(())
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
        if let Some(worker) = self.worker.take() {
            // The worker itself stops at its flush deadline.
            let _ = worker.join();
        }
        let q = self.shared.lock();
        if q.dropped > 0 || !q.events.is_empty() {
            tracing::warn!(
                "{} hub events not delivered (the job's own outputs are written)",
                q.dropped + q.events.len() as u64
            );
        }
    }
}

fn deliver(shared: &Shared, inner: &dyn Publish) {
    let mut failures = 0u32;
    let mut deadline: Option<Instant> = None;
    loop {
        let batch: Vec<Event> = {
            let mut q = shared.lock();
            while q.events.is_empty() && !q.closing {
                q = shared.wake.wait(q).unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if q.closing {
                let flush_until = *deadline.get_or_insert_with(|| Instant::now() + FLUSH_FOR);
                if q.events.is_empty() || Instant::now() >= flush_until {
                    return;
                }
            }
            q.events.iter().take(64).cloned().collect()
        };
        match inner.publish(&batch) {
            Ok(()) => {
                if failures > 0 {
                    tracing::info!("the hub is reachable again; publishing resumed");
                }
                failures = 0;
                shared.lock().events.drain(..batch.len());
            }
            Err(e) if e.is_retryable() => {
                failures += 1;
                if failures == 1 {
                    let why = cis490_shared::error_chain(&e);
                    tracing::warn!("{why}; the job goes on and events are sent when the hub answers");
                }
                let wait = match deadline {
                    Some(until) => backoff(failures).min(until.saturating_duration_since(Instant::now())),
                    None => backoff(failures),
                };
                // New events do not cut the wait short; the end of the job does.
                let until = Instant::now() + wait;
                let mut q = shared.lock();
                while !(q.closing && deadline.is_none()) && Instant::now() < until {
                    let left = until.saturating_duration_since(Instant::now());
                    q = shared.wake.wait_timeout(q, left).map_or_else(|e| e.into_inner().0, |(q, _)| q);
                }
            }
            Err(e) => {
                tracing::warn!("the hub refused {} events: {}", batch.len(), cis490_shared::error_chain(&e));
                shared.lock().events.drain(..batch.len());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cis490_shared::events::PerfEvent;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The `i`th event of a test.
    fn numbered(i: usize) -> Event {
        Event::Perf(PerfEvent::new("test", "i", i.into(), "events"))
    }

    /// Refuses to connect `down` times, then records what it receives.
    struct Recorder {
        down: AtomicUsize,
        got: Arc<Mutex<Vec<Event>>>,
    }

    impl Publish for Recorder {
        fn publish(&self, events: &[Event]) -> Result<(), PublishError> {
            if self.down.load(Ordering::SeqCst) > 0 {
                self.down.fetch_sub(1, Ordering::SeqCst);
                return Err(PublishError::Connect { addr: "hub".into(), source: std::io::Error::other("refused") });
            }
            self.got
                .lock()
                .map_err(|_| PublishError::Status { status: 0, body: String::new() })?
                .extend_from_slice(events);
            Ok(())
        }
    }

    #[test]
    fn publishing_returns_at_once_and_events_arrive_in_order_after_an_outage() -> Result<(), String> {
        let got = Arc::new(Mutex::new(Vec::new()));
        let background = Background::start(Box::new(Recorder { down: AtomicUsize::new(2), got: got.clone() }));
        let started = Instant::now();
        for i in 0..10 {
            background.publish(&[numbered(i)]).map_err(|e| e.to_string())?;
        }
        assert!(started.elapsed() < Duration::from_millis(100), "publish waited for the hub");
        drop(background);
        let got = got.lock().map_err(|e| e.to_string())?;
        let order: Vec<Event> = (0..10).map(numbered).collect();
        assert_eq!(*got, order);
        Ok(())
    }

    #[test]
    fn a_hub_that_never_answers_costs_the_job_at_most_the_flush_time() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let background = Background::start(Box::new(Recorder { down: AtomicUsize::new(usize::MAX), got }));
        for i in 0..(QUEUE_EVENTS + 10) {
            let _ = background.publish(&[numbered(i)]);
        }
        assert_eq!(background.dropped(), 10);
        let started = Instant::now();
        drop(background);
        assert!(started.elapsed() < FLUSH_FOR + Duration::from_secs(2));
    }
}
