//! Inference latency per window for every model of a training run, on the
//! engine `OnnxRunner` picks (tract, or the compact evaluator for the
//! trees, which [`super::tree_engines`] also times on tract and
//! onnxruntime). Built without the `training` feature too, so the
//! Raspberry Pi's edge binary can measure its own latency.

use std::path::Path;
use std::time::Instant;

use cis490_models::checkpoint;
use cis490_models::kind::header_input;
use cis490_models::onnx::OnnxRunner;
use cis490_pipeline::run_dir::RunDir;
use cis490_shared::rng::Rng;

use super::BenchError;

/// One model's inference latency.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InferenceLatency {
    /// `<model>-<variant>`.
    pub model: String,
    /// The engine that ran it (`trees`, `tract`, `onnxruntime`).
    pub engine: String,
    /// Median microseconds for one window (batch 1).
    pub p50_us: f64,
    /// 99th percentile, one window.
    pub p99_us: f64,
    /// Microseconds per window in batches of 64.
    pub batched_us: f64,
}

impl InferenceLatency {
    /// The line of the printed table.
    pub fn print(&self) {
        println!(
            "{:<24} {:<18} {:>12.1} {:>12.1} {:>12.1}",
            self.model, self.engine, self.p50_us, self.p99_us, self.batched_us
        );
    }
}

/// The printed table's header.
pub fn print_header() {
    println!("{:<24} {:<18} {:>12} {:>12} {:>12}", "model", "engine", "p50", "p99", "batch 64");
}

/// The `p`-quantile of sorted values (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// Times `single` (batch 1) on `windows` rows of `x` taken in turn (after
/// 10 untimed ones) and `batch` (batch 64) on all of `x` at least
/// `rounds` times; `x` is 64 windows of `len` values.
pub fn time_runner(
    model: String,
    single: &OnnxRunner,
    batch: &OnnxRunner,
    x: &[f32],
    len: usize,
    windows: usize,
    rounds: usize,
) -> Result<InferenceLatency, BenchError> {
    let mut times = Vec::with_capacity(windows);
    for i in 0..windows + 10 {
        let row = &x[(i % 64) * len..(i % 64 + 1) * len];
        let started = Instant::now();
        single.probabilities(row).map_err(tool)?;
        if i >= 10 {
            times.push(started.elapsed().as_secs_f64() * 1e6);
        }
    }
    times.sort_by(f64::total_cmp);
    let started = Instant::now();
    for _ in 0..rounds {
        batch.probabilities(x).map_err(tool)?;
    }
    let batched_us = started.elapsed().as_secs_f64() * 1e6 / (rounds * 64) as f64;
    Ok(InferenceLatency {
        model,
        engine: single.engine().into(),
        p50_us: percentile(&times, 0.5),
        p99_us: percentile(&times, 0.99),
        batched_us,
    })
}

/// Latency per window for every `model.onnx` under `run` on the engine
/// `OnnxRunner` picks: `windows` single-window runs (p50, p99) and batches
/// of 64; then, for the tree ensembles, the same file on tract and
/// onnxruntime ([`super::tree_engines`]).
pub fn inference_latency(run: &Path, windows: usize) -> Result<Vec<InferenceLatency>, BenchError> {
    let models = RunDir::new(run).models().map_err(|e| tool(format!("{}: {e}", run.display())))?;
    if models.is_empty() {
        return Err(tool(format!("no <model>-<variant>/model.onnx under {}", run.display())));
    }
    println!("OnnxRunner, one core: µs per window ({windows} single windows; batches of 64)");
    print_header();
    let mut out = Vec::new();
    let mut trees = Vec::new();
    for model in models {
        let checkpoint_bytes = std::fs::read(model.checkpoint()).map_err(tool)?;
        let (header, _) = checkpoint::decode(&checkpoint_bytes).map_err(tool)?;
        let dims = header_input(&header).map_err(tool)?.1.dims();
        let bytes = std::fs::read(model.onnx()).map_err(tool)?;
        let len: usize = dims.iter().product();
        let x = inputs(len);
        let single = OnnxRunner::new(&bytes, &[&[1][..], &dims].concat()).map_err(tool)?;
        let batch = OnnxRunner::new(&bytes, &[&[64][..], &dims].concat()).map_err(tool)?;
        let line = time_runner(model.id.name(), &single, &batch, &x, len, windows, (windows / 64).max(5))?;
        line.print();
        if single.engine() == "trees" {
            trees.push((model, bytes, dims, line.clone()));
        }
        out.push(line);
    }
    for (model, bytes, dims, line) in trees {
        out.extend(super::tree_engines::compare(&model, &bytes, &dims, &line, windows)?);
    }
    Ok(out)
}

/// The benchmark's 64 windows of `len` values (uniform in 0..100, seed 3).
pub fn inputs(len: usize) -> Vec<f32> {
    let mut rng = Rng::new(3);
    (0..64 * len).map(|_| rng.range(0.0, 100.0) as f32).collect()
}

/// A failure of this benchmark (tool `inference`).
fn tool(cause: impl Into<cis490_shared::Cause>) -> BenchError {
    BenchError::Tool { tool: "inference".into(), source: cause.into() }
}
