//! The validate and extract stages as jobs: the stage itself plus the
//! `progress` events it publishes while it runs. The `cis490` subcommands
//! and the demo both run these, so a job reports the same way whichever
//! started it. (Training and evaluation publish through their own options.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cis490_shared::validation::Status;

use crate::extract::{self, ExtractError, ExtractOptions, ExtractSummary};
use crate::publish::Publish;
use crate::publish::progress_events::ProgressEvents;
use crate::validate::{self, Sweep, ValidateError, ValidateOptions};

/// Validates a store, publishing progress with running counts per status.
pub fn validate(opts: &ValidateOptions, publisher: Option<Arc<dyn Publish>>) -> Result<Sweep, ValidateError> {
    let progress = ProgressEvents::new(publisher, "validate", &opts.store.display().to_string(), "episodes");
    let counts: [AtomicU64; Status::ALL.len()] = Default::default();
    validate::run(opts, &|row, done, total| {
        counts[row.status.index()].fetch_add(1, Ordering::Relaxed);
        let mut extra = serde_json::Map::new();
        for (status, count) in Status::ALL.iter().zip(&counts) {
            extra.insert(status.as_str().into(), count.load(Ordering::Relaxed).into());
        }
        progress.report(done, total, "validating", extra);
    })
}

/// Extracts features, publishing progress.
pub fn extract(opts: &ExtractOptions, publisher: Option<Arc<dyn Publish>>) -> Result<ExtractSummary, ExtractError> {
    let progress = ProgressEvents::new(publisher, "extract", &opts.out.display().to_string(), "episodes");
    extract::run(opts, &|done, total| progress.report(done, total, "extracting", serde_json::Map::new()))
}
