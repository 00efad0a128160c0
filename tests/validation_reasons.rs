//! One test per validation reason of the corpus format, each with an
//! archive built here by hand (not by the generator), broken in one way.

use std::io::Write;

use cis490_pipeline::store::archive::ReadLimits;
use cis490_pipeline::store::tar_writer::MemberType;
use cis490_pipeline::validate::index::IndexRow;
use cis490_tests::{EpisodeFixture, validate_bytes};
use serde_json::json;

fn judge(fx: &EpisodeFixture) -> IndexRow {
    judge_archive(&fx.build())
}

fn judge_archive(archive: &[u8]) -> IndexRow {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    validate_bytes(dir.path(), archive, &ReadLimits::default())
}

#[track_caller]
fn assert_judged(row: &IndexRow, status: &str, reason: &str) {
    assert_eq!(row.status.as_str(), status, "reasons {:?} ({})", row.reasons, row.details);
    assert!(
        row.reasons.iter().any(|r| r.to_string() == reason),
        "expected reason {reason:?}, got {:?} ({})",
        row.reasons,
        row.details
    );
}

fn with(edit: impl FnOnce(&mut EpisodeFixture)) -> IndexRow {
    let mut fx = EpisodeFixture::clean();
    edit(&mut fx);
    judge(&fx)
}

#[test]
fn a_clean_episode_is_accepted_with_its_facts() {
    let row = judge(&EpisodeFixture::clean());
    assert_eq!(row.status.as_str(), "accepted", "{:?} {}", row.reasons, row.details);
    assert!(row.reasons.is_empty());
    assert_eq!(row.profile.as_deref(), Some("cpu-saturate"));
    assert_eq!(row.sample_id.as_deref(), Some("miner-z"));
    assert_eq!(row.duration_s, Some(60.0));
    assert_eq!(row.rows, [Some(120), Some(120), Some(120), Some(60)]);
    assert_eq!(row.archive_sha256.as_ref().map(String::len), Some(64));
}

/// The clock-base trap: netflow's and the guest's `t_mono_ns` are on other
/// clocks. Judged on `t_mono_ns`, netflow would have no rows in the labelled
/// span and fail its row gate.
#[test]
fn netflow_on_another_monotonic_clock_still_passes_its_row_gate() {
    let fx = EpisodeFixture::clean();
    let row = judge(&fx);
    assert_eq!(row.rows[3], Some(60), "netflow rows counted on wall-clock time");
    assert!(!row.reasons.iter().any(|r| r.subject.as_deref() == Some("netflow")));
}

// ---- errored -------------------------------------------------------------

#[test]
fn truncated_zstd_is_errored() {
    let mut archive = EpisodeFixture::clean().build();
    archive.truncate(archive.len() / 2);
    assert_judged(&judge_archive(&archive), "errored", "corrupt_zstd");
}

#[test]
fn bytes_that_are_not_zstd_are_errored() {
    assert_judged(&judge_archive(b"PK\x03\x04 this is a zip, not zstd"), "errored", "corrupt_zstd");
}

#[test]
fn a_corrupt_tar_inside_valid_zstd_is_errored() {
    let mut tar = EpisodeFixture::clean().tar();
    tar[148..156].copy_from_slice(b"9999999\0");
    let archive = zstd::bulk::compress(&tar, 3).unwrap_or_default();
    assert_judged(&judge_archive(&archive), "errored", "corrupt_tar");
}

#[test]
fn a_truncated_tar_inside_valid_zstd_is_errored() {
    let tar = EpisodeFixture::clean().tar();
    let archive = zstd::bulk::compress(&tar[..tar.len() / 2 + 100], 3).unwrap_or_default();
    assert_judged(&judge_archive(&archive), "errored", "corrupt_tar");
}

#[test]
fn a_decompression_bomb_stops_at_the_cap() -> Result<(), Box<dyn std::error::Error>> {
    // A 600 MiB member of zeros compresses to a few hundred KB.
    let mut header = tar::Header::new_ustar();
    header.set_path("proc.jsonl")?;
    header.set_size(600 << 20);
    header.set_mode(0o644);
    header.set_cksum();
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 1)?;
    enc.write_all(header.as_bytes())?;
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..600 {
        enc.write_all(&zeros)?;
    }
    let archive = enc.finish()?;
    assert!(archive.len() < 1 << 20, "the bomb is small: {} bytes", archive.len());
    let row = judge_archive(&archive);
    assert_judged(&row, "errored", "decompressed_size_over_limit");
    Ok(())
}

#[test]
fn a_missing_manifest_is_errored() {
    assert_judged(&with(|fx| fx.no_manifest = true), "errored", "manifest_missing");
}

#[test]
fn a_manifest_that_is_not_json_is_errored() {
    assert_judged(
        &with(|fx| fx.manifest_bytes = Some(b"{\"schema_version\": 1,".to_vec())),
        "errored",
        "manifest_not_json",
    );
}

#[test]
fn an_unreadable_file_is_errored() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let episode = cis490_pipeline::store::layout::EpisodeRef {
        host_id: cis490_shared::ids::HostId::new("lab-pc-07")?,
        episode_id: cis490_shared::ids::EpisodeId::new("ep-gone")?,
        path: dir.path().join("lab-pc-07/ep-gone.tar.zst"),
        rel_path: "lab-pc-07/ep-gone.tar.zst".into(),
    };
    let row = cis490_pipeline::validate::validate_episode(&episode, &ReadLimits::default());
    assert_judged(&row, "errored", "io_error");
    Ok(())
}

// ---- rejected: manifest --------------------------------------------------

#[test]
fn an_unsupported_schema_version_is_rejected() {
    assert_judged(
        &with(|fx| drop(fx.manifest.insert("schema_version".into(), json!(2)))),
        "rejected",
        "unsupported_schema_version",
    );
}

#[test]
fn each_missing_manifest_field_is_rejected_by_name() {
    for field in ["schema_version", "episode_id", "host_id", "profile", "sample_id", "agent_version", "started_wall_ns"]
    {
        let row = with(|fx| drop(fx.manifest.remove(field)));
        assert_judged(&row, "rejected", &format!("manifest_field_missing:{field}"));
    }
}

#[test]
fn a_mistyped_manifest_field_is_rejected_by_name() {
    let row = with(|fx| drop(fx.manifest.insert("started_wall_ns".into(), json!("yesterday"))));
    assert_judged(&row, "rejected", "manifest_field_mistyped:started_wall_ns");
    let row = with(|fx| drop(fx.manifest.insert("files".into(), json!({"proc.jsonl": {"sha256": 5}}))));
    assert_judged(&row, "rejected", "manifest_field_mistyped:files.proc.jsonl");
}

#[test]
fn ids_that_disagree_with_the_path_are_rejected() {
    assert_judged(
        &with(|fx| drop(fx.manifest.insert("episode_id".into(), json!("ep-other")))),
        "rejected",
        "episode_id_mismatch",
    );
    assert_judged(
        &with(|fx| drop(fx.manifest.insert("host_id".into(), json!("lab-pc-99")))),
        "rejected",
        "host_id_mismatch",
    );
}

#[test]
fn an_unknown_profile_is_rejected() {
    assert_judged(
        &with(|fx| drop(fx.manifest.insert("profile".into(), json!("crypto")))),
        "rejected",
        "unknown_profile",
    );
}

// ---- rejected: unsafe members --------------------------------------------

fn with_raw(name: &[u8], kind: MemberType, link: &[u8]) -> IndexRow {
    with(|fx| fx.raw_members.push((name.to_vec(), kind, link.to_vec(), b"x\n".to_vec())))
}

#[test]
fn a_dotdot_member_is_rejected_and_never_written() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store");
    let mut fx = EpisodeFixture::clean();
    fx.raw_members.push((b"../../escaped.txt".to_vec(), MemberType::File, Vec::new(), b"gotcha\n".to_vec()));
    let row = validate_bytes(&store, &fx.build(), &ReadLimits::default());
    assert_judged(&row, "rejected", "unsafe_member:parent_dir");
    assert!(!dir.path().join("escaped.txt").exists());
    assert!(!store.join("escaped.txt").exists());
    Ok(())
}

#[test]
fn links_devices_directories_and_paths_are_rejected() {
    assert_judged(&with_raw(b"proc2.jsonl", MemberType::Symlink, b"/etc/passwd"), "rejected", "unsafe_member:link");
    assert_judged(&with_raw(b"proc3.jsonl", MemberType::Hardlink, b"proc.jsonl"), "rejected", "unsafe_member:link");
    assert_judged(&with_raw(b"/etc/cron.d/x", MemberType::File, b""), "rejected", "unsafe_member:absolute_path");
    assert_judged(&with_raw(b"tty0", MemberType::CharDevice, b""), "rejected", "unsafe_member:device");
    assert_judged(&with_raw(b"logs/", MemberType::Directory, b""), "rejected", "unsafe_member:directory");
    assert_judged(&with_raw(b"logs/a.txt", MemberType::File, b""), "rejected", "unsafe_member:not_top_level");
}

#[test]
fn a_symlink_named_like_a_source_is_not_followed() {
    let row = with(|fx| {
        fx.remove("guest.jsonl");
        fx.raw_members.push((b"guest.jsonl".to_vec(), MemberType::Symlink, b"/etc/passwd".to_vec(), Vec::new()));
    });
    assert_judged(&row, "rejected", "unsafe_member:link");
    assert_eq!(row.rows[1], None, "the link was not read as guest rows");
}

// ---- rejected: files and checksums ----------------------------------------

#[test]
fn a_listed_file_that_is_absent_is_rejected() {
    assert_judged(&with(|fx| fx.listed_but_absent.push("notes.txt".into())), "rejected", "file_missing:notes.txt");
}

#[test]
fn a_checksum_mismatch_is_rejected() {
    assert_judged(
        &with(|fx| fx.tamper_after_hash = Some("qmp.jsonl".into())),
        "rejected",
        "checksum_mismatch:qmp.jsonl",
    );
}

// ---- rejected: labels -----------------------------------------------------

#[test]
fn missing_or_empty_labels_are_rejected() {
    assert_judged(&with(|fx| fx.remove("labels.jsonl")), "rejected", "labels_missing");
    assert_judged(&with(|fx| fx.member_mut("labels.jsonl").clear()), "rejected", "labels_empty");
    let only_end = with(|fx| fx.edit_lines("labels.jsonl", |l| drop(l.drain(..3))));
    assert_judged(&only_end, "rejected", "labels_empty");
}

#[test]
fn an_unknown_label_is_rejected() {
    let row = with(|fx| fx.edit_lines("labels.jsonl", |l| l[1] = l[1].replace("cpu-saturate", "cryptominer")));
    assert_judged(&row, "rejected", "label_unknown");
}

#[test]
fn labels_that_do_not_strictly_increase_are_rejected() {
    let row = with(|fx| fx.edit_lines("labels.jsonl", |l| l.swap(1, 2)));
    assert_judged(&row, "rejected", "labels_not_increasing");
    // Equal wall-clock times are not an increase either.
    let row = with(|fx| {
        fx.edit_lines("labels.jsonl", |l| {
            let wall = l[1].split("\"t_wall_ns\":").nth(1).and_then(|s| s.split(',').next()).unwrap_or("0").to_string();
            let prev = l[0].split("\"t_wall_ns\":").nth(1).and_then(|s| s.split(',').next()).unwrap_or("0").to_string();
            l[1] = l[1].replace(&wall, &prev);
        })
    });
    assert_judged(&row, "rejected", "labels_not_increasing");
}

#[test]
fn labels_without_end_are_rejected() {
    assert_judged(&with(|fx| fx.edit_lines("labels.jsonl", |l| drop(l.pop()))), "rejected", "labels_no_end");
}

// ---- rejected: proc and row contents ----------------------------------------

#[test]
fn proc_failing_the_row_gate_is_rejected() {
    // 70 % of the rows remain: under the 80 % gate.
    let row = with(|fx| fx.edit_lines("proc.jsonl", |l| l.truncate(84)));
    assert_judged(&row, "rejected", "row_gate:proc");
    let row = with(|fx| fx.edit_lines("proc.jsonl", |l| l.truncate(100)));
    assert!(!row.reasons.iter().any(|r| r.to_string() == "row_gate:proc"), "83 % passes: {:?}", row.reasons);
}

#[test]
fn missing_proc_is_rejected() {
    assert_judged(&with(|fx| fx.remove("proc.jsonl")), "rejected", "source_missing:proc");
}

#[test]
fn values_of_the_wrong_type_are_rejected() {
    let row = with(|fx| {
        fx.edit_lines("qmp.jsonl", |l| l[3] = l[3].replacen("\"kvm_exits\":", "\"kvm_exits\":\"many\",\"x\":", 1))
    });
    assert_judged(&row, "rejected", "wrong_type:qmp.jsonl");
    let row = with(|fx| {
        fx.edit_lines("proc.jsonl", |l| l[3] = l[3].replacen("\"t_wall_ns\":", "\"t_wall_ns\":1.5e18,\"y\":", 1))
    });
    assert_judged(&row, "rejected", "wrong_type:proc.jsonl");
}

#[test]
fn non_utf8_bytes_are_rejected_as_malformed_rows() {
    let row = with(|fx| {
        let bytes = fx.member_mut("guest.jsonl");
        let at = bytes.iter().position(|b| *b == b'}').unwrap_or(0);
        bytes.splice(at..at, b",\"host\":\"caf\xe9\"".iter().copied());
    });
    assert_judged(&row, "rejected", "malformed_row:guest.jsonl");
}

#[test]
fn an_over_long_line_is_rejected() {
    let row = with(|fx| fx.edit_lines("netflow.jsonl", |l| l[5] = format!("{{\"pad\":\"{}\"}}", "x".repeat(100_000))));
    assert_judged(&row, "rejected", "line_too_long:netflow.jsonl");
}

// ---- degraded ---------------------------------------------------------------

#[test]
fn a_missing_secondary_source_degrades() {
    for source in ["guest", "qmp", "netflow"] {
        let row = with(|fx| fx.remove(&format!("{source}.jsonl")));
        assert_judged(&row, "degraded", &format!("source_missing:{source}"));
    }
}

#[test]
fn a_secondary_source_failing_the_row_gate_degrades() {
    // Keep 7 rows in 10, spread out: 70 % coverage, no long gap.
    let row = with(|fx| {
        fx.edit_lines("guest.jsonl", |l| {
            let kept: Vec<String> = l.iter().enumerate().filter(|(i, _)| i % 10 < 7).map(|(_, r)| r.clone()).collect();
            *l = kept;
        })
    });
    assert!(row.rows[1].is_some_and(|n| n < 96), "{:?}", row.rows);
    assert_judged(&row, "degraded", "row_gate:guest");
}

#[test]
fn a_gap_over_five_seconds_degrades() {
    // 6 s of qmp rows missing (12 rows of 120 leaves 90 %: the gate passes).
    let row = with(|fx| fx.edit_lines("qmp.jsonl", |l| drop(l.drain(40..52))));
    assert_judged(&row, "degraded", "gap_over_5s:qmp");
    assert!(!row.reasons.iter().any(|r| r.to_string() == "row_gate:qmp"));
}

#[test]
fn python_nan_tokens_degrade() {
    let row = with(|fx| {
        fx.edit_lines("guest.jsonl", |l| {
            l[7] = l[7].replacen("\"load1\":", "\"load1\":NaN,\"z\":", 1);
            l[8] = l[8].replacen("\"swap_used\":", "\"swap_used\":-Infinity,\"z\":", 1);
        })
    });
    assert_judged(&row, "degraded", "non_finite:guest");
}

#[test]
fn duplicate_timestamps_are_dropped_and_degrade() {
    let row = with(|fx| fx.edit_lines("netflow.jsonl", |l| l.insert(10, l[10].clone())));
    assert_judged(&row, "degraded", "duplicate_timestamps:netflow");
    assert_eq!(row.rows[3], Some(60), "the duplicate row was dropped");
}

#[test]
fn an_unlisted_member_degrades() {
    let row = with(|fx| {
        fx.members.push(("agent.log".into(), b"started\n".to_vec()));
        fx.unlisted.push("agent.log".into());
    });
    assert_judged(&row, "degraded", "unlisted_member:agent.log");
}

#[test]
fn a_pax_header_renaming_a_member_is_understood() {
    let row = with(|fx| {
        let record = "path=renamed.log\n";
        let pax = format!("{} {record}", record.len() + 3);
        fx.raw_members.push((b"PaxHeaders/x".to_vec(), MemberType::PaxHeader, Vec::new(), pax.into_bytes()));
        fx.raw_members.push((b"short-name.txt".to_vec(), MemberType::File, Vec::new(), b"hello\n".to_vec()));
    });
    // The member is known by its pax name, and only that.
    assert_judged(&row, "degraded", "unlisted_member:renamed.log");
    assert_eq!(row.reasons.len(), 1, "{:?}", row.reasons);
}
