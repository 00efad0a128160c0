//! The synthetic hosts: physical devices with different hardware, noise
//! and clocks, so that models trained on some hosts meet a real shift on
//! the held-out one.

use cis490_shared::label::Profile;

/// One synthetic host's hardware and behaviour.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSpec {
    /// The host id, e.g. `lab-pc-01`.
    pub id: String,
    /// vCPUs of the VMs it runs.
    pub vcpus: f64,
    /// Disk throughput cap in bytes/s.
    pub disk_bytes_per_s: f64,
    /// NIC throughput cap in bytes/s.
    pub nic_bytes_per_s: f64,
    /// Relative measurement noise.
    pub noise: f64,
    /// Idle CPU of the VM (busy vCPUs) from background daemons.
    pub idle_cpu: f64,
    /// Guest memory in bytes.
    pub mem_bytes: f64,
    /// Profiles this host never runs (e.g. no scans from the Pi's network).
    pub never_runs: &'static [Profile],
    /// Host monotonic clock at the first episode (ns since its boot).
    pub mono_base_ns: i64,
}

struct Template {
    prefix: &'static str,
    vcpus: f64,
    disk_mb: f64,
    nic_mbit: f64,
    noise: f64,
    idle_cpu: f64,
    mem_gib: f64,
    never_runs: &'static [Profile],
}

const TEMPLATES: [Template; 5] = [
    Template {
        prefix: "lab-pc",
        vcpus: 4.0,
        disk_mb: 500.0,
        nic_mbit: 1000.0,
        noise: 0.05,
        idle_cpu: 0.04,
        mem_gib: 4.0,
        never_runs: &[],
    },
    Template {
        prefix: "lab-pc",
        vcpus: 4.0,
        disk_mb: 420.0,
        nic_mbit: 1000.0,
        noise: 0.08,
        idle_cpu: 0.06,
        mem_gib: 4.0,
        never_runs: &[],
    },
    Template {
        prefix: "rpi",
        vcpus: 4.0,
        disk_mb: 40.0,
        nic_mbit: 300.0,
        noise: 0.15,
        idle_cpu: 0.10,
        mem_gib: 2.0,
        never_runs: &[Profile::ScanAndDial],
    },
    Template {
        prefix: "server",
        vcpus: 16.0,
        disk_mb: 2000.0,
        nic_mbit: 10_000.0,
        noise: 0.03,
        idle_cpu: 0.12,
        mem_gib: 16.0,
        never_runs: &[],
    },
    Template {
        prefix: "lab-pc",
        vcpus: 8.0,
        disk_mb: 800.0,
        nic_mbit: 1000.0,
        noise: 0.06,
        idle_cpu: 0.05,
        mem_gib: 8.0,
        never_runs: &[],
    },
];

/// The `count` hosts of a synthetic store, in a fixed order.
pub fn hosts(count: usize) -> Vec<HostSpec> {
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    (0..count)
        .map(|i| {
            let t = &TEMPLATES[i % TEMPLATES.len()];
            let n = seen.entry(t.prefix).or_default();
            *n += 1;
            // Later copies of a template differ a little, like real machines.
            let spread = 1.0 + 0.07 * (i / TEMPLATES.len()) as f64;
            HostSpec {
                id: format!("{}-{:02}", t.prefix, n),
                vcpus: t.vcpus,
                disk_bytes_per_s: t.disk_mb * 1e6 / spread,
                nic_bytes_per_s: t.nic_mbit * 1e6 / 8.0,
                noise: t.noise * spread,
                idle_cpu: t.idle_cpu * spread,
                mem_bytes: t.mem_gib * (1u64 << 30) as f64,
                never_runs: t.never_runs,
                mono_base_ns: 3_600_000_000_000 * (i as i64 + 1) + 123_456_789 * i as i64,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_have_unique_valid_ids() {
        let hs = hosts(12);
        let mut ids: Vec<&str> = hs.iter().map(|h| h.id.as_str()).collect();
        assert!(ids.iter().all(|id| cis490_shared::ids::HostId::new(*id).is_ok()));
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 12);
        assert_eq!(hosts(5)[2].id, "rpi-01");
    }
}
