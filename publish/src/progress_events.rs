//! `progress` events for long jobs, throttled so a fast sweep does not
//! flood the hub: at most one every 250 ms, plus the final one. Failing to
//! publish is logged once and never stops the job.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cis490_shared::events::{Event, ProgressEvent};
use serde_json::{Map, Value};

use super::Publish;

/// Sends `progress` events for one job.
pub struct ProgressEvents {
    publisher: Option<Arc<dyn Publish>>,
    job: String,
    id: String,
    unit: String,
    last: Mutex<Option<Instant>>,
    min_interval: Duration,
    warned: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for ProgressEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgressEvents").field("job", &self.job).field("id", &self.id).finish()
    }
}

/// Minimum time between two progress events of one job.
pub const MIN_INTERVAL: Duration = Duration::from_millis(250);

impl ProgressEvents {
    /// Progress of `job` (e.g. `validate`) instance `id` counted in `unit`;
    /// without a publisher nothing is sent.
    pub fn new(publisher: Option<Arc<dyn Publish>>, job: &str, id: &str, unit: &str) -> Self {
        Self {
            publisher,
            job: job.into(),
            id: id.into(),
            unit: unit.into(),
            last: Mutex::new(None),
            min_interval: MIN_INTERVAL,
            warned: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Sends every report (for jobs whose steps are each worth a point on
    /// a curve, e.g. training epochs).
    pub fn unthrottled(mut self) -> Self {
        self.min_interval = Duration::ZERO;
        self
    }

    /// Reports `done` of `total`, with extra fields (e.g. status counts);
    /// skipped when the previous event was under [`MIN_INTERVAL`] ago,
    /// unless `done == total`.
    pub fn report(&self, done: u64, total: u64, message: &str, extra: Map<String, Value>) {
        self.report_with(done, total, message, |event| event.extra = extra);
    }

    /// Reports like [`ProgressEvents::report`], `details` filling in the
    /// rest of the event (training's epoch, scores and history).
    pub fn report_with(&self, done: u64, total: u64, message: &str, details: impl FnOnce(&mut ProgressEvent)) {
        let Some(publisher) = &self.publisher else { return };
        {
            let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if done < total && last.is_some_and(|t| t.elapsed() < self.min_interval) {
                return;
            }
            *last = Some(Instant::now());
        }
        let mut event = ProgressEvent::new(&self.job, &self.id, done, total);
        event.unit = Some(self.unit.clone());
        event.message = Some(message.into());
        details(&mut event);
        if let Err(e) = publisher.publish(&[Event::Progress(event)])
            && !self.warned.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::warn!("progress events not delivered (the job goes on): {}", cis490_shared::error_chain(&e));
        }
    }
}
