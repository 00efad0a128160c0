//! What the `cis490` command line prints when a stage is done: one
//! function per stage, used by the stage's subcommand and by the demo.

use std::path::Path;
use std::time::Duration;

#[cfg(feature = "training")]
use cis490_pipeline::{demo, eval, train};
use cis490_pipeline::{extract, merge, split, synth, validate};

#[cfg(feature = "training")]
/// Prints what a demo stage did, as its subcommand would.
pub(crate) fn print_stage(paths: &demo::DemoPaths, stage: demo::StageDone<'_>) {
    match stage {
        demo::StageDone::Synth(report, took) => print_synth(report, &paths.store, took),
        demo::StageDone::Validate(sweep, took) => print_validate(sweep, &paths.index, took),
        demo::StageDone::Extract(summary, took) => print_extract(summary, &paths.features, took),
        demo::StageDone::Split(made) => print_split(made, &paths.split),
        demo::StageDone::Train(trained, took) => print_trained(trained, &paths.run, took),
        demo::StageDone::Eval(evaluated, took) => print_eval(evaluated, took),
    }
}

pub(crate) fn print_synth(report: &synth::SynthReport, out: &Path, took: Duration) {
    eprintln!(
        "wrote {} episodes ({:.1} MB) to {} in {:.1} s",
        report.plans.len(),
        report.bytes as f64 / 1e6,
        out.display(),
        took.as_secs_f64()
    );
}

pub(crate) fn print_validate(sweep: &validate::Sweep, index: &Path, took: Duration) {
    for skipped in &sweep.summary.skipped_paths {
        eprintln!("skipped {skipped}");
    }
    println!("{}", sweep.summary.line());
    let total = sweep.rows.len() as u64;
    eprintln!(
        "index: {} ({:.1} s; {} of {total} rows reused from the earlier sweep, {} archives read)",
        index.display(),
        took.as_secs_f64(),
        sweep.reused,
        total - sweep.reused,
    );
}

pub(crate) fn print_extract(summary: &extract::ExtractSummary, out: &Path, took: Duration) {
    println!(
        "extracted {} windows from {} episodes ({} windows dropped at transitions, {} episodes skipped) into {} in {:.1} s; {} episodes' rows kept from the earlier extraction, {} extracted",
        summary.windows,
        summary.episodes,
        summary.dropped_windows,
        summary.skipped.len(),
        out.display(),
        took.as_secs_f64(),
        summary.reused_episodes,
        summary.episodes - summary.reused_episodes,
    );
}

pub(crate) fn print_merge_validation(merged: &merge::validation::MergedValidation, out: &Path, took: Duration) {
    println!("{}", merged.summary.line());
    eprintln!(
        "merged {} parts into {} ({} rows) in {:.1} s",
        merged.parts,
        out.join(validate::index::INDEX_FILE).display(),
        merged.summary.total,
        took.as_secs_f64()
    );
}

pub(crate) fn print_merge_features(merged: &merge::features::MergedFeatures, out: &Path, took: Duration) {
    let s = &merged.summary;
    println!(
        "merged {} parts: {} windows from {} episodes ({} windows dropped at transitions, {} episodes skipped) in {} shards into {} in {:.1} s",
        merged.parts,
        s.windows,
        s.episodes,
        s.dropped_windows,
        s.skipped.len(),
        s.shards,
        out.display(),
        took.as_secs_f64()
    );
}

pub(crate) fn print_split(made: &split::SplitFile, out: &Path) {
    println!(
        "{:?} split (held out: {}): {} train, {} val, {} test, {} in-distribution test episodes; untested profiles: {}; written to {}",
        made.recipe,
        made.held_out.join(", "),
        made.train.len(),
        made.val.len(),
        made.test.len(),
        made.in_distribution.len(),
        if made.untested_profiles.is_empty() { "none".to_string() } else { made.untested_profiles.join(", ") },
        out.display()
    );
}

#[cfg(feature = "training")]
pub(crate) fn print_trained(trained: &[train::Trained], out: &Path, took: Duration) {
    println!("{:<24} {:>9} {:>8} {:>8} {:>7} {:>8}", "model", "val F1", "train", "val", "epochs", "seconds");
    for t in trained {
        println!(
            "{:<24} {:>9.3} {:>8} {:>8} {:>7} {:>8.1}",
            format!("{}-{}", t.model, t.variant.as_str()),
            t.val_macro_f1,
            t.train_windows,
            t.val_windows,
            t.epochs,
            t.seconds,
        );
    }
    println!(
        "trained {} models in {:.1} s -> {} (checkpoint.bin and model.onnx per model)",
        trained.len(),
        took.as_secs_f64(),
        out.display()
    );
}

#[cfg(feature = "training")]
pub(crate) fn print_eval(done: &eval::Evaluated, took: Duration) {
    print!("{}", eval::report::summary_table(&done.report));
    eprintln!(
        "evaluated {} models in {:.1} s -> {} and {} ({} rows)",
        done.report.models.len(),
        took.as_secs_f64(),
        done.report_path.display(),
        done.predictions_path.display(),
        done.prediction_rows
    );
}
