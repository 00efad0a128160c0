//! Benchmarks that print a figure and a comparison (`cis490 bench ...`).
//!
//! [`hub`]: publish→receive latency and fan-out throughput of the hub;
//! [`hub_memory`]: the hub's memory under hostile publishing;
//! [`gbt`]: tree training time and validation macro F1 (XGBoost reference
//! in `bench/gbt_xgboost.py`); `neural`: training step time of the five
//! networks (PyTorch reference in `bench/neural_torch.py`); [`inference`]:
//! latency per window of every trained model; [`tree_engines`]: a tree
//! ensemble's file on the compact evaluator, tract and onnxruntime
//! (`bench/onnxruntime_latency.py`); [`eval`]: a run's
//! evaluation with 2,000 resamples on 1 and all cores (NumPy reference in
//! `bench/eval_numpy.py`).
//!
//! [`scale`]: every stage at corpus sizes up to the lab's, wall time and
//! peak memory per stage.
//!
//! `validate`: validation throughput (episodes/s and MB/s) with 1 and 2
//! jobs on a generated store, next to this machine's limit on the same
//! files: `zstd -dc` plus `sha256sum` of every archive, the least work any
//! validator must do. Results go in `docs/performance.md`.

#[cfg(feature = "training")]
pub mod eval;
#[cfg(feature = "training")]
pub mod gbt;
#[cfg(feature = "hub-bench")]
pub mod hub;
#[cfg(feature = "hub-bench")]
pub mod hub_memory;
pub mod inference;
#[cfg(feature = "training")]
pub mod neural;
pub mod scale;
pub mod shards;
pub mod tree_engines;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use cis490_pipeline::store::archive::ReadLimits;
use cis490_pipeline::store::layout::list_store;
use cis490_pipeline::synth::{self, SynthOptions};
use cis490_pipeline::validate::{self, ValidateOptions};

/// Options of the validation benchmark.
#[derive(Debug, Clone)]
pub struct ValidateBench {
    /// Working folder (the store is generated once and reused).
    pub workdir: PathBuf,
    /// Episodes in the generated store.
    pub episodes: u64,
    /// Job counts to measure.
    pub jobs: Vec<usize>,
}

/// One measured line.
#[derive(Debug, Clone)]
pub struct BenchLine {
    /// What was measured.
    pub what: String,
    /// Wall seconds.
    pub seconds: f64,
    /// Episodes per second.
    pub episodes_per_s: f64,
    /// Compressed MB per second.
    pub mb_per_s: f64,
}

/// The benchmark failed to run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Generating the store failed.
    #[error(transparent)]
    Synth(#[from] synth::SynthError),
    /// Validating failed.
    #[error(transparent)]
    Validate(#[from] validate::ValidateError),
    /// Listing the store failed.
    #[error(transparent)]
    Layout(#[from] cis490_pipeline::store::layout::LayoutError),
    /// A reference tool is missing or failed.
    #[error("reference tool {tool} failed (install it: apt-get install zstd coreutils)")]
    Tool {
        /// The tool.
        tool: String,
        /// What went wrong.
        #[source]
        source: cis490_shared::Cause,
    },
}

fn store_for(opts: &ValidateBench) -> Result<PathBuf, BenchError> {
    let store = opts.workdir.join(format!("store-{}", opts.episodes));
    let marker = opts.workdir.join(format!("store-{}.complete", opts.episodes));
    if !marker.exists() {
        eprintln!("generating a {}-episode store in {} ...", opts.episodes, store.display());
        let started = Instant::now();
        synth::run(&SynthOptions {
            out: store.clone(),
            episodes: opts.episodes,
            progress: true,
            ..SynthOptions::default()
        })?;
        eprintln!("generated in {:.1} s", started.elapsed().as_secs_f64());
        std::fs::write(&marker, b"").map_err(|e| BenchError::Tool { tool: "fs".into(), source: e.into() })?;
    }
    Ok(store)
}

/// Runs `tool args FILES...` over all files in `parallel` processes and
/// returns the wall time. With `tolerate_failure`, a non-zero exit is fine
/// (`zstd` exits 1 on the store's deliberately corrupt archives but still
/// decompresses every other file).
fn run_tool_over(
    files: &[PathBuf],
    tool: &str,
    args: &[&str],
    parallel: usize,
    tolerate_failure: bool,
) -> Result<f64, BenchError> {
    let err = |message: String| BenchError::Tool { tool: tool.to_string(), source: message.into() };
    let started = Instant::now();
    let chunks: Vec<&[PathBuf]> = files.chunks(files.len().div_ceil(parallel.max(1)).max(1)).collect();
    let mut children = Vec::new();
    for chunk in chunks {
        // Batches keep argument lists short and process start-up negligible.
        let chunk = chunk.to_vec();
        let tool = tool.to_string();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        children.push(std::thread::spawn(move || -> Result<(), String> {
            for batch in chunk.chunks(500) {
                let status = Command::new(&tool)
                    .args(&args)
                    .args(batch)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .map_err(|e| e.to_string())?;
                if !status.success() && !tolerate_failure {
                    return Err(format!("exited with {status}"));
                }
            }
            Ok(())
        }));
    }
    for child in children {
        child.join().map_err(|_| err("thread panicked".into()))?.map_err(err)?;
    }
    Ok(started.elapsed().as_secs_f64())
}

fn line(what: String, seconds: f64, episodes: usize, bytes: u64) -> BenchLine {
    BenchLine { what, seconds, episodes_per_s: episodes as f64 / seconds, mb_per_s: bytes as f64 / 1e6 / seconds }
}

/// Runs the validation benchmark and returns its lines (also printed).
pub fn validate_throughput(opts: &ValidateBench) -> Result<Vec<BenchLine>, BenchError> {
    let store = store_for(opts)?;
    let listing = list_store(&store)?;
    let files: Vec<PathBuf> = listing.episodes.iter().map(|e| e.path.clone()).collect();
    let bytes: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let n = files.len();
    // Warm the page cache so every line reads from memory.
    run_tool_over(&files, "cat", &[], 2, false)?;
    let mut lines = Vec::new();
    for parallel in [1usize, 2] {
        let z = run_tool_over(&files, "zstd", &["-dcq"], parallel, true)?;
        let s = run_tool_over(&files, "sha256sum", &[], parallel, false)?;
        lines.push(line(format!("limit: zstd -dc + sha256sum, {parallel} proc(s)"), z + s, n, bytes));
    }
    // The spec also asks for the sha256 of every decompressed member: the
    // floor of a validator that checks those too.
    let script = "zstd -dcq \"$@\" | sha256sum";
    let zs = run_tool_over(&files, "sh", &["-c", script, "sh"], 2, true)?;
    let s = run_tool_over(&files, "sha256sum", &[], 2, false)?;
    lines.push(line("floor: zstd -dc | sha256sum (members), 2 procs".into(), zs + s, n, bytes));
    for &jobs in &opts.jobs {
        let out = opts.workdir.join(format!("validation-{jobs}"));
        let started = Instant::now();
        let sweep = validate::run(
            &ValidateOptions {
                store: store.clone(),
                out,
                jobs,
                limits: ReadLimits::default(),
                progress: false,
                force: true,
                full: true,
                shard: None,
            },
            &|_, _, _| {},
        )?;
        let secs = started.elapsed().as_secs_f64();
        eprintln!("{}", sweep.summary.line());
        lines.push(line(format!("cis490 validate --jobs {jobs}"), secs, n, bytes));
    }
    println!("validation throughput on {n} episodes, {:.1} MB of archives ({})", bytes as f64 / 1e6, store.display());
    println!("{:<48} {:>8} {:>12} {:>10}", "what", "seconds", "episodes/s", "MB/s");
    for l in &lines {
        println!("{:<48} {:>8.2} {:>12.1} {:>10.1}", l.what, l.seconds, l.episodes_per_s, l.mb_per_s);
    }
    if let (Some(limit), Some(floor), Some(best)) =
        (lines.get(1), lines.get(2), lines.iter().rev().find(|l| l.what.contains("--jobs 2")))
    {
        println!(
            "validate --jobs 2 reaches {:.0} % of the 2-process limit ({:.0} % of the floor with member checksums)",
            100.0 * limit.seconds / best.seconds,
            100.0 * floor.seconds / best.seconds
        );
    }
    Ok(lines)
}

/// Options of the extraction benchmark.
#[derive(Debug, Clone)]
pub struct ExtractBench {
    /// Working folder (store and index are made once and reused).
    pub workdir: PathBuf,
    /// Episodes in the generated store.
    pub episodes: u64,
    /// Worker threads.
    pub jobs: usize,
}

fn decompress_only(files: &[PathBuf], jobs: usize) -> Result<(f64, u64), BenchError> {
    use rayon::prelude::*;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| BenchError::Tool { tool: "rayon".into(), source: e.into() })?;
    let started = Instant::now();
    let bytes: u64 = pool.install(|| {
        files
            .par_iter()
            .map(|f| {
                // Corrupt archives (the store has a few) count what they yield.
                let Ok(file) = std::fs::File::open(f) else { return 0 };
                let Ok(mut decoder) = zstd::stream::read::Decoder::new(file) else { return 0 };
                std::io::copy(&mut decoder, &mut std::io::sink()).unwrap_or(0)
            })
            .sum()
    });
    Ok((started.elapsed().as_secs_f64(), bytes))
}

/// Runs the extraction benchmark: windows/s and MB/s of `extract` next to
/// only reading and decompressing the same archives.
pub fn extract_throughput(opts: &ExtractBench) -> Result<Vec<BenchLine>, BenchError> {
    let store = store_for(&ValidateBench { workdir: opts.workdir.clone(), episodes: opts.episodes, jobs: vec![] })?;
    let validation = opts.workdir.join(format!("validation-extract-{}", opts.episodes));
    let index = validation.join(cis490_pipeline::validate::index::INDEX_FILE);
    if !index.exists() {
        validate::run(
            &ValidateOptions {
                store: store.clone(),
                out: validation,
                jobs: opts.jobs,
                limits: ReadLimits::default(),
                progress: false,
                force: true,
                full: true,
                shard: None,
            },
            &|_, _, _| {},
        )?;
    }
    let entries = cis490_pipeline::validate::index::read_index(&index)
        .map_err(|e| BenchError::Tool { tool: "index".into(), source: e.into() })?;
    let files: Vec<PathBuf> = entries.iter().filter(|e| e.status.is_usable()).map(|e| store.join(&e.path)).collect();
    let bytes: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    run_tool_over(&files, "cat", &[], 2, false)?;
    let (read_s, raw) = decompress_only(&files, opts.jobs)?;
    let out = opts.workdir.join(format!("features-{}", opts.episodes));
    let started = Instant::now();
    let summary = cis490_pipeline::extract::run(
        &cis490_pipeline::extract::ExtractOptions {
            store: store.clone(),
            index,
            out,
            jobs: opts.jobs,
            progress: false,
            limits: ReadLimits::default(),
            force: true,
            full: true,
            shard: None,
        },
        &|_, _| {},
    )
    .map_err(|e| BenchError::Tool { tool: "extract".into(), source: e.into() })?;
    let extract_s = started.elapsed().as_secs_f64();
    let n = files.len();
    let lines = vec![
        line(format!("read + zstd-decompress only, {} jobs", opts.jobs), read_s, n, bytes),
        line(format!("cis490 extract --jobs {}", opts.jobs), extract_s, n, bytes),
    ];
    println!(
        "extraction on {n} usable episodes, {:.1} MB of archives, {:.1} MB decompressed ({})",
        bytes as f64 / 1e6,
        raw as f64 / 1e6,
        store.display()
    );
    println!("{:<48} {:>8} {:>12} {:>10}", "what", "seconds", "episodes/s", "MB/s");
    for l in &lines {
        println!("{:<48} {:>8.2} {:>12.1} {:>10.1}", l.what, l.seconds, l.episodes_per_s, l.mb_per_s);
    }
    println!(
        "{} windows, {:.0} windows/s; extraction costs {:.2}x reading and decompressing",
        summary.windows,
        summary.windows as f64 / extract_s,
        extract_s / read_s
    );
    Ok(lines)
}

/// The default working folder of benchmarks.
pub fn default_workdir() -> PathBuf {
    Path::new("target").join("bench")
}
