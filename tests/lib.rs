//! Helpers shared by the end-to-end tests: small synthetic stores and
//! readers for the acceptance index.

use std::path::Path;

pub mod browser;
pub mod hostile;
pub mod hub_client;
pub mod live;
pub mod webdriver;

use cis490_pipeline::synth::{self, SynthOptions};

/// Generates a store of `episodes` episodes under `dir` with `seed`.
pub fn small_store(dir: &Path, episodes: u64, seed: u64, fault_rate: f64) -> synth::SynthReport {
    let opts = SynthOptions { out: dir.to_path_buf(), episodes, seed, fault_rate, jobs: 2, ..SynthOptions::default() };
    match synth::run(&opts) {
        Ok(report) => report,
        Err(e) => panic!("generating a store in {}: {e}", dir.display()),
    }
}

use cis490_pipeline::extract::{self, ExtractOptions};
use cis490_pipeline::store::archive::ReadLimits;
use cis490_pipeline::store::layout::EpisodeRef;
use cis490_pipeline::store::tar_writer::{MemberType, TarWriter};
use cis490_pipeline::validate::index::IndexRow;
use cis490_pipeline::validate::{self, ValidateOptions};
use cis490_shared::ids::{EpisodeId, HostId};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Validates `store` into `out` (2 jobs, default limits, no `--force`).
pub fn validate_store(store: &Path, out: &Path) -> Result<validate::Sweep, validate::ValidateError> {
    validate_store_with(store, out, false, ReadLimits::default())
}

/// Validates `store` into `out` (2 jobs, no `--force`) under `limits`,
/// reading every archive when `full`.
pub fn validate_store_with(
    store: &Path,
    out: &Path,
    full: bool,
    limits: ReadLimits,
) -> Result<validate::Sweep, validate::ValidateError> {
    let opts = ValidateOptions {
        store: store.to_path_buf(),
        out: out.to_path_buf(),
        jobs: 2,
        limits,
        progress: false,
        force: false,
        full,
        shard: None,
    };
    validate::run(&opts, &|_, _, _| {})
}

/// Extracts `store` with the index in `validation` into `out` (2 jobs,
/// default limits, no `--force`).
pub fn extract_store(
    store: &Path,
    validation: &Path,
    out: &Path,
) -> Result<extract::ExtractSummary, extract::ExtractError> {
    let opts = ExtractOptions {
        store: store.to_path_buf(),
        index: validation.join(validate::index::INDEX_FILE),
        out: out.to_path_buf(),
        jobs: 2,
        progress: false,
        limits: ReadLimits::default(),
        force: false,
        full: false,
        shard: None,
    };
    extract::run(&opts, &|_, _| {})
}

/// Generates, validates and extracts a store under `dir` (`store/`,
/// `validation/`, `features/`); returns the feature folder.
pub fn extracted_store(
    dir: &Path,
    episodes: u64,
    seed: u64,
    fault_rate: f64,
) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    let store = dir.join("store");
    small_store(&store, episodes, seed, fault_rate);
    let validation = dir.join("validation");
    validate_store(&store, &validation)?;
    let out = dir.join("features");
    extract_store(&store, &validation, &out)?;
    Ok(out)
}

/// Host of fixture episodes.
pub const HOST: &str = "lab-pc-07";
/// Episode id of fixture episodes.
pub const EPISODE: &str = "ep-fixture-1";
/// Wall-clock start of fixture episodes (2026-02-01T00:00:00Z).
pub const START_WALL_NS: i64 = 1_769_904_000_000_000_000;
const SECOND: i64 = 1_000_000_000;

/// A raw tar member: name bytes, type, link target, data.
pub type RawMember = (Vec<u8>, MemberType, Vec<u8>, Vec<u8>);

/// A hand-written episode, independent of the generator, that tests break
/// in one way each. `clean()` is a valid 60 s `cpu-saturate` episode.
#[derive(Debug, Clone)]
pub struct EpisodeFixture {
    /// Manifest fields (without `files`, which `build` computes).
    pub manifest: serde_json::Map<String, Value>,
    /// Members in order (name, bytes), labels and telemetry.
    pub members: Vec<(String, Vec<u8>)>,
    /// Members to leave out of the manifest's `files`.
    pub unlisted: Vec<String>,
    /// Members listed in `files` but left out of the archive.
    pub listed_but_absent: Vec<String>,
    /// Raw extra members: name bytes, type, link target, data.
    pub raw_members: Vec<RawMember>,
    /// Replace manifest.json with these bytes (None: the JSON manifest).
    pub manifest_bytes: Option<Vec<u8>>,
    /// Leave manifest.json out.
    pub no_manifest: bool,
    /// Bytes appended to a member after its checksum was taken.
    pub tamper_after_hash: Option<String>,
}

fn rows(n: usize, period_ns: i64, mono_base: i64, fields: &[&str], value: impl Fn(usize, usize) -> f64) -> Vec<String> {
    (0..n)
        .map(|i| {
            let t = i as i64 * period_ns + 100_000_000;
            let mut line = format!("{{\"t_mono_ns\":{},\"t_wall_ns\":{}", mono_base + t, START_WALL_NS + t);
            for (k, f) in fields.iter().enumerate() {
                line.push_str(&format!(",\"{f}\":{}", value(i, k)));
            }
            line.push('}');
            line
        })
        .collect()
}

/// Joins lines into JSONL bytes.
pub fn jsonl(lines: &[String]) -> Vec<u8> {
    lines.iter().flat_map(|l| l.bytes().chain([b'\n'])).collect()
}

/// The fields of one source, in registry order.
pub fn fields_of(source: cis490_shared::registry::Source) -> Vec<&'static str> {
    source.channels().map(|c| c.field).collect()
}

impl EpisodeFixture {
    /// A valid episode: 60 s, four sources at nominal rates; guest and
    /// netflow on clocks with offsets far from the host's.
    pub fn clean() -> Self {
        use cis490_shared::registry::Source;
        let host_mono = 5_000 * SECOND;
        let labels = [(0, "benign"), (20, "cpu-saturate"), (50, "benign"), (60, "end")]
            .iter()
            .map(|(s, l)| {
                let t = s * SECOND;
                format!("{{\"t_mono_ns\":{},\"t_wall_ns\":{},\"label\":\"{l}\"}}", host_mono + t, START_WALL_NS + t)
            })
            .collect::<Vec<_>>();
        let counter = |i: usize, k: usize| (1000 + i * (k + 1) * 10) as f64;
        let members = vec![
            ("labels.jsonl".to_string(), jsonl(&labels)),
            ("proc.jsonl".to_string(), jsonl(&rows(120, SECOND / 2, host_mono, &fields_of(Source::Proc), counter))),
            (
                "guest.jsonl".to_string(),
                jsonl(&rows(120, SECOND / 2, 7 * SECOND, &fields_of(Source::Guest), |i, _| (i % 50) as f64 + 0.25)),
            ),
            ("qmp.jsonl".to_string(), jsonl(&rows(120, SECOND / 2, host_mono, &fields_of(Source::Qmp), counter))),
            (
                "netflow.jsonl".to_string(),
                jsonl(&rows(60, SECOND, 1_000_000 * SECOND, &fields_of(Source::Netflow), |i, _| (i % 7) as f64)),
            ),
        ];
        let manifest = json!({
            "schema_version": 1,
            "episode_id": EPISODE,
            "host_id": HOST,
            "profile": "cpu-saturate",
            "sample_id": "miner-z",
            "agent_version": "1.4.0",
            "started_wall_ns": START_WALL_NS,
        });
        let Value::Object(manifest) = manifest else { unreachable!("json! of an object") };
        Self {
            manifest,
            members,
            unlisted: Vec::new(),
            listed_but_absent: Vec::new(),
            raw_members: Vec::new(),
            manifest_bytes: None,
            no_manifest: false,
            tamper_after_hash: None,
        }
    }

    /// The bytes of a member.
    pub fn member_mut(&mut self, name: &str) -> &mut Vec<u8> {
        match self.members.iter_mut().find(|(n, _)| n == name) {
            Some((_, bytes)) => bytes,
            None => panic!("fixture has no member {name}"),
        }
    }

    /// Rewrites a member line by line.
    pub fn edit_lines(&mut self, name: &str, edit: impl FnOnce(&mut Vec<String>)) {
        let bytes = self.member_mut(name);
        let mut lines: Vec<String> = String::from_utf8_lossy(bytes).lines().map(str::to_string).collect();
        edit(&mut lines);
        *bytes = jsonl(&lines);
    }

    /// Removes a member from the archive (and so from `files`).
    pub fn remove(&mut self, name: &str) {
        self.members.retain(|(n, _)| n != name);
    }

    /// The uncompressed tar bytes.
    pub fn tar(&self) -> Vec<u8> {
        let mut files = serde_json::Map::new();
        for (name, bytes) in &self.members {
            if !self.unlisted.contains(name) {
                let lines = bytes.iter().filter(|b| **b == b'\n').count();
                files.insert(
                    name.clone(),
                    json!({"sha256": hex::encode(Sha256::digest(bytes)), "bytes": bytes.len(), "rows": lines}),
                );
            }
        }
        for name in &self.listed_but_absent {
            files.insert(name.clone(), json!({"sha256": "0".repeat(64), "bytes": 1, "rows": 1}));
        }
        let mut manifest = self.manifest.clone();
        manifest.entry("files").or_insert(Value::Object(files));
        let manifest = self.manifest_bytes.clone().unwrap_or_else(|| serde_json::to_vec(&manifest).unwrap_or_default());
        let mut tar = TarWriter::new();
        if !self.no_manifest {
            tar.file("manifest.json", &manifest, 1);
        }
        for (name, bytes) in &self.members {
            let mut bytes = bytes.clone();
            if self.tamper_after_hash.as_deref() == Some(name) {
                bytes.extend_from_slice(b"{\"t_mono_ns\":1,\"t_wall_ns\":1}\n");
            }
            tar.file(name, &bytes, 1);
        }
        for (name, kind, link, data) in &self.raw_members {
            tar.member(name, *kind, link, data, 1);
        }
        tar.finish()
    }

    /// The compressed archive bytes.
    pub fn build(&self) -> Vec<u8> {
        zstd::bulk::compress(&self.tar(), 3).unwrap_or_default()
    }
}

/// Writes `archive` as `<dir>/lab-pc-07/ep-fixture-1.tar.zst` and validates it.
pub fn validate_bytes(dir: &Path, archive: &[u8], limits: &ReadLimits) -> IndexRow {
    let host_dir = dir.join(HOST);
    let path = host_dir.join(format!("{EPISODE}.tar.zst"));
    if let Err(e) = std::fs::create_dir_all(&host_dir).and_then(|()| std::fs::write(&path, archive)) {
        panic!("writing {}: {e}", path.display());
    }
    let (Ok(host_id), Ok(episode_id)) = (HostId::new(HOST), EpisodeId::new(EPISODE)) else {
        panic!("fixture ids are invalid")
    };
    let episode = EpisodeRef { host_id, episode_id, path, rel_path: format!("{HOST}/{EPISODE}.tar.zst") };
    cis490_pipeline::validate::validate_episode(&episode, limits)
}

/// The Python of the peer-tool checks (`CIS490_PYTHON`, set by `cargo
/// xtask test`), or `None` after saying which check is skipped and what
/// that Python needs.
pub fn peer_python(check: &str, needs: &str) -> Option<std::ffi::OsString> {
    let python = std::env::var_os("CIS490_PYTHON");
    if python.is_none() {
        eprintln!("{check} skipped: set CIS490_PYTHON to a python with {needs} (cargo xtask test does)");
    }
    python
}

/// Quick training settings for tests (40 tree rounds, 4 epochs) of
/// `models` under both threat models, from `features` and `split` into `out`.
pub fn quick_train_options(
    features: std::path::PathBuf,
    split: std::path::PathBuf,
    out: std::path::PathBuf,
    models: &[&str],
) -> Result<cis490_pipeline::train::TrainOptions, cis490_pipeline::train::TrainError> {
    use cis490_models::architecture::FitSettings;
    use cis490_models::gbt::GbtConfig;
    use cis490_models::neural::trainer::TrainConfig;
    use cis490_models::variant::Variant;
    let names: Vec<String> = models.iter().map(|m| m.to_string()).collect();
    Ok(cis490_pipeline::train::TrainOptions {
        features,
        split,
        models: cis490_pipeline::train::parse_models(&names)?,
        variants: vec![Variant::Realistic, Variant::Oracle],
        out,
        settings: FitSettings {
            gbt: GbtConfig { rounds: 40, ..GbtConfig::default() },
            neural: TrainConfig { max_epochs: 4, patience: 4, ..TrainConfig::default() },
        },
        jobs: 2,
        publisher: None,
        progress: false,
        max_tree_windows: None,
        resume: false,
        stop: None,
        devices: Vec::new(),
        precision: Default::default(),
    })
}

/// 60 extracted episodes under `dir` and a time split of them
/// (`dir/split.json`): the feature folder, the split file and its contents.
pub fn small_time_split(
    dir: &Path,
) -> Result<(std::path::PathBuf, std::path::PathBuf, cis490_pipeline::split::SplitFile), Box<dyn std::error::Error>> {
    use cis490_pipeline::split::{self, SplitOptions, recipes::Recipe};
    let features = extracted_store(dir, 60, 41, 0.1)?;
    let split_path = dir.join("split.json");
    let made = split::run(&SplitOptions {
        features: features.clone(),
        recipe: Recipe::Time,
        test_hosts: Vec::new(),
        seed: 3,
        val_share: 0.2,
        in_distribution_share: 0.1,
        out: split_path.clone(),
    })?;
    Ok((features, split_path, made))
}

/// A small trained run for the inference tests: 60 episodes, a time split,
/// `models` trained quickly under both threat models, in `dir/run`.
/// Returns the split and the run folder.
pub fn small_trained_run(
    dir: &Path,
    models: &[&str],
) -> Result<(cis490_pipeline::split::SplitFile, std::path::PathBuf), Box<dyn std::error::Error>> {
    let (features, split_path, made) = small_time_split(dir)?;
    let run = dir.join("run");
    cis490_pipeline::train::run(&quick_train_options(features, split_path, run.clone(), models)?)?;
    Ok((made, run))
}

/// A test episode of `split` from the store under `dir` (accepted), extracted.
pub fn test_episode(
    dir: &Path,
    split: &cis490_pipeline::split::SplitFile,
) -> Result<(IndexRow, cis490_pipeline::extract::episode::EpisodeWindows), Box<dyn std::error::Error>> {
    let index = cis490_pipeline::validate::index::read_index(&dir.join("validation/validation_v1.parquet"))?;
    let row = index
        .into_iter()
        .find(|r| {
            split.test.iter().any(|id| id == r.episode_id.as_str())
                && r.status == cis490_shared::validation::Status::Accepted
        })
        .ok_or("no accepted test episode")?;
    let ep =
        cis490_pipeline::extract::episode::extract_episode(&dir.join("store").join(&row.path), &ReadLimits::default())?;
    Ok((row, ep))
}
