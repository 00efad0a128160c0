//! Running child commands as named, timed steps, with errors that say which
//! step failed and how.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// A `cargo` command: the one that launched us (`$CARGO`) when known.
/// Without the `CARGO_MANIFEST_DIR` that `cargo run` gave this process:
/// a build script that reruns when that variable changes (ring's) would
/// otherwise see xtask's folder, which differs in every clone, and CI
/// would rebuild ring, rustls, object_store and the crates above them on
/// every run.
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")));
    command.env_remove("CARGO_MANIFEST_DIR");
    command
}

/// Adds `--timings` to a cargo build command when `CIS490_TIMINGS` is set
/// (to anything but `0`): cargo then writes an HTML report of where the
/// build's time went to `<target dir>/cargo-timings/` (docs/performance.md,
/// "From clone to dashboard").
pub fn with_timings(command: &mut Command) -> &mut Command {
    if std::env::var_os("CIS490_TIMINGS").is_some_and(|v| !v.is_empty() && v != "0") {
        command.arg("--timings");
    }
    command
}

/// Makes a cargo build lint while it compiles: the workspace's own crates
/// are compiled by `clippy-driver` (rustc with clippy's lints, as `cargo
/// clippy` runs it) with warnings as errors, and the dependencies by rustc
/// as usual. A build that lints this way replaces a separate `cargo
/// clippy` pass, which would compile every dependency a second time in
/// check mode (docs/performance.md, "From clone to dashboard").
pub fn linted(command: &mut Command) -> Result<&mut Command> {
    let driver = clippy_driver()?;
    Ok(command
        .env("RUSTC_WORKSPACE_WRAPPER", driver)
        // clippy-driver's own argument list (what `cargo clippy -- -D warnings` sets).
        .env("CLIPPY_ARGS", "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"))
}

/// The `clippy-driver` of the toolchain that runs us: beside `$CARGO`, or
/// the one `rustup which` names.
fn clippy_driver() -> Result<PathBuf> {
    if let Some(cargo) = std::env::var_os("CARGO") {
        let beside = Path::new(&cargo).with_file_name("clippy-driver");
        if beside.is_file() {
            return Ok(beside);
        }
    }
    let named = output(Command::new("rustup").args(["which", "clippy-driver"])).context(
        "no clippy-driver beside cargo and `rustup which clippy-driver` failed (rustup component add clippy)",
    )?;
    Ok(PathBuf::from(named.trim()))
}

/// Runs `command` as step `name`, inheriting stdio; prints the command line
/// first and the wall time after (both to stderr). Fails, naming the step,
/// when the command cannot start or exits unsuccessfully.
pub fn run_step(name: &str, command: &mut Command) -> Result<()> {
    eprintln!("==> [{name}] {}", display(command));
    let started = Instant::now();
    let status = command.status().with_context(|| format!("step `{name}`: cannot start `{}`", display(command)))?;
    let seconds = started.elapsed().as_secs_f64();
    if status.success() {
        eprintln!("<== [{name}] ok in {seconds:.1} s");
        Ok(())
    } else {
        bail!("step `{name}` failed ({status}) after {seconds:.1} s")
    }
}

/// Runs `command` quietly and returns its stdout when it succeeds.
pub fn output(command: &mut Command) -> Result<String> {
    let out = command.output().with_context(|| format!("cannot start `{}`", display(command)))?;
    if !out.status.success() {
        bail!("`{}` failed ({}): {}", display(command), out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    String::from_utf8(out.stdout).with_context(|| format!("`{}` wrote non-UTF-8", display(command)))
}

/// Whether `program` can be started (`program --version` succeeds).
pub fn exists(program: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok_and(|out| out.status.success())
}

/// The command line, for messages (the program without its directory).
pub fn display(command: &Command) -> String {
    let program = std::path::Path::new(command.get_program());
    let shown = program.file_name().unwrap_or(program.as_os_str());
    let mut parts = vec![shown.to_string_lossy().into_owned()];
    parts.extend(command.get_args().map(|arg| arg.to_string_lossy().into_owned()));
    parts.join(" ")
}

/// Cargo's target directory, as `cargo metadata` reports it (honours
/// `CARGO_TARGET_DIR` and config files).
pub fn target_dir(root: &Path) -> Result<PathBuf> {
    let mut command = cargo();
    command.args(["metadata", "--format-version", "1", "--no-deps"]).current_dir(root);
    let text = output(&mut command)?;
    let metadata: serde_json::Value = serde_json::from_str(&text).context("cannot parse `cargo metadata` output")?;
    metadata["target_directory"].as_str().map(PathBuf::from).context("`cargo metadata` reported no target_directory")
}
