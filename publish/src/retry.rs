//! Producers that outlive their hub: publishing with reconnects.
//!
//! A hub restarts (an upgrade, a reboot of the lab server) while producers
//! run; dashboards reconnect by themselves, so producers must too, or a
//! kiosk shows *live* over a frozen replay. [`Retrying`] wraps any
//! [`Publish`]: an attempt that fails for a reason that may pass (the hub
//! cannot be reached, or answers 5xx / 408 / 429) is retried with
//! exponential backoff from [`FIRST_WAIT`] to [`LONGEST_WAIT`], saying once
//! per outage that the hub is unreachable and once that it is back; a
//! refusal that will not pass (400, 401, 413, ...) is returned at once.
//! Long-running producers (`replay`, `perf`) retry for ever; one-shot ones
//! give up after a deadline with the hub's last error.

use std::time::{Duration, Instant};

use cis490_shared::events::Event;

use super::{Publish, PublishError};

/// First wait after a failed attempt.
pub const FIRST_WAIT: Duration = Duration::from_millis(500);
/// Longest wait between attempts.
pub const LONGEST_WAIT: Duration = Duration::from_secs(10);

impl PublishError {
    /// Whether trying again later may succeed: the hub is unreachable or
    /// overloaded, as opposed to refusing these events.
    pub fn is_retryable(&self) -> bool {
        match self {
            PublishError::Connect { .. } => true,
            PublishError::Status { status, .. } => matches!(status, 0 | 408 | 429 | 500..=599),
            PublishError::Url { .. } | PublishError::Serialize(_) => false,
        }
    }
}

/// The wait after `failures` failed attempts in a row.
pub fn backoff(failures: u32) -> Duration {
    FIRST_WAIT.saturating_mul(1u32 << failures.saturating_sub(1).min(8)).min(LONGEST_WAIT)
}

/// A publisher that reconnects (see the module docs).
pub struct Retrying<P> {
    inner: P,
    give_up_after: Option<Duration>,
    sleep: fn(Duration),
}

impl<P: Publish> Retrying<P> {
    /// Retries for ever (long-running producers).
    pub fn forever(inner: P) -> Self {
        Self { inner, give_up_after: None, sleep: std::thread::sleep }
    }

    /// Retries for at most `limit` in total per publish, then returns the
    /// last error (one-shot producers).
    pub fn for_at_most(inner: P, limit: Duration) -> Self {
        Self { inner, give_up_after: Some(limit), sleep: std::thread::sleep }
    }

    /// The publisher inside.
    pub fn inner(&self) -> &P {
        &self.inner
    }
}

impl<P: Publish> Publish for Retrying<P> {
    fn publish(&self, events: &[Event]) -> Result<(), PublishError> {
        let started = Instant::now();
        let mut failures = 0u32;
        loop {
            match self.inner.publish(events) {
                Ok(()) => {
                    if failures > 0 {
                        tracing::info!(
                            "the hub is reachable again after {:.1} s; publishing resumed",
                            started.elapsed().as_secs_f64()
                        );
                    }
                    return Ok(());
                }
                Err(e) if e.is_retryable() => {
                    failures += 1;
                    let wait = backoff(failures);
                    if self.give_up_after.is_some_and(|limit| started.elapsed() + wait > limit) {
                        return Err(e);
                    }
                    if failures == 1 {
                        let why = cis490_shared::error_chain(&e);
                        tracing::warn!("{why}; retrying (every {} s at most) until it answers", LONGEST_WAIT.as_secs());
                    }
                    (self.sleep)(wait);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Fails with `errors` in turn, then succeeds.
    struct Flaky(Mutex<Vec<PublishError>>);

    impl Publish for Flaky {
        fn publish(&self, _: &[Event]) -> Result<(), PublishError> {
            match self.0.lock().map(|mut e| e.pop()) {
                Ok(Some(e)) => Err(e),
                _ => Ok(()),
            }
        }
    }

    fn down() -> PublishError {
        PublishError::Connect { addr: "127.0.0.1:1".into(), source: std::io::Error::other("refused") }
    }

    fn no_sleep(_: Duration) {}

    #[test]
    fn unreachable_hubs_are_retried_and_refusals_are_not() {
        let flaky = Flaky(Mutex::new(vec![down(), PublishError::Status { status: 503, body: String::new() }, down()]));
        let retrying = Retrying { inner: flaky, give_up_after: None, sleep: no_sleep };
        assert!(retrying.publish(&[]).is_ok());
        let refused = Flaky(Mutex::new(vec![PublishError::Status { status: 401, body: "token".into() }]));
        let retrying = Retrying { inner: refused, give_up_after: None, sleep: no_sleep };
        assert!(matches!(retrying.publish(&[]), Err(PublishError::Status { status: 401, .. })));
    }

    #[test]
    fn one_shot_producers_give_up_after_their_deadline() {
        let always_down = Flaky(Mutex::new((0..1000).map(|_| down()).collect()));
        let retrying = Retrying { inner: always_down, give_up_after: Some(Duration::ZERO), sleep: no_sleep };
        assert!(matches!(retrying.publish(&[]), Err(PublishError::Connect { .. })));
    }

    #[test]
    fn backoff_doubles_up_to_the_longest_wait() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(5), Duration::from_secs(8));
        assert_eq!(backoff(6), LONGEST_WAIT);
        assert_eq!(backoff(60), LONGEST_WAIT);
    }
}
