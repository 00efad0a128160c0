//! The cis490 pipeline as a library: every stage from the receiver store
//! to the evaluation report, and the producers that turn its outputs into
//! dashboard events. The `cis490` binary and the tests both call it; it has
//! no async runtime and no web server (those live in `cis490-server`).
//!
//! - [`store`]: reading the receiver store and its episode archives;
//! - [`source`]: where the store is (a folder, or with the `object-store`
//!   feature an S3-compatible bucket);
//! - [`synth`]: the synthetic corpus generator;
//! - [`validate`]: the validator and the acceptance index;
//! - [`extract`]: windows and features, per episode and as Parquet shards;
//! - [`split`]: held-out host / sample / time splits and normalization;
//! - `train`: models × variants into schema-hashed checkpoints;
//! - `eval`: cluster-bootstrap evaluation of a run on its split;
//! - [`producers`]: dashboard events from the pipeline's outputs (replay,
//!   live predictions, metrics, attack profiles, perf);
//! - [`publish`]: sending events to a hub (HTTP, retries, background);
//! - [`jobs`]: validate and extract with their progress events;
//! - [`shard`], [`merge`]: sharded sweeps (`--shard I/N`, one part per
//!   Slurm array task or Kubernetes index) and merging their parts into
//!   what one process writes;
//! - `demo`: the whole path on built-in defaults, and the producers that
//!   keep a dashboard live after it;
//! - [`run_dir`]: the run folder's layout (models, checkpoints, ONNX files);
//! - [`atomic_file`], [`output_dir`]: atomic files and output folders that
//!   always hold one consistent run;
//! - [`progress`]: progress bars.
//!
//! `train`, `eval` and `demo` need the `training` feature (the models'
//! trainers); the Raspberry Pi edge build leaves them out.

#[cfg(feature = "training")]
pub mod demo;
#[cfg(feature = "training")]
pub mod eval;
pub mod extract;
pub mod jobs;
pub mod merge;
pub mod output_dir;
pub mod producers;
pub mod progress;
pub mod run_dir;
pub mod shard;
pub mod source;
pub mod split;
pub mod synth;
#[cfg(feature = "training")]
pub mod train;
pub mod validate;

/// Publishing events to a hub (the `cis490-publish` crate).
pub use cis490_publish as publish;
/// Reading the receiver store (the `cis490-store` crate).
pub use cis490_store as store;
/// Atomic files (in `cis490-store`, which the server shares).
pub use cis490_store::atomic_file;

pub use cis490_shared::error_chain;

/// The seed every stage uses unless told otherwise.
pub const DEFAULT_SEED: u64 = 490;

/// Worker threads by default: every core.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}
