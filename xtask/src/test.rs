//! `cargo xtask test`: the project's one test command. Runs setup, then
//! `cargo fmt --check`, clippy for the host and for wasm32 (warnings are
//! errors), builds the bundle, and runs `cargo test --workspace --locked`
//! with the real-browser test required (`CIS490_REQUIRE_BROWSER=1`).
//!
//! Every step prints its wall time; the first failure stops the run with a
//! non-zero exit naming the step. Nothing is printed to stdout after
//! `cargo test`, so its summary stays the last line there.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::{bundle, cmd, setup};

/// Runs every step in order.
pub fn run(root: &Path) -> Result<()> {
    let started = Instant::now();
    timed("setup", setup::all)?;

    cmd::run_step("fmt", cmd::cargo().args(["fmt", "--all", "--", "--check"]).current_dir(root))?;
    cmd::run_step(
        "clippy (host)",
        cmd::cargo()
            .args(["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"])
            .current_dir(root),
    )?;
    cmd::run_step(
        "clippy (wasm32)",
        cmd::cargo()
            .args([
                "clippy",
                "-p",
                "cis490-frontend",
                "--target",
                "wasm32-unknown-unknown",
                "--locked",
                "--",
                "-D",
                "warnings",
            ])
            .current_dir(root),
    )?;
    let public = timed("bundle", || bundle::build(root, true))?
        .parent()
        .map(Path::to_path_buf)
        .context("bundle directory has no parent")?;
    let public = public.canonicalize().with_context(|| format!("cannot resolve {}", public.display()))?;

    cmd::run_step(
        "cargo test",
        cmd::cargo()
            .args(["test", "--workspace", "--locked"])
            .env("CIS490_REQUIRE_BROWSER", "1")
            .env("CIS490_PUBLIC_DIR", &public)
            .current_dir(root),
    )?;
    eprintln!("xtask test: all steps passed in {:.1} s", started.elapsed().as_secs_f64());
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
