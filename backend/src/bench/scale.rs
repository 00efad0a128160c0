//! `cis490 bench scale`: the whole pipeline at corpus sizes up to the
//! lab's (~77,000 episodes), one stage at a time, each in its own child
//! process so its wall time and peak resident memory (`wait4`'s
//! `ru_maxrss`) are its own. Stores are generated once per size and reused
//! (a `.complete` marker beside them); every later stage reruns. The table
//! gives seconds, a rate, milliseconds per episode and peak RSS per stage,
//! then how the per-episode cost of the largest size compares with the
//! smallest's (the goal: within 1.2×).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Options of the scale benchmark.
#[derive(Debug, Clone)]
pub struct ScaleBench {
    /// Corpus sizes, in episodes.
    pub episodes: Vec<u64>,
    /// Working folder (`scale-<n>/` per size).
    pub workdir: PathBuf,
    /// Stages to run (default: all of [`STAGES`]).
    pub stages: Vec<String>,
    /// Extra arguments for every `train` stage (e.g. `--epoch-windows`).
    pub train_args: Vec<String>,
}

/// The stages, in order. `validate-1pct-new` and `extract-1pct-new` time
/// an incremental sweep after 1 % of the store arrived (set up by an
/// untimed full sweep of the other 99 % into separate folders).
pub const STAGES: [&str; 10] = [
    "synth",
    "validate",
    "extract",
    "split",
    "train-gbt-realistic",
    "train-gbt-oracle",
    "train-cnn-1-epoch",
    "eval",
    "validate-1pct-new",
    "extract-1pct-new",
];

/// Archives set aside for the incremental stages; moved back when dropped
/// (and by the next run, should this one be killed).
struct HeldBack {
    moved: Vec<(PathBuf, PathBuf)>,
}

impl HeldBack {
    /// Moves every 100th archive of `store` into `aside`.
    fn take(store: &Path, aside: &Path) -> Result<Self, ScaleError> {
        let io = |p: &Path, e: std::io::Error| ScaleError::Io { path: p.display().to_string(), source: e };
        std::fs::create_dir_all(aside).map_err(|e| io(aside, e))?;
        let listing = cis490_pipeline::store::layout::list_store(store)?;
        let mut held = Self { moved: Vec::new() };
        for (i, ep) in listing.episodes.iter().enumerate().filter(|(i, _)| i % 100 == 50) {
            let to = aside.join(format!("{i}.tar.zst"));
            std::fs::rename(&ep.path, &to).map_err(|e| io(&ep.path, e))?;
            held.moved.push((to, ep.path.clone()));
        }
        let manifest: String = held.moved.iter().map(|(a, b)| format!("{}\t{}\n", a.display(), b.display())).collect();
        std::fs::write(aside.join("held.tsv"), manifest).map_err(|e| io(aside, e))?;
        Ok(held)
    }

    /// Puts back what a killed run left aside.
    fn restore_leftovers(aside: &Path) {
        if let Ok(text) = std::fs::read_to_string(aside.join("held.tsv")) {
            for line in text.lines() {
                if let Some((from, to)) = line.split_once('\t') {
                    let _ = std::fs::rename(from, to);
                }
            }
            let _ = std::fs::remove_file(aside.join("held.tsv"));
        }
    }
}

impl Drop for HeldBack {
    fn drop(&mut self) {
        for (from, to) in &self.moved {
            if let Err(e) = std::fs::rename(from, to) {
                tracing::error!("could not put {} back to {}: {e}", from.display(), to.display());
            }
        }
        if let Some((from, _)) = self.moved.first()
            && let Some(aside) = from.parent()
        {
            let _ = std::fs::remove_file(aside.join("held.tsv"));
        }
    }
}

/// The benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    /// Bad options.
    #[error("{0}")]
    Options(String),
    /// A stage failed.
    #[error("{stage} at {episodes} episodes failed: {message}")]
    Stage {
        /// The stage.
        stage: String,
        /// The corpus size.
        episodes: u64,
        /// What went wrong (its exit status and the log file).
        message: String,
    },
    /// The working folder is unusable.
    #[error("cannot use {path}")]
    Io {
        /// The file or folder.
        path: String,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The store cannot be listed (the error names it).
    #[error(transparent)]
    Layout(#[from] cis490_pipeline::store::layout::LayoutError),
}

/// One measured stage.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageFigure {
    /// Corpus size.
    pub episodes: u64,
    /// Stage name.
    pub stage: String,
    /// Wall seconds (`None`: reused from an earlier run).
    pub seconds: Option<f64>,
    /// Peak resident set of the stage's process, MiB.
    pub peak_rss_mib: Option<f64>,
    /// Units the rate counts (`episodes` or `windows`) and how many.
    pub unit: &'static str,
    /// Units processed.
    pub units: u64,
}

impl StageFigure {
    /// Milliseconds per episode of the corpus.
    pub fn ms_per_episode(&self) -> Option<f64> {
        self.seconds.map(|s| s * 1000.0 / self.episodes.max(1) as f64)
    }

    /// Units per second.
    pub fn rate(&self) -> Option<f64> {
        self.seconds.map(|s| self.units as f64 / s.max(1e-9))
    }
}

/// Where a stage's process writes its own peak RSS when it exits (the
/// benchmark sets it; `main` calls [`report_peak_rss`]).
pub const PEAK_RSS_FILE_ENV: &str = "CIS490_PEAK_RSS_FILE";

/// This process's peak resident set (`VmHWM`), MiB.
pub fn own_peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Writes this process's peak RSS (MiB) to the file named by
/// [`PEAK_RSS_FILE_ENV`], if set; called once as the process ends.
pub fn report_peak_rss() {
    let Some(path) = std::env::var_os(PEAK_RSS_FILE_ENV) else { return };
    if let Some(mib) = own_peak_rss_mib()
        && let Err(e) = std::fs::write(&path, format!("{mib:.1}\n"))
    {
        tracing::warn!("{}: {e}", Path::new(&path).display());
    }
}

/// Runs `cis490 <args>` (this binary) with its output in `log`; seconds and peak RSS.
fn run_stage(exe: &Path, args: &[String], log: &Path, stage: &str, episodes: u64) -> Result<(f64, f64), ScaleError> {
    let io = |path: &Path, e: std::io::Error| ScaleError::Io { path: path.display().to_string(), source: e };
    let out = std::fs::File::create(log).map_err(|e| io(log, e))?;
    let err = out.try_clone().map_err(|e| io(log, e))?;
    let peak_file = log.with_extension("peak-rss");
    let _ = std::fs::remove_file(&peak_file);
    tracing::info!("{stage} at {episodes}: cis490 {}", args.join(" "));
    let started = Instant::now();
    let status = Command::new(exe)
        .args(args)
        .env(PEAK_RSS_FILE_ENV, &peak_file)
        .stdout(out)
        .stderr(err)
        .status()
        .map_err(|e| io(exe, e))?;
    let seconds = started.elapsed().as_secs_f64();
    if !status.success() {
        return Err(ScaleError::Stage {
            stage: stage.into(),
            episodes,
            message: format!("{status}; its output is in {}", log.display()),
        });
    }
    let peak = std::fs::read_to_string(&peak_file)
        .ok()
        .and_then(|t| t.trim().parse::<f64>().ok())
        .ok_or_else(|| io(&peak_file, std::io::Error::other("the stage did not report its peak memory")))?;
    Ok((seconds, peak))
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Windows written by `extract` (from its summary), 0 if unreadable.
fn extracted_windows(features: &Path) -> u64 {
    std::fs::read(features.join("extract_summary.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("windows").and_then(serde_json::Value::as_u64))
        .unwrap_or(0)
}

/// The command line of each stage for the corpus in `dir`.
fn stage_args(stage: &str, dir: &Path, episodes: u64, train_args: &[String]) -> Vec<String> {
    let store = s(&dir.join("store"));
    let validation = s(&dir.join("validation"));
    let features = s(&dir.join("features"));
    let split = s(&dir.join("split.json"));
    let run = s(&dir.join("run"));
    match stage {
        "synth" => vec!["synth".into(), "--episodes".into(), episodes.to_string(), "--out".into(), store],
        "validate" => vec!["validate".into(), "--store".into(), store, "--out".into(), validation, "--force".into()],
        "extract" => vec![
            "extract".into(),
            "--store".into(),
            store,
            "--index".into(),
            s(&dir.join("validation").join("validation_v1.parquet")),
            "--out".into(),
            features,
            "--force".into(),
        ],
        "validate-1pct-new" => {
            vec!["validate".into(), "--store".into(), store, "--out".into(), s(&dir.join("validation-incr"))]
        }
        "extract-1pct-new" => vec![
            "extract".into(),
            "--store".into(),
            store,
            "--index".into(),
            s(&dir.join("validation-incr").join("validation_v1.parquet")),
            "--out".into(),
            s(&dir.join("features-incr")),
        ],
        "split" => {
            vec!["split".into(), "--features".into(), features, "--recipe".into(), "host".into(), "--out".into(), split]
        }
        "train-gbt-realistic" | "train-gbt-oracle" | "train-cnn-1-epoch" => {
            let (model, variant) = match stage {
                "train-gbt-realistic" => ("gbt", "realistic"),
                "train-gbt-oracle" => ("gbt", "oracle"),
                _ => ("cnn", "oracle"),
            };
            let mut a = vec![
                "train".into(),
                "--features".into(),
                features,
                "--split".into(),
                split,
                "--models".into(),
                model.into(),
                "--variants".into(),
                variant.into(),
                "--out".into(),
                run,
            ];
            if model == "cnn" {
                a.extend(["--epochs".into(), "1".into()]);
            }
            a.extend(train_args.iter().cloned());
            a
        }
        _ => vec![
            "eval".into(),
            "--run".into(),
            run,
            "--split".into(),
            split,
            "--out".into(),
            s(&dir.join("eval")),
            "--force".into(),
        ],
    }
}

/// Runs the benchmark, printing each figure as it comes and the table at the end.
pub fn scale(opts: &ScaleBench) -> Result<Vec<StageFigure>, ScaleError> {
    let stages: Vec<&str> = if opts.stages.is_empty() {
        STAGES.to_vec()
    } else {
        let mut chosen = Vec::new();
        for name in &opts.stages {
            let stage = STAGES
                .iter()
                .find(|s| **s == name.as_str())
                .ok_or_else(|| ScaleError::Options(format!("unknown stage {name:?} (known: {})", STAGES.join(", "))))?;
            chosen.push(*stage);
        }
        chosen
    };
    if opts.episodes.is_empty() || opts.episodes.contains(&0) {
        return Err(ScaleError::Options("--episodes needs at least one size above 0".into()));
    }
    let exe = std::env::current_exe().map_err(|e| ScaleError::Io { path: "the cis490 binary".into(), source: e })?;
    let mut figures = Vec::new();
    for &episodes in &opts.episodes {
        let dir = opts.workdir.join(format!("scale-{episodes}"));
        std::fs::create_dir_all(&dir).map_err(|e| ScaleError::Io { path: s(&dir), source: e })?;
        let marker = dir.join("store.complete");
        HeldBack::restore_leftovers(&dir.join("held-back"));
        let mut incremental_set_up = false;
        for stage in &stages {
            if stage.ends_with("-1pct-new") && !incremental_set_up {
                // Untimed set-up: a full sweep of the store without 1 % of
                // its archives, then those archives return.
                let setup = HeldBack::take(&dir.join("store"), &dir.join("held-back"))?;
                for (name, args) in [
                    ("setup-validate", vec!["validate", "--store", "STORE", "--out", "VAL", "--full", "--force"]),
                    (
                        "setup-extract",
                        vec!["extract", "--store", "STORE", "--index", "INDEX", "--out", "FEAT", "--full", "--force"],
                    ),
                ] {
                    let args: Vec<String> = args
                        .iter()
                        .map(|a| match *a {
                            "STORE" => s(&dir.join("store")),
                            "VAL" => s(&dir.join("validation-incr")),
                            "INDEX" => s(&dir.join("validation-incr").join("validation_v1.parquet")),
                            "FEAT" => s(&dir.join("features-incr")),
                            other => other.to_string(),
                        })
                        .collect();
                    run_stage(&exe, &args, &dir.join(format!("{name}.log")), name, episodes)?;
                }
                drop(setup);
                incremental_set_up = true;
            }
            let reuse = *stage == "synth" && marker.is_file();
            let (seconds, peak) = if reuse {
                (None, None)
            } else {
                if *stage == "synth" {
                    // A half-written store from a killed run is replaced.
                    let store = dir.join("store");
                    if store.exists() {
                        std::fs::remove_dir_all(&store).map_err(|e| ScaleError::Io { path: s(&store), source: e })?;
                    }
                }
                let args = stage_args(stage, &dir, episodes, &opts.train_args);
                let log = dir.join(format!("{stage}.log"));
                let (seconds, peak) = run_stage(&exe, &args, &log, stage, episodes)?;
                if *stage == "synth" {
                    std::fs::write(&marker, b"").map_err(|e| ScaleError::Io { path: s(&marker), source: e })?;
                }
                (Some(seconds), Some(peak))
            };
            let windows = extracted_windows(&dir.join("features"));
            let (unit, units) = match *stage {
                "synth" | "validate" | "split" | "validate-1pct-new" => ("episodes", episodes),
                _ => ("windows", windows),
            };
            let figure = StageFigure { episodes, stage: stage.to_string(), seconds, peak_rss_mib: peak, unit, units };
            print_figure(&figure);
            figures.push(figure);
        }
    }
    print_table(&figures);
    // The figures are printed above: a file that cannot be made is a warning, never an empty file.
    let path = opts.workdir.join("scale.json");
    match serde_json::to_vec_pretty(&figures) {
        Ok(json) => {
            if let Err(e) = cis490_pipeline::atomic_file::write_bytes_atomically(&path, &json) {
                tracing::warn!("{}", cis490_shared::error_chain(&e));
            }
        }
        Err(e) => tracing::warn!("{} not written: {e}", path.display()),
    }
    Ok(figures)
}

fn print_figure(f: &StageFigure) {
    match (f.seconds, f.rate(), f.ms_per_episode(), f.peak_rss_mib) {
        (Some(sec), Some(rate), Some(ms), Some(rss)) => println!(
            "{:>6} {:<20} {:>8.1} s {:>10.0} {}/s {:>8.2} ms/episode {:>8.0} MiB peak",
            f.episodes, f.stage, sec, rate, f.unit, ms, rss
        ),
        _ => {
            println!("{:>6} {:<20} reused (delete scale-{}/store.complete to re-time)", f.episodes, f.stage, f.episodes)
        }
    }
}

/// The Markdown table, then the per-episode cost of the largest size
/// against the smallest's for every stage.
fn print_table(figures: &[StageFigure]) {
    println!("\n| episodes | stage | wall s | rate | ms / episode | peak RSS MiB |");
    println!("|---:|---|---:|---:|---:|---:|");
    for f in figures {
        if let (Some(sec), Some(rate), Some(ms), Some(rss)) = (f.seconds, f.rate(), f.ms_per_episode(), f.peak_rss_mib)
        {
            println!("| {} | {} | {sec:.1} | {rate:.0} {}/s | {ms:.2} | {rss:.0} |", f.episodes, f.stage, f.unit);
        }
    }
    let sizes: Vec<u64> = {
        let mut v: Vec<u64> = figures.iter().filter(|f| f.seconds.is_some()).map(|f| f.episodes).collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let seconds =
        |n: u64, stage: &str| figures.iter().find(|f| f.episodes == n && f.stage == stage).and_then(|f| f.seconds);
    for n in &sizes {
        for (full, incremental) in [("validate", "validate-1pct-new"), ("extract", "extract-1pct-new")] {
            if let (Some(a), Some(b)) = (seconds(*n, full), seconds(*n, incremental)) {
                println!(
                    "{n} episodes, 1 % new: {incremental} {b:.1} s = {:.1} % of a full {full} ({a:.1} s; goal ≤ 10 %)",
                    100.0 * b / a.max(1e-9)
                );
            }
        }
    }
    let (Some(small), Some(large)) = (sizes.first(), sizes.last()) else { return };
    if small == large {
        return;
    }
    println!("\nper-episode cost at {large} vs {small} episodes (goal ≤ 1.2×):");
    for stage in STAGES {
        let at = |n: u64| figures.iter().find(|f| f.episodes == n && f.stage == stage).and_then(|f| f.ms_per_episode());
        if let (Some(a), Some(b)) = (at(*small), at(*large)) {
            let ratio = b / a.max(1e-9);
            println!(
                "  {stage:<20} {a:>8.2} → {b:>8.2} ms/episode  {ratio:.2}×{}",
                if ratio > 1.2 { "  over" } else { "" }
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stage_has_a_command_line_naming_its_inputs() {
        let dir = Path::new("/w/scale-5");
        for stage in STAGES {
            let args = stage_args(stage, dir, 5, &["--epoch-windows".into(), "100".into()]);
            assert!(!args.is_empty(), "{stage}");
            if stage.starts_with("train") {
                assert!(args.ends_with(&["--epoch-windows".into(), "100".into()]), "{stage}: {args:?}");
            }
        }
        assert_eq!(stage_args("synth", dir, 5, &[])[..3], ["synth", "--episodes", "5"]);
    }

    #[test]
    fn this_process_knows_its_peak_memory() {
        let before = own_peak_rss_mib().unwrap_or(0.0);
        let big = vec![1u8; 64 << 20];
        let after = own_peak_rss_mib().unwrap_or(0.0);
        assert!(big.iter().all(|b| *b == 1));
        // Other tests share the process, so only a lower bound is certain.
        assert!(after >= before && after >= 64.0, "{before} → {after} MiB after touching 64 MiB");
    }
}
