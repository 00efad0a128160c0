//! Neural training step time at batch 64 (compare with
//! `bench/neural_torch.py`, the same architectures in PyTorch).

use cis490_models::kind::{Arch, InputShape};
use cis490_models::neural::source::Windows;
use cis490_models::neural::trainer::{Hooks, TrainConfig, train};
use cis490_shared::rng::Rng;

use super::BenchError;

/// Median milliseconds per training step at batch 64 for each network on
/// random oracle-shaped inputs (276 summary features; 46 × 20 tensors),
/// `steps` steps each. Prints a table and returns `(arch, ms)`.
pub fn training_steps(steps: usize) -> Result<Vec<(Arch, f64)>, BenchError> {
    const BATCH: usize = 64;
    let mut out = Vec::new();
    println!("burn flex backend (single-threaded), batch {BATCH}: ms per training step (mean of {steps} steps)");
    println!("{:<12} {:>10}", "model", "ms/step");
    for arch in Arch::ALL {
        let input = if arch.reads_tensors() {
            InputShape::Sequence { channels: 46, steps: 20 }
        } else {
            InputShape::Features(276)
        };
        let rows = BATCH * steps;
        let mut rng = Rng::new(7);
        let x: Vec<f32> = (0..rows * input.len()).map(|_| rng.normal() as f32).collect();
        let y: Vec<u32> = (0..rows).map(|i| (i % 7) as u32).collect();
        let (vx, vy) = (&x[..BATCH * input.len()], &y[..BATCH]);
        let cfg = TrainConfig { max_epochs: 1, patience: 1, ..TrainConfig::default() };
        let norm = (vec![0.0; input.len()], vec![1.0; input.len()]);
        let (train_w, val_w) = (Windows { x: &x, y: &y }, Windows { x: vx, y: vy });
        let (_, report) = train(arch, input, &cfg, norm, &train_w, &val_w, Hooks::epochs(&mut |_| {})).map_err(tool)?;
        let ms = report.seconds_per_step * 1000.0;
        println!("{:<12} {:>10.2}", arch.as_str(), ms);
        out.push((arch, ms));
    }
    Ok(out)
}

/// A failure of this benchmark (tool `neural`).
fn tool(cause: impl Into<cis490_shared::Cause>) -> BenchError {
    BenchError::Tool { tool: "neural".into(), source: cause.into() }
}
