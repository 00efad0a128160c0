//! `cargo xtask demo [-- ARGS]`: the README's first command, ordered so
//! the dashboard is served as early as possible. It installs what the
//! demo needs (the wasm32 target; binaryen's `wasm-opt` when the npm
//! registry answers, so the demo's dashboard is the same shrunk bundle the
//! tests use), builds the dashboard bundle and the `cis490` binary, starts
//! `cis490 demo ARGS` (which serves first, then generates, validates,
//! trains and evaluates), and only then builds the in-browser runner
//! bundle, which only the browser scene needs; that scene says "runner
//! still building" until it lands. Each phase prints its wall time from
//! the start of the command.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{bundle, cmd, setup, wasm_opt};

/// The cargo profile the demo's binary is built with. The same as the
/// test build's (`cargo test`), so the demo and the tests share one
/// dependency build (docs/performance.md, "From clone to dashboard").
pub const BACKEND_PROFILE: &str = "dev";

/// Runs the demo; `args` go to `cis490 demo` (a leading `--` is dropped).
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let passthrough = match args.first().map(String::as_str) {
        Some("--") => &args[1..],
        _ => args,
    };
    let started = Instant::now();
    let say = |what: &str| eprintln!("demo: {what} ({:.0} s since start)", started.elapsed().as_secs_f64());
    setup::wasm_target()?;
    wasm_opt::install()?;
    bundle::build_dashboard(root, false)?;
    say("dashboard bundle ready");
    let binary = build_backend(root)?;
    say("cis490 binary ready; starting `cis490 demo` (it serves first)");
    let mut demo = Command::new(&binary)
        .arg("demo")
        .args(passthrough)
        .current_dir(root)
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    // A demo that stops at once (a bad argument, a busy port) is not left
    // waiting for a runner build nobody will use.
    std::thread::sleep(Duration::from_millis(500));
    if let Some(status) = demo.try_wait().context("waiting for `cis490 demo`")? {
        return finished(status);
    }
    match bundle::build_runner(root, false) {
        Ok(_) => say("runner bundle ready: the browser scene runs models in the browser"),
        // Every other scene works without it.
        Err(e) => eprintln!("demo: WARNING: the runner bundle did not build: {e:#}; the browser scene cannot run"),
    }
    let status = demo.wait().context("waiting for `cis490 demo`")?;
    say("`cis490 demo` finished");
    finished(status)
}

fn finished(status: std::process::ExitStatus) -> Result<()> {
    if status.success() { Ok(()) } else { bail!("`cis490 demo` failed ({status})") }
}

/// Builds `cis490` with [`BACKEND_PROFILE`] and returns its path.
fn build_backend(root: &Path) -> Result<PathBuf> {
    cmd::run_step(
        "build cis490",
        cmd::with_timings(
            cmd::cargo()
                .args(["build", "--profile", BACKEND_PROFILE, "-p", "cis490-backend", "--bin", "cis490"])
                .current_dir(root),
        ),
    )?;
    // Cargo's folder for the dev profile is `debug`; others use their name.
    let folder = if BACKEND_PROFILE == "dev" { "debug" } else { BACKEND_PROFILE };
    let binary = cmd::target_dir(root)?.join(folder).join("cis490");
    if !binary.is_file() {
        bail!("cargo finished but {} is missing", binary.display());
    }
    Ok(binary)
}
