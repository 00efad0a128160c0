//! Planning and building one synthetic episode archive: its timeline,
//! telemetry, manifest, injected fault, tar and zstd, byte-identical for a
//! given seed.

use cis490_shared::label::{Label, Profile};
use cis490_shared::registry::Source;
use sha2::{Digest, Sha256};

use super::behaviour::{Benign, Sample, samples_of};
use super::faults::Fault;
use super::hosts::HostSpec;
use super::render::{Segment, Timeline, render};
use super::rng::Rng;
use crate::store::tar_writer::{MemberType, TarWriter};

/// Unix time of the corpus start (2026-01-01T00:00:00Z) in ns.
pub const CORPUS_EPOCH_NS: i64 = 1_767_225_600 * 1_000_000_000;
/// Days the corpus spans.
pub const CORPUS_DAYS: f64 = 30.0;
/// Day on which the agent upgrade (a baseline drift) rolls out.
pub const AGENT_UPGRADE_DAY: f64 = 18.0;
const DAY_NS: f64 = 86_400e9;

/// What one episode will be.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodePlan {
    /// Position in the store (also the random stream).
    pub index: u64,
    /// The episode id, e.g. `ep-000042`.
    pub episode_id: String,
    /// Index into the host list.
    pub host: usize,
    /// The attack profile, or `None` for an all-benign episode.
    pub profile: Option<Profile>,
    /// The attack sample.
    pub sample: Option<Sample>,
    /// Unix ns of the first label.
    pub start_wall_ns: i64,
    /// The injected fault, if any.
    pub fault: Option<Fault>,
}

impl EpisodePlan {
    /// The agent version that recorded the episode.
    pub fn agent_version(&self) -> &'static str {
        if self.new_agent() { "1.5.0" } else { "1.4.0" }
    }

    fn new_agent(&self) -> bool {
        (self.start_wall_ns - CORPUS_EPOCH_NS) as f64 / DAY_NS >= AGENT_UPGRADE_DAY
    }
}

/// Plans episode `index` of `count` on `hosts`, with `fault`.
pub fn plan_episode(index: u64, count: u64, hosts: &[HostSpec], fault: Option<Fault>, rng: &mut Rng) -> EpisodePlan {
    let profile = if rng.chance(0.2) { None } else { Some(*rng.pick(&Profile::ALL)) };
    let allowed: Vec<usize> =
        (0..hosts.len()).filter(|h| profile.is_none_or(|p| !hosts[*h].never_runs.contains(&p))).collect();
    let host = if allowed.is_empty() { rng.below(hosts.len() as u64) as usize } else { *rng.pick(&allowed) };
    let sample = profile.map(|p| {
        let samples: Vec<&Sample> = samples_of(p).collect();
        **rng.pick(&samples)
    });
    let slot = CORPUS_DAYS * DAY_NS / count.max(1) as f64;
    let start_wall_ns = CORPUS_EPOCH_NS + ((index as f64 + rng.range(0.0, 0.9)) * slot) as i64;
    EpisodePlan { index, episode_id: format!("ep-{index:06}"), host, profile, sample, start_wall_ns, fault }
}

fn segments(plan: &EpisodePlan, rng: &mut Rng) -> Vec<Segment> {
    let background = |rng: &mut Rng, busy: f64| {
        if rng.chance(busy) { *rng.pick(&Benign::ALL[1..]) } else { Benign::Idle }
    };
    let benign = |benign, duration_s| Segment { label: Label::Benign, benign, attack: None, duration_s };
    match (plan.profile, plan.sample) {
        (Some(profile), Some(sample)) => vec![
            benign(background(rng, 0.4), rng.range(20.0, 60.0).round()),
            Segment {
                label: Label::Attack(profile),
                benign: background(rng, 0.3),
                attack: Some(sample),
                duration_s: rng.range(80.0, 180.0).round(),
            },
            benign(Benign::Idle, rng.range(15.0, 40.0).round()),
        ],
        _ => {
            let n = 2 + rng.below(2);
            (0..n).map(|_| benign(*rng.pick(&Benign::ALL), rng.range(50.0, 110.0).round())).collect()
        }
    }
}

/// The members of an episode before they are put in a tar.
struct Members {
    files: Vec<(String, Vec<u8>)>,
}

impl Members {
    fn get_mut(&mut self, name: &str) -> Option<&mut Vec<u8>> {
        self.files.iter_mut().find(|(n, _)| n == name).map(|(_, b)| b)
    }
    fn remove(&mut self, name: &str) {
        self.files.retain(|(n, _)| n != name);
    }
}

fn join_lines(lines: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for l in lines {
        out.extend_from_slice(l.as_bytes());
        out.push(b'\n');
    }
    out
}

/// Replaces the value of `"field":` in a JSON row with `raw`.
fn set_field(line: &mut String, field: &str, raw: &str) {
    let key = format!("\"{field}\":");
    if let Some(at) = line.find(&key) {
        let start = at + key.len();
        let end = line[start..].find([',', '}']).map_or(line.len(), |e| start + e);
        line.replace_range(start..end, raw);
    }
}

fn apply_line_faults(fault: Fault, labels: &mut Vec<String>, src: &mut [Vec<String>; 4], rng: &mut Rng) {
    match fault {
        Fault::RowGate(s) => {
            let rows = &mut src[s as usize];
            rows.retain(|_| rng.unit() >= if s == Source::Proc { 0.5 } else { 0.4 });
        }
        Fault::Gap => {
            let rows = &mut src[Source::Proc as usize];
            let from = rows.len() / 3;
            rows.drain(from..(from + 16).min(rows.len()));
        }
        Fault::DuplicateTimestamps => {
            let rows = &mut src[Source::Qmp as usize];
            for i in [rows.len() / 4, rows.len() / 2] {
                if let Some(r) = rows.get(i).cloned() {
                    rows.insert(i, r);
                }
            }
        }
        Fault::NonFinite => {
            let rows = &mut src[Source::Guest as usize];
            for i in [5, rows.len() / 2] {
                if let Some(r) = rows.get_mut(i) {
                    set_field(r, "load1", "NaN");
                }
            }
        }
        Fault::WrongType => {
            if let Some(r) = src[Source::Proc as usize].get_mut(10) {
                set_field(r, "cpu_user", "\"1234\"");
            }
        }
        Fault::LabelsNotIncreasing if labels.len() >= 3 => labels.swap(1, 2),
        Fault::LabelsNoEnd => {
            labels.pop();
        }
        Fault::LabelUnknown => {
            if let Some(r) = labels.first_mut() {
                set_field(r, "label", "\"cryptominer\"");
            }
        }
        Fault::LabelsEmpty => labels.clear(),
        _ => {}
    }
}

/// Builds the compressed archive of a planned episode (a manifest that
/// does not serialize or a failed compression is an error, never an empty
/// archive).
pub fn build_archive(plan: &EpisodePlan, host: &HostSpec, seed: u64) -> std::io::Result<Vec<u8>> {
    let mut rng = Rng::derive(seed, plan.index);
    let segments = segments(plan, &mut rng);
    let since_epoch = plan.start_wall_ns - CORPUS_EPOCH_NS;
    let timeline = Timeline {
        host,
        segments,
        start_wall_ns: plan.start_wall_ns,
        host_mono_ns: host.mono_base_ns + since_epoch,
        guest_mono_ns: (rng.range(5.0, 5000.0) * 1e9) as i64,
        netflow_mono_ns: (rng.range(1e4, 1e6) * 1e9) as i64,
        new_agent: plan.new_agent(),
        counter_reset_at_s: None,
    };
    let reset = rng.chance(0.03).then(|| rng.range(0.3, 0.7) * timeline.duration_s());
    let timeline = Timeline { counter_reset_at_s: reset, ..timeline };
    let mut labels: Vec<String> = timeline
        .label_rows()
        .iter()
        .map(|(mono, wall, label)| format!("{{\"t_mono_ns\":{mono},\"t_wall_ns\":{wall},\"label\":\"{label}\"}}"))
        .collect();
    let rendered = render(&timeline, &mut rng);
    let mut sources = [rendered.proc, rendered.guest, rendered.qmp, rendered.netflow];
    if let Some(f) = plan.fault {
        apply_line_faults(f, &mut labels, &mut sources, &mut rng);
    }
    let mut members = Members { files: vec![("labels.jsonl".to_string(), join_lines(&labels))] };
    for s in Source::ALL {
        members.files.push((s.member_name().to_string(), join_lines(&sources[s as usize])));
    }
    match plan.fault {
        Some(Fault::SourceMissing(s)) => members.remove(s.member_name()),
        Some(Fault::ProcMissing) => members.remove("proc.jsonl"),
        Some(Fault::NonUtf8) => {
            if let Some(b) = members.get_mut("guest.jsonl") {
                let at = b.iter().position(|c| *c == b'}').unwrap_or(0);
                b.splice(at..at, b",\"note\":\"\xff\xfe\"".iter().copied());
            }
        }
        _ => {}
    }
    let mut manifest = manifest_json(plan, host, &members);
    finish_members(plan, &mut members, &mut manifest);
    let mtime = u64::try_from(plan.start_wall_ns / 1_000_000_000).unwrap_or(0);
    let mut tar = TarWriter::new();
    match plan.fault {
        Some(Fault::ManifestMissing) => {}
        Some(Fault::ManifestNotJson) => {
            tar.file("manifest.json", b"{\"schema_version\": 1, \"episode_id\": ", mtime);
        }
        _ => {
            let mut text = serde_json::to_vec_pretty(&manifest)?;
            text.push(b'\n');
            tar.file("manifest.json", &text, mtime);
        }
    }
    for (name, bytes) in &members.files {
        tar.file(name, bytes, mtime);
    }
    match plan.fault {
        Some(Fault::ParentDirMember) => {
            tar.member(b"../escape.txt", MemberType::File, b"", b"outside\n", mtime);
        }
        Some(Fault::SymlinkMember) => {
            tar.member(b"proc-link.jsonl", MemberType::Symlink, b"/etc/passwd", b"", mtime);
        }
        _ => {}
    }
    let tar = tar.finish();
    compress_with_fault(plan.fault, &tar, &mut rng)
}

fn manifest_json(plan: &EpisodePlan, host: &HostSpec, members: &Members) -> serde_json::Value {
    let mut files = serde_json::Map::new();
    for (name, bytes) in &members.files {
        let rows = bytes.iter().filter(|b| **b == b'\n').count();
        files.insert(
            name.clone(),
            serde_json::json!({"sha256": hex::encode(Sha256::digest(bytes)), "bytes": bytes.len(), "rows": rows}),
        );
    }
    serde_json::json!({
        "schema_version": 1,
        "episode_id": plan.episode_id,
        "host_id": host.id,
        "profile": plan.profile.map_or("benign", Profile::as_str),
        "sample_id": plan.sample.map(|s| s.id),
        "agent_version": plan.agent_version(),
        "started_wall_ns": plan.start_wall_ns,
        "files": files,
    })
}

/// Faults applied after checksums were taken.
fn finish_members(plan: &EpisodePlan, members: &mut Members, manifest: &mut serde_json::Value) {
    let Some(fault) = plan.fault else { return };
    match fault {
        Fault::ChecksumMismatch => {
            if let Some(b) = members.get_mut("proc.jsonl") {
                // Change one digit: still valid JSON, different bytes.
                if let Some(d) = b.iter_mut().rev().find(|c| c.is_ascii_digit()) {
                    *d = if *d == b'9' { b'0' } else { *d + 1 };
                }
            }
        }
        Fault::FileMissing => members.remove("netflow.jsonl"),
        Fault::UnlistedMember => members.files.push(("agent.log".into(), b"agent started\n".to_vec())),
        Fault::UnsupportedSchemaVersion => manifest["schema_version"] = 2.into(),
        Fault::ManifestFieldMissing => {
            if let Some(m) = manifest.as_object_mut() {
                m.remove("agent_version");
            }
        }
        Fault::EpisodeIdMismatch => manifest["episode_id"] = format!("{}-copy", plan.episode_id).into(),
        _ => {}
    }
}

fn compress_with_fault(fault: Option<Fault>, tar: &[u8], rng: &mut Rng) -> std::io::Result<Vec<u8>> {
    let compress = |bytes: &[u8]| zstd::bulk::compress(bytes, 3);
    match fault {
        Some(Fault::TruncatedZstd) => {
            let mut z = compress(tar)?;
            z.truncate(z.len() * 3 / 5);
            Ok(z)
        }
        Some(Fault::CorruptZstd) => {
            let mut z = compress(tar)?;
            for b in z.iter_mut().take(4) {
                *b = 0x42;
            }
            Ok(z)
        }
        Some(Fault::CorruptTar) => {
            let garbage: Vec<u8> = (0..tar.len().min(16_384)).map(|_| (rng.next_u64() & 0xff) as u8).collect();
            compress(&garbage)
        }
        _ => compress(tar),
    }
}
