//! Reading the receiver store: its layout, episode archives and their rows,
//! with every cost of a hostile archive bounded.
//!
//! This crate is the only code that touches archive bytes, kept free of the
//! pipeline's heavy dependencies so it can be fuzzed on its own
//! (`cargo xtask fuzz`).
//!
//! - [`layout`] walks `<store>/<host_id>/<episode_id>.tar.zst` and reports
//!   anything else it finds;
//! - [`regular_file`] opens inputs without following links or blocking on
//!   FIFOs;
//! - [`archive`] streams one archive into tables without touching disk,
//!   within the caps of [`limits`];
//! - [`tar_reader`] reads tar headers with bounded names, pax headers and
//!   sparse maps, in linear time;
//! - [`jsonl`] parses telemetry rows fast; [`table`] holds them as columns;
//! - [`tar_writer`] writes deterministic ustar archives (generator, tests).
//!
//! It also holds the two file-system pieces the server shares with the
//! pipeline, so the hub alone (`cis490-hub`) builds without the pipeline:
//!
//! - [`atomic_file`] writes files atomically (temp file + rename, created
//!   exclusively, never through a link);
//! - [`run_layout`] names a run's model files and lists its complete
//!   model folders.

pub mod archive;
pub mod atomic_file;
pub mod jsonl;
pub mod layout;
pub mod limits;
pub mod regular_file;
pub mod run_layout;
pub mod table;
pub mod tar_reader;
pub mod tar_writer;
