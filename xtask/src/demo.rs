//! `cargo xtask demo [-- ARGS]`: the README's first command, ordered so
//! the dashboard is served as early as possible:
//!
//! 1. setup: the wasm32 target, and binaryen's `wasm-opt` when the npm
//!    registry answers (so the demo's dashboard is the same shrunk bundle
//!    the tests use);
//! 2. the dashboard bundle;
//! 3. `cis490-hub`, the server alone (no pipeline, models or trainers: a
//!    few minutes to build, where `cis490` takes a quarter of an hour on
//!    two cores), started as `cis490-hub demo ARGS`: the page is up, and
//!    shows whatever is published from now on;
//! 4. `cis490`, started as `cis490 demo ARGS --publish-only`: it
//!    generates, validates, trains and evaluates, publishing to that hub
//!    (both read the same ARGS, so they agree on the address, token and
//!    folders);
//! 5. the in-browser runner bundle, built beside the demo's work; only
//!    the browser scene needs it, and it says "runner still building"
//!    until it lands.
//!
//! With `--no-serve` (or `--help`) there is nothing to serve early: the
//! hub is skipped and `cis490 demo ARGS` runs as it is. Each phase prints
//! its wall time from the start of the command.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{bundle, cmd, setup, wasm_opt};

/// The cargo profile the demo's binaries are built with. The same as the
/// test build's (`cargo test`), so the demo and the tests can share one
/// dependency build (docs/performance.md, "From clone to dashboard").
pub const BACKEND_PROFILE: &str = "dev";

/// Runs the demo; `args` go to `cis490-hub demo` and `cis490 demo` (a
/// leading `--` is dropped).
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
    let hub = if serves_early(passthrough) {
        let binary = build(root, "cis490-hub")?;
        let hub = Running::start(&binary, "demo", passthrough, root)?;
        say("dashboard served by `cis490-hub demo`; building cis490 to fill it");
        Some(hub)
    } else {
        None
    };
    let binary = build(root, "cis490")?;
    let mut demo_args = passthrough.to_vec();
    if hub.is_some() {
        demo_args.push("--publish-only".into());
    }
    let mut demo = Running::start(&binary, "demo", &demo_args, root)?;
    say(if hub.is_some() {
        "`cis490 demo --publish-only` started: it publishes to the hub as it goes"
    } else {
        "`cis490 demo` started"
    });
    match bundle::build_runner(root, false) {
        Ok(_) => say("runner bundle ready: the browser scene runs models in the browser"),
        // Every other scene works without it.
        Err(e) => eprintln!("demo: WARNING: the runner bundle did not build: {e:#}; the browser scene cannot run"),
    }
    let status = demo.wait()?;
    say("`cis490 demo` finished");
    if let Some(mut hub) = hub
        && !status.success()
    {
        // As `cis490 demo` alone does: keep showing what was made.
        eprintln!("demo: `cis490 demo` failed ({status}); the hub keeps serving what exists (Ctrl-C stops it)");
        hub.wait()?;
    }
    if status.success() { Ok(()) } else { bail!("`cis490 demo` failed ({status})") }
}

/// Whether a hub is started before `cis490` is built: not for a demo that
/// serves nothing (`--no-serve`) or only prints its usage.
fn serves_early(args: &[String]) -> bool {
    !args.iter().any(|a| matches!(a.as_str(), "--no-serve" | "-h" | "--help" | "-V" | "--version"))
}

/// A started child process, killed if it is dropped still running (an
/// error after the hub started does not leave it serving in the
/// background).
struct Running {
    child: Child,
    name: String,
}

impl Running {
    /// Starts `binary subcommand args` and checks that it did not stop at
    /// once (a bad argument, a busy port).
    fn start(binary: &Path, subcommand: &str, args: &[String], root: &Path) -> Result<Self> {
        let name = format!(
            "{} {subcommand}",
            binary.file_name().map_or_else(|| binary.display().to_string(), |n| n.to_string_lossy().into_owned())
        );
        let child = Command::new(binary)
            .arg(subcommand)
            .args(args)
            .current_dir(root)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut running = Self { child, name };
        std::thread::sleep(Duration::from_millis(500));
        if let Some(status) = running.child.try_wait().with_context(|| format!("waiting for `{}`", running.name))? {
            bail!("`{}` stopped at once ({status})", running.name);
        }
        Ok(running)
    }

    fn wait(&mut self) -> Result<ExitStatus> {
        self.child.wait().with_context(|| format!("waiting for `{}`", self.name))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Builds the binary `bin` with [`BACKEND_PROFILE`] and returns its path.
/// Both binaries are built with the packages of both selected, so cargo
/// unifies the dependencies' features as for `cis490` alone, and the hub's
/// dependencies are compiled once for the two.
fn build(root: &Path, bin: &str) -> Result<PathBuf> {
    cmd::run_step(
        &format!("build {bin}"),
        cmd::with_timings(
            cmd::cargo()
                .args([
                    "build",
                    "--profile",
                    BACKEND_PROFILE,
                    "-p",
                    "cis490-server",
                    "-p",
                    "cis490-backend",
                    "--bin",
                    bin,
                ])
                .current_dir(root),
        ),
    )?;
    // Cargo's folder for the dev profile is `debug`; others use their name.
    let folder = if BACKEND_PROFILE == "dev" { "debug" } else { BACKEND_PROFILE };
    let binary = cmd::target_dir(root)?.join(folder).join(bin);
    if !binary.is_file() {
        bail!("cargo finished but {} is missing", binary.display());
    }
    Ok(binary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_demo_that_serves_gets_the_early_hub() {
        let args = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(serves_early(&args(&[])));
        assert!(serves_early(&args(&["--episodes", "2000", "--bind", "127.0.0.1:9000"])));
        assert!(!serves_early(&args(&["--no-serve"])));
        assert!(!serves_early(&args(&["--episodes", "5", "--help"])));
    }
}
