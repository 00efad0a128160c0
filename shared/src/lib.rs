//! The contracts of cis490, shared by the server and the browser.
//!
//! - [`registry`]: the 46-channel telemetry registry ([`registry::CHANNELS`]),
//!   its sources and their nominal sampling periods.
//! - [`events`]: the six dashboard event types, parsed into one
//!   [`events::Event`].
//! - [`evaluation`]: the evaluation report's types and conventions
//!   (significance threshold, model order).
//! - [`argmax`]: the one argmax (first maximum wins a tie, NaN never wins).
//! - [`label`]: the seven window classes ([`label::Label`]) and the six
//!   attack-like behaviour profiles.
//! - [`ids`]: validated host and episode identifiers.
//! - [`errors`]: printing an error and its causes, each once ([`error_chain`]).
//! - [`features`]: alignment on wall-clock time, windows, summary
//!   statistics and tensors (the same code in the extractor and the browser).
//! - [`validation`]: episode statuses and the validation summary the
//!   dashboard shows.
//! - [`quantile`]: the quantile convention of intervals and percentiles.
//! - [`rng`]: the seeded random numbers the generator, splits and
//!   trainers use (stable across dependency upgrades).
//!
//! Everything here is pure and compiles for `wasm32-unknown-unknown`.

pub mod argmax;
pub mod errors;
pub mod evaluation;
pub mod events;
pub mod features;
pub mod ids;
pub mod label;
pub mod quantile;
pub mod registry;
pub mod rng;
pub mod validation;

pub use errors::{Cause, error_chain};
