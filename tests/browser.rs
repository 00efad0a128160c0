//! What the real-browser tests share: where the bundle and Chromium are,
//! and whether the tests can run here.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Chromium flags for headless runs on this kind of machine (no GPU, no
/// sandbox as root, nothing fetched in the background).
pub const CHROMIUM_FLAGS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// `CIS490_PUBLIC_DIR`, or the workspace's `public/`.
pub fn public_dir() -> PathBuf {
    std::env::var_os("CIS490_PUBLIC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../public"))
}

/// Finds Chromium and checks the bundle exists. Returns `None` (after
/// printing why) when the test should be skipped; panics instead when
/// `CIS490_REQUIRE_BROWSER=1`.
pub fn prerequisites(public_dir: &Path) -> Option<PathBuf> {
    let chromium = find_chromium();
    let wasm = public_dir.join("pkg/cis490_frontend_bg.wasm");
    let missing = match &chromium {
        None => Some("no Chromium found (set CIS490_CHROMIUM or run `cargo xtask setup`)".to_owned()),
        Some(_) if !wasm.is_file() => {
            Some(format!("no dashboard bundle at {} (run `cargo xtask bundle`)", wasm.display()))
        }
        Some(_) => None,
    };
    match missing {
        Some(reason) => skip(&reason),
        None => chromium,
    }
}

/// Says why a browser test is skipped, or fails it under `CIS490_REQUIRE_BROWSER=1`.
fn skip<T>(reason: &str) -> Option<T> {
    if std::env::var("CIS490_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!("CIS490_REQUIRE_BROWSER=1 but {reason}");
    }
    note(&format!("skipped: browser test: {reason}"));
    None
}

/// Chromium and chromedriver for the live (WebDriver) tests, with the
/// same skip rules as [`prerequisites`].
pub fn live_prerequisites(public_dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let chromium = prerequisites(public_dir)?;
    match crate::webdriver::find_chromedriver() {
        Some(driver) => Some((chromium, driver)),
        None => skip("no chromedriver (set CIS490_CHROMEDRIVER or run `cargo xtask setup`)"),
    }
}

/// `CIS490_CHROMIUM`, or Debian's Chromium.
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CIS490_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().map(PathBuf::from).find(|path| path.is_file())
}

/// Writes a line straight to stderr, past libtest's output capture, so a
/// skip is visible in a normal `cargo test` run.
pub fn note(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}
