//! `cargo xtask`: the project's build and run commands, in Rust so they need
//! nothing beyond cargo.
//!
//! - `setup`: the wasm32 target, Chromium + chromedriver, the `zstd` and `brotli` CLIs.
//! - `bundle`: builds the dashboard to `public/pkg/` with wasm-bindgen.
//! - `demo [-- ARGS]`: the dashboard bundle and the binary, then `cis490
//!   demo ARGS` (serves the dashboard), then the runner bundle (`demo`).
//! - `test`: fmt, clippy (host and wasm32), bundle, then the whole test suite
//!   with the real-browser test required.
//! - `pi`: the Raspberry Pi edge binary (aarch64, no training stack), run
//!   once under qemu to show it starts (`pi`).
//! - `fuzz [--seconds N] [--target T]`: builds the libFuzzer targets of the
//!   `fuzz/` crate and runs each for N seconds (`fuzz`).
//!
//! Progress lines go to stderr so that the last line on stdout stays the one
//! written by the command being run (CI parses `cargo test`'s summary).

mod bundle;
mod cmd;
mod demo;
mod fuzz;
mod pi;
mod setup;
mod test;
mod wasm_opt;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  setup              install the wasm32 target, chromium + chromium-driver, zstd, brotli, wasm-opt (npm)
  bundle             build the dashboard into public/pkg/
  demo [-- ARGS...]  dashboard bundle + cis490, then `cis490 demo ARGS...` (serves 127.0.0.1:8447), then the runner bundle
  test               fmt, clippy, bundle, then `cargo test --workspace` and the fuzz regressions
  pi                 cross-compile the Raspberry Pi edge binary (aarch64, no training) and start it under qemu
  fuzz [--seconds N] [--target archive|jsonl|events]...
                     build the libFuzzer targets, run each for N s (default 60), save crashes to fuzz/regressions/";

fn main() {
    if let Err(err) = run() {
        eprintln!("xtask: error: {err:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let command = args.next();
    let rest: Vec<String> = args.collect();
    let root = workspace_root()?;
    match command.as_deref() {
        Some("setup") => {
            no_extra_args("setup", &rest)?;
            setup::all()
        }
        Some("bundle") => {
            no_extra_args("bundle", &rest)?;
            bundle::build(&root, false).map(drop)
        }
        Some("demo") => demo::run(&root, &rest),
        Some("test") => {
            no_extra_args("test", &rest)?;
            test::run(&root)
        }
        Some("pi") => {
            no_extra_args("pi", &rest)?;
            let binary = pi::build(&root, false)?;
            pi::smoke(&binary)?;
            println!("{}", binary.display());
            Ok(())
        }
        Some("fuzz") => fuzz::run(&root, &rest),
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command `{other}`\n\n{USAGE}"),
        None => bail!("no command given\n\n{USAGE}"),
    }
}

fn no_extra_args(command: &str, rest: &[String]) -> Result<()> {
    if rest.is_empty() { Ok(()) } else { bail!("`{command}` takes no arguments (got {rest:?})") }
}

/// The workspace root: the parent of this crate's manifest directory.
/// The workspace that `cargo xtask` was run in, found at run time from the
/// current directory. (A path baked in at compile time would be wrong when
/// two clones share one target directory, as CI's clone and a developer's
/// checkout do: cargo may then run the other clone's xtask binary.)
fn workspace_root() -> Result<PathBuf> {
    let start = std::env::current_dir().context("cannot read the current directory")?;
    let mut dir: &Path = &start;
    loop {
        let manifest = dir.join("Cargo.toml");
        if std::fs::read_to_string(&manifest).is_ok_and(|text| text.contains("[workspace]"))
            && dir.join("xtask").is_dir()
        {
            return Ok(dir.to_path_buf());
        }
        dir = dir.parent().with_context(|| format!("{} is not inside the cis490 workspace", start.display()))?;
    }
}
