//! `cargo xtask setup`: idempotently installs what the build and the tests
//! need beyond cargo — the `wasm32-unknown-unknown` target (via rustup),
//! Chromium and chromedriver for the browser tests, the `zstd` CLI the
//! benchmark uses and `brotli` for the bundles' precompressed copies (via
//! apt, only when missing and running as root),
//! and binaryen's `wasm-opt` from npm (`wasm_opt`); for `cargo xtask fuzz`,
//! a C++ compiler (`g++`, apt) that builds libFuzzer.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cmd;

const WASM_TARGET: &str = "wasm32-unknown-unknown";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Everything: wasm target, browser, zstd, wasm-opt.
pub fn all() -> Result<()> {
    wasm_target()?;
    system_packages()?;
    crate::wasm_opt::install()
}

/// Adds the wasm32 target with rustup unless it is already installed.
pub fn wasm_target() -> Result<()> {
    rust_target(WASM_TARGET)
}

/// Adds a rustup target unless it is already installed.
pub fn rust_target(target: &str) -> Result<()> {
    let installed = cmd::output(Command::new("rustup").args(["target", "list", "--installed"]))
        .context("cannot list rustup targets (is rustup installed?)")?;
    if installed.lines().any(|line| line.trim() == target) {
        eprintln!("setup: rust target {target} already installed");
        return Ok(());
    }
    cmd::run_step("rustup target add", Command::new("rustup").args(["target", "add", target]))
}

/// Installs chromium, chromium-driver, zstd and brotli (the bundles'
/// precompressed copies) with apt when any is missing.
fn system_packages() -> Result<()> {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push("chromium");
    }
    if !Path::new(CHROMEDRIVER).exists() {
        missing.push("chromium-driver");
    }
    if !cmd::exists("zstd") {
        missing.push("zstd");
    }
    if !cmd::exists("brotli") {
        missing.push("brotli");
    }
    if missing.is_empty() {
        eprintln!("setup: chromium, chromedriver, zstd and brotli already installed");
        return Ok(());
    }
    apt_install(&missing)
}

/// A C++ compiler for libfuzzer-sys, which builds libFuzzer from source
/// (`cargo xtask fuzz`): `c++` (or `$CXX`) when present, else Debian's
/// `g++` with apt.
pub fn cxx_compiler() -> Result<()> {
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".to_string());
    if cmd::exists(&cxx) {
        eprintln!("setup: C++ compiler `{cxx}` already installed");
        return Ok(());
    }
    apt_install(&["g++"])
}

/// Installs Debian packages with apt, as root; otherwise says what to run.
pub fn apt_install(missing: &[&str]) -> Result<()> {
    let install_hint = format!("apt-get install -y {}", missing.join(" "));
    if !is_root() {
        bail!("missing {}; not root, so cannot install them: run `sudo {install_hint}`", missing.join(", "));
    }
    if !cmd::exists("apt-get") {
        bail!("missing {} and apt-get is not available; install them with your package manager", missing.join(", "));
    }
    cmd::run_step("apt-get update", Command::new("apt-get").arg("update").env("DEBIAN_FRONTEND", "noninteractive"))
        .with_context(|| format!("could not install {}", missing.join(", ")))?;
    cmd::run_step(
        "apt-get install",
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .with_context(|| format!("could not install {}; try `{install_hint}`", missing.join(", ")))
}

/// Whether we run as root (`id -u` prints 0).
fn is_root() -> bool {
    cmd::output(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0")
}

/// The Python packages the peer-tool tests read our Parquet and ONNX files with
/// (duckdb and polars run the recipes of `docs/queries.md`; polars before 1.43
/// cannot read the Parquet footers our writer makes), PyYAML, which
/// parses the Kubernetes manifests of `deploy/k8s`, and moto's S3 server
/// (with boto3) that the object-store test reads a bucket from.
const PYTHON_PACKAGES: [&str; 8] = [
    "pyarrow>=15",
    "pandas>=2.2",
    "zstandard>=0.22",
    "onnxruntime>=1.17",
    "duckdb>=1.1",
    "polars>=1.43",
    "pyyaml>=6",
    "moto[server]>=5",
];

/// The modules those packages provide: the venv is ready when all import.
const PYTHON_MODULES: &str = "pyarrow, pandas, zstandard, onnxruntime, duckdb, polars, yaml, moto.server, boto3";

/// A virtual environment with pyarrow and pandas, outside the clone
/// (`$HOME/.cache/cis490-pyenv`), created once; returns its python.
pub fn python_env() -> Result<std::path::PathBuf> {
    let home = std::env::var_os("HOME").context("HOME is not set")?;
    let venv = Path::new(&home).join(".cache").join("cis490-pyenv");
    let python = venv.join("bin").join("python");
    let ready = || {
        Command::new(&python)
            .args(["-c", &format!("import {PYTHON_MODULES}")])
            .output()
            .is_ok_and(|out| out.status.success())
    };
    if ready() {
        eprintln!("setup: python env with {PYTHON_MODULES} already at {}", venv.display());
        return Ok(python);
    }
    if !cmd::exists("python3") {
        bail!(
            "python3 is missing: install it (`apt-get install -y python3 python3-venv`) for the pandas/pyarrow tests"
        );
    }
    let made = cmd::run_step("python venv", Command::new("python3").args(["-m", "venv"]).arg(&venv));
    if made.is_err() && is_root() && cmd::exists("apt-get") {
        cmd::run_step(
            "apt-get install python3-venv",
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends", "python3-venv"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
        cmd::run_step("python venv", Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    } else {
        made.context("cannot create a python venv (install python3-venv)")?;
    }
    cmd::run_step(
        "pip install pyarrow pandas zstandard onnxruntime duckdb polars pyyaml moto[server]",
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
            .args(PYTHON_PACKAGES),
    )?;
    Ok(python)
}
