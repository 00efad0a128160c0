//! Which device each network of a training run uses. On the CPU (the
//! default) every worker trains its network on its own core. With GPUs
//! (`--device cuda:0,cuda:1`) the networks are spread one per device: a
//! worker that picks a network waits for a free device and gives it back
//! when the network is done, so two models never share a GPU while another
//! sits idle. The trees always run on the CPU and never wait.

use std::sync::{Condvar, Mutex, PoisonError};

use cis490_models::neural::device::ComputeDevice;

/// The devices of a run and which of them are free.
#[derive(Debug)]
pub struct DevicePool {
    /// `None`: the CPU only, shared by every worker.
    free: Option<Mutex<Vec<ComputeDevice>>>,
    returned: Condvar,
}

/// A device held by one network until dropped.
#[derive(Debug)]
pub struct DeviceLease<'a> {
    pool: &'a DevicePool,
    device: ComputeDevice,
}

impl DevicePool {
    /// A pool of `devices` (empty, or the CPU alone: every worker on the CPU).
    pub fn new(devices: &[ComputeDevice]) -> Self {
        let cpu_only = devices.iter().all(|d| d.is_cpu());
        // Handed out from the back: reversed so the first named goes first.
        let free = (!cpu_only).then(|| Mutex::new(devices.iter().rev().copied().collect()));
        Self { free, returned: Condvar::new() }
    }

    /// A free device, waiting for one if all are in use.
    pub fn take(&self) -> DeviceLease<'_> {
        let Some(free) = &self.free else {
            return DeviceLease { pool: self, device: ComputeDevice::Cpu };
        };
        let mut free = free.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(device) = free.pop() {
                return DeviceLease { pool: self, device };
            }
            free = self.returned.wait(free).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl DeviceLease<'_> {
    /// The device held.
    pub fn device(&self) -> ComputeDevice {
        self.device
    }
}

impl Drop for DeviceLease<'_> {
    fn drop(&mut self) {
        if let Some(free) = &self.pool.free {
            free.lock().unwrap_or_else(PoisonError::into_inner).push(self.device);
            self.pool.returned.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn the_cpu_is_shared_by_every_worker() {
        let pool = DevicePool::new(&[]);
        let (a, b) = (pool.take(), pool.take());
        assert_eq!((a.device(), b.device()), (ComputeDevice::Cpu, ComputeDevice::Cpu));
    }

    #[test]
    fn networks_are_spread_one_per_device() {
        let devices = [ComputeDevice::Cuda(0), ComputeDevice::Cuda(1)];
        let pool = DevicePool::new(&devices);
        assert_eq!(pool.take().device(), ComputeDevice::Cuda(0), "the first named goes first");
        let (in_use, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let used = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..6 {
                scope.spawn(|| {
                    for _ in 0..5 {
                        let lease = pool.take();
                        let now = in_use.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        used.lock().unwrap_or_else(PoisonError::into_inner).push(lease.device());
                        std::thread::sleep(std::time::Duration::from_millis(2));
                        in_use.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert!(most.load(Ordering::SeqCst) <= 2, "never more networks than devices at once");
        let used = used.into_inner().unwrap_or_else(PoisonError::into_inner);
        assert_eq!(used.len(), 30);
        assert!(devices.iter().all(|d| used.contains(d)), "both devices used");
    }
}
