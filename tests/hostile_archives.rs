//! Hostile archives never take down a sweep or the machine.
//!
//! Each class of attack from the hardening issue is an archive built by
//! `cis490_tests::hostile` (streamed, so a huge one costs the test almost
//! nothing). A store mixing all of them with good episodes is validated
//! and extracted whole: every good episode is judged exactly as without the
//! hostile ones, every hostile one gets its status and reason, and every
//! index row stays small. Each hostile archive is then read alone in a
//! fresh process and its peak memory above that process's baseline must
//! stay under the 64 MiB the reliability notes promise.
//!
//! `CIS490_HOSTILE_SCALE_MB` sets the size of the big streams (default 48;
//! docs/reliability.md records 500); `CIS490_HOSTILE_DIR` keeps the
//! archives of the memory test there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use cis490_pipeline::store::archive::ReadLimits;
use cis490_pipeline::store::layout::EpisodeRef;
use cis490_pipeline::validate;
use cis490_pipeline::validate::index::IndexRow;
use cis490_shared::ids::{EpisodeId, HostId};
use cis490_tests::hostile::cases;
use cis490_tests::{HOST, small_store};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Most memory one archive may cost above the baseline.
const BUDGET_BYTES: u64 = 64 << 20;

fn scale() -> u64 {
    std::env::var("CIS490_HOSTILE_SCALE_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(48u64) << 20
}

/// Writes every hostile case into `store/<HOST>/ep-hostile-<name>.tar.zst`.
fn write_cases(store: &Path) -> Result<BTreeMap<String, PathBuf>, Box<dyn std::error::Error>> {
    let dir = store.join(HOST);
    std::fs::create_dir_all(&dir)?;
    let mut out = BTreeMap::new();
    for case in cases() {
        let path = dir.join(format!("ep-hostile-{}.tar.zst", case.name));
        case.build(&path, scale())?;
        out.insert(case.name.to_string(), path);
    }
    Ok(out)
}

fn sweep(store: &Path, out: &Path) -> Result<Vec<IndexRow>, Box<dyn std::error::Error>> {
    Ok(cis490_tests::validate_store(store, out)?.rows)
}

#[test]
fn a_store_mixing_hostile_and_good_archives_is_swept_whole() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store");
    small_store(&store, 24, 7, 0.2);
    let good_only = sweep(&store, &dir.path().join("validation-good"))?;
    write_cases(&store)?;
    let mixed_out = dir.path().join("validation");
    let mixed = sweep(&store, &mixed_out)?;
    assert_eq!(mixed.len(), good_only.len() + cases().len());
    let by_path: BTreeMap<&str, &IndexRow> = mixed.iter().map(|r| (r.path.as_str(), r)).collect();
    for good in &good_only {
        assert_eq!(
            by_path.get(good.path.as_str()),
            Some(&good),
            "a good episode is judged as without the hostile ones"
        );
    }
    for case in cases() {
        let path = format!("{HOST}/ep-hostile-{}.tar.zst", case.name);
        let row = by_path.get(path.as_str()).ok_or(format!("{path} not indexed"))?;
        assert_eq!(row.status.as_str(), case.status, "{}: {:?} {}", case.name, row.reasons, row.details);
        assert!(
            row.reasons.iter().any(|r| r.to_string() == case.reason || r.code.as_str() == case.reason),
            "{}: expected {}, got {:?}",
            case.name,
            case.reason,
            row.reasons
        );
    }
    for row in &mixed {
        let text: usize = row.reasons.iter().map(|r| r.to_string().len()).sum::<usize>() + row.details.len();
        assert!(text < 16 << 10, "{}: {text} bytes of reasons and details", row.path);
    }
    // The index on disk holds every row and reads back.
    let index = mixed_out.join(validate::index::INDEX_FILE);
    assert_eq!(cis490_pipeline::validate::index::read_index(&index)?, mixed);
    // Extraction of the mixed store: every usable episode extracted.
    let summary = cis490_tests::extract_store(&store, &mixed_out, &dir.path().join("features"))?;
    let usable = mixed.iter().filter(|r| r.status.is_usable()).count() as u64;
    assert_eq!(summary.episodes, usable, "skipped: {:?}", summary.skipped);
    Ok(())
}

/// Peak and current resident memory of this process, in bytes.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Child mode: reads the archive named by `CIS490_HOSTILE_ARCHIVE` with
/// the stage named by `CIS490_HOSTILE_STAGE` and prints the peak memory
/// above the process's baseline. Does nothing in a normal test run.
#[test]
fn hostile_memory_probe() -> TestResult {
    let (Some(path), Some(stage)) =
        (std::env::var_os("CIS490_HOSTILE_ARCHIVE"), std::env::var("CIS490_HOSTILE_STAGE").ok())
    else {
        return Ok(());
    };
    let path = PathBuf::from(path);
    let limits = ReadLimits::default();
    let (_, baseline) = memory();
    let started = std::time::Instant::now();
    let outcome = if stage == "validate" {
        let episode_id = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".tar.zst"));
        let episode = EpisodeRef {
            host_id: HostId::new(HOST)?,
            episode_id: EpisodeId::new(episode_id.unwrap_or("x"))?,
            rel_path: String::new(),
            path: path.clone(),
        };
        validate::validate_episode(&episode, &limits).status.to_string()
    } else {
        match cis490_pipeline::extract::episode::extract_episode(&path, &limits) {
            Ok(ep) => format!("{} windows", ep.windows.len()),
            Err(e) => format!("refused: {}", e.to_string().chars().take(80).collect::<String>()),
        }
    };
    let (peak, _) = memory();
    println!(
        "PROBE delta={} seconds={:.2} outcome={outcome}",
        peak.saturating_sub(baseline),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[test]
fn every_hostile_archive_costs_bounded_memory() -> TestResult {
    if std::env::var_os("CIS490_HOSTILE_ARCHIVE").is_some() {
        return Ok(());
    }
    // CIS490_HOSTILE_DIR keeps the archives (e.g. to probe other builds).
    let dir = tempfile::tempdir()?;
    let keep = std::env::var_os("CIS490_HOSTILE_DIR").map(PathBuf::from);
    let archives = write_cases(keep.as_deref().unwrap_or(dir.path()))?;
    let exe = std::env::current_exe()?;
    let mut over = Vec::new();
    println!("{:<20} {:>9} {:>12} {:>9}  outcome", "case", "stage", "peak (MiB)", "seconds");
    for (name, path) in &archives {
        for stage in ["validate", "extract"] {
            let out = Command::new(&exe)
                .args(["--exact", "hostile_memory_probe", "--nocapture", "--test-threads=1"])
                .env("CIS490_HOSTILE_ARCHIVE", path)
                .env("CIS490_HOSTILE_STAGE", stage)
                .output()?;
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text
                .lines()
                .find_map(|l| l.split_once("PROBE ").map(|(_, rest)| rest))
                .ok_or(format!("{name} {stage}: {text}"))?;
            let field = |key: &str| line.split(' ').find_map(|w| w.strip_prefix(key)).unwrap_or("0").to_string();
            let delta: u64 = field("delta=").parse()?;
            let outcome = line.split_once("outcome=").map_or("", |(_, o)| o);
            println!(
                "{name:<20} {stage:>9} {:>12.1} {:>9}  {outcome}",
                delta as f64 / (1u64 << 20) as f64,
                field("seconds=")
            );
            if delta > BUDGET_BYTES {
                over.push(format!("{name} ({stage}): {delta} bytes"));
            }
        }
    }
    assert!(over.is_empty(), "over the {BUDGET_BYTES}-byte budget: {over:?}");
    Ok(())
}
