//! Files served from a folder, never through a link that leads out of it:
//! every path is resolved to its canonical form and served only when that
//! lies inside the folder's canonical path (a link within the folder is
//! fine). Used for the dashboard's static files (`--public`) and the run's
//! ONNX models (`--run`).
//!
//! Static files keep what `ServeDir` did: `index.html` for a folder, the
//! single-page-app fallback to `index.html` for a path that does not exist,
//! and content types, ranges and conditional requests (tower-http's
//! `ServeFile` serves the resolved file).
//!
//! A file with compressed copies beside it (`<file>.br` and `<file>.gz`,
//! which `cargo xtask bundle` writes for the wasm bundles) is sent as the
//! copy the client prefers among those it accepts: the runner's 10 MB go
//! over a Pi's Wi-Fi as ~2.5 MB gzipped, less as brotli. A copy is used
//! only when it lies inside the folder too and is not older than the file
//! (a stale copy is never served). Every static answer
//! says `Cache-Control: no-cache` (a browser revalidates with
//! `If-Modified-Since` and gets a 304 while the file is unchanged; the
//! bundle's names carry no hash, so nothing may be cached blindly) and
//! `Vary: Accept-Encoding`, and carries a weak `ETag` made of the file's
//! size and modification time to the nanosecond (and its compressed
//! copies'): `If-None-Match` gets a 304 too, and unlike
//! `If-Modified-Since` (whole seconds) it sees a rebuild within the same
//! second.

use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, OnceLock};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use tower_http::services::ServeFile;

use super::json_error;

/// A folder whose files may be served. Its path is resolved (made
/// canonical) the first time it exists and kept from then on, so a folder
/// made after the server started (the demo's run, trained while the hub
/// already serves) is served once it exists, and a folder that does not
/// exist serves nothing.
#[derive(Debug, Clone)]
pub struct Folder {
    path: PathBuf,
    canonical: OnceLock<PathBuf>,
}

impl Folder {
    /// The folder at `path` (nothing is read yet).
    pub fn new(path: &Path) -> Self {
        Self { path: path.to_path_buf(), canonical: OnceLock::new() }
    }

    /// The folder's canonical path, once it exists.
    fn root(&self) -> Option<&Path> {
        if let Some(root) = self.canonical.get() {
            return Some(root);
        }
        let root = self.path.canonicalize().ok()?;
        Some(self.canonical.get_or_init(|| root))
    }

    /// The folder's path as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The canonical path of `relative` (a path of normal components) when
    /// it exists and lies inside the folder; `Err(true)` when it exists but
    /// leads out, `Err(false)` when it (or the folder) does not exist.
    fn contained(&self, relative: &Path) -> Result<PathBuf, bool> {
        let root = self.root().ok_or(false)?;
        let real = root.join(relative).canonicalize().map_err(|_| false)?;
        if real.starts_with(root) { Ok(real) } else { Err(true) }
    }

    /// The canonical path of the file `relative`, if it is a file inside the folder.
    pub fn file(&self, relative: &Path) -> Option<PathBuf> {
        self.contained(relative).ok().filter(|p| p.is_file())
    }

    /// Whether `file` (a canonical path inside the folder) has a compressed
    /// copy `<file>.<encoding's extension>` that is a file inside the
    /// folder and not older than `file`.
    fn has_fresh_copy(&self, file: &Path, encoding: Encoding) -> bool {
        let Ok(copy) = compressed_copy(file, encoding).canonicalize() else { return false };
        let Some(root) = self.root() else { return false };
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        copy.starts_with(root)
            && copy.is_file()
            && matches!((modified(&copy), modified(file)), (Some(copy), Some(original)) if copy >= original)
    }

    /// What a static-file request for `relative` serves: the file, a
    /// folder's `index.html`, or the folder's own `index.html` for a path
    /// that does not exist; `None` for a path that leads out (or nothing
    /// to fall back on).
    fn static_file(&self, relative: &Path) -> Option<PathBuf> {
        let index = || self.file(Path::new("index.html"));
        match self.contained(relative) {
            Ok(real) if real.is_dir() => self.file(&relative.join("index.html")).or_else(index),
            // Only regular files: a FIFO or a device would hold a worker.
            Ok(real) => real.is_file().then_some(real),
            Err(true) => None,
            Err(false) => index(),
        }
    }
}

/// The folder-relative path of a request path: percent-decoded, normal
/// components only (`None` for `..`, a root or a drive inside a component).
fn relative_path(request_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode_str(request_path.trim_start_matches('/')).decode_utf8().ok()?;
    let mut relative = PathBuf::new();
    for component in Path::new(&*decoded).components() {
        match component {
            Component::Normal(part) if Path::new(part).components().all(|c| matches!(c, Component::Normal(_))) => {
                relative.push(part);
            }
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(relative)
}

/// A precompressed copy's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// `<file>.br`.
    Brotli,
    /// `<file>.gz`.
    Gzip,
}

impl Encoding {
    /// Every encoding a copy may have.
    const ALL: [Self; 2] = [Self::Brotli, Self::Gzip];

    fn extension(self) -> &'static str {
        match self {
            Self::Brotli => "br",
            Self::Gzip => "gz",
        }
    }
}

/// `<file>.br` or `<file>.gz`, where `cargo xtask bundle` puts a file's
/// compressed copies.
fn compressed_copy(file: &Path, encoding: Encoding) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".");
    name.push(encoding.extension());
    PathBuf::from(name)
}

/// Size and modification time (ns since the epoch) of `file`, in hex.
fn stamp(file: &Path) -> Option<String> {
    let meta = std::fs::metadata(file).ok()?;
    let modified = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(format!("{:x}-{:x}", meta.len(), modified.as_nanos()))
}

/// The weak validator of `file` as served: its stamp, and the stamps of
/// the compressed `copies` that may be sent instead (one tag for every
/// encoding: they are the same content, and the answer varies by
/// `Accept-Encoding`).
fn etag_of(file: &Path, copies: &[PathBuf]) -> Option<HeaderValue> {
    let mut tag = stamp(file)?;
    for copy in copies {
        tag = format!("{tag}-{}", stamp(copy)?);
    }
    HeaderValue::from_str(&format!("W/\"{tag}\"")).ok()
}

/// Whether an `If-None-Match` value (`*` or a list of tags) names `etag`,
/// compared weakly (the `W/` prefix ignored), as RFC 9110 asks for it.
fn none_match_names(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let (Ok(list), Ok(tag)) = (if_none_match.to_str(), etag.to_str()) else { return false };
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_string();
    list.split(',').any(|candidate| candidate.trim() == "*" || opaque(candidate) == opaque(tag))
}

/// The headers every static answer carries.
fn static_headers(headers: &mut axum::http::HeaderMap, etag: Option<HeaderValue>) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(etag) = etag {
        headers.insert(header::ETAG, etag);
    }
}

/// The fallback handler (GET and HEAD): the dashboard's static files.
pub async fn static_files(State(public): State<Arc<Folder>>, request: Request) -> Response {
    let Some(file) = relative_path(request.uri().path()).and_then(|relative| public.static_file(&relative)) else {
        return json_error(StatusCode::NOT_FOUND, "not found");
    };
    let encodings: Vec<Encoding> =
        Encoding::ALL.into_iter().filter(|&encoding| public.has_fresh_copy(&file, encoding)).collect();
    let copies: Vec<PathBuf> = encodings.iter().map(|&encoding| compressed_copy(&file, encoding)).collect();
    let etag = etag_of(&file, &copies);
    if let (Some(asked), Some(tag)) = (request.headers().get(header::IF_NONE_MATCH), etag.as_ref())
        && none_match_names(asked, tag)
    {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        static_headers(response.headers_mut(), etag);
        return response;
    }
    // ServeFile picks the copy the client prefers (`Accept-Encoding`, with
    // its q-values), or the file itself.
    let mut serve = encodings.iter().fold(ServeFile::new(&file), |serve, encoding| match encoding {
        Encoding::Brotli => serve.precompressed_br(),
        Encoding::Gzip => serve.precompressed_gzip(),
    });
    match serve.try_call(request).await {
        Ok(response) => {
            let mut response = response.into_response();
            let validated = response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED;
            static_headers(response.headers_mut(), etag.filter(|_| validated));
            response
        }
        Err(e) => {
            tracing::warn!(file = %file.display(), "cannot serve: {e}");
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "cannot read the file")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_tags_weakly_and_takes_lists_and_a_star() {
        let tag = HeaderValue::from_static("W/\"1a-2b\"");
        let names = |asked: &'static str| none_match_names(&HeaderValue::from_static(asked), &tag);
        assert!(names("W/\"1a-2b\""));
        assert!(names("\"1a-2b\""), "weak comparison ignores W/");
        assert!(names("\"x\", W/\"1a-2b\""));
        assert!(names("*"));
        assert!(!names("W/\"1a-2c\""));
        assert!(!names(""));
    }

    #[test]
    fn the_validator_changes_with_the_file_and_its_copy() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("app.js");
        std::fs::write(&file, "one")?;
        let first = etag_of(&file, &[]).ok_or("no tag")?;
        std::fs::write(&file, "two!")?;
        let second = etag_of(&file, &[]).ok_or("no tag")?;
        assert_ne!(first, second, "a rewrite (here: a new size) is a new tag");
        let gzip = compressed_copy(&file, Encoding::Gzip);
        std::fs::write(&gzip, "GZ")?;
        let zipped = etag_of(&file, std::slice::from_ref(&gzip)).ok_or("no tag")?;
        assert_ne!(zipped, second);
        assert!(zipped.to_str()?.starts_with("W/\""));
        let brotli = compressed_copy(&file, Encoding::Brotli);
        assert_eq!(brotli.file_name().and_then(|n| n.to_str()), Some("app.js.br"));
        std::fs::write(&brotli, "BR")?;
        let both = etag_of(&file, &[brotli, gzip]).ok_or("no tag")?;
        assert_ne!(both, zipped, "a new copy is a new tag");
        assert_eq!(etag_of(&dir.path().join("missing"), &[]), None);
        Ok(())
    }

    #[test]
    fn request_paths_are_decoded_and_parent_components_refused() {
        assert_eq!(relative_path("/pkg/app%20one.js"), Some(PathBuf::from("pkg/app one.js")));
        assert_eq!(relative_path("/./a/"), Some(PathBuf::from("a")));
        assert_eq!(relative_path("/"), Some(PathBuf::new()));
        assert_eq!(relative_path("/../etc/passwd"), None);
        assert_eq!(relative_path("/a/%2e%2e/%2e%2e/etc"), None);
        assert_eq!(relative_path("/%ff"), None, "not UTF-8");
    }

    #[cfg(unix)]
    #[test]
    fn links_out_of_the_folder_are_not_followed() -> Result<(), Box<dyn std::error::Error>> {
        let outside = tempfile::tempdir()?;
        std::fs::write(outside.path().join("secret.txt"), "secret")?;
        let public = tempfile::tempdir()?;
        std::fs::write(public.path().join("index.html"), "<html>")?;
        std::fs::create_dir(public.path().join("pkg"))?;
        std::fs::write(public.path().join("pkg/app.js"), "js")?;
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), public.path().join("leak.txt"))?;
        std::os::unix::fs::symlink(outside.path(), public.path().join("out"))?;
        std::os::unix::fs::symlink(public.path().join("pkg/app.js"), public.path().join("alias.js"))?;
        let folder = Folder::new(public.path());
        let real = |p: &str| public.path().join(p).canonicalize().ok();
        assert_eq!(folder.static_file(Path::new("pkg/app.js")), real("pkg/app.js"));
        assert_eq!(folder.static_file(Path::new("alias.js")), real("pkg/app.js"), "a link inside is fine");
        assert_eq!(folder.static_file(Path::new("")), real("index.html"));
        assert_eq!(folder.static_file(Path::new("scene/replay")), real("index.html"), "the SPA fallback");
        assert_eq!(folder.static_file(Path::new("pkg")), real("index.html"), "a folder without index.html");
        assert_eq!(folder.static_file(Path::new("leak.txt")), None);
        assert_eq!(folder.static_file(Path::new("out/secret.txt")), None);
        assert_eq!(folder.file(Path::new("out/secret.txt")), None);
        Ok(())
    }

    /// The demo's hub starts before its run exists, and the folder's path
    /// may be relative or pass through a link: it is served once made.
    #[cfg(unix)]
    #[test]
    fn a_folder_made_after_the_server_started_is_served() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir(dir.path().join("real"))?;
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("link"))?;
        let folder = Folder::new(&dir.path().join("link/run"));
        assert_eq!(folder.file(Path::new("gbt-oracle/model.onnx")), None, "nothing yet");
        std::fs::create_dir_all(dir.path().join("real/run/gbt-oracle"))?;
        std::fs::write(dir.path().join("real/run/gbt-oracle/model.onnx"), b"onnx")?;
        let made = dir.path().join("real/run/gbt-oracle/model.onnx").canonicalize()?;
        assert_eq!(folder.file(Path::new("gbt-oracle/model.onnx")), Some(made));
        Ok(())
    }
}
