//! Producers: programs that publish dashboard events to a hub.
//!
//! - [`profiles`]: one `attack_profile` curve per profile;
//! - [`replay`]: an episode's frames at real time × speed.
//!
//! Each runs as a subcommand against a hub URL, or in-process in `demo`.

pub mod profiles;
pub mod replay;
