//! Fuzz targets of cis490 as plain functions: [`archive`], [`jsonl`] and
//! [`events`] each take arbitrary bytes, drive one parser of untrusted
//! input and panic when a property fails (a panic is what the fuzzer
//! reports as a crash).
//!
//! The instrumented binaries in `fuzz_targets/` only call these functions
//! (`cargo xtask fuzz` builds them with libFuzzer), so a plain
//! `cargo test` of this crate replays every saved crash in
//! `regressions/<target>/` and every seed through the same code without
//! instrumentation (`tests/regressions.rs`). [`seeds`] makes the starting
//! corpus and the dictionaries from the store's own writer.
//!
//! Memory is part of the contract: [`alloc_cap`] is this crate's global
//! allocator and aborts on any allocation that would take the live heap
//! over [`alloc_cap::MAX_LIVE_BYTES`].

pub mod alloc_cap;
pub mod archive;
pub mod events;
pub mod jsonl;
pub mod seeds;

pub use archive::archive;
pub use events::events;
pub use jsonl::jsonl;

/// A fuzz target's body: panics when a property fails.
pub type TargetFn = fn(&[u8]);

/// The fuzz targets, by the name of their binary and regression folder.
pub const TARGETS: [(&str, TargetFn); 3] = [("archive", archive), ("jsonl", jsonl), ("events", events)];
