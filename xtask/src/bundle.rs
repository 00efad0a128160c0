//! `cargo xtask bundle`: builds `cis490-frontend` (the dashboard) and
//! `cis490-runner` (tract, for the browser scene's Web Worker) for
//! `wasm32-unknown-unknown` with the size-tuned `wasm-release` profile
//! (linted by clippy as they compile, warnings as errors), runs
//! wasm-bindgen (as a library, pinned to the crate's version) for
//! `--target web`, and installs the results as `public/pkg/` and
//! `public/runner/`.
//!
//! The bindings are generated into `public/pkg.tmp/` and only then swapped in
//! by renames, so an interrupted or failed build never replaces a good bundle.
//! The dashboard is then shrunk with `wasm-opt -Oz` when a binaryen ≥ 116
//! is available (`wasm_opt`; Debian's older one breaks bundles). Each
//! bundle's `.wasm` and `.js` get a `gzip -9` copy (`<file>.gz`) and a
//! `brotli -q 11` copy (`<file>.br`, when the `brotli` command exists)
//! beside them, which `cis490 serve` sends to browsers that accept them.
//! A bundle already built from the same compiled `.wasm` (a stamp in its
//! folder says which) is kept as it is.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{cmd, wasm_opt};

const PROFILE: &str = "wasm-release";
const TARGET: &str = "wasm32-unknown-unknown";

/// One wasm bundle: a crate, its output name and its folder under `public/`.
struct Bundle {
    krate: &'static str,
    out_name: &'static str,
    folder: &'static str,
    /// Run `wasm-opt -Oz` on it (when available).
    shrink: bool,
}

/// The dashboard, loaded by `index.html`.
const DASHBOARD: Bundle = Bundle { krate: "cis490-frontend", out_name: "cis490_frontend", folder: "pkg", shrink: true };
/// The tract model runner, loaded only by the browser scene's Web Worker
/// (`runner-worker.js`), so the dashboard stays small.
/// Not shrunk: wasm-opt (npm's, itself wasm on node) takes minutes on its
/// 10 MB, and it is fetched only by the browser scene.
const RUNNER: Bundle = Bundle { krate: "cis490-runner", out_name: "cis490_runner", folder: "runner", shrink: false };

/// Builds both bundles into `<root>/public/pkg` and `<root>/public/runner`
/// and returns the dashboard's folder. `locked` adds `--locked` to the
/// cargo builds.
pub fn build(root: &Path, locked: bool) -> Result<PathBuf> {
    let pkg = build_dashboard(root, locked)?;
    build_runner(root, locked)?;
    Ok(pkg)
}

/// Builds the dashboard alone into `<root>/public/pkg` and returns that
/// folder (`cargo xtask demo` serves it before the runner exists).
pub fn build_dashboard(root: &Path, locked: bool) -> Result<PathBuf> {
    build_one(root, locked, &DASHBOARD)
}

/// Builds the runner alone into `<root>/public/runner` and returns that folder.
pub fn build_runner(root: &Path, locked: bool) -> Result<PathBuf> {
    build_one(root, locked, &RUNNER)
}

fn build_one(root: &Path, locked: bool, bundle: &Bundle) -> Result<PathBuf> {
    let &Bundle { krate, out_name, folder, shrink } = bundle;
    let mut command = cmd::cargo();
    command.args(["build", "-p", krate, "--target", TARGET, "--profile", PROFILE]).current_dir(root);
    if locked {
        command.arg("--locked");
    }
    // Linted while it builds (the wasm32-only code of the dashboard, the
    // runner and the crates they use), always, so the demo's and the
    // tests' bundles are one build.
    cmd::run_step(&format!("wasm build {krate}"), cmd::with_timings(cmd::linted(&mut command)?))?;

    let wasm = cmd::target_dir(root)?.join(TARGET).join(PROFILE).join(format!("{out_name}.wasm"));
    if !wasm.is_file() {
        bail!("cargo finished but {} is missing", wasm.display());
    }

    let public = root.join("public");
    let pkg = public.join(folder);
    let tool = if shrink { wasm_opt::find() } else { None };
    let stamp = source_stamp(&wasm, tool.is_some())?;
    if installed_stamp(&pkg).as_deref() == Some(stamp.as_str()) {
        eprintln!("bundle: {} is already built from this {out_name}.wasm: kept", pkg.display());
        return Ok(pkg);
    }
    let staging = public.join(format!("{folder}.tmp"));
    let retired = public.join(format!("{folder}.old.tmp"));
    let started = Instant::now();
    eprintln!("==> [wasm-bindgen] {} -> {}", wasm.display(), pkg.display());
    remove_if_present(&staging)?;
    remove_if_present(&retired)?;
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .out_name(out_name)
        .web(true)?
        .typescript(false)
        // The CLI's default; the library omits it, and then `init()` without
        // arguments has no wasm URL to fetch.
        .omit_default_module_path(false)
        // Function names are for debuggers: a quarter of the runner's bytes
        // (2.6 of 10.8 MB; 2.5 → 1.9 MB gzipped). wasm-opt drops them from
        // the dashboard anyway.
        .remove_name_section(true)
        .remove_producers_section(true)
        .generate(&staging)
        .context("wasm-bindgen failed")?;
    let staged_wasm = staging.join(format!("{out_name}_bg.wasm"));
    let staged_js = staging.join(format!("{out_name}.js"));
    if !staged_wasm.is_file() || !staged_js.is_file() {
        bail!("wasm-bindgen did not write {out_name}.js and {out_name}_bg.wasm");
    }
    let mut stamp = Some(stamp);
    if shrink {
        match &tool {
            Some(tool) => {
                // The unshrunk bundle works: a failing optimizer is reported, not fatal
                // (and the bundle is not stamped, so the next build tries again).
                if let Err(e) = wasm_opt::shrink(tool, &staged_wasm) {
                    eprintln!("bundle: WARNING: {e:#}; {out_name} left as wasm-bindgen wrote it");
                    stamp = None;
                }
            }
            None => eprintln!(
                "bundle: no wasm-opt ≥ 116 (`cargo xtask setup` installs one with npm): {out_name} not shrunk"
            ),
        }
    }
    for file in [&staged_wasm, &staged_js] {
        // Without a copy the server sends the file as it is, or the other
        // copy: slower, not wrong.
        if let Err(e) = gzip_copy(file) {
            eprintln!("bundle: WARNING: {e:#}; {} is not served gzipped", file.display());
        }
        if let Err(e) = brotli_copy(file) {
            eprintln!("bundle: WARNING: {e:#}; {} is not served as brotli", file.display());
        }
    }
    if let Some(stamp) = stamp {
        fs::write(staging.join(STAMP), stamp).with_context(|| format!("cannot write {}", staging.display()))?;
    }
    if pkg.exists() {
        fs::rename(&pkg, &retired).with_context(|| format!("cannot move the old bundle aside ({})", pkg.display()))?;
    }
    fs::rename(&staging, &pkg).with_context(|| format!("cannot install the new bundle at {}", pkg.display()))?;
    remove_if_present(&retired)?;
    eprintln!("<== [wasm-bindgen] ok in {:.1} s", started.elapsed().as_secs_f64());
    report_size(&pkg.join(format!("{out_name}_bg.wasm")), &pkg.join(format!("{out_name}.js")))?;
    Ok(pkg)
}

/// The file in an installed bundle that names what it was built from.
const STAMP: &str = ".built-from";

/// What a bundle is built from: the compiled `.wasm` (its size and
/// modification time, which cargo changes whenever it links it again),
/// whether `wasm-opt` shrinks it and whether `brotli` is there to copy it. A bundle whose stamp matches is
/// not built again, so a warm `cargo xtask test` skips wasm-bindgen,
/// wasm-opt, gzip and brotli.
fn source_stamp(wasm: &Path, shrunk: bool) -> Result<String> {
    let meta = fs::metadata(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let modified =
        meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    // No paths: the folder is served to every browser. Once `brotli` is
    // installed (`cargo xtask setup`), the bundle is built again with it.
    Ok(format!("{} {modified} wasm-opt={shrunk} brotli={}\n", meta.len(), cmd::exists("brotli")))
}

/// The stamp of the bundle installed at `pkg`, if it has one.
fn installed_stamp(pkg: &Path) -> Option<String> {
    fs::read_to_string(pkg.join(STAMP)).ok()
}

fn remove_if_present(dir: &Path) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    Ok(())
}

/// Prints raw (and, when `gzip` exists, gzipped) sizes of the bundle
/// files, and their brotli copies' sizes.
fn report_size(wasm: &Path, js: &Path) -> Result<()> {
    for file in [wasm, js] {
        let bytes = fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let gzipped = gzip_len(&bytes).map(|len| format!(", {} gzipped", kib(len))).unwrap_or_default();
        let mut copy = file.as_os_str().to_owned();
        copy.push(".br");
        let brotli =
            fs::metadata(PathBuf::from(copy)).map(|m| format!(", {} as brotli", kib(m.len()))).unwrap_or_default();
        let gzipped = format!("{gzipped}{brotli}");
        let name =
            file.file_name().map_or_else(|| file.display().to_string(), |name| name.to_string_lossy().into_owned());
        eprintln!("bundle: {name}: {}{gzipped}", kib(bytes.len() as u64));
    }
    Ok(())
}

/// Writes `<file>.gz` with `gzip -9 -n` (no name or time inside, so the
/// same bundle gives the same bytes), keeping `file`.
fn gzip_copy(file: &Path) -> Result<()> {
    let mut command = Command::new("gzip");
    command.args(["-9", "-n", "-k", "-f"]).arg(file);
    let status = command.status().with_context(|| format!("cannot run gzip on {}", file.display()))?;
    if !status.success() {
        bail!("gzip {} failed ({status})", file.display());
    }
    Ok(())
}

/// Writes `<file>.br` with `brotli -q 11` (the densest: the dashboard
/// takes ~2 s, the runner ~20 s, once per build), keeping `file`. Brotli
/// is ~23 % (dashboard) to ~31 % (runner) smaller than `gzip -9`.
fn brotli_copy(file: &Path) -> Result<()> {
    if !cmd::exists("brotli") {
        bail!("no `brotli` command (`cargo xtask setup` installs it)");
    }
    let mut copy = file.as_os_str().to_owned();
    copy.push(".br");
    let mut command = Command::new("brotli");
    command.args(["-q", "11", "-f", "-n", "-o"]).arg(&copy).arg(file);
    let status = command.status().with_context(|| format!("cannot run brotli on {}", file.display()))?;
    if !status.success() {
        bail!("brotli {} failed ({status})", file.display());
    }
    Ok(())
}

/// Size of `bytes` after `gzip -9`, or `None` when gzip is unavailable.
fn gzip_len(bytes: &[u8]) -> Option<u64> {
    let mut child = Command::new("gzip")
        .arg("-9c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().ok()?;
    writer.join().ok()?.ok()?;
    out.status.success().then_some(out.stdout.len() as u64)
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB ({bytes} B)", bytes as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stamp_changes_when_cargo_links_the_wasm_again() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("cis490-xtask-stamp-{}", std::process::id()));
        fs::create_dir_all(&dir)?;
        let wasm = dir.join("app.wasm");
        fs::write(&wasm, b"\0asm one")?;
        let first = source_stamp(&wasm, false)?;
        assert_eq!(first, source_stamp(&wasm, false)?, "the same file, the same stamp");
        assert_ne!(first, source_stamp(&wasm, true)?, "shrinking is part of it");
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&wasm, b"\0asm two")?;
        assert_ne!(first, source_stamp(&wasm, false)?, "a new link (same size) is a new stamp");
        assert!(!first.contains(&dir.display().to_string()), "no paths in a served file: {first}");
        fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
