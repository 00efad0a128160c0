//! Where the networks train and predict, and in what precision.
//!
//! [`ComputeDevice`] names a device as the command line does (`cpu`,
//! `cuda[:N]`, `vulkan[:N]`, `vulkan:cpu`); [`ComputeDevice::open`] turns it
//! into burn's run-time device, or an error naming the cargo feature the
//! binary lacks or the device that would not start. [`Precision`] is the
//! compute type of the training steps: parameters, optimizer state and
//! checkpoints stay f32 (master weights); with `f16`/`bf16` each step casts
//! the inputs and the parameters to the half type, and the loss is taken in
//! f32 again ([`Compute`]).
//!
//! The CPU (`flex` backend) is always there; `cuda` needs the `gpu-cuda`
//! feature, `vulkan` the `gpu-vulkan` feature.

use std::fmt;
use std::str::FromStr;

use burn::prelude::*;
use burn::tensor::FloatDType;

use super::NeuralError;

/// A device named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ComputeDevice {
    /// burn's `flex` CPU backend, single-threaded (bit-for-bit reproducible).
    #[default]
    Cpu,
    /// CUDA device N (feature `gpu-cuda`).
    Cuda(usize),
    /// Vulkan (feature `gpu-vulkan`): discrete GPU N, or wgpu's default
    /// adapter when `None`.
    Vulkan(Option<usize>),
    /// Vulkan on a CPU adapter (Mesa's lavapipe): for tests without a GPU.
    VulkanCpu,
}

impl ComputeDevice {
    /// Whether this is the CPU backend.
    pub fn is_cpu(self) -> bool {
        self == ComputeDevice::Cpu
    }

    /// The cargo feature this device needs, if any.
    pub fn feature(self) -> Option<&'static str> {
        match self {
            ComputeDevice::Cpu => None,
            ComputeDevice::Cuda(_) => Some("gpu-cuda"),
            ComputeDevice::Vulkan(_) | ComputeDevice::VulkanCpu => Some("gpu-vulkan"),
        }
    }

    /// Whether this binary was built with what the device needs.
    pub fn compiled_in(self) -> bool {
        match self {
            ComputeDevice::Cpu => true,
            ComputeDevice::Cuda(_) => cfg!(feature = "gpu-cuda"),
            ComputeDevice::Vulkan(_) | ComputeDevice::VulkanCpu => cfg!(feature = "gpu-vulkan"),
        }
    }

    /// burn's device, without checking that it starts.
    pub fn burn_device(self) -> Result<Device, NeuralError> {
        match self {
            ComputeDevice::Cpu => Ok(Device::flex()),
            #[cfg(feature = "gpu-cuda")]
            ComputeDevice::Cuda(n) => Ok(Device::cuda(n)),
            #[cfg(feature = "gpu-vulkan")]
            ComputeDevice::Vulkan(n) => Ok(Device::vulkan(match n {
                Some(n) => burn::tensor::DeviceKind::DiscreteGpu(n),
                None => burn::tensor::DeviceKind::DefaultDevice,
            })),
            #[cfg(feature = "gpu-vulkan")]
            ComputeDevice::VulkanCpu => Ok(Device::vulkan(burn::tensor::DeviceKind::Cpu)),
            #[allow(unreachable_patterns)] // every device compiled in
            other => Err(NeuralError::Invalid(format!(
                "device {other}: this cis490 was built without the `{feature}` cargo feature \
                 (rebuild with `cargo build --release -p cis490-backend --features {feature}`)",
                feature = other.feature().unwrap_or("?")
            ))),
        }
    }

    /// burn's device, checked by a small computation on it: a device that
    /// is missing or fails to start is an error naming it (burn panics in
    /// that case; the panic is caught here, before any training starts).
    pub fn open(self) -> Result<Device, NeuralError> {
        let device = self.burn_device()?;
        if self.is_cpu() {
            return Ok(device);
        }
        let probe = device.clone();
        let started = std::panic::catch_unwind(move || {
            let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2]), &probe);
            x.clone().matmul(x).into_data().convert::<f32>().try_to_vec::<f32>().ok()
        });
        match started {
            Ok(Some(v)) if v == [7.0, 10.0, 15.0, 22.0] => Ok(device),
            Ok(v) => Err(NeuralError::Invalid(format!("device {self}: a 2×2 matmul gave {v:?}"))),
            Err(panic) => Err(NeuralError::Invalid(format!("device {self} did not start: {}", panic_text(&panic)))),
        }
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_else(|| "panicked".into())
}

impl fmt::Display for ComputeDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ComputeDevice::Cpu => f.write_str("cpu"),
            ComputeDevice::Cuda(n) => write!(f, "cuda:{n}"),
            ComputeDevice::Vulkan(None) => f.write_str("vulkan"),
            ComputeDevice::Vulkan(Some(n)) => write!(f, "vulkan:{n}"),
            ComputeDevice::VulkanCpu => f.write_str("vulkan:cpu"),
        }
    }
}

impl FromStr for ComputeDevice {
    type Err = String;

    /// `cpu`, `cuda`, `cuda:N`, `vulkan`, `vulkan:N`, `vulkan:cpu`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, index) = match s.split_once(':') {
            Some((kind, index)) => (kind, Some(index)),
            None => (s, None),
        };
        let number =
            |index: &str| index.parse::<usize>().map_err(|_| format!("device `{s}`: `{index}` is not a device number"));
        match (kind, index) {
            ("cpu", None) => Ok(ComputeDevice::Cpu),
            ("cuda", None) => Ok(ComputeDevice::Cuda(0)),
            ("cuda", Some(i)) => Ok(ComputeDevice::Cuda(number(i)?)),
            ("vulkan", None) => Ok(ComputeDevice::Vulkan(None)),
            ("vulkan", Some("cpu")) => Ok(ComputeDevice::VulkanCpu),
            ("vulkan", Some(i)) => Ok(ComputeDevice::Vulkan(Some(number(i)?))),
            _ => Err(format!("device `{s}`: expected cpu, cuda[:N], vulkan[:N] or vulkan:cpu")),
        }
    }
}

/// Parses a comma-separated device list (`cuda:0,cuda:1`); models are
/// spread over the devices one per device. Empty or repeated entries are
/// errors.
pub fn parse_device_list(s: &str) -> Result<Vec<ComputeDevice>, String> {
    let mut devices = Vec::new();
    for part in s.split(',') {
        let device: ComputeDevice = part.trim().parse()?;
        if devices.contains(&device) {
            return Err(format!("device list `{s}`: {device} is named twice"));
        }
        devices.push(device);
    }
    Ok(devices)
}

/// The compute type of the training steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in f32.
    #[default]
    F32,
    /// Steps in IEEE half precision (f32 master weights, loss in f32).
    F16,
    /// Steps in bfloat16 (f32 master weights, loss in f32).
    Bf16,
}

impl Precision {
    /// burn's float type.
    pub fn float_dtype(self) -> FloatDType {
        match self {
            Precision::F32 => FloatDType::F32,
            Precision::F16 => FloatDType::F16,
            Precision::Bf16 => FloatDType::BF16,
        }
    }

    /// The command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Bf16 => "bf16",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "f32" => Ok(Precision::F32),
            "f16" => Ok(Precision::F16),
            "bf16" => Ok(Precision::Bf16),
            _ => Err(format!("precision `{s}`: expected f32, f16 or bf16")),
        }
    }
}

/// Where a training run computes, and in what precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Compute {
    /// The device.
    pub device: ComputeDevice,
    /// The training steps' float type.
    pub precision: Precision,
}

/// `p`'s value in the float type of `like` (a no-op in f32): the layers
/// compute in the type of their input, so one cast of the input at the
/// network's entry sets the step's precision while the parameters stay f32.
pub fn value_like<const D: usize, const E: usize>(p: &burn::module::Param<Tensor<D>>, like: &Tensor<E>) -> Tensor<D> {
    p.val().cast(like.dtype())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names_round_trip() {
        for name in ["cpu", "cuda:0", "cuda:3", "vulkan", "vulkan:1", "vulkan:cpu"] {
            let device: ComputeDevice = name.parse().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(device.to_string(), name);
        }
        assert_eq!("cuda".parse::<ComputeDevice>(), Ok(ComputeDevice::Cuda(0)));
        for bad in ["", "gpu", "cuda:", "cuda:x", "cuda:-1", "cpu:0", "vulkan:gpu"] {
            let err = bad.parse::<ComputeDevice>().expect_err(bad);
            assert!(err.contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn device_lists_are_parsed_and_checked() {
        assert_eq!(parse_device_list("cuda:0, cuda:1"), Ok(vec![ComputeDevice::Cuda(0), ComputeDevice::Cuda(1)]));
        assert!(parse_device_list("cuda:0,cuda").expect_err("twice").contains("named twice"));
        assert!(parse_device_list("cuda:0,").is_err());
    }

    #[test]
    fn precisions_parse() {
        for p in [Precision::F32, Precision::F16, Precision::Bf16] {
            assert_eq!(p.as_str().parse::<Precision>(), Ok(p));
        }
        assert!("fp16".parse::<Precision>().is_err());
    }

    #[test]
    fn a_device_not_compiled_in_names_its_feature() {
        for device in [ComputeDevice::Cuda(0), ComputeDevice::VulkanCpu] {
            if device.compiled_in() {
                continue;
            }
            let err = device.open().expect_err("not compiled in").to_string();
            assert!(err.contains(device.feature().unwrap_or("?")) && err.contains("--features"), "{err}");
        }
        assert!(ComputeDevice::Cpu.open().is_ok());
    }
}
