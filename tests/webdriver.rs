//! A minimal W3C WebDriver client for the live-browser tests: starts
//! `chromedriver` on a free port, opens a headless Chromium session, and
//! speaks WebDriver's JSON over plain HTTP/1.1 (one request per
//! connection), so the tests need no extra dependency. Enough for
//! navigating, running scripts, pressing keys and taking screenshots.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// What can go wrong talking to the browser.
pub type WebDriverResult<T> = Result<T, String>;

/// A chromedriver process and one browser session; both end on drop.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

/// `CIS490_CHROMEDRIVER`, or Debian's `/usr/bin/chromedriver`.
pub fn find_chromedriver() -> Option<PathBuf> {
    std::env::var_os("CIS490_CHROMEDRIVER")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/bin/chromedriver")))
        .filter(|p| p.is_file())
}

fn free_port() -> WebDriverResult<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// One HTTP request to `127.0.0.1:port`; returns the status and JSON body.
fn request(port: u16, method: &str, path: &str, body: Option<&Value>) -> WebDriverResult<(u16, Value)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("chromedriver: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(60))).map_err(|e| e.to_string())?;
    let payload = body.map(Value::to_string).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    );
    stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(payload.as_bytes())).map_err(|e| e.to_string())?;
    let raw = read_reply(&mut stream).map_err(|e| format!("reading the reply to {method} {path}: {e}"))?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| format!("{method} {path}: no HTTP reply"))?;
    let status: u16 = head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or("no HTTP status")?;
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_string() };
    let value =
        serde_json::from_str(&body).map_err(|e| format!("{method} {path}: reply is not JSON ({e}): {body:.200}"))?;
    Ok((status, value))
}

/// Reads one HTTP reply: the head, then `Content-Length` bytes, or up to
/// the last chunk, or to the end (chromedriver may keep the connection open
/// despite `Connection: close`, so reading to the end alone can hang).
fn read_reply(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(raw);
        }
        raw.extend_from_slice(&buf[..n]);
        let Some(head_end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
        let body = &raw[head_end + 4..];
        let length =
            head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok());
        let complete = match length {
            Some(length) => body.len() >= length,
            None if head.contains("transfer-encoding: chunked") => body.ends_with(b"0\r\n\r\n"),
            None => false,
        };
        if complete {
            return Ok(raw);
        }
    }
}

/// Decodes an HTTP/1.1 chunked body.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Standard base64 (for screenshots).
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let digits: Vec<u8> = text.bytes().filter_map(value).collect();
    digits
        .chunks(4)
        .flat_map(|c| {
            let n = c.iter().enumerate().fold(0u32, |acc, (i, d)| acc | (u32::from(*d) << (18 - 6 * i)));
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            bytes.into_iter().take(c.len().saturating_sub(1))
        })
        .collect()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session.
    pub fn start(chromedriver: &Path, chromium: &Path) -> WebDriverResult<Browser> {
        let port = free_port()?;
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", chromedriver.display()))?;
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut browser = Browser { driver, port, session: String::new(), _profile: profile };
        let deadline = Instant::now() + Duration::from_secs(20);
        while request(port, "GET", "/status", None).is_err() {
            if Instant::now() > deadline {
                return Err("chromedriver did not answer within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let args = crate::browser::CHROMIUM_FLAGS
            .map(String::from)
            .into_iter()
            .chain(["--window-size=1280,900".to_string()])
            .chain([format!("--user-data-dir={}", browser._profile.path().display())])
            .collect::<Vec<_>>();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium.display().to_string(), "args": args},
        }}});
        let (status, reply) = request(port, "POST", "/session", Some(&capabilities))?;
        browser.session = reply["value"]["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session (HTTP {status}): {}", reply["value"]))?
            .to_string();
        Ok(browser)
    }

    fn command(&self, method: &str, what: &str, body: Option<Value>) -> WebDriverResult<Value> {
        let path = format!("/session/{}/{what}", self.session);
        let (status, reply) = request(self.port, method, &path, body.as_ref())?;
        if status >= 400 {
            return Err(format!("{method} {what}: HTTP {status}: {}", reply["value"]));
        }
        Ok(reply["value"].clone())
    }

    /// Opens `url` and waits for the page's load event.
    pub fn goto(&self, url: &str) -> WebDriverResult<()> {
        self.command("POST", "url", Some(json!({"url": url}))).map(drop)
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub fn run(&self, script: &str, args: Value) -> WebDriverResult<Value> {
        self.command("POST", "execute/sync", Some(json!({"script": script, "args": args})))
    }

    /// Runs an async `script` that calls `arguments[arguments.length - 1]` with its result.
    pub fn run_async(&self, script: &str) -> WebDriverResult<Value> {
        self.command("POST", "execute/async", Some(json!({"script": script, "args": []})))
    }

    /// Presses and releases one key (a WebDriver key code such as `\u{E014}` for →).
    pub fn press(&self, key: &str) -> WebDriverResult<()> {
        let actions = json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key},
        ]}]});
        self.command("POST", "actions", Some(actions)).map(drop)
    }

    /// Evaluates `expression` every 50 ms until it is truthy or `timeout` passes.
    pub fn wait_for(&self, expression: &str, timeout: Duration) -> WebDriverResult<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.run(&format!("return ({expression});"), json!([]))?;
            let truthy = !matches!(value, Value::Null | Value::Bool(false)) && value != json!(0) && value != json!("");
            if truthy {
                return Ok(value);
            }
            if Instant::now() > deadline {
                return Err(format!("waited {} s for `{expression}`", timeout.as_secs_f64()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs a Chrome DevTools Protocol command (`Emulation.…`) and returns its result.
    pub fn cdp(&self, command: &str, params: Value) -> WebDriverResult<Value> {
        self.command("POST", "goog/cdp/execute", Some(json!({"cmd": command, "params": params})))
    }

    /// Makes the page's viewport exactly `width` × `height` CSS px.
    pub fn set_viewport(&self, width: u32, height: u32) -> WebDriverResult<()> {
        let metrics = json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false});
        self.cdp("Emulation.setDeviceMetricsOverride", metrics).map(drop)
    }

    /// Saves a PNG of the viewport to `path`.
    pub fn screenshot(&self, path: &Path) -> WebDriverResult<()> {
        match self.command("GET", "screenshot", None)? {
            Value::String(png) => {
                std::fs::write(path, base64_decode(&png)).map_err(|e| format!("cannot write {}: {e}", path.display()))
            }
            other => Err(format!("screenshot: unexpected reply {other}")),
        }
    }

    /// Saves a screenshot and the DOM under `dir` (for failures); returns where.
    pub fn save_artifacts(&self, dir: &Path, name: &str) -> String {
        let _ = std::fs::create_dir_all(dir);
        if let Ok(Value::String(png)) = self.command("GET", "screenshot", None) {
            let _ = std::fs::write(dir.join(format!("{name}.png")), base64_decode(&png));
        }
        if let Ok(Value::String(dom)) = self.run("return document.documentElement.outerHTML;", json!([])) {
            let _ = std::fs::write(dir.join(format!("{name}.html")), dom);
        }
        dir.display().to_string()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = request(self.port, "DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_chunked_bodies_decode() {
        assert_eq!(base64_decode("aGVsbG8="), b"hello");
        assert_eq!(base64_decode("aGk="), b"hi");
        assert_eq!(base64_decode("YWJj"), b"abc");
        assert_eq!(dechunk("5\r\nhello\r\n3\r\n wo\r\n0\r\n\r\n"), "hello wo");
    }
}
