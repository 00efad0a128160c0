//! The validation rules of the corpus format, applied to one read archive.
//!
//! Pure functions over [`EpisodeArchive`]: no I/O, so every rule is unit
//! tested with archives built in memory.

use std::collections::BTreeMap;

use cis490_shared::label::Label;
use cis490_shared::registry::Source;
use cis490_shared::validation::{Reason, ReasonCode, Status};
use serde_json::Value;

use super::reasons::Findings;
use crate::store::archive::{EpisodeArchive, ManifestContent, ReadLimits};
use crate::store::table::LineProblems;

/// A source passes the row gate with at least this share of nominal rows.
pub const ROW_GATE_SHARE: f64 = 0.8;
/// Gaps between rows longer than this degrade an episode.
pub const MAX_GAP_NS: i64 = 5_000_000_000;
/// The only supported manifest schema version.
pub const SCHEMA_VERSION: i64 = 1;
/// Longest manifest text kept in the index (`profile`, `sample_id`,
/// `agent_version`); longer ones are cut and the episode rejected.
pub const MAX_FACT_BYTES: usize = 256;

/// A manifest text for the index, cut to [`MAX_FACT_BYTES`] (rejecting
/// the episode when it had to be cut).
fn fact(name: &str, text: &str, f: &mut Findings) -> String {
    if text.len() > MAX_FACT_BYTES {
        f.add_with_detail(
            Status::Rejected,
            Reason::about(ReasonCode::ManifestFieldTooLong, name),
            format!("manifest.json: {name} is {} bytes (at most {MAX_FACT_BYTES})", text.len()),
        );
    }
    super::reasons::capped(text.to_string(), MAX_FACT_BYTES)
}

/// What the validator learned about an episode, beside its status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EpisodeFacts {
    /// `profile` from the manifest, when it is a string.
    pub profile: Option<String>,
    /// `sample_id` from the manifest, when it is a string.
    pub sample_id: Option<String>,
    /// `agent_version` from the manifest, when it is a string.
    pub agent_version: Option<String>,
    /// `started_wall_ns` from the manifest, when it is an integer.
    pub started_wall_ns: Option<i64>,
    /// Labelled duration (first label to `end`) in seconds.
    pub duration_s: Option<f64>,
    /// Usable rows per source inside the labelled span, indexed like [`Source::ALL`].
    pub rows: [Option<u64>; 4],
}

/// The judgement of one episode.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Judgement {
    /// Reasons found (and so the status).
    pub findings: Findings,
    /// Facts for the acceptance index.
    pub facts: EpisodeFacts,
}

impl Judgement {
    /// The episode's status.
    pub fn status(&self) -> Status {
        self.findings.status()
    }
}

/// A listed file in the manifest.
#[derive(Debug, Clone)]
struct ListedFile {
    sha256: String,
    bytes: u64,
    rows: Option<u64>,
}

/// Judges an archive read from `<host_id>/<episode_id>.tar.zst` with
/// `limits` (those it was read with). Its telemetry tables are left ordered
/// on `t_wall_ns`, duplicates dropped.
pub fn judge(archive: &mut EpisodeArchive, host_id: &str, episode_id: &str, limits: &ReadLimits) -> Judgement {
    let mut j = Judgement::default();
    let manifest = match &archive.manifest {
        None => {
            j.findings.errored(Reason::new(ReasonCode::ManifestMissing));
            return j;
        }
        Some(ManifestContent::NotJson(msg)) => {
            j.findings.add_with_detail(
                Status::Errored,
                Reason::new(ReasonCode::ManifestNotJson),
                format!("manifest.json: {msg}"),
            );
            return j;
        }
        Some(ManifestContent::Json(v)) => v,
    };
    let listed = check_manifest(manifest, host_id, episode_id, &mut j);
    for (name, kind) in &archive.unsafe_members {
        j.findings.add_with_detail(
            Status::Rejected,
            Reason::about(ReasonCode::UnsafeMember, kind.as_str()),
            format!("member {name:?}"),
        );
    }
    if archive.members_over_limit {
        j.findings.add_with_detail(
            Status::Rejected,
            Reason::new(ReasonCode::TooManyMembers),
            format!("more than {} members: the rest of the archive was not read", limits.max_members),
        );
    }
    check_checksums(archive, listed.as_ref(), &mut j.findings);
    let span = check_labels(archive, &j.facts, &mut j.findings);
    let span = span.filter(|(start, end)| {
        let within = i128::from(*end) - i128::from(*start) <= i128::from(limits.max_span_s) * 1_000_000_000;
        if !within {
            j.findings.add_with_detail(
                Status::Rejected,
                Reason::new(ReasonCode::LabelsSpanOverLimit),
                format!("labels.jsonl: the labelled span is over {} s", limits.max_span_s),
            );
        }
        within
    });
    j.facts.duration_s = span.map(|(start, end)| (end - start) as f64 / 1e9);
    for source in Source::ALL {
        check_source(archive, source, span, &mut j);
    }
    j
}

fn check_manifest(
    m: &Value,
    host_id: &str,
    episode_id: &str,
    j: &mut Judgement,
) -> Option<BTreeMap<String, ListedFile>> {
    let f = &mut j.findings;
    let Some(obj) = m.as_object() else {
        f.rejected(Reason::about(ReasonCode::ManifestFieldMistyped, "manifest"));
        return None;
    };
    let field = |name: &str, f: &mut Findings| {
        let v = obj.get(name);
        if v.is_none() {
            f.rejected(Reason::about(ReasonCode::ManifestFieldMissing, name));
        }
        v
    };
    let mistyped = |name: &str, f: &mut Findings| f.rejected(Reason::about(ReasonCode::ManifestFieldMistyped, name));
    match field("schema_version", f) {
        Some(v) if v.as_i64() == Some(SCHEMA_VERSION) => {}
        Some(v) if v.is_i64() || v.is_u64() => f.rejected(Reason::new(ReasonCode::UnsupportedSchemaVersion)),
        Some(_) => mistyped("schema_version", f),
        None => {}
    }
    for (name, expected, reason) in
        [("episode_id", episode_id, ReasonCode::EpisodeIdMismatch), ("host_id", host_id, ReasonCode::HostIdMismatch)]
    {
        match field(name, f).map(Value::as_str) {
            Some(Some(s)) if s == expected => {}
            Some(Some(_)) => f.rejected(Reason::new(reason)),
            Some(None) => mistyped(name, f),
            None => {}
        }
    }
    match field("profile", f).map(Value::as_str) {
        Some(Some(p)) => {
            if p.parse::<Label>().is_err() {
                f.rejected(Reason::new(ReasonCode::UnknownProfile));
            }
            j.facts.profile = Some(fact("profile", p, f));
        }
        Some(None) => mistyped("profile", f),
        None => {}
    }
    match field("sample_id", f) {
        Some(Value::String(s)) => j.facts.sample_id = Some(fact("sample_id", s, f)),
        Some(Value::Null) if j.facts.profile.as_deref() == Some("benign") => {}
        Some(_) => mistyped("sample_id", f),
        None => {}
    }
    match field("agent_version", f).map(Value::as_str) {
        Some(Some(v)) => j.facts.agent_version = Some(fact("agent_version", v, f)),
        Some(None) => mistyped("agent_version", f),
        None => {}
    }
    match field("started_wall_ns", f).map(Value::as_i64) {
        Some(Some(t)) => j.facts.started_wall_ns = Some(t),
        Some(None) => mistyped("started_wall_ns", f),
        None => {}
    }
    let files = field("files", f)?;
    let Some(files) = files.as_object() else {
        mistyped("files", f);
        return None;
    };
    let mut listed = BTreeMap::new();
    for (name, entry) in files {
        let sha = entry.get("sha256").and_then(Value::as_str);
        let bytes = entry.get("bytes").and_then(Value::as_u64);
        let rows = entry.get("rows");
        let rows_ok = rows.is_none_or(|r| r.is_u64() || r.is_null());
        match (sha, bytes) {
            (Some(sha), Some(bytes)) if rows_ok && sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()) => {
                let rows = rows.and_then(Value::as_u64);
                listed.insert(name.clone(), ListedFile { sha256: sha.to_ascii_lowercase(), bytes, rows });
            }
            _ => mistyped(&format!("files.{name}"), f),
        }
    }
    Some(listed)
}

fn check_checksums(archive: &EpisodeArchive, listed: Option<&BTreeMap<String, ListedFile>>, f: &mut Findings) {
    let Some(listed) = listed else { return };
    for (name, want) in listed {
        match archive.members.get(name) {
            None => f.rejected(Reason::about(ReasonCode::FileMissing, name)),
            Some(got) if got.sha256 != want.sha256 || got.bytes != want.bytes => {
                f.rejected(Reason::about(ReasonCode::ChecksumMismatch, name))
            }
            Some(got) => {
                if want.rows.is_some_and(|rows| rows != got.lines) {
                    f.degraded(Reason::about(ReasonCode::RowCountMismatch, name));
                }
            }
        }
    }
    for name in archive.members.keys() {
        if name != "manifest.json" && !listed.contains_key(name) {
            f.degraded(Reason::about(ReasonCode::UnlistedMember, name));
        }
    }
}

fn line_problems(member: &str, p: &LineProblems, f: &mut Findings) {
    let detail = || format!("{member} {}", p.first.as_deref().unwrap_or(""));
    if p.malformed > 0 {
        f.add_with_detail(Status::Rejected, Reason::about(ReasonCode::MalformedRow, member), detail());
    }
    if p.wrong_type + p.missing_time > 0 {
        f.add_with_detail(Status::Rejected, Reason::about(ReasonCode::WrongType, member), detail());
    }
    if p.too_long > 0 {
        f.add_with_detail(Status::Rejected, Reason::about(ReasonCode::LineTooLong, member), detail());
    }
    if p.over_row_cap > 0 {
        f.add_with_detail(Status::Rejected, Reason::about(ReasonCode::TooManyRows, member), detail());
    }
}

/// Checks the label timeline; returns the labelled span `(start, end)` in
/// wall-clock ns when the timeline is usable.
fn check_labels(archive: &EpisodeArchive, facts: &EpisodeFacts, f: &mut Findings) -> Option<(i64, i64)> {
    let Some(labels) = &archive.labels else {
        f.rejected(Reason::new(ReasonCode::LabelsMissing));
        return None;
    };
    line_problems("labels.jsonl", &labels.problems, f);
    let rows = &labels.rows;
    if rows.is_empty() {
        f.rejected(Reason::new(ReasonCode::LabelsEmpty));
        return None;
    }
    let mut usable = true;
    for w in rows.windows(2) {
        if w[1].t_wall_ns <= w[0].t_wall_ns || w[1].t_mono_ns <= w[0].t_mono_ns {
            f.rejected(Reason::new(ReasonCode::LabelsNotIncreasing));
            usable = false;
        }
    }
    let (body, last) = rows.split_at(rows.len() - 1);
    if last[0].label != "end" {
        f.rejected(Reason::new(ReasonCode::LabelsNoEnd));
        usable = false;
    }
    let manifest_label = facts.profile.as_deref().and_then(|p| p.parse::<Label>().ok());
    for row in body {
        match row.label.parse::<Label>() {
            Err(_) => {
                f.add_with_detail(
                    Status::Rejected,
                    Reason::new(ReasonCode::LabelUnknown),
                    format!("labels.jsonl: label {:?}", row.label),
                );
                usable = false;
            }
            Ok(Label::Attack(p)) if manifest_label.is_some_and(|m| m != Label::Attack(p)) => {
                f.rejected(Reason::new(ReasonCode::LabelDisagreesWithProfile))
            }
            Ok(_) => {}
        }
    }
    if body.is_empty() {
        f.rejected(Reason::new(ReasonCode::LabelsEmpty));
        usable = false;
    }
    usable.then(|| (rows[0].t_wall_ns, last[0].t_wall_ns))
}

fn check_source(archive: &mut EpisodeArchive, source: Source, span: Option<(i64, i64)>, j: &mut Judgement) {
    let f = &mut j.findings;
    // A proc problem makes the episode unusable; other sources only degrade it.
    let gate_status = if source == Source::Proc { Status::Rejected } else { Status::Degraded };
    let Some(table) = archive.sources[source as usize].as_mut() else {
        f.add(gate_status, Reason::about(ReasonCode::SourceMissing, source.to_string()));
        return;
    };
    line_problems(source.member_name(), &table.problems, f);
    if table.problems.non_finite > 0 {
        f.degraded(Reason::about(ReasonCode::NonFinite, source.to_string()));
    }
    let (dups, backwards) = table.drop_unordered_rows();
    if dups > 0 {
        f.degraded(Reason::about(ReasonCode::DuplicateTimestamps, source.to_string()));
    }
    if backwards > 0 {
        f.degraded(Reason::about(ReasonCode::OutOfOrder, source.to_string()));
    }
    let Some((start, end)) = span else { return };
    let range = table.rows_between(start, end);
    let rows = range.len() as u64;
    j.facts.rows[source as usize] = Some(rows);
    let expected = (end - start) as f64 / source.nominal_period_ns() as f64;
    if (rows as f64) < ROW_GATE_SHARE * expected {
        f.add_with_detail(
            gate_status,
            Reason::about(ReasonCode::RowGate, source.to_string()),
            format!("{}: {rows} rows in the labelled span, {expected:.0} expected", source.member_name()),
        );
    }
    let times = &table.t_wall_ns[range];
    let edges = [start].into_iter().chain(times.iter().copied()).chain([end]);
    let mut prev = None;
    for t in edges {
        if let Some(p) = prev
            && t - p > MAX_GAP_NS
        {
            f.degraded(Reason::about(ReasonCode::GapOver5s, source.to_string()));
            break;
        }
        prev = Some(t);
    }
}
