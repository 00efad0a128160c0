//! Evaluation time of a training run: every model × variant predicted and
//! scored with the cluster bootstrap, on 1 core and on all cores, phase by
//! phase. The reference is `bench/eval_numpy.py`, the same episode
//! bootstrap of macro F1 in vectorised NumPy over the
//! `predictions.parquet` this writes.

use std::path::Path;

use super::BenchError;
use cis490_pipeline::eval::{self, EvalOptions};

fn failed(cause: impl Into<cis490_shared::Cause>) -> BenchError {
    BenchError::Tool { tool: "eval".into(), source: cause.into() }
}

/// Evaluates `run` on `split` with `resamples` resamples, once on one
/// thread and once on all, into `RUN/eval-bench`; prints the phases.
/// Returns the seconds of (one thread, all threads).
pub fn evaluation(run: &Path, split: &Path, resamples: usize) -> Result<(f64, f64), BenchError> {
    let opts = EvalOptions {
        run: run.to_path_buf(),
        split: split.to_path_buf(),
        features: None,
        out: run.join("eval-bench"),
        resamples,
        seed: 490,
        confidence: 0.95,
        publisher: None,
        force: true,
        device: Default::default(),
    };
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    println!("{:<10} {:>8} {:>8} {:>8} {:>8} {:>8}", "threads", "load", "predict", "score", "write", "total");
    let mut totals = Vec::new();
    let mut last = None;
    for n in [1, threads] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(n).build().map_err(failed)?;
        let done = pool.install(|| eval::run(&opts)).map_err(failed)?;
        let phase = |name: &str| done.seconds.iter().find(|(p, _)| *p == name).map_or(0.0, |(_, s)| *s);
        let total: f64 = done.seconds.iter().map(|(_, s)| s).sum();
        println!(
            "{:<10} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            n,
            phase("load"),
            phase("predict"),
            phase("score"),
            phase("write"),
            total
        );
        totals.push(total);
        last = Some(done);
    }
    if let Some(done) = last {
        println!(
            "{} models, {} resamples of {} test + {} in-distribution episodes, {} comparisons, {} prediction rows",
            done.report.models.len(),
            resamples,
            done.report.split.test_episodes,
            done.report.split.in_distribution_episodes,
            done.report.comparisons.len(),
            done.prediction_rows
        );
        println!("reference: python bench/eval_numpy.py {} --resamples {resamples}", done.predictions_path.display());
    }
    Ok((totals[0], totals[totals.len() - 1]))
}
