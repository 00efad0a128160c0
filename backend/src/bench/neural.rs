//! Neural training step time per network, device, precision and batch size
//! (compare with `bench/neural_torch.py`, the same architectures in
//! PyTorch, and with the CPU in f32), and `cis490 check-device`: the CPU
//! and a GPU backend on the same weights (`cis490_models::neural::probe`).

use cis490_models::kind::Arch;
use cis490_models::neural::device::{ComputeDevice, Precision};
use cis490_models::neural::probe::{self, LOGIT_TOLERANCE, LOSS_TOLERANCE, WARM_UP_STEPS};

use super::BenchError;

/// One timed configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepTime {
    /// The network.
    pub arch: Arch,
    /// Where it ran.
    pub device: ComputeDevice,
    /// In what precision.
    pub precision: Precision,
    /// Rows per step.
    pub batch: usize,
    /// Mean milliseconds per step (forward, backward, AdamW, loss read back).
    pub ms: f64,
}

/// Mean milliseconds per training step of each network on random
/// oracle-shaped inputs (276 summary features; 46 × 20 tensors), for every
/// device × precision × batch named, `steps` timed steps each after
/// [`WARM_UP_STEPS`]. Prints a table with each figure's speed-up over the
/// CPU in f32 at the same batch (when that was measured).
pub fn training_steps(
    steps: usize,
    devices: &[ComputeDevice],
    precisions: &[Precision],
    batches: &[usize],
) -> Result<Vec<StepTime>, BenchError> {
    let mut out: Vec<StepTime> = Vec::new();
    println!(
        "ms per training step, mean of {steps} steps after {WARM_UP_STEPS} warm-up steps (cpu = burn flex, one thread)"
    );
    println!(
        "{:<12} {:<11} {:<9} {:>6} {:>10} {:>12}",
        "model", "device", "precision", "batch", "ms/step", "vs cpu f32"
    );
    for arch in Arch::ALL {
        for &batch in batches {
            for &device in devices {
                for &precision in precisions {
                    let ms = probe::step_millis(arch, device, precision, batch, steps).map_err(tool)?;
                    let reference = out.iter().find(|t| {
                        t.arch == arch && t.batch == batch && t.device.is_cpu() && t.precision == Precision::F32
                    });
                    let speedup = reference.map_or("—".to_string(), |r| format!("{:.2}×", r.ms / ms));
                    println!(
                        "{:<12} {:<11} {:<9} {:>6} {:>10.2} {:>12}",
                        arch.as_str(),
                        device.to_string(),
                        precision.as_str(),
                        batch,
                        ms,
                        speedup
                    );
                    out.push(StepTime { arch, device, precision, batch, ms });
                }
            }
        }
    }
    Ok(out)
}

/// Runs the parity check of every network on `device` and prints it;
/// returns whether all passed.
pub fn check_device(device: ComputeDevice, rows: usize) -> Result<bool, BenchError> {
    println!(
        "{device} against the CPU, same f32 weights, batch {rows} (tolerances: logits {LOGIT_TOLERANCE:e}, loss {LOSS_TOLERANCE:e})"
    );
    println!("{:<12} {:>14} {:>22} {:>22} {:>6}", "model", "max |Δlogit|", "loss cpu / device", "after 1 step", "ok");
    let mut all = true;
    for arch in Arch::ALL {
        let p = probe::check(arch, device, rows, 490).map_err(tool)?;
        let pair = |v: [f32; 2]| format!("{:.6} / {:.6}", v[0], v[1]);
        println!(
            "{:<12} {:>14.2e} {:>22} {:>22} {:>6}",
            arch.as_str(),
            p.max_logit_diff,
            pair(p.loss),
            pair(p.loss_after_step),
            if p.passes() { "yes" } else { "NO" }
        );
        all &= p.passes();
    }
    Ok(all)
}

/// A failure of this benchmark (tool `neural`).
fn tool(cause: impl Into<cis490_shared::Cause>) -> BenchError {
    BenchError::Tool { tool: "neural".into(), source: cause.into() }
}
