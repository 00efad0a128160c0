//! `cargo xtask fuzz [--seconds N] [--target archive|jsonl|events]...`:
//! coverage-guided fuzzing of the parsers of untrusted input with libFuzzer,
//! on the stable toolchain.
//!
//! Steps: a C++ compiler (libfuzzer-sys builds libFuzzer from source;
//! installed with apt when missing), the seed corpus and dictionaries
//! (`fuzz`'s `seeds` binary, uninstrumented), the instrumented targets
//! (SanitizerCoverage through stable `-C passes=sancov-module` flags, with
//! `--target <host>` so build scripts and proc-macros are left alone),
//! then each target for N seconds, one at a time. Everything is built in
//! its own target dir (`$CIS490_FUZZ_TARGET_DIR`, default
//! `$HOME/.cache/cis490-fuzz-target`), which also keeps the growing
//! corpus (`fuzz/corpus/<target>`), libFuzzer's logs and artifacts, so the
//! normal builds are never invalidated and later runs start where the
//! last one stopped.
//!
//! Per target it prints executions, exec/s, coverage (libFuzzer's `cov`:
//! covered edges of the instrumented ones, and `ft`: features), corpus
//! size (inputs), peak RSS and crashes. A crash
//! input is copied to `fuzz/regressions/<target>/` (replayed by the fuzz
//! crate's tests) and the command exits non-zero.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{cmd, setup};

/// Instrumentation for libFuzzer with stable rustc: what cargo-fuzz passes,
/// less the sanitizer (`-Z sanitizer` needs nightly).
const RUSTFLAGS: &str = "--cfg fuzzing \
    -C passes=sancov-module \
    -C llvm-args=-sanitizer-coverage-level=4 \
    -C llvm-args=-sanitizer-coverage-inline-8bit-counters \
    -C llvm-args=-sanitizer-coverage-pc-table \
    -C llvm-args=-sanitizer-coverage-trace-compares \
    -C debug-assertions \
    -C overflow-checks";

/// libFuzzer's RSS cap; the targets' own allocator caps the Rust heap at
/// 256 MiB (`fuzz/src/alloc_cap.rs`).
const RSS_LIMIT_MB: u32 = 1024;

/// One fuzz target: its name, the longest input, and the time after which
/// one input counts as hung.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Target {
    name: &'static str,
    max_len: usize,
    timeout_s: u32,
}

/// The targets, in the order they run. An archive needs several 512-byte
/// tar blocks; a zstd bomb within the 512 MiB cap may take seconds.
const TARGETS: [Target; 3] = [
    Target { name: "archive", max_len: 32 << 10, timeout_s: 60 },
    Target { name: "jsonl", max_len: 4 << 10, timeout_s: 10 },
    Target { name: "events", max_len: 4 << 10, timeout_s: 10 },
];

const USAGE: &str = "usage: cargo xtask fuzz [--seconds N] [--target archive|jsonl|events]...";

#[derive(Debug, PartialEq, Eq)]
struct Options {
    seconds: u64,
    targets: Vec<Target>,
}

fn parse_args(args: &[String]) -> Result<Options> {
    let mut seconds = 60;
    let mut targets = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args.next().with_context(|| format!("--seconds needs a value\n{USAGE}"))?;
                seconds = value.parse().with_context(|| format!("--seconds {value}: not a whole number"))?;
                if seconds == 0 {
                    bail!("--seconds must be at least 1");
                }
            }
            "--target" => {
                let value = args.next().with_context(|| format!("--target needs a value\n{USAGE}"))?;
                for name in value.split(',') {
                    let Some(target) = TARGETS.iter().find(|t| t.name == name) else {
                        bail!("unknown fuzz target `{name}` (expected archive, jsonl or events)");
                    };
                    if !targets.contains(target) {
                        targets.push(*target);
                    }
                }
            }
            other => bail!("unexpected argument `{other}`\n{USAGE}"),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    Ok(Options { seconds, targets })
}

/// Runs the command: setup, seeds, build, then every chosen target.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let options = parse_args(args)?;
    let started = Instant::now();
    setup::cxx_compiler()?;
    let target_dir = target_dir()?;
    let work = target_dir.join("fuzz");
    let manifest = root.join("fuzz").join("Cargo.toml");
    cmd::run_step(
        "fuzz seeds",
        cmd::cargo()
            .args(["run", "--quiet", "--release", "--locked", "--bin", "seeds", "--manifest-path"])
            .arg(&manifest)
            .arg("--")
            .arg(&work)
            .env("CARGO_TARGET_DIR", &target_dir)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .current_dir(root),
    )?;
    let host = host_triple()?;
    let mut build = cmd::cargo();
    build
        .args(["build", "--release", "--locked", "--features", "libfuzzer", "--target", &host, "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("RUSTFLAGS", RUSTFLAGS)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .current_dir(root);
    for target in &options.targets {
        build.args(["--bin", target.name]);
    }
    cmd::run_step("fuzz build (instrumented)", &mut build)?;

    let mut reports = Vec::new();
    for target in &options.targets {
        let binary = target_dir.join(&host).join("release").join(target.name);
        reports.push(fuzz_one(root, &work, &binary, *target, options.seconds)?);
    }
    eprintln!("xtask fuzz: finished in {:.1} s", started.elapsed().as_secs_f64());
    print_table(&reports);
    let crashes: Vec<&PathBuf> = reports.iter().flat_map(|r| &r.saved).collect();
    if !crashes.is_empty() {
        let list: Vec<String> = crashes.iter().map(|p| p.display().to_string()).collect();
        bail!(
            "{} crash input(s) saved:\n  {}\nreplay with `cargo test --manifest-path fuzz/Cargo.toml`",
            crashes.len(),
            list.join("\n  ")
        );
    }
    Ok(())
}

/// `$CIS490_FUZZ_TARGET_DIR`, else `$HOME/.cache/cis490-fuzz-target`.
fn target_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CIS490_FUZZ_TARGET_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let home = std::env::var_os("HOME").context("HOME is not set (or set CIS490_FUZZ_TARGET_DIR)")?;
    Ok(Path::new(&home).join(".cache").join("cis490-fuzz-target"))
}

/// The host's target triple, from `rustc -vV`.
fn host_triple() -> Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let info = cmd::output(Command::new(rustc).arg("-vV")).context("cannot ask rustc for the host triple")?;
    info.lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(|host| host.trim().to_string())
        .context("`rustc -vV` printed no `host:` line")
}

/// What one run of one target did.
#[derive(Debug, Default, PartialEq)]
struct Report {
    target: &'static str,
    seconds: f64,
    stats: Stats,
    /// Crash inputs copied to `fuzz/regressions/<target>/`.
    saved: Vec<PathBuf>,
}

/// Figures read from libFuzzer's output.
#[derive(Debug, Default, PartialEq)]
struct Stats {
    executions: u64,
    exec_per_s: u64,
    /// Covered edges (`cov:`), then features (`ft:`), at the last status line.
    cov: u64,
    ft: u64,
    /// Instrumented edges in the binary (the most `cov` can reach).
    counters: u64,
    /// Inputs in libFuzzer's corpus at the last status line (`corp:`).
    corpus_units: u64,
    peak_rss_mb: u64,
    new_units: u64,
    /// Files libFuzzer wrote for failing inputs (`crash-`, `timeout-`,
    /// `oom-`, `leak-`), not `slow-unit-` reports.
    artifacts: Vec<PathBuf>,
}

impl Stats {
    /// Reads one line of libFuzzer's stderr.
    fn add_line(&mut self, line: &str) {
        if let Some(rest) = line.strip_prefix('#') {
            if let Some(n) = rest.split_whitespace().next().and_then(|n| n.parse().ok()) {
                self.executions = n;
            }
            let words: Vec<&str> = rest.split_whitespace().collect();
            for pair in words.windows(2) {
                let value = pair[1].parse::<u64>().ok();
                match pair[0] {
                    "cov:" => self.cov = value.unwrap_or(self.cov),
                    "ft:" => self.ft = value.unwrap_or(self.ft),
                    "corp:" => {
                        let units = pair[1].split('/').next().and_then(|n| n.parse().ok());
                        self.corpus_units = units.unwrap_or(self.corpus_units);
                    }
                    _ => {}
                }
            }
        } else if let Some((before, _)) = line.split_once(" inline 8-bit counters)") {
            // `INFO: Loaded 1 modules   (1985 inline 8-bit counters): ...`
            let total = before.rsplit('(').next().and_then(|n| n.trim().parse().ok());
            self.counters = total.unwrap_or(self.counters);
        } else if let Some(rest) = line.strip_prefix("stat::") {
            let (key, value) = rest.split_once(':').unwrap_or((rest, ""));
            let Ok(value) = value.trim().parse::<u64>() else { return };
            match key {
                "number_of_executed_units" => self.executions = value,
                "average_exec_per_sec" => self.exec_per_s = value,
                "new_units_added" => self.new_units = value,
                "peak_rss_mb" => self.peak_rss_mb = value,
                _ => {}
            }
        } else if let Some((_, path)) = line.split_once("Test unit written to ") {
            let path = PathBuf::from(path.trim());
            let slow = path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("slow-unit-"));
            if !slow {
                self.artifacts.push(path);
            }
        }
    }
}

/// Whether a libFuzzer line is worth showing live (status, not every new unit).
fn shown_live(line: &str) -> bool {
    ["INITED", "pulse", "DONE", "ERROR", "panicked", "Test unit written", "SUMMARY", "==cis490-fuzz==", "Slowest unit"]
        .iter()
        .any(|k| line.contains(k))
}

/// Runs one target for `seconds`, logging to `fuzz/logs/<target>.log` under
/// the target dir, and copies crash inputs into the repository.
fn fuzz_one(root: &Path, work: &Path, binary: &Path, target: Target, seconds: u64) -> Result<Report> {
    let name = target.name;
    let corpus = work.join("corpus").join(name);
    let artifacts = work.join("artifacts").join(name);
    let logs = work.join("logs");
    for dir in [&corpus, &artifacts, &logs] {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let log_path = logs.join(format!("{name}.log"));
    let mut log = std::fs::File::create(&log_path).with_context(|| format!("cannot create {}", log_path.display()))?;
    let mut command = Command::new(binary);
    command
        .arg(&corpus)
        .arg(work.join("seeds").join(name))
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-max_len={}", target.max_len))
        .arg(format!("-timeout={}", target.timeout_s))
        .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
        .arg(format!("-dict={}", work.join("dicts").join(format!("{name}.dict")).display()))
        // The trailing slash makes it a folder: libFuzzer prepends it as is.
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg("-print_final_stats=1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let step = format!("fuzz {name}");
    eprintln!("==> [{step}] {} (log: {})", cmd::display(&command), log_path.display());
    let started = Instant::now();
    let mut child = command.spawn().with_context(|| format!("step `{step}`: cannot start {}", binary.display()))?;
    let mut stats = Stats::default();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let line = line.with_context(|| format!("reading the output of {name}"))?;
            writeln!(log, "{line}").with_context(|| format!("cannot write {}", log_path.display()))?;
            if shown_live(&line) {
                eprintln!("[{name}] {line}");
            }
            stats.add_line(&line);
        }
    }
    let status = child.wait().with_context(|| format!("waiting for {name}"))?;
    let elapsed = started.elapsed().as_secs_f64();
    if !status.success() && stats.artifacts.is_empty() {
        bail!("step `{step}` failed ({status}) after {elapsed:.1} s without a crash input; see {}", log_path.display());
    }
    let saved = save_regressions(root, name, &stats.artifacts)?;
    if saved.is_empty() {
        eprintln!("<== [{step}] ok in {elapsed:.1} s");
    } else {
        eprintln!("<== [{step}] CRASH after {elapsed:.1} s (libFuzzer stops at the first one)");
    }
    Ok(Report { target: name, seconds: elapsed, stats, saved })
}

/// Copies each crash input to `fuzz/regressions/<target>/` under its
/// libFuzzer name (`crash-<sha1>`, ...).
fn save_regressions(root: &Path, target: &str, artifacts: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let dir = root.join("fuzz").join("regressions").join(target);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut saved = Vec::new();
    for artifact in artifacts {
        let file_name = artifact.file_name().with_context(|| format!("artifact {} has no name", artifact.display()))?;
        let to = dir.join(file_name);
        std::fs::copy(artifact, &to)
            .with_context(|| format!("cannot copy {} to {}", artifact.display(), to.display()))?;
        eprintln!("xtask fuzz: saved {} (a regression test now replays it)", to.display());
        saved.push(to);
    }
    Ok(saved)
}

fn print_table(reports: &[Report]) {
    println!(
        "{:<8} {:>8} {:>12} {:>8} {:>12} {:>7} {:>7} {:>8} {:>7}",
        "target", "seconds", "executions", "exec/s", "cov/edges", "ft", "corpus", "rss MiB", "crashes"
    );
    for r in reports {
        let s = &r.stats;
        println!(
            "{:<8} {:>8.0} {:>12} {:>8} {:>12} {:>7} {:>7} {:>8} {:>7}",
            r.target,
            r.seconds,
            s.executions,
            s.exec_per_s,
            format!("{}/{}", s.cov, s.counters),
            s.ft,
            s.corpus_units,
            s.peak_rss_mb,
            r.saved.len()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn arguments_choose_seconds_and_targets() -> Result<()> {
        let all = parse_args(&[])?;
        assert_eq!((all.seconds, all.targets.len()), (60, 3));
        let some = parse_args(&args(&["--seconds", "5", "--target", "jsonl,events", "--target", "jsonl"]))?;
        assert_eq!(some.seconds, 5);
        assert_eq!(some.targets.iter().map(|t| t.name).collect::<Vec<_>>(), ["jsonl", "events"]);
        assert!(parse_args(&args(&["--target", "tar"])).is_err());
        assert!(parse_args(&args(&["--seconds", "0"])).is_err());
        assert!(parse_args(&args(&["--seconds"])).is_err());
        Ok(())
    }

    #[test]
    fn libfuzzer_output_is_read() {
        let mut s = Stats::default();
        for line in [
            "INFO: Seed: 81732205",
            "INFO: Loaded 1 modules   (1985 inline 8-bit counters): 1985 [0x56291995bdc8, 0x56291995c589), ",
            "#7\tINITED cov: 510 ft: 792 corp: 6/5238b exec/s: 0 rss: 27Mb",
            "#65536\tpulse  cov: 829 ft: 3522 corp: 696/481Kb lim: 1446 exec/s: 32768 rss: 29Mb",
            "artifact_prefix='/t/a/'; Test unit written to /t/a/crash-5d40318a",
            "artifact_prefix='/t/a/'; Test unit written to /t/a/slow-unit-77",
            "stat::number_of_executed_units: 80879",
            "stat::average_exec_per_sec:     26959",
            "stat::new_units_added:          2066",
            "stat::peak_rss_mb:              85",
        ] {
            s.add_line(line);
        }
        assert_eq!(
            (s.executions, s.exec_per_s, s.cov, s.ft, s.new_units, s.peak_rss_mb),
            (80879, 26959, 829, 3522, 2066, 85)
        );
        assert_eq!((s.counters, s.corpus_units), (1985, 696));
        assert_eq!(s.artifacts, [PathBuf::from("/t/a/crash-5d40318a")]);
    }
}
