//! `cargo xtask pi`: the Raspberry Pi edge binary. Cross-compiles `cis490`
//! for `aarch64-unknown-linux-gnu` (64-bit Raspberry Pi OS) with Debian's
//! cross toolchain, without the `training` feature (no burn, no hessboost):
//! it replays episodes with `--models`, publishes profiles, metrics and
//! perf, and serves a kiosk hub. The build is linted by clippy as it
//! compiles (warnings are errors), which is the edge build's lint.
//!
//! Setup (idempotent): the rustup target, `gcc-aarch64-linux-gnu` and
//! `libc6-dev-arm64-cross` (the linker, and the C compiler for zstd), and,
//! for the test that runs the binary here, `qemu-user`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cmd, setup};

/// The Pi's Rust target (Raspberry Pi OS 64-bit, glibc).
pub const TARGET: &str = "aarch64-unknown-linux-gnu";
/// The cargo profile of the edge binary (`[profile.pi]`: release, stripped).
const PROFILE: &str = "pi";
/// Debian's cross compiler, used as the linker and for C dependencies.
const CROSS_GCC: &str = "aarch64-linux-gnu-gcc";
/// Debian's user-mode emulator for aarch64 binaries.
pub const QEMU: &str = "qemu-aarch64";
/// Where Debian's cross packages put the aarch64 glibc (qemu's `-L`).
pub const SYSROOT: &str = "/usr/aarch64-linux-gnu";

/// The rustup target and Debian's aarch64 cross toolchain.
pub fn setup_toolchain() -> Result<()> {
    setup::rust_target(TARGET)?;
    if cmd::exists(CROSS_GCC) {
        eprintln!("setup: {CROSS_GCC} already installed");
        return Ok(());
    }
    setup::apt_install(&["gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross"])
}

/// Debian's `qemu-user`, which runs the edge binary on this machine.
pub fn setup_qemu() -> Result<()> {
    if cmd::exists(QEMU) {
        eprintln!("setup: {QEMU} already installed");
        return Ok(());
    }
    setup::apt_install(&["qemu-user"])
}

/// Builds the edge binary and returns its path
/// (`<target dir>/aarch64-unknown-linux-gnu/pi/cis490`).
pub fn build(root: &Path, locked: bool) -> Result<PathBuf> {
    setup_toolchain()?;
    let mut command = cmd::cargo();
    command
        .args(["build", "--profile", PROFILE, "-p", "cis490-backend", "--bin", "cis490"])
        .args(["--no-default-features", "--target", TARGET])
        // Cargo's and the cc crate's names for the cross tools.
        .env("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER", CROSS_GCC)
        .env("CC_aarch64_unknown_linux_gnu", CROSS_GCC)
        .env("AR_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-ar")
        .current_dir(root);
    if locked {
        command.arg("--locked");
    }
    // Linted while it builds: the edge configuration (no `training`) of
    // the workspace's crates, warnings as errors.
    cmd::run_step("pi build", cmd::with_timings(cmd::linted(&mut command)?))?;
    let binary = cmd::target_dir(root)?.join(TARGET).join(PROFILE).join("cis490");
    let size = binary.metadata().with_context(|| format!("cargo finished but {} is missing", binary.display()))?.len();
    eprintln!("pi: {} ({:.1} MB, aarch64, no training stack)", binary.display(), size as f64 / 1e6);
    Ok(binary)
}

/// Runs `cis490 --version` under qemu: the binary starts on aarch64.
pub fn smoke(binary: &Path) -> Result<()> {
    setup_qemu()?;
    let version =
        cmd::output(Command::new(QEMU).arg("-L").arg(SYSROOT).arg(binary).arg("--version")).context("under qemu")?;
    if !version.starts_with("cis490 ") {
        bail!("`cis490 --version` under {QEMU} printed {version:?}");
    }
    eprintln!("pi: {} runs under {QEMU}", version.trim());
    Ok(())
}
