//! The dashboard on the screens it is used on, in headless Chromium: the
//! Pi kiosk's 800 × 480 touch display and a 1080-line wall screen, a
//! 1280 × 720 and a 1366 × 768 lecture projector, a 1920 × 1080 desk.
//! With a hub holding what a lab's hub holds after a demo (twelve models'
//! training curves and evaluation, a 46-channel replay with every model's
//! predictions, profiles, perf), every scene in every mode is checked
//! page by page: the document never scrolls, the header is one line,
//! and nothing on the visible page is cut by the screen's edge (each
//! fragment of every chart, table row, heading and paragraph is on the
//! page or on a later one). →/PgDn/Space step through the pages and then
//! to the next scene; kiosk rotation steps through pages too.
//!
//! A screenshot of each scene's first page is written under
//! `$CARGO_TARGET_TMPDIR/screens/`; those of the kiosk 800 × 480, lecture
//! 1280 × 720 and desk 1920 × 1080 go to `$CIS490_SCREENSHOT_DIR` instead
//! when it is set (the README's and docs' images:
//! `CIS490_SCREENSHOT_DIR=$PWD/docs/screenshots cargo test --test screens`). Skipped (with a line saying
//! why) without Chromium, chromedriver or a built bundle, unless
//! `CIS490_REQUIRE_BROWSER=1`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cis490_tests::live::{checked, full_scene_events, start_serving};
use cis490_tests::webdriver::Browser;
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Every scene, in rotation order, with an element that shows its content
/// has arrived.
const SCENES: [(&str, &str); 7] = [
    ("overview", "[data-testid=validation-summary] .counts"),
    ("replay", "[data-testid=band-truth]"),
    ("training", "[data-testid^=curve-]"),
    ("metrics", "[data-testid=confusion]"),
    ("perf", "[data-testid=scene-perf] figure"),
    ("profiles", "[data-testid^=profile-]"),
    ("browser", "[data-testid=scene-browser]"),
];

/// A screen: the mode's query, its size, a name for the screenshots and
/// whether they are the docs' images.
struct Screen {
    name: &'static str,
    docs: bool,
    query: &'static str,
    width: u32,
    height: u32,
}

const SCREENS: [Screen; 5] = [
    Screen { name: "kiosk-800x480", docs: true, query: "kiosk&rotate=3600&theme=dark", width: 800, height: 480 },
    Screen { name: "lecture-1280x720", docs: true, query: "present", width: 1280, height: 720 },
    Screen { name: "lecture-1366x768", docs: false, query: "present", width: 1366, height: 768 },
    Screen { name: "desk-1920x1080", docs: true, query: "theme=dark", width: 1920, height: 1080 },
    Screen { name: "kiosk-1920x1080", docs: false, query: "kiosk&rotate=3600", width: 1920, height: 1080 },
];

/// What is wrong with the page as shown: document scroll, a header over
/// one line, anything on the visible page cut by `<main>`'s edges.
const FIT_CHECK: &str = r#"
const d = document.documentElement, main = document.querySelector('main');
const m = main.getBoundingClientRect();
const problems = [];
if (d.scrollHeight > innerHeight || d.scrollWidth > innerWidth) {
  problems.push(`the page scrolls: ${d.scrollWidth} x ${d.scrollHeight} in ${innerWidth} x ${innerHeight}`);
}
const header = document.querySelector('.site-header');
const tops = [...header.children].filter(c => c.getClientRects().length).map(c => c.getBoundingClientRect());
const spread = Math.max(...tops.map(r => r.top + r.height / 2)) - Math.min(...tops.map(r => r.top + r.height / 2));
if (spread > 4) problems.push(`the header wraps (its items' centres ${spread.toFixed(0)} px apart)`);
const name = el => (el.dataset.testid || el.tagName.toLowerCase() + (el.className && el.className.baseVal === undefined ? '.' + el.className : ''));
for (const el of main.querySelectorAll('figure, canvas, svg, tr, h2, h3, p, .band-row, .job, button, select, label')) {
  for (const r of el.getClientRects()) {
    if (r.width === 0 || r.height === 0) continue;
    if (r.left >= m.right - 1 || r.right <= m.left + 1) continue; // another page
    const cut = [];
    if (r.right > m.right + 1) cut.push(`right by ${(r.right - m.right).toFixed(0)} px`);
    if (r.bottom > m.bottom + 1) cut.push(`bottom by ${(r.bottom - m.bottom).toFixed(0)} px`);
    if (r.top < m.top - 1) cut.push(`top by ${(m.top - r.top).toFixed(0)} px`);
    if (r.left < m.left - 1) cut.push(`left by ${(m.left - r.left).toFixed(0)} px`);
    if (cut.length) { problems.push(`${name(el)} cut at the ${cut.join(', ')}`); break; }
  }
  if (problems.length > 6) break;
}
return {problems, page: +main.dataset.page, pages: +main.dataset.pages,
        header: Math.round(header.getBoundingClientRect().height)};
"#;

/// Where the screenshots of `screen` go: the docs' screens to
/// `$CIS490_SCREENSHOT_DIR` when set, everything else under the target dir.
fn screenshot_dir(screen: &Screen) -> PathBuf {
    match std::env::var_os("CIS490_SCREENSHOT_DIR") {
        Some(dir) if screen.docs => PathBuf::from(dir),
        _ => artifacts(),
    }
}

/// Runs [`FIT_CHECK`], adding what does not fit to `misfits`; returns
/// the page and page count, the header's height.
fn fit(browser: &Browser, what: &str, misfits: &mut Vec<String>) -> Result<(u64, u64, u64), String> {
    let check = browser.run(FIT_CHECK, json!([]))?;
    let problems: Vec<&str> =
        check["problems"].as_array().map(|p| p.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    if !problems.is_empty() {
        misfits.push(format!("{what}: {}", problems.join("; ")));
        let dir = artifacts();
        let shot = dir.join(format!("misfit-{}.png", what.replace(' ', "-")));
        if std::fs::create_dir_all(&dir).is_ok() && browser.screenshot(&shot).is_ok() {
            misfits.push(format!("  (screenshot: {})", shot.display()));
        }
    }
    let field = |k: &str| check[k].as_u64().ok_or_else(|| format!("{what}: no {k} in {check}"));
    Ok((field("page")?, field("pages")?, field("header")?))
}

/// Where a failing test's screenshot and DOM go.
fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("screens")
}

const PAGE_DOWN: &str = "\u{E00F}";

/// Shows `scene` on `screen`, checks every page (what does not fit goes
/// to `misfits`), returns the page count.
fn check_scene(
    browser: &Browser,
    base: &str,
    (screen, scene, ready): (&Screen, &str, &str),
    misfits: &mut Vec<String>,
) -> Result<u64, String> {
    let query = if screen.query.is_empty() { String::new() } else { format!("&{}", screen.query) };
    browser.goto(&format!("{base}/?scene={scene}{query}"))?;
    browser.wait_for(&format!("document.querySelector({ready:?})"), Duration::from_secs(30))?;
    // The pager measures once a second, the replay fits its strips then.
    std::thread::sleep(Duration::from_millis(2500));
    let what = format!("{} {scene}", screen.name);
    let (_, pages, header) = fit(browser, &format!("{what} page 1"), misfits)?;
    if u64::from(screen.height) < header * 8 {
        return Err(format!("{what}: the header is {header} px of {} px", screen.height));
    }
    let dir = screenshot_dir(screen);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    browser.screenshot(&dir.join(format!("{}-{scene}.png", screen.name)))?;
    for page in 1..pages {
        browser.press(PAGE_DOWN)?;
        browser
            .wait_for(&format!("document.querySelector('main').dataset.page === '{page}'"), Duration::from_secs(5))?;
        // Turning a page must not have grown the scene past what was counted.
        fit(browser, &format!("{what} page {}", page + 1), misfits)?;
    }
    if pages > 1 {
        // Past the last page: the next scene, on its first page.
        browser.press(PAGE_DOWN)?;
        browser.wait_for(
            &format!("document.querySelector('main').dataset.scene !== '{scene}' && document.querySelector('main').dataset.page === '0'"),
            Duration::from_secs(5),
        )?;
    }
    Ok(pages)
}

#[test]
fn every_scene_fits_every_screen_page_by_page() -> TestResult {
    let public = cis490_tests::browser::public_dir();
    let Some((chromium, driver)) = cis490_tests::browser::live_prerequisites(&public) else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store");
    cis490_tests::small_store(&store, 40, 490, 0.2);
    let validation = dir.path().join("validation");
    cis490_tests::validate_store(&store, &validation)?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let server = start_serving(&rt, &public, "127.0.0.1:0".parse()?, &full_scene_events(), |config| {
        config.validation_dir = Some(validation.clone());
    })?;
    let base = format!("http://{}", server.addr);
    let browser = Browser::start(&driver, &chromium)?;
    let mut report = Vec::new();
    let mut misfits = Vec::new();
    checked(&browser, &artifacts(), "every-scene", || {
        for screen in &SCREENS {
            browser.set_viewport(screen.width, screen.height)?;
            let mut pages = Vec::new();
            for (scene, ready) in SCENES {
                let count = check_scene(&browser, &base, (screen, scene, ready), &mut misfits)?;
                pages.push(format!("{scene} {count}"));
            }
            report.push(format!("{}: {}", screen.name, pages.join(", ")));
        }
        if misfits.is_empty() {
            Ok(())
        } else {
            Err(format!("{} pages do not fit:\n{}", misfits.len(), misfits.join("\n")))
        }
    })?;
    cis490_tests::browser::note(&format!("screens: pages per scene: {}", report.join("; ")));
    drop(browser);
    server.stop(&rt);
    Ok(())
}

/// The kiosk turns a multi-page scene's pages before it moves on.
#[test]
fn kiosk_rotation_steps_through_pages() -> TestResult {
    let public = cis490_tests::browser::public_dir();
    let Some((chromium, driver)) = cis490_tests::browser::live_prerequisites(&public) else {
        return Ok(());
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let server = start_serving(&rt, &public, "127.0.0.1:0".parse()?, &full_scene_events(), |_| {})?;
    let browser = Browser::start(&driver, &chromium)?;
    checked(&browser, &artifacts(), "kiosk-rotation", || {
        browser.set_viewport(800, 480)?;
        browser.goto(&format!("http://{}/?scene=metrics&kiosk&rotate=2", server.addr))?;
        browser.wait_for("document.querySelector('[data-testid=confusion]')", Duration::from_secs(30))?;
        browser.wait_for("+document.querySelector('main').dataset.pages > 1", Duration::from_secs(5))?;
        browser.wait_for(
            "document.querySelector('main').dataset.scene === 'metrics' && document.querySelector('main').dataset.page === '1'",
            Duration::from_secs(5),
        )?;
        let pages = browser.run("return +document.querySelector('main').dataset.pages;", json!([]))?;
        let wait = Duration::from_secs(2 * pages.as_u64().unwrap_or(1) + 5);
        browser.wait_for("document.querySelector('main').dataset.scene === 'perf'", wait)?;
        Ok(())
    })?;
    drop(browser);
    server.stop(&rt);
    Ok(())
}
