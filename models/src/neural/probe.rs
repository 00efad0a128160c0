//! What a device computes and how fast, for `cis490 check-device`, the
//! parity test and `cis490 bench neural`.
//!
//! - [`check`]: the same weights on the CPU and on a device. It builds a
//!   network from a seed on the CPU, loads the same f32 weights on both,
//!   and compares the logits of one batch ([`LOGIT_TOLERANCE`]) and the
//!   loss before and after one AdamW step from that start
//!   ([`LOSS_TOLERANCE`]).
//! - [`step_millis`]: the time of one training step on a device, in a
//!   precision.

use std::time::Instant;

use burn::prelude::*;
use cis490_shared::rng::Rng;

use super::device::{ComputeDevice, Precision};
use super::trainer::{Batch, TrainConfig, optimizer, train_step};
use super::{Net, NeuralError};
use crate::NUM_CLASSES;
use crate::kind::{Arch, InputShape};

/// Largest absolute logit difference allowed.
pub const LOGIT_TOLERANCE: f32 = 1e-4;
/// Largest absolute loss difference allowed, before and after one step.
pub const LOSS_TOLERANCE: f32 = 1e-3;

/// The input the parity check and the step benchmark use: the oracle
/// threat model's shapes (276 summary features; 46 channels × 20 steps).
pub fn oracle_input(arch: Arch) -> InputShape {
    if arch.reads_tensors() { InputShape::Sequence { channels: 46, steps: 20 } } else { InputShape::Features(276) }
}

/// What one architecture computed on the CPU and on the device.
#[derive(Debug, Clone, PartialEq)]
pub struct Parity {
    /// The network.
    pub arch: Arch,
    /// The device compared with the CPU.
    pub device: String,
    /// Largest |logit difference| over the batch.
    pub max_logit_diff: f32,
    /// Loss of the initial weights, CPU and device.
    pub loss: [f32; 2],
    /// Loss after one training step, CPU and device.
    pub loss_after_step: [f32; 2],
}

impl Parity {
    /// Whether the device is within the tolerances.
    pub fn passes(&self) -> bool {
        self.max_logit_diff <= LOGIT_TOLERANCE
            && (self.loss[0] - self.loss[1]).abs() <= LOSS_TOLERANCE
            && (self.loss_after_step[0] - self.loss_after_step[1]).abs() <= LOSS_TOLERANCE
    }
}

/// Runs `arch` from the weights of `seed` on the CPU and on `device` with a
/// batch of `rows` random rows (classes in turn), in f32.
pub fn check(arch: Arch, device: ComputeDevice, rows: usize, seed: u64) -> Result<Parity, NeuralError> {
    let input = oracle_input(arch);
    let width = arch.default_width();
    let mut rng = Rng::new(seed);
    let (x, target) = random_batch(&mut rng, input, rows);
    let batch = Batch { x: &x, target: &target, weight_sum: rows as f32, rows };
    let initial = Net::init(arch, input, width, &mut rng, &Device::flex())?.save()?;
    let cfg = TrainConfig::default();
    let run = |on: ComputeDevice| -> Result<(Vec<f32>, f32, f32), NeuralError> {
        let plain = on.open()?;
        let device = plain.clone().autodiff();
        let net = Net::load(arch, input, width, &initial, &device)?;
        let xt = Tensor::<2>::from_data(TensorData::new(x.clone(), [rows, input.len()]), &plain);
        let logits = net.valid().logits(xt, input).into_data().convert::<f32>();
        let logits = logits.try_to_vec::<f32>().map_err(|e| NeuralError::Invalid(format!("{on}: logits: {e:?}")))?;
        let mut optim = optimizer(&cfg);
        let (net, loss) = train_step(net, &mut optim, cfg.learning_rate, (input, &batch), Precision::F32, &device);
        let before = loss.into_scalar::<f32>();
        // The step's loss is of the weights before it: a second step's is of the updated ones.
        let (_, loss) = train_step(net, &mut optim, cfg.learning_rate, (input, &batch), Precision::F32, &device);
        Ok((logits, before, loss.into_scalar::<f32>()))
    };
    let (cpu_logits, cpu_loss, cpu_after) = run(ComputeDevice::Cpu)?;
    let (dev_logits, dev_loss, dev_after) = run(device)?;
    if cpu_logits.len() != dev_logits.len() {
        return Err(NeuralError::Invalid(format!(
            "{device}: {} logits, the CPU gave {}",
            dev_logits.len(),
            cpu_logits.len()
        )));
    }
    let max_logit_diff = cpu_logits.iter().zip(&dev_logits).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    Ok(Parity {
        arch,
        device: device.to_string(),
        max_logit_diff: if dev_logits.iter().all(|v| v.is_finite()) { max_logit_diff } else { f32::INFINITY },
        loss: [cpu_loss, dev_loss],
        loss_after_step: [cpu_after, dev_after],
    })
}

/// `rows` standard-normal rows of `input` and one-hot targets (classes in turn).
fn random_batch(rng: &mut Rng, input: InputShape, rows: usize) -> (Vec<f32>, Vec<f32>) {
    let x = (0..rows * input.len()).map(|_| rng.normal() as f32).collect();
    let mut target = vec![0.0f32; rows * NUM_CLASSES];
    for row in 0..rows {
        target[row * NUM_CLASSES + row % NUM_CLASSES] = 1.0;
    }
    (x, target)
}

/// Untimed steps before [`step_millis`] times: a GPU compiles and tunes
/// its kernels on them.
pub const WARM_UP_STEPS: usize = 3;

/// Mean milliseconds of one training step of `arch` (forward in
/// `precision`, backward, AdamW, the loss read back, which waits for the
/// device as the trainer does) on `rows` random oracle-shaped rows, `steps`
/// timed steps after [`WARM_UP_STEPS`]. A non-finite loss is an error.
pub fn step_millis(
    arch: Arch,
    on: ComputeDevice,
    precision: Precision,
    rows: usize,
    steps: usize,
) -> Result<f64, NeuralError> {
    let input = oracle_input(arch);
    let device = on.open()?.autodiff();
    let mut rng = Rng::new(7);
    let (x, target) = random_batch(&mut rng, input, rows);
    let batch = Batch { x: &x, target: &target, weight_sum: rows as f32, rows };
    let cfg = TrainConfig::default();
    let mut net = Net::init(arch, input, arch.default_width(), &mut rng, &device)?;
    let mut optim = optimizer(&cfg);
    let mut timed = 0.0;
    for step in 0..WARM_UP_STEPS + steps {
        let started = Instant::now();
        let loss;
        (net, loss) = train_step(net, &mut optim, cfg.learning_rate, (input, &batch), precision, &device);
        let value = loss.into_scalar::<f32>();
        if !value.is_finite() {
            return Err(NeuralError::Invalid(format!(
                "{} on {on} in {precision}: loss {value} at step {step}",
                arch.as_str()
            )));
        }
        if step >= WARM_UP_STEPS {
            timed += started.elapsed().as_secs_f64();
        }
    }
    Ok(timed * 1000.0 / steps.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CPU against itself: exact, and one step lowers the loss (the
    /// machinery the GPU parity test relies on).
    #[test]
    fn the_cpu_matches_itself() -> Result<(), NeuralError> {
        for arch in [Arch::Mlp, Arch::Gru] {
            let p = check(arch, ComputeDevice::Cpu, 16, 3)?;
            assert!(p.passes(), "{p:?}");
            assert_eq!(p.max_logit_diff, 0.0, "{p:?}");
            assert!(p.loss_after_step[0] < p.loss[0], "one step lowers the loss: {p:?}");
        }
        Ok(())
    }

    /// The devices the GPU parity test runs on: `CIS490_TEST_DEVICES`
    /// (comma-separated), or `cuda:0` when this build has CUDA and the
    /// machine an NVIDIA device node. Vulkan is never picked by itself: a
    /// CPU driver (lavapipe) may be the only adapter.
    fn test_devices() -> Vec<ComputeDevice> {
        match std::env::var("CIS490_TEST_DEVICES") {
            Ok(list) if !list.trim().is_empty() => {
                super::super::device::parse_device_list(&list).unwrap_or_else(|e| panic!("CIS490_TEST_DEVICES: {e}"))
            }
            _ if cfg!(feature = "gpu-cuda") && std::path::Path::new("/dev/nvidia0").exists() => {
                vec![ComputeDevice::Cuda(0)]
            }
            _ => Vec::new(),
        }
    }

    /// Same weights on the CPU and on each GPU device: logits within
    /// 1e-4, one training step's loss within 1e-3.
    #[test]
    fn gpu_backends_match_the_cpu() -> Result<(), NeuralError> {
        let devices = test_devices();
        if devices.is_empty() {
            eprintln!(
                "gpu_backends_match_the_cpu: skipped, no GPU device (set CIS490_TEST_DEVICES=cuda:0 or vulkan:cpu)"
            );
            return Ok(());
        }
        for device in devices {
            for arch in Arch::ALL {
                let p = check(arch, device, 64, 490)?;
                eprintln!("{device} {}: {p:?}", arch.as_str());
                assert!(p.passes(), "{device} {}: {p:?}", arch.as_str());
            }
        }
        Ok(())
    }

    /// Half-precision steps run on the CPU and stay finite.
    #[test]
    fn half_precision_steps_run() -> Result<(), NeuralError> {
        for precision in [Precision::F16, Precision::Bf16] {
            for arch in [Arch::Mlp, Arch::Transformer] {
                assert!(step_millis(arch, ComputeDevice::Cpu, precision, 8, 2)? > 0.0);
            }
        }
        Ok(())
    }
}
