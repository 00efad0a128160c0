//! Reading the receiver store: its layout, episode archives and their rows.
//!
//! - [`layout`] walks `<store>/<host_id>/<episode_id>.tar.zst` and reports
//!   anything else it finds;
//! - [`archive`] streams one archive into tables without touching disk;
//! - [`jsonl`] parses telemetry rows fast; [`table`] holds them as columns;
//! - [`tar_writer`] writes deterministic ustar archives (generator, tests).

pub mod archive;
pub mod jsonl;
pub mod layout;
pub mod table;
pub mod tar_writer;
