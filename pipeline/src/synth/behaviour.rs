//! What runs inside a synthetic VM: benign workloads and the samples of the
//! six attack-like profiles, each as an [`Activity`] over time.
//!
//! Activities are resource demands (busy vCPUs, disk and network bytes/s,
//! connections, processes, memory). [`super::render`] turns them into the
//! 46 channels. Several benign workloads deliberately look like attacks
//! (a build pegs CPUs like a miner, a backup walks the disk and uploads
//! like exfiltration), and `docs/synthetic-corpus.md` tabulates which
//! channels each behaviour moves.

use cis490_shared::label::Profile;

use super::rng::Rng;

/// Resource demand of a VM at one instant; components add up.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Activity {
    /// Busy vCPUs.
    pub cpu: f64,
    /// Share of CPU time spent in the kernel.
    pub sys_share: f64,
    /// Disk reads in bytes/s.
    pub disk_read: f64,
    /// Disk writes in bytes/s.
    pub disk_write: f64,
    /// Mean disk request size in bytes.
    pub io_size: f64,
    /// Network bytes/s into the VM.
    pub net_in: f64,
    /// Network bytes/s out of the VM.
    pub net_out: f64,
    /// Mean packet size in bytes.
    pub pkt_size: f64,
    /// New TCP connections (SYNs) per second.
    pub syn_rate: f64,
    /// Distinct destination ports per second.
    pub dst_ports: f64,
    /// Active UDP flows.
    pub udp_flows: f64,
    /// Extra established TCP connections.
    pub tcp_established: f64,
    /// Extra processes.
    pub procs: f64,
    /// Extra resident memory in bytes.
    pub mem: f64,
}

impl Activity {
    /// Adds `other` on top of `self` (sizes are demand-weighted).
    pub fn add(&mut self, o: &Activity) {
        let disk = self.disk_read + self.disk_write;
        let odisk = o.disk_read + o.disk_write;
        if disk + odisk > 0.0 {
            self.io_size = (self.io_size * disk + o.io_size * odisk) / (disk + odisk);
        }
        let net = self.net_in + self.net_out;
        let onet = o.net_in + o.net_out;
        if net + onet > 0.0 {
            self.pkt_size = (self.pkt_size * net + o.pkt_size * onet) / (net + onet);
        }
        let cpu = self.cpu + o.cpu;
        if cpu > 0.0 {
            self.sys_share = (self.sys_share * self.cpu + o.sys_share * o.cpu) / cpu;
        }
        self.cpu = cpu;
        self.disk_read += o.disk_read;
        self.disk_write += o.disk_write;
        self.net_in += o.net_in;
        self.net_out += o.net_out;
        self.syn_rate += o.syn_rate;
        self.dst_ports += o.dst_ports;
        self.udp_flows += o.udp_flows;
        self.tcp_established += o.tcp_established;
        self.procs += o.procs;
        self.mem += o.mem;
    }
}

/// A benign workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Benign {
    /// Background daemons only.
    Idle,
    /// A compiler build: all vCPUs in bursts, many processes, disk writes.
    Build,
    /// A package update: downloads in bursts, then disk writes.
    PackageUpdate,
    /// Web browsing: bursty downloads over a few HTTPS connections.
    Browsing,
    /// A backup: reads the disk and uploads it.
    Backup,
}

impl Benign {
    /// All benign workloads.
    pub const ALL: [Benign; 5] = [Benign::Idle, Benign::Build, Benign::PackageUpdate, Benign::Browsing, Benign::Backup];

    /// The workload's name, as documented.
    pub fn as_str(self) -> &'static str {
        match self {
            Benign::Idle => "idle",
            Benign::Build => "build",
            Benign::PackageUpdate => "package-update",
            Benign::Browsing => "browsing",
            Benign::Backup => "backup",
        }
    }
}

/// A concrete attack sample: which program produced a profile, with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// The profile it produces.
    pub profile: Profile,
    /// The sample id written to manifests.
    pub id: &'static str,
    /// Main intensity (meaning depends on the profile).
    pub intensity: f64,
    /// Period in seconds for periodic behaviour (0 when not periodic).
    pub period_s: f64,
}

const fn sample(profile: Profile, id: &'static str, intensity: f64, period_s: f64) -> Sample {
    Sample { profile, id, intensity, period_s }
}

/// Three samples per profile, each with different parameters.
pub const SAMPLES: [Sample; 18] = [
    sample(Profile::CpuSaturate, "miner-a", 1.0, 0.0),
    sample(Profile::CpuSaturate, "miner-b", 0.7, 0.0),
    sample(Profile::CpuSaturate, "miner-c", 1.0, 20.0),
    sample(Profile::ScanAndDial, "portscan-fast", 250.0, 0.0),
    sample(Profile::ScanAndDial, "portscan-slow", 12.0, 0.0),
    sample(Profile::ScanAndDial, "dialer", 4.0, 3.0),
    sample(Profile::IoWalk, "find-walk", 35e6, 0.0),
    sample(Profile::IoWalk, "crypt-walk", 18e6, 0.0),
    sample(Profile::IoWalk, "stage-archive", 55e6, 0.0),
    sample(Profile::BurstyC2, "beacon-5s", 20e3, 5.0),
    sample(Profile::BurstyC2, "beacon-30s", 250e3, 30.0),
    sample(Profile::BurstyC2, "beacon-jitter", 60e3, 12.0),
    sample(Profile::LowAndSlow, "exfil-drip", 3e3, 0.0),
    sample(Profile::LowAndSlow, "dns-tunnel", 1.5e3, 0.0),
    sample(Profile::LowAndSlow, "slow-miner", 0.18, 0.0),
    sample(Profile::ShellResident, "revshell", 1.0, 0.0),
    sample(Profile::ShellResident, "webshell", 2.0, 0.0),
    sample(Profile::ShellResident, "tmux-implant", 0.5, 0.0),
];

/// The samples of one profile.
pub fn samples_of(profile: Profile) -> impl Iterator<Item = &'static Sample> {
    SAMPLES.iter().filter(move |s| s.profile == profile)
}

/// A square pulse: `true` during the first `duty` share of each period.
fn pulse(t: f64, period: f64, duty: f64) -> bool {
    period <= 0.0 || (t / period).fract() < duty
}

/// Demand of a benign workload `t` seconds into its segment.
pub fn benign_activity(w: Benign, t: f64, vcpus: f64, rng: &mut Rng) -> Activity {
    match w {
        Benign::Idle => Activity::default(),
        Benign::Build => Activity {
            cpu: vcpus * rng.range(0.55, 0.95) * if pulse(t, 25.0, 0.8) { 1.0 } else { 0.3 },
            sys_share: 0.2,
            disk_read: rng.range(2e6, 8e6),
            disk_write: rng.range(8e6, 30e6),
            io_size: 32e3,
            procs: rng.range(10.0, 40.0),
            mem: 600e6,
            ..Activity::default()
        },
        Benign::PackageUpdate => {
            let downloading = t < 40.0 || pulse(t, 15.0, 0.4);
            Activity {
                cpu: if downloading { 0.3 } else { 0.9 },
                sys_share: 0.35,
                net_in: if downloading { rng.range(2e6, 6e6) } else { 20e3 },
                net_out: if downloading { 60e3 } else { 2e3 },
                pkt_size: 1200.0,
                syn_rate: if downloading { 1.5 } else { 0.1 },
                dst_ports: 1.0,
                tcp_established: 3.0,
                disk_write: if downloading { 3e6 } else { 25e6 },
                io_size: 64e3,
                procs: 6.0,
                mem: 200e6,
                ..Activity::default()
            }
        }
        Benign::Browsing => {
            let burst = rng.chance(0.25);
            Activity {
                cpu: if burst { 0.6 } else { 0.1 },
                sys_share: 0.15,
                net_in: if burst { rng.range(300e3, 2e6) } else { 5e3 },
                net_out: if burst { 30e3 } else { 1e3 },
                pkt_size: 900.0,
                syn_rate: if burst { rng.range(2.0, 8.0) } else { 0.2 },
                dst_ports: if burst { 2.0 } else { 0.5 },
                udp_flows: 2.0,
                tcp_established: rng.range(4.0, 12.0),
                procs: 8.0,
                mem: 500e6,
                ..Activity::default()
            }
        }
        Benign::Backup => Activity {
            cpu: 0.5,
            sys_share: 0.4,
            disk_read: rng.range(20e6, 45e6),
            io_size: 128e3,
            net_out: rng.range(8e6, 15e6),
            net_in: 150e3,
            pkt_size: 1400.0,
            syn_rate: 0.05,
            dst_ports: 0.2,
            tcp_established: 1.0,
            procs: 3.0,
            mem: 150e6,
            ..Activity::default()
        },
    }
}

/// Demand of an attack sample `t` seconds into its segment.
pub fn attack_activity(s: &Sample, t: f64, vcpus: f64, rng: &mut Rng) -> Activity {
    let quiet = Activity::default();
    match s.profile {
        Profile::CpuSaturate => {
            let threads = if s.id == "miner-b" { (vcpus * s.intensity).round() } else { 1.0 };
            let on = pulse(t, s.period_s, 0.5);
            Activity {
                cpu: if on { threads * rng.range(0.96, 1.0) } else { 0.05 },
                sys_share: 0.02,
                net_out: 400.0,
                net_in: 300.0,
                pkt_size: 200.0,
                tcp_established: 1.0,
                procs: 1.0,
                mem: 250e6,
                ..quiet
            }
        }
        Profile::ScanAndDial => {
            let on = pulse(t, s.period_s, 0.35);
            let syn = if on { s.intensity * rng.jitter(0.2) } else { 0.0 };
            Activity {
                cpu: 0.05 + syn / 2000.0,
                sys_share: 0.5,
                syn_rate: syn,
                dst_ports: if s.id == "dialer" { syn.min(3.0) } else { syn * 0.9 },
                net_out: syn * 74.0,
                net_in: syn * 60.0,
                pkt_size: 70.0,
                tcp_established: if s.id == "dialer" { 2.0 } else { 0.0 },
                procs: 1.0,
                mem: 20e6,
                ..quiet
            }
        }
        Profile::IoWalk => {
            let writes = if s.id == "find-walk" { 0.02 } else { 1.0 };
            Activity {
                cpu: if s.id == "crypt-walk" { 0.9 } else { 0.35 },
                sys_share: 0.6,
                disk_read: s.intensity * rng.jitter(0.25),
                disk_write: s.intensity * writes * rng.jitter(0.25),
                io_size: if s.id == "find-walk" { 8e3 } else { 64e3 },
                procs: 2.0,
                mem: 80e6,
                ..quiet
            }
        }
        Profile::BurstyC2 => {
            let jitter = if s.id == "beacon-jitter" { 0.3 } else { 0.05 };
            let on = pulse(t + rng.range(-jitter, jitter) * s.period_s, s.period_s, 1.0 / s.period_s);
            Activity {
                cpu: if on { 0.15 } else { 0.01 },
                sys_share: 0.3,
                net_out: if on { s.intensity * rng.jitter(0.2) } else { 0.0 },
                net_in: if on { s.intensity * 0.4 * rng.jitter(0.2) } else { 0.0 },
                pkt_size: 600.0,
                syn_rate: if on { 1.0 } else { 0.0 },
                dst_ports: if on { 1.0 } else { 0.0 },
                procs: 1.0,
                mem: 15e6,
                ..quiet
            }
        }
        Profile::LowAndSlow => match s.id {
            "slow-miner" => Activity { cpu: s.intensity, sys_share: 0.02, procs: 1.0, mem: 60e6, ..quiet },
            "dns-tunnel" => Activity {
                net_out: s.intensity * rng.jitter(0.3),
                net_in: s.intensity * 0.5 * rng.jitter(0.3),
                pkt_size: 120.0,
                udp_flows: 3.0,
                cpu: 0.02,
                ..quiet
            },
            _ => Activity {
                net_out: s.intensity * rng.jitter(0.3),
                pkt_size: 500.0,
                tcp_established: 1.0,
                cpu: 0.02,
                ..quiet
            },
        },
        Profile::ShellResident => {
            let typing = rng.chance(0.3 * s.intensity.min(1.0) + 0.1);
            Activity {
                cpu: if typing { 0.2 * s.intensity } else { 0.01 },
                sys_share: 0.4,
                net_in: if typing { 800.0 * s.intensity } else { 60.0 },
                net_out: if typing { 3e3 * s.intensity } else { 60.0 },
                pkt_size: 150.0,
                tcp_established: 1.0,
                syn_rate: if s.id == "webshell" && typing { 1.0 } else { 0.0 },
                dst_ports: 0.1,
                procs: 2.0 + 3.0 * s.intensity + if typing { 2.0 } else { 0.0 },
                mem: 40e6 * (1.0 + s.intensity),
                ..quiet
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_has_three_samples_with_unique_ids() {
        for p in Profile::ALL {
            assert_eq!(samples_of(p).count(), 3, "{p}");
        }
        let mut ids: Vec<&str> = SAMPLES.iter().map(|s| s.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), SAMPLES.len());
    }

    #[test]
    fn a_miner_pegs_a_cpu_and_a_scan_dials_many_ports() {
        let mut rng = Rng::new(1);
        let miner = attack_activity(&SAMPLES[0], 3.0, 4.0, &mut rng);
        assert!(miner.cpu > 0.9);
        let scan = attack_activity(&SAMPLES[3], 0.5, 4.0, &mut rng);
        assert!(scan.syn_rate > 100.0 && scan.dst_ports > 100.0);
    }
}
