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
//! - [`atomic_file`], [`progress`]: atomic writes and progress bars.

pub mod atomic_file;
pub mod bench;
pub mod eval;
pub mod extract;
pub mod hub;
pub mod producers;
pub mod progress;
pub mod serve;
pub mod split;
pub mod store;
pub mod synth;
pub mod train;
pub mod validate;
