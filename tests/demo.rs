//! The demo as a library: `cis490_pipeline::demo` is what `cis490 demo`
//! runs, so this test runs the same code on a small corpus (60 episodes,
//! one epoch per network) and checks each stage's outputs, the events it
//! published, and the producers that keep a dashboard live afterwards.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use cis490_pipeline::demo::{self, DemoOptions, StageDone};
use cis490_pipeline::publish::{Publish, PublishError};
use cis490_pipeline::run_dir::RunDir;
use cis490_shared::events::Event;
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Keeps every published event; sets `stop` once `stop_after` replay
/// frames have arrived (the replay runs at real time).
struct Recorder {
    events: Mutex<Vec<Value>>,
    stop: Arc<AtomicBool>,
    stop_after: usize,
}

impl Publish for Recorder {
    fn publish(&self, events: &[Event]) -> Result<(), PublishError> {
        let as_json = events.iter().map(serde_json::to_value).collect::<Result<Vec<_>, _>>()?;
        let mut kept = self.events.lock().map_err(|_| PublishError::Status { status: 500, body: "poisoned".into() })?;
        kept.extend(as_json);
        if kept.iter().filter(|e| e["type"] == "replay").count() >= self.stop_after {
            self.stop.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
}

#[test]
fn the_demo_pipeline_runs_every_stage_and_keeps_the_dashboard_live() -> TestResult {
    let dir = tempfile::tempdir()?;
    let opts = DemoOptions {
        workdir: dir.path().join("demo"),
        episodes: 60,
        seed: 7,
        jobs: 2,
        max_epochs: 1,
        progress: false,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let recorder = Arc::new(Recorder { events: Mutex::default(), stop: Arc::clone(&stop), stop_after: 22 });
    let mut stages = Vec::new();
    let paths = demo::run_pipeline(&opts, Some(recorder.clone()), &mut |stage| {
        stages.push(match stage {
            StageDone::Synth(report, _) => format!("synth {}", report.plans.len()),
            StageDone::Validate(sweep, _) => format!("validate {}", sweep.rows.len()),
            StageDone::Extract(summary, _) => format!("extract {}", summary.episodes > 0),
            StageDone::Split(made) => format!("split {:?} {}", made.recipe, !made.test.is_empty()),
            StageDone::Train(trained, _) => format!("train {}", trained.len()),
            StageDone::Eval(evaluated, _) => format!("eval {}", evaluated.report.models.len()),
        })
    })?;
    assert_eq!(
        stages,
        ["synth 60", "validate 60", "extract true", "split Host true", "train 12", "eval 12"],
        "every stage, in order, on the whole demo"
    );
    assert_eq!(paths, demo::DemoPaths::new(&opts.workdir));
    for file in [&paths.index, &paths.split, &paths.run.join("eval/report.json")] {
        assert!(file.is_file(), "{} missing", file.display());
    }
    assert_eq!(RunDir::new(&paths.run).models()?.len(), 12);
    let published = |kind: &str| -> Vec<Value> {
        recorder.events.lock().map(|e| e.iter().filter(|e| e["type"] == kind).cloned().collect()).unwrap_or_default()
    };
    let jobs: BTreeSet<String> =
        published("progress").iter().filter_map(|e| e["job"].as_str().map(str::to_owned)).collect();
    for job in ["validate", "extract", "train", "eval"] {
        assert!(jobs.contains(job), "no progress from {job}: {jobs:?}");
    }
    assert_eq!(published("metrics").len(), 12, "one metrics event per model");

    demo::keep_live(&paths, recorder.as_ref(), &stop)?;
    assert!(!published("attack_profile").is_empty(), "no attack profiles");
    let frames = published("replay");
    // Real time at 2 frames/s: the first window (10 s) ends at frame 20,
    // when every model's prediction for it is published.
    assert!(frames.len() >= 22, "the replay stopped early: {} frames", frames.len());
    let predicted: BTreeSet<String> = published("prediction")
        .iter()
        .map(|e| format!("{}-{}", e["model"].as_str().unwrap_or("?"), e["variant"].as_str().unwrap_or("?")))
        .collect();
    assert_eq!(predicted.len(), 12, "live predictions from every model: {predicted:?}");
    Ok(())
}
