//! `cargo xtask test`: the project's one test command. Runs setup, then
//! `cargo fmt --check` (the workspace and the `fuzz/` crate), clippy with
//! the `gpu-vulkan` feature, builds the bundle and the Pi's aarch64 binary
//! (`pi`), and runs `cargo test --workspace --locked` (with the hub
//! benches' feature) with the real-browser test required
//! (`CIS490_REQUIRE_BROWSER=1`), the pandas/pyarrow check given a Python
//! with both (`CIS490_PYTHON`) and the Pi binary's predictions compared
//! under qemu (`CIS490_PI_BINARY`), then the fuzz crate's regression replays
//! (uninstrumented `cargo test --manifest-path fuzz/Cargo.toml`).
//!
//! The bundle, the Pi binary and the tests are compiled under clippy
//! (`cmd::linted`, warnings are errors): those builds are the wasm32, the
//! edge and the host lints, without a second check-mode compile of every
//! dependency for each.
//!
//! Every step prints its wall time; the first failure stops the run with a
//! non-zero exit naming the step. The last line on stdout totals every
//! test binary's result (`tests: N passed, N failed, N skipped`), so CI
//! reads the whole run rather than the last binary's (often doc-test) line.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::{bundle, cmd, pi, setup};

/// Runs every step in order.
pub fn run(root: &Path) -> Result<()> {
    let started = Instant::now();
    timed("setup", setup::all)?;
    let python = timed("python env", setup::python_env)?;

    cmd::run_step("fmt", cmd::cargo().args(["fmt", "--all", "--", "--check"]).current_dir(root))?;
    cmd::run_step(
        "fmt (fuzz)",
        cmd::cargo().args(["fmt", "--manifest-path", FUZZ_MANIFEST, "--", "--check"]).current_dir(root),
    )?;
    // The Vulkan GPU backend is behind a feature no other build turns on;
    // all GPU-specific code is in the models crate (gpu-cuda cannot build
    // without network access, docs/cluster.md). The other lints happen
    // while the bundle, the Pi binary and the tests compile (`cmd::linted`).
    clippy(root, "clippy (gpu-vulkan)", &["-p", "cis490-models", "--features", "gpu-vulkan", "--all-targets"])?;
    let public = timed("bundle", || bundle::build(root, true))?
        .parent()
        .map(Path::to_path_buf)
        .context("bundle directory has no parent")?;
    let public = public.canonicalize().with_context(|| format!("cannot resolve {}", public.display()))?;
    let pi_binary = timed("pi build", || pi::build(root, true))?;
    timed("qemu", pi::setup_qemu)?;

    let mut totals = Totals::default();
    let tested = run_cargo_test(
        // Every target of every crate, linted as it compiles (the host
        // lint), with the hub benchmarks' feature so their code is too.
        cmd::with_timings(cmd::linted(cmd::cargo().args([
            "test",
            "--workspace",
            "--locked",
            "--features",
            "cis490-backend/hub-bench",
        ]))?)
        .env("CIS490_REQUIRE_BROWSER", "1")
        .env("CIS490_PYTHON", &python)
        .env("CIS490_PUBLIC_DIR", &public)
        .env("CIS490_PI_BINARY", &pi_binary)
        .current_dir(root),
        &mut totals,
    )
    .and_then(|()| {
        // The fuzz crate's own workspace: its regression inputs and seeds,
        // replayed without instrumentation (store + shared only: cheap).
        run_cargo_test(
            cmd::cargo().args(["test", "--locked", "--manifest-path", FUZZ_MANIFEST]).current_dir(root),
            &mut totals,
        )
    });
    eprintln!("xtask test: finished in {:.1} s", started.elapsed().as_secs_f64());
    tested?;
    println!("tests: {} passed, {} failed, {} skipped", totals.passed, totals.failed, totals.ignored);
    if totals.passed == 0 {
        anyhow::bail!("cargo test ran no test");
    }
    Ok(())
}

/// Test counts summed over every test binary.
#[derive(Debug, Default, PartialEq, Eq)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Totals {
    /// Adds one `test result: ok. 3 passed; 0 failed; 1 ignored; ...` line.
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else { return };
        for part in rest.split(['.', ';']) {
            let mut words = part.split_whitespace();
            let (Some(n), Some(what)) = (words.next(), words.next()) else { continue };
            let Ok(n) = n.parse::<u64>() else { continue };
            match what {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

/// The fuzz crate (a workspace of its own, see `fuzz.rs`).
const FUZZ_MANIFEST: &str = "fuzz/Cargo.toml";

/// `cargo clippy <what> --locked -- -D warnings` as the step `name`.
fn clippy(root: &Path, name: &str, what: &[&str]) -> Result<()> {
    cmd::run_step(
        name,
        cmd::with_timings(cmd::cargo().arg("clippy").args(what).arg("--locked"))
            .args(["--", "-D", "warnings"])
            .current_dir(root),
    )
}

/// Runs `cargo test`, echoing its stdout as it comes and adding its results
/// to `totals`.
fn run_cargo_test(command: &mut std::process::Command, totals: &mut Totals) -> Result<()> {
    use std::io::BufRead;
    eprintln!("==> [cargo test] {}", cmd::display(command));
    let started = Instant::now();
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("step `cargo test`: cannot start `{}`", cmd::display(command)))?;
    if let Some(stdout) = child.stdout.take() {
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.context("reading cargo test output")?;
            println!("{line}");
            totals.add_line(&line);
        }
    }
    let status = child.wait().context("waiting for cargo test")?;
    let seconds = started.elapsed().as_secs_f64();
    if !status.success() {
        println!("tests: {} passed, {} failed, {} skipped", totals.passed, totals.failed.max(1), totals.ignored);
        anyhow::bail!("step `cargo test` failed ({status}) after {seconds:.1} s");
    }
    eprintln!("<== [cargo test] ok in {seconds:.1} s");
    Ok(())
}

/// Runs an in-process step with the same framing as [`cmd::run_step`].
fn timed<T>(name: &str, step: impl FnOnce() -> Result<T>) -> Result<T> {
    eprintln!("==> [{name}]");
    let started = Instant::now();
    let result = step();
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(value) => {
            eprintln!("<== [{name}] ok in {seconds:.1} s");
            Ok(value)
        }
        Err(err) => Err(err.context(format!("step `{name}` failed after {seconds:.1} s"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_are_totalled() {
        let mut t = Totals::default();
        t.add_line("test result: ok. 17 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.02s");
        t.add_line("test result: FAILED. 3 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out");
        t.add_line("running 4 tests");
        assert_eq!(t, Totals { passed: 20, failed: 1, ignored: 2 });
    }
}
