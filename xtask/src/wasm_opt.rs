//! Shrinking a wasm bundle with binaryen's `wasm-opt -Oz` (−32 % gzipped
//! for the dashboard, measured in `docs/performance.md`). Only binaryen
//! ≥ 116 is used: Debian's 108 writes bundles that show a blank page
//! (`docs/architecture.md` of the shared notes). `cargo xtask setup`
//! installs binaryen from npm into `~/.cache/cis490-binaryen` when npm
//! exists; without a usable `wasm-opt` a bundle is left as wasm-bindgen
//! wrote it, and the build says so. `CIS490_WASM_OPT=off` skips it (faster
//! edit–reload loops), `CIS490_WASM_OPT=/path/to/wasm-opt` picks one.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cmd;

/// The binaryen release installed from npm.
const BINARYEN: &str = "binaryen@132";
/// Oldest binaryen whose output was seen to work in Chromium here.
const MIN_VERSION: u32 = 116;
/// The wasm features rustc's wasm32 target uses by default that the
/// optimizer must keep (validated in Chromium by the browser tests).
const FEATURES: [&str; 4] =
    ["--enable-bulk-memory", "--enable-nontrapping-float-to-int", "--enable-sign-ext", "--enable-mutable-globals"];

fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache").join("cis490-binaryen"))
}

fn cached_tool() -> Option<PathBuf> {
    cache_dir().map(|dir| dir.join("node_modules").join(".bin").join("wasm-opt")).filter(|p| p.is_file())
}

/// The version number `wasm-opt --version` reports (`wasm-opt version 132 (...)`).
fn version(tool: &Path) -> Option<u32> {
    let text = cmd::output(Command::new(tool).arg("--version")).ok()?;
    text.split_whitespace().skip_while(|w| *w != "version").nth(1)?.parse().ok()
}

/// Installs binaryen from npm into the cache unless a usable `wasm-opt`
/// is already there; without npm, or when the install fails, it only
/// notes that bundles stay unoptimized (never an error).
pub fn install() -> Result<()> {
    if let Some(tool) = cached_tool().filter(|t| version(t).is_some_and(|v| v >= MIN_VERSION)) {
        eprintln!("setup: wasm-opt already at {}", tool.display());
        return Ok(());
    }
    if !cmd::exists("npm") {
        eprintln!("setup: npm not found: bundles will not be shrunk with wasm-opt (install npm for −30 %)");
        return Ok(());
    }
    let Some(dir) = cache_dir() else {
        eprintln!("setup: HOME is not set: bundles will not be shrunk with wasm-opt");
        return Ok(());
    };
    // Short timeouts: a machine whose network drops npm traffic must not stall setup.
    let installed = cmd::run_step(
        &format!("npm install {BINARYEN}"),
        Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--fetch-retries=1", "--fetch-timeout=30000", "--prefix"])
            .arg(&dir)
            .arg(BINARYEN),
    );
    // Optional: a machine without the npm registry still builds and tests.
    if let Err(e) = installed {
        eprintln!("setup: {e:#}; bundles will not be shrunk with wasm-opt");
    }
    Ok(())
}

/// The `wasm-opt` to use, if any (see the module documentation).
pub fn find() -> Option<PathBuf> {
    let chosen = std::env::var("CIS490_WASM_OPT").ok();
    match chosen.as_deref() {
        Some("off" | "0" | "no") => return None,
        Some(path) if !path.is_empty() => return Some(PathBuf::from(path)),
        _ => {}
    }
    let candidates = cached_tool().into_iter().chain(cmd::exists("wasm-opt").then(|| PathBuf::from("wasm-opt")));
    for tool in candidates {
        match version(&tool) {
            Some(v) if v >= MIN_VERSION => return Some(tool),
            Some(v) => eprintln!(
                "bundle: {} is binaryen {v} (< {MIN_VERSION}, known to break bundles): not used",
                tool.display()
            ),
            None => {}
        }
    }
    None
}

/// Replaces `wasm` with its `wasm-opt -Oz` output (written beside it,
/// then renamed over it); on an error `wasm` is untouched.
pub fn shrink(tool: &Path, wasm: &Path) -> Result<()> {
    let out = wasm.with_extension("opt.wasm");
    let mut command = Command::new(tool);
    command.arg("-Oz").args(FEATURES).arg(wasm).arg("-o").arg(&out);
    let name = wasm.file_name().map_or_else(|| wasm.display().to_string(), |n| n.to_string_lossy().into_owned());
    if let Err(e) = cmd::run_step(&format!("wasm-opt {name}"), &mut command) {
        let _ = std::fs::remove_file(&out);
        return Err(e);
    }
    if !out.is_file() {
        bail!("wasm-opt finished but {} is missing", out.display());
    }
    std::fs::rename(&out, wasm).with_context(|| format!("cannot replace {}", wasm.display()))
}
