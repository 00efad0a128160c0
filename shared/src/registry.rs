//! The 46-channel telemetry registry: which source records each channel,
//! how it behaves over time, and whether a realistic (host-side) model may
//! see it. The order of [`CHANNELS`] defines the feature schema.

use std::fmt;

/// The agent or collector that records a telemetry member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// Host-side `/proc/<qemu pid>` counters (`proc.jsonl`).
    Proc,
    /// The in-guest agent (`guest.jsonl`); under the attacker's control in deployment.
    Guest,
    /// QEMU QMP / KVM statistics (`qmp.jsonl`).
    Qmp,
    /// Host-side flow aggregates on the VM's tap (`netflow.jsonl`).
    Netflow,
}

impl Source {
    /// All four sources in registry order.
    pub const ALL: [Source; 4] = [Source::Proc, Source::Guest, Source::Qmp, Source::Netflow];

    /// The source prefix of channel names, e.g. `proc`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Proc => "proc",
            Source::Guest => "guest",
            Source::Qmp => "qmp",
            Source::Netflow => "netflow",
        }
    }

    /// The archive member holding this source's rows, e.g. `proc.jsonl`.
    pub fn member_name(self) -> &'static str {
        match self {
            Source::Proc => "proc.jsonl",
            Source::Guest => "guest.jsonl",
            Source::Qmp => "qmp.jsonl",
            Source::Netflow => "netflow.jsonl",
        }
    }

    /// The nominal sampling period in nanoseconds (500 ms, netflow 1 s).
    pub fn nominal_period_ns(self) -> i64 {
        match self {
            Source::Netflow => 1_000_000_000,
            _ => 500_000_000,
        }
    }

    /// Whether this source's `t_mono_ns` shares the host's monotonic clock
    /// (guest and netflow clocks have arbitrary offsets).
    pub fn mono_clock_is_host(self) -> bool {
        matches!(self, Source::Proc | Source::Qmp)
    }

    /// The source's channels, in registry order.
    pub fn channels(self) -> impl Iterator<Item = &'static Channel> {
        CHANNELS.iter().filter(move |c| c.source == self)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a channel's values evolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// Cumulative and monotone except resets (a drop to a smaller value).
    Counter,
    /// An instantaneous reading.
    Gauge,
    /// A total over the sampling interval (netflow byte/packet/SYN counts).
    IntervalTotal,
}

impl ChannelKind {
    /// The kind's name, as hashed into the schema.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Counter => "counter",
            ChannelKind::Gauge => "gauge",
            ChannelKind::IntervalTotal => "interval_total",
        }
    }
}

/// One telemetry channel of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Channel {
    /// The recording source.
    pub source: Source,
    /// The field name inside the source's rows, e.g. `cpu_user`.
    pub field: &'static str,
    /// How values evolve.
    pub kind: ChannelKind,
}

impl Channel {
    /// Whether a realistic (host-side only) model may see this channel.
    pub fn realistic(&self) -> bool {
        self.source != Source::Guest
    }

    /// The full channel name, e.g. `proc.cpu_user`.
    pub fn name(&self) -> String {
        format!("{}.{}", self.source.as_str(), self.field)
    }

    /// What the channel's values count, as `docs/corpus-format.md` and
    /// the producers define them: `bytes`, `%`, `ns`, clock `ticks`, or
    /// the thing counted (`threads`, `packets`, ...); `""` for the load
    /// average, which has none. Every channel is non-negative.
    pub fn unit(&self) -> &'static str {
        match (self.source, self.field) {
            (Source::Guest, "cpu_user" | "cpu_system" | "cpu_iowait" | "cpu_idle") => "%",
            (Source::Proc, "cpu_user" | "cpu_system") => "ticks",
            (_, "mem_available" | "mem_cached" | "swap_used" | "balloon_actual" | "bytes_in" | "bytes_out") => "bytes",
            (_, field) if field.ends_with("_bytes") => "bytes",
            (_, "vcpu_time_ns") => "ns",
            (_, "num_threads") => "threads",
            (_, "io_syscr" | "io_syscw") => "syscalls",
            (_, "ctx_switches_voluntary" | "ctx_switches_involuntary") => "switches",
            (_, "minor_faults" | "major_faults") => "faults",
            (_, "procs_running" | "procs_total") => "processes",
            (_, "tcp_established") => "connections",
            (_, "open_fds") => "fds",
            (_, "kvm_exits" | "kvm_halt_exits" | "kvm_io_exits") => "exits",
            (_, "block_rd_ops" | "block_wr_ops") => "ops",
            (_, "pkts_in" | "pkts_out") => "packets",
            (_, "syn_count") => "SYNs",
            (_, "tcp_count" | "udp_count") => "flows",
            (_, "unique_dst_ports") => "ports",
            _ => "",
        }
    }
}

const fn ch(source: Source, field: &'static str, kind: ChannelKind) -> Channel {
    Channel { source, field, kind }
}

use ChannelKind::{Counter as C, Gauge as G, IntervalTotal as I};
use Source::{Guest, Netflow, Proc, Qmp};

/// The 46 channels in schema order.
pub const CHANNELS: [Channel; 46] = [
    ch(Proc, "cpu_user", C),
    ch(Proc, "cpu_system", C),
    ch(Proc, "rss_bytes", G),
    ch(Proc, "vsize_bytes", G),
    ch(Proc, "num_threads", G),
    ch(Proc, "io_read_bytes", C),
    ch(Proc, "io_write_bytes", C),
    ch(Proc, "io_syscr", C),
    ch(Proc, "io_syscw", C),
    ch(Proc, "ctx_switches_voluntary", C),
    ch(Proc, "ctx_switches_involuntary", C),
    ch(Proc, "minor_faults", C),
    ch(Proc, "major_faults", C),
    ch(Guest, "cpu_user", G),
    ch(Guest, "cpu_system", G),
    ch(Guest, "cpu_iowait", G),
    ch(Guest, "cpu_idle", G),
    ch(Guest, "load1", G),
    ch(Guest, "mem_available", G),
    ch(Guest, "mem_cached", G),
    ch(Guest, "swap_used", G),
    ch(Guest, "procs_running", G),
    ch(Guest, "procs_total", G),
    ch(Guest, "tcp_established", G),
    ch(Guest, "open_fds", G),
    ch(Guest, "disk_read_bytes", C),
    ch(Guest, "disk_write_bytes", C),
    ch(Guest, "eth0_rx_bytes", C),
    ch(Guest, "eth0_tx_bytes", C),
    ch(Qmp, "vcpu_time_ns", C),
    ch(Qmp, "kvm_exits", C),
    ch(Qmp, "kvm_halt_exits", C),
    ch(Qmp, "kvm_io_exits", C),
    ch(Qmp, "block_rd_bytes", C),
    ch(Qmp, "block_wr_bytes", C),
    ch(Qmp, "block_rd_ops", C),
    ch(Qmp, "block_wr_ops", C),
    ch(Qmp, "balloon_actual", G),
    ch(Netflow, "bytes_in", I),
    ch(Netflow, "bytes_out", I),
    ch(Netflow, "pkts_in", I),
    ch(Netflow, "pkts_out", I),
    ch(Netflow, "syn_count", I),
    ch(Netflow, "tcp_count", G),
    ch(Netflow, "udp_count", G),
    ch(Netflow, "unique_dst_ports", G),
];

/// Window length of the feature schema, in seconds.
pub const WINDOW_S: u32 = 10;
/// Stride between window starts, in seconds.
pub const STRIDE_S: u32 = 5;
/// Version of the feature set; bump it when feature maths change.
pub const FEATURE_SET_VERSION: u32 = 1;

/// The schema hash stored in checkpoints: sha256 (hex) over channel names,
/// kinds and order, window length, stride and the feature-set version.
pub fn schema_hash() -> String {
    schema_hash_of(&CHANNELS, WINDOW_S, STRIDE_S, FEATURE_SET_VERSION)
}

/// The schema hash of an arbitrary registry and windowing (for tests and
/// for reading checkpoints written by other builds).
pub fn schema_hash_of(channels: &[Channel], window_s: u32, stride_s: u32, version: u32) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for c in channels {
        h.update(format!("{}.{}:{};", c.source.as_str(), c.field, c.kind.as_str()));
    }
    h.update(format!("window={window_s};stride={stride_s};features=v{version}"));
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_has_the_spec_counts() {
        let count = |s: Source| s.channels().count();
        assert_eq!(count(Source::Proc), 13);
        assert_eq!(count(Source::Guest), 16);
        assert_eq!(count(Source::Qmp), 9);
        assert_eq!(count(Source::Netflow), 8);
        assert_eq!(CHANNELS.iter().filter(|c| c.realistic()).count(), 30);
        let mut names: Vec<String> = CHANNELS.iter().map(Channel::name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 46, "channel names are unique");
    }

    #[test]
    fn every_channel_but_the_load_average_has_a_unit() {
        let without: Vec<String> = CHANNELS.iter().filter(|c| c.unit().is_empty()).map(Channel::name).collect();
        assert_eq!(without, ["guest.load1"]);
        let unit = |name: &str| CHANNELS.iter().find(|c| c.name() == name).map(Channel::unit);
        assert_eq!(unit("proc.rss_bytes"), Some("bytes"));
        assert_eq!(unit("guest.cpu_idle"), Some("%"));
        assert_eq!(unit("proc.cpu_user"), Some("ticks"));
        assert_eq!(unit("guest.mem_available"), Some("bytes"));
        assert_eq!(unit("netflow.bytes_in"), Some("bytes"));
        assert_eq!(unit("qmp.vcpu_time_ns"), Some("ns"));
    }

    #[test]
    fn schema_hash_changes_with_any_input() {
        let base = schema_hash();
        assert_eq!(base.len(), 64);
        let mut swapped = CHANNELS;
        swapped.swap(0, 1);
        assert_ne!(schema_hash_of(&swapped, WINDOW_S, STRIDE_S, FEATURE_SET_VERSION), base);
        let mut rekinded = CHANNELS;
        rekinded[2].kind = ChannelKind::Counter;
        assert_ne!(schema_hash_of(&rekinded, WINDOW_S, STRIDE_S, FEATURE_SET_VERSION), base);
        assert_ne!(schema_hash_of(&CHANNELS, 20, STRIDE_S, FEATURE_SET_VERSION), base);
        assert_ne!(schema_hash_of(&CHANNELS, WINDOW_S, 10, FEATURE_SET_VERSION), base);
        assert_ne!(schema_hash_of(&CHANNELS, WINDOW_S, STRIDE_S, 2), base);
    }
}
