//! The `cis490` backend: everything the `cis490` binary does, as a library
//! so end-to-end tests and benchmarks can call it in-process.
//!
//! - [`store`]: reading the receiver store and its episode archives;
//! - [`synth`]: the synthetic corpus generator;
//! - [`validate`]: the validator and the acceptance index;
//! - [`extract`]: windows and features, per episode and as Parquet shards;
//! - [`split`]: held-out host / sample / time splits and normalization;
//! - [`train`]: models × variants into schema-hashed checkpoints;
//! - [`eval`]: cluster-bootstrap evaluation of a run on its split;
//! - [`hub`]: the event hub (publish, WebSocket fan-out, state for late joiners);
//! - [`serve`]: the HTTP server for the dashboard and the hub;
//! - [`producers`]: attack-profile curves and episode replay for the hub;
//! - [`bench`]: throughput benchmarks with their reference limits;
//! - [`atomic_file`], [`output_dir`]: atomic files and output folders that
//!   always hold one consistent run;
//! - [`progress`]: progress bars.

pub mod atomic_file;
pub mod bench;
pub mod eval;
pub mod extract;
pub mod hub;
pub mod output_dir;
pub mod producers;
pub mod progress;
pub mod serve;
pub mod split;
pub mod synth;
pub mod train;
pub mod validate;

/// Reading the receiver store (the `cis490-store` crate).
pub use cis490_store as store;
