//! Producers: programs that publish dashboard events to a hub.
//!
//! - [`profiles`]: one `attack_profile` curve per profile;
//! - [`replay`]: an episode's frames at real time × speed;
//! - [`predictions`]: a run's models on the replayed windows (tract);
//! - [`metrics`]: an evaluation report's entries;
//! - [`perf`]: a process's memory and CPU use.
//!
//! Each runs as a subcommand against a hub URL, or in-process in `demo`.

pub mod metrics;
/// A process's memory and CPU (in `cis490-publish`, which the server shares).
pub use cis490_publish::perf;
pub mod predictions;
pub mod profiles;
pub mod replay;
