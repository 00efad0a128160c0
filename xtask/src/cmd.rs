//! Running child commands as named, timed steps, with errors that say which
//! step failed and how.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// A `cargo` command: the one that launched us (`$CARGO`) when known.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")))
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
