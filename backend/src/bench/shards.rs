//! `cis490 bench shards`: what cutting a sweep into shards costs. One
//! process validates and extracts the store; then the same store is done as
//! `--shards` parts, one after another on this machine (on a cluster they
//! run at once), and merged. Prints each part's time, the merges' rates,
//! and the sweep's time on a cluster with one node per shard (the slowest
//! part plus the merge) next to the single run; checks that the merged
//! outputs are the single run's, byte for byte.

use std::path::{Path, PathBuf};
use std::time::Instant;

use cis490_pipeline::extract::{self, ExtractOptions};
use cis490_pipeline::merge::{self, features::MergeFeaturesOptions};
use cis490_pipeline::shard::Shard;
use cis490_pipeline::store::archive::ReadLimits;
use cis490_pipeline::validate::{self, ValidateOptions, index::INDEX_FILE};

use super::{BenchError, ValidateBench, store_for};

/// Options of the shard benchmark.
#[derive(Debug, Clone)]
pub struct ShardsBench {
    /// Working folder (the store is generated once and reused).
    pub workdir: PathBuf,
    /// Episodes in the generated store.
    pub episodes: u64,
    /// Shards.
    pub shards: u32,
    /// Worker threads of every run.
    pub jobs: usize,
}

fn tool(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> BenchError {
    BenchError::Tool { tool: what.into(), source: Box::new(e) }
}

fn bytes_under(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => bytes_under(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    matches!((std::fs::read(a), std::fs::read(b)), (Ok(x), Ok(y)) if x == y)
}

/// Runs the benchmark and prints its table.
pub fn shard_overhead(opts: &ShardsBench) -> Result<(), BenchError> {
    let store = store_for(&ValidateBench { workdir: opts.workdir.clone(), episodes: opts.episodes, jobs: vec![] })?;
    let root = opts.workdir.join(format!("shards-{}-{}", opts.episodes, opts.shards));
    let validate_opts = |out: PathBuf, shard: Option<Shard>| ValidateOptions {
        store: store.clone(),
        out,
        jobs: opts.jobs,
        limits: ReadLimits::default(),
        progress: false,
        force: true,
        full: true,
        shard,
    };
    let single_val = root.join("single-validation");
    let index = single_val.join(INDEX_FILE);
    let extract_opts = |out: PathBuf, shard: Option<Shard>| ExtractOptions {
        store: store.clone(),
        index: index.clone(),
        out,
        jobs: opts.jobs,
        progress: false,
        limits: ReadLimits::default(),
        force: true,
        full: true,
        shard,
    };
    let timed = |f: &mut dyn FnMut() -> Result<(), BenchError>| -> Result<f64, BenchError> {
        let started = Instant::now();
        f()?;
        Ok(started.elapsed().as_secs_f64())
    };

    let single_validate = timed(&mut || {
        validate::run(&validate_opts(single_val.clone(), None), &|_, _, _| {}).map(|_| ()).map_err(Into::into)
    })?;
    let single_feat = root.join("single-features");
    let single_extract = timed(&mut || {
        extract::run(&extract_opts(single_feat.clone(), None), &|_, _| {}).map(|_| ()).map_err(|e| tool("extract", e))
    })?;

    let parts_val = root.join("parts-validation");
    let parts_feat = root.join("parts-features");
    let (mut validate_parts, mut extract_parts) = (Vec::new(), Vec::new());
    for index in 0..opts.shards {
        let shard = Shard::new(u64::from(index), u64::from(opts.shards)).map_err(|e| tool("shard", e))?;
        validate_parts.push(timed(&mut || {
            validate::run(&validate_opts(parts_val.clone(), Some(shard)), &|_, _, _| {}).map(|_| ()).map_err(Into::into)
        })?);
        extract_parts.push(timed(&mut || {
            extract::run(&extract_opts(parts_feat.clone(), Some(shard)), &|_, _| {})
                .map(|_| ())
                .map_err(|e| tool("extract", e))
        })?);
    }
    let merged_val = root.join("merged-validation");
    let merge_validate = timed(&mut || {
        merge::validation::merge(std::slice::from_ref(&parts_val), &merged_val, true)
            .map(|_| ())
            .map_err(|e| tool("merge", e))
    })?;
    let merged_feat = root.join("merged-features");
    let merge_extract = timed(&mut || {
        let m = MergeFeaturesOptions {
            parts: vec![parts_feat.clone()],
            out: merged_feat.clone(),
            index: None,
            force: true,
            progress: false,
            jobs: opts.jobs,
        };
        merge::features::merge(&m).map(|_| ()).map_err(|e| tool("merge", e))
    })?;
    let feature_bytes = bytes_under(&merged_feat);
    let identical = same_bytes(&index, &merged_val.join(INDEX_FILE))
        && same_bytes(
            &single_feat.join(extract::EXTRACT_SUMMARY_FILE),
            &merged_feat.join(extract::EXTRACT_SUMMARY_FILE),
        );

    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let sum = |v: &[f64]| v.iter().sum::<f64>();
    let n = opts.episodes as f64;
    println!(
        "sharded sweeps: {} episodes, {} shards, --jobs {} per process ({})",
        opts.episodes,
        opts.shards,
        opts.jobs,
        store.display()
    );
    println!(
        "{:<10} {:>10} {:>12} {:>12} {:>9} {:>14} {:>10}",
        "stage", "single s", "parts sum s", "slowest s", "merge s", "cluster s", "speed-up"
    );
    for (stage, single, parts, merge_s) in [
        ("validate", single_validate, &validate_parts, merge_validate),
        ("extract", single_extract, &extract_parts, merge_extract),
    ] {
        let cluster = max(parts) + merge_s;
        println!(
            "{stage:<10} {single:>10.2} {:>12.2} {:>12.2} {merge_s:>9.2} {cluster:>14.2} {:>9.1}x",
            sum(parts),
            max(parts),
            single / cluster
        );
    }
    println!(
        "merge --validation: {:.0} episodes/s; merge --features: {:.0} episodes/s, {:.1} MB/s of shards written",
        n / merge_validate,
        n / merge_extract,
        feature_bytes as f64 / 1e6 / merge_extract
    );
    println!(
        "sharding overhead on one machine (parts + merge vs single): validate {:+.0} %, extract {:+.0} %",
        100.0 * ((sum(&validate_parts) + merge_validate) / single_validate - 1.0),
        100.0 * ((sum(&extract_parts) + merge_extract) / single_extract - 1.0)
    );
    println!("merged outputs identical to the single run's: {}", if identical { "yes" } else { "NO" });
    if !identical {
        return Err(tool("merge", std::io::Error::other("the merged outputs differ from the single run's")));
    }
    Ok(())
}
