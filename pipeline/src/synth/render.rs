//! Turns an episode's timeline of activities into the rows of its four
//! telemetry members, with the spec's clocks: wall-clock time on every
//! source, the host's monotonic clock for proc and qmp, and other clocks
//! with arbitrary offsets for guest and netflow.

use std::fmt::Write as _;

use cis490_shared::label::Label;

use super::behaviour::{Activity, Benign, Sample, attack_activity, benign_activity};
use super::hosts::HostSpec;
use super::rng::Rng;

/// Seconds between proc/guest/qmp samples.
const TICK_S: f64 = 0.5;
/// Clock ticks per second of `/proc` CPU counters.
const CLOCK_HZ: f64 = 100.0;

/// One labelled stretch of an episode.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// The ground-truth label.
    pub label: Label,
    /// The benign workload running (in the background during an attack).
    pub benign: Benign,
    /// The attack sample running, if any.
    pub attack: Option<Sample>,
    /// Length in seconds.
    pub duration_s: f64,
}

/// Everything needed to render one episode's telemetry.
#[derive(Debug, Clone)]
pub struct Timeline<'a> {
    /// The host it runs on.
    pub host: &'a HostSpec,
    /// Labelled segments in order.
    pub segments: Vec<Segment>,
    /// Unix ns of the first label.
    pub start_wall_ns: i64,
    /// Host monotonic ns at the first label.
    pub host_mono_ns: i64,
    /// Guest clock at the first label (arbitrary offset).
    pub guest_mono_ns: i64,
    /// Flow collector clock at the first label (arbitrary offset).
    pub netflow_mono_ns: i64,
    /// Whether the newer agent (baseline drift) recorded it.
    pub new_agent: bool,
    /// Seconds into the episode at which QEMU restarted (proc counters reset).
    pub counter_reset_at_s: Option<f64>,
}

impl Timeline<'_> {
    /// Total labelled duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.segments.iter().map(|s| s.duration_s).sum()
    }

    /// The label rows: one per segment start, then `end`.
    pub fn label_rows(&self) -> Vec<(i64, i64, &'static str)> {
        let mut rows = Vec::new();
        let mut t = 0.0;
        for s in &self.segments {
            let (mono, wall, _) = self.times(t, 0, self.host_mono_ns);
            rows.push((mono, wall, s.label.as_str()));
            t += s.duration_s;
        }
        let (mono, wall, _) = self.times(t, 0, self.host_mono_ns);
        rows.push((mono, wall, "end"));
        rows
    }

    fn times(&self, t_s: f64, skew_ns: i64, mono_base: i64) -> (i64, i64, &'static str) {
        let ns = (t_s * 1e9).round() as i64;
        (mono_base + ns, self.start_wall_ns + ns + skew_ns, "")
    }

    fn segment_at(&self, t: f64) -> Option<(&Segment, f64)> {
        let mut start = 0.0;
        for s in &self.segments {
            if t < start + s.duration_s {
                return Some((s, t - start));
            }
            start += s.duration_s;
        }
        self.segments.last().map(|s| (s, t - start + s.duration_s))
    }
}

/// The rendered JSONL lines of the four sources.
#[derive(Debug, Clone, Default)]
pub struct RenderedSources {
    /// `proc.jsonl` lines.
    pub proc: Vec<String>,
    /// `guest.jsonl` lines.
    pub guest: Vec<String>,
    /// `qmp.jsonl` lines.
    pub qmp: Vec<String>,
    /// `netflow.jsonl` lines.
    pub netflow: Vec<String>,
}

struct Row(String);

impl Row {
    fn start(mono: i64, wall: i64) -> Self {
        let mut s = String::with_capacity(400);
        let _ = write!(s, "{{\"t_mono_ns\":{mono},\"t_wall_ns\":{wall}");
        Row(s)
    }
    fn int(mut self, key: &str, v: f64) -> Self {
        let _ = write!(self.0, ",\"{key}\":{}", v.max(0.0).round() as u64);
        self
    }
    fn fixed(mut self, key: &str, v: f64) -> Self {
        let _ = write!(self.0, ",\"{key}\":{v:.2}");
        self
    }
    fn done(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// Cumulative counters of one source, advanced each tick.
#[derive(Debug, Clone, Default)]
struct Counters {
    proc: [f64; 10],
    guest: [f64; 4],
    qmp: [f64; 8],
}

fn clip(mut a: Activity, host: &HostSpec) -> Activity {
    a.cpu = a.cpu.min(host.vcpus);
    let disk = a.disk_read + a.disk_write;
    if disk > host.disk_bytes_per_s {
        let k = host.disk_bytes_per_s / disk;
        a.disk_read *= k;
        a.disk_write *= k;
    }
    a.net_in = a.net_in.min(host.nic_bytes_per_s);
    a.net_out = a.net_out.min(host.nic_bytes_per_s);
    a
}

/// Renders the telemetry of `tl` with randomness from `rng`.
pub fn render(tl: &Timeline<'_>, rng: &mut Rng) -> RenderedSources {
    let host = tl.host;
    let noise = host.noise;
    let total = tl.duration_s();
    // Agents start a little before the first label and stop a little after `end`.
    let lead = rng.range(0.2, 1.0);
    let tail = rng.range(0.2, 1.0);
    let skew: [i64; 4] = std::array::from_fn(|_| (rng.range(-0.1, 0.1) * 1e9) as i64);
    let mut c = Counters::default();
    for v in c.proc.iter_mut().chain(c.guest.iter_mut()).chain(c.qmp.iter_mut()) {
        *v = rng.range(1e5, 1e8).round();
    }
    let mut out = RenderedSources::default();
    let (mut load1, mut cached) = (host.idle_cpu, 300e6 + rng.range(0.0, 200e6));
    let mut flow = Activity::default();
    let mut reset_done = false;
    let steps = ((lead + total + tail) / TICK_S).ceil() as usize;
    for step in 0..steps {
        let t = -lead + step as f64 * TICK_S;
        let mut a = Activity {
            cpu: host.idle_cpu * rng.jitter(noise * 2.0),
            sys_share: 0.3,
            io_size: 16e3,
            pkt_size: 300.0,
            ..Activity::default()
        };
        a.net_in = 200.0 * rng.jitter(noise * 3.0);
        a.net_out = 150.0 * rng.jitter(noise * 3.0);
        a.disk_write = 20e3 * rng.jitter(noise * 3.0);
        if let Some((seg, into)) = tl.segment_at(t.max(0.0)) {
            a.add(&benign_activity(seg.benign, into, host.vcpus, rng));
            if let Some(sample) = &seg.attack {
                a.add(&attack_activity(sample, into, host.vcpus, rng));
            }
        }
        let a = clip(a, host);
        if let Some(at) = tl.counter_reset_at_s
            && !reset_done
            && t >= at
        {
            c.proc = [0.0; 10];
            reset_done = true;
        }
        let n = |rng: &mut Rng| rng.jitter(noise);
        // proc: counters of the QEMU process on the host.
        let disk_ops_r = a.disk_read / a.io_size.max(512.0);
        let disk_ops_w = a.disk_write / a.io_size.max(512.0);
        let pkts = (a.net_in + a.net_out) / a.pkt_size.max(60.0);
        let p = &mut c.proc;
        p[0] += a.cpu * (1.0 - a.sys_share) * CLOCK_HZ * TICK_S * n(rng);
        p[1] += (a.cpu * a.sys_share + 0.02 + pkts * 2e-5) * CLOCK_HZ * TICK_S * n(rng);
        p[2] += a.disk_read * TICK_S;
        p[3] += a.disk_write * TICK_S;
        p[4] += (disk_ops_r + pkts * 0.5 + 20.0) * TICK_S * n(rng);
        p[5] += (disk_ops_w + pkts * 0.5 + 10.0) * TICK_S * n(rng);
        p[6] += (1500.0 + pkts * 0.8 + (disk_ops_r + disk_ops_w) * 1.2) * TICK_S * n(rng);
        p[7] += (40.0 + a.cpu * 120.0) * TICK_S * n(rng);
        p[8] += (80.0 + a.mem / 4096.0 * 0.002 + pkts * 0.05) * TICK_S * n(rng);
        p[9] += if rng.chance(0.01 + a.disk_read / 1e9) { 1.0 } else { 0.0 };
        let drift_rss = if tl.new_agent { 30e6 } else { 0.0 };
        let (pm, pw, _) = tl.times(t + rng.range(-0.015, 0.015), skew[0], tl.host_mono_ns);
        if !rng.chance(0.003) {
            let row = Row::start(pm, pw)
                .int("cpu_user", p[0])
                .int("cpu_system", p[1])
                .int("rss_bytes", 0.35 * host.mem_bytes + a.mem + drift_rss + rng.range(0.0, 4e6))
                .int("vsize_bytes", host.mem_bytes + 2.1e9)
                .int("num_threads", host.vcpus + 4.0 + if a.disk_read + a.disk_write > 1e6 { 4.0 } else { 0.0 })
                .int("io_read_bytes", p[2])
                .int("io_write_bytes", p[3])
                .int("io_syscr", p[4])
                .int("io_syscw", p[5])
                .int("ctx_switches_voluntary", p[6])
                .int("ctx_switches_involuntary", p[7])
                .int("minor_faults", p[8])
                .int("major_faults", p[9]);
            out.proc.push(row.done());
        }
        // guest: what the in-guest agent sees.
        let busy = a.cpu / host.vcpus * 100.0;
        let user = busy * (1.0 - a.sys_share) + if tl.new_agent { 1.5 } else { 0.0 };
        let system = busy * a.sys_share;
        let iowait = ((a.disk_read + a.disk_write) / host.disk_bytes_per_s * 25.0).min(40.0);
        let idle = (100.0 - user - system - iowait).max(0.0);
        load1 += (a.cpu + iowait / 25.0 - load1) * (TICK_S / 60.0);
        cached = (cached + a.disk_read * TICK_S * 0.3).min(0.5 * host.mem_bytes);
        let g = &mut c.guest;
        g[0] += a.disk_read * TICK_S;
        g[1] += a.disk_write * TICK_S;
        g[2] += a.net_in * TICK_S;
        g[3] += a.net_out * TICK_S;
        let (gm, gw, _) = tl.times(t + rng.range(-0.015, 0.015), skew[1], tl.guest_mono_ns);
        if !rng.chance(0.003) {
            let used = 0.25 * host.mem_bytes + a.mem + if tl.new_agent { 40e6 } else { 0.0 };
            let row = Row::start(gm, gw)
                .fixed("cpu_user", (user * n(rng)).min(100.0))
                .fixed("cpu_system", (system * n(rng)).min(100.0))
                .fixed("cpu_iowait", iowait * n(rng))
                .fixed("cpu_idle", idle)
                .fixed("load1", load1 * n(rng))
                .int("mem_available", host.mem_bytes - used - cached)
                .int("mem_cached", cached)
                .int("swap_used", if used + cached > 0.9 * host.mem_bytes { 50e6 } else { 0.0 })
                .int("procs_running", (a.cpu + 1.0 + rng.range(-0.5, 0.5)).round().max(1.0))
                .int("procs_total", 120.0 + a.procs)
                .int("tcp_established", 2.0 + a.tcp_established.round())
                .int("open_fds", 900.0 + a.procs * 12.0 + a.tcp_established * 2.0 + a.syn_rate.min(500.0))
                .int("disk_read_bytes", g[0])
                .int("disk_write_bytes", g[1])
                .int("eth0_rx_bytes", g[2])
                .int("eth0_tx_bytes", g[3]);
            out.guest.push(row.done());
        }
        // qmp: the hypervisor's view.
        let q = &mut c.qmp;
        let exit_scale = if tl.new_agent { 1.15 } else { 1.0 };
        q[0] += a.cpu * 1e9 * TICK_S * n(rng);
        q[1] += ((host.vcpus - a.cpu) * 250.0 + a.cpu * 900.0 + pkts * 0.6 + (disk_ops_r + disk_ops_w))
            * TICK_S
            * exit_scale
            * n(rng);
        q[2] += (host.vcpus - a.cpu).max(0.0) * 240.0 * TICK_S * n(rng);
        q[3] += (pkts * 0.5 + disk_ops_r + disk_ops_w + 30.0) * TICK_S * n(rng);
        q[4] += a.disk_read * TICK_S;
        q[5] += a.disk_write * TICK_S;
        q[6] += disk_ops_r * TICK_S;
        q[7] += disk_ops_w * TICK_S;
        let (qm, qw, _) = tl.times(t + rng.range(-0.015, 0.015), skew[2], tl.host_mono_ns);
        if !rng.chance(0.003) {
            let row = Row::start(qm, qw)
                .int("vcpu_time_ns", q[0])
                .int("kvm_exits", q[1])
                .int("kvm_halt_exits", q[2])
                .int("kvm_io_exits", q[3])
                .int("block_rd_bytes", q[4])
                .int("block_wr_bytes", q[5])
                .int("block_rd_ops", q[6])
                .int("block_wr_ops", q[7])
                .int("balloon_actual", host.mem_bytes);
            out.qmp.push(row.done());
        }
        // netflow: per-second totals, exported every other tick.
        let mut half = a;
        for v in [&mut half.net_in, &mut half.net_out, &mut half.syn_rate] {
            *v *= TICK_S;
        }
        flow.add(&half);
        if step % 2 == 1 {
            let (nm, nw, _) = tl.times(t + rng.range(-0.015, 0.015), skew[3], tl.netflow_mono_ns);
            let syns = (flow.syn_rate * n(rng)).round();
            if !rng.chance(0.003) {
                let row = Row::start(nm, nw)
                    .int("bytes_in", flow.net_in * n(rng))
                    .int("bytes_out", flow.net_out * n(rng))
                    .int("pkts_in", flow.net_in / flow.pkt_size.max(60.0))
                    .int("pkts_out", flow.net_out / flow.pkt_size.max(60.0))
                    .int("syn_count", syns)
                    .int("tcp_count", 2.0 + a.tcp_established.round() + syns.min(50.0))
                    .int("udp_count", 1.0 + a.udp_flows.round())
                    .int("unique_dst_ports", 2.0 + a.dst_ports.round());
                out.netflow.push(row.done());
            }
            flow = Activity::default();
        }
    }
    out
}
