//! `--store s3://bucket/prefix` against a local S3-compatible server (the
//! `moto` server from the test venv, started here on 127.0.0.1): the index,
//! summary and features from the bucket equal those from the same files on
//! disk; a second sweep reuses every row, a sharded one merges into the
//! same index; a missing bucket is a clear error and a garbage object that
//! episode's `errored` row. Runs when
//! `CIS490_PYTHON` names a Python with moto and boto3 (`cargo xtask test`
//! sets it).

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const BIN: &str = env!("CARGO_BIN_EXE_cis490");
const BUCKET: &str = "cis490-lab";

/// The moto server, stopped when dropped.
struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start_moto(python: &Path) -> Result<(Moto, String), Box<dyn std::error::Error>> {
    let port = free_port()?;
    let child = Command::new(python)
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let moto = Moto(child);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            return Err("the moto server did not start within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok((moto, format!("http://127.0.0.1:{port}")))
}

fn s3_env<'a>(cmd: &'a mut Command, endpoint: &str) -> &'a mut Command {
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("RUST_LOG", "error")
}

fn cis490(endpoint: &str, args: &[&str]) -> std::io::Result<Output> {
    s3_env(&mut Command::new(BIN), endpoint).args(args).output()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn ok(out: Output) -> Result<String, Box<dyn std::error::Error>> {
    if !out.status.success() {
        return Err(format!("cis490 failed: {}", text(&out)).into());
    }
    Ok(text(&out))
}

fn arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The JSON file without its fields that name where the inputs were.
fn json_without(path: &Path, fields: &[&str]) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let mut value: serde_json::Value = serde_json::from_slice(&fs::read(path)?)?;
    if let Some(map) = value.as_object_mut() {
        for field in fields {
            map.remove(*field);
        }
    }
    Ok(value)
}

/// Files as (path in the feature folder, bytes).
type Shards = Vec<(PathBuf, Vec<u8>)>;

fn shard_files(dir: &Path) -> Result<Shards, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    for kind in ["summary", "tensors"] {
        let mut names: Vec<PathBuf> = fs::read_dir(dir.join(kind))?.filter_map(Result::ok).map(|e| e.path()).collect();
        names.sort();
        for path in names {
            let rel = path.strip_prefix(dir)?.to_path_buf();
            out.push((rel, fs::read(&path)?));
        }
    }
    Ok(out)
}

#[test]
fn a_store_in_an_s3_bucket_validates_and_extracts_as_on_disk() -> TestResult {
    let Some(python) = std::env::var_os("CIS490_PYTHON").map(PathBuf::from) else {
        eprintln!(
            "object store test skipped: set CIS490_PYTHON to a python with moto[server] and boto3 (cargo xtask test does)"
        );
        return Ok(());
    };
    let (_moto, endpoint) = start_moto(&python)?;
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let store = dir.join("store");
    ok(cis490(
        &endpoint,
        &["synth", "--out", &arg(&store), "--episodes", "90", "--fault-rate", "0.35", "--seed", "11"],
    )?)?;
    fs::write(store.join("notes.txt"), b"not an episode")?;
    fs::write(store.join("lab-pc-01").join("Not An Episode.tar.zst"), b"x")?;

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/s3_put.py");
    let mut put = Command::new(&python);
    s3_env(&mut put, &endpoint).arg(script).args([&endpoint, BUCKET, "receiver/store", &arg(&store)]);
    let put = ok(put.output()?)?;
    assert!(put.trim().parse::<usize>().is_ok_and(|n| n >= 92), "objects put: {put}");
    let url = format!("s3://{BUCKET}/receiver/store");

    // Validate: the same index, byte for byte, and the same summary.
    let (local_val, s3_val) = (dir.join("local-validation"), dir.join("s3-validation"));
    ok(cis490(&endpoint, &["validate", "--store", &arg(&store), "--out", &arg(&local_val)])?)?;
    let said = ok(cis490(&endpoint, &["validate", "--store", &url, "--out", &arg(&s3_val)])?)?;
    assert!(said.contains("across 90 episodes"), "{said}");
    let index = "validation_v1.parquet";
    assert!(fs::read(local_val.join(index))? == fs::read(s3_val.join(index))?, "the index from s3:// differs");
    let summary = "validation_summary.json";
    assert_eq!(json_without(&local_val.join(summary), &["store"])?, json_without(&s3_val.join(summary), &["store"])?);
    let s3_summary = fs::read_to_string(s3_val.join(summary))?;
    assert!(s3_summary.contains(&url) && s3_summary.contains("notes.txt"), "{s3_summary}");

    // A second sweep of the unchanged bucket reads nothing again.
    let again = ok(cis490(&endpoint, &["validate", "--store", &url, "--out", &arg(&s3_val)])?)?;
    assert!(again.contains("90 of 90 rows reused"), "{again}");

    // Extract from the bucket: the same shards and summary as from disk.
    let (local_feat, s3_feat) = (dir.join("local-features"), dir.join("s3-features"));
    let local_index = arg(&local_val.join(index));
    ok(cis490(&endpoint, &["extract", "--store", &arg(&store), "--index", &local_index, "--out", &arg(&local_feat)])?)?;
    let s3_index = arg(&s3_val.join(index));
    ok(cis490(&endpoint, &["extract", "--store", &url, "--index", &s3_index, "--out", &arg(&s3_feat)])?)?;
    let extracted = "extract_summary.json";
    assert_eq!(
        json_without(&local_feat.join(extracted), &["store", "index"])?,
        json_without(&s3_feat.join(extracted), &["store", "index"])?
    );
    assert!(shard_files(&local_feat)? == shard_files(&s3_feat)?, "the shards from s3:// differ");
    // Incremental extraction from the bucket (sizes from its listing).
    let again = ok(cis490(&endpoint, &["extract", "--store", &url, "--index", &s3_index, "--out", &arg(&s3_feat)])?)?;
    assert!(again.contains("rows kept from the earlier extraction, 0 extracted"), "{again}");

    // Sharded validation from the bucket merges into the same index.
    let parts = dir.join("parts");
    for i in 0..2 {
        ok(cis490(&endpoint, &["validate", "--store", &url, "--out", &arg(&parts), "--shard", &format!("{i}/2")])?)?;
    }
    let merged = dir.join("merged");
    ok(cis490(&endpoint, &["merge", "--validation", &arg(&parts), "--out", &arg(&merged)])?)?;
    assert!(fs::read(merged.join(index))? == fs::read(s3_val.join(index))?, "the merged s3 index differs");

    // A missing bucket stops the sweep with an error naming it.
    let out = cis490(&endpoint, &["validate", "--store", "s3://no-such-bucket/x", "--out", &arg(&dir.join("none"))])?;
    assert!(!out.status.success());
    assert!(text(&out).contains("s3://no-such-bucket/x"), "{}", text(&out));
    assert!(!dir.join("none").exists());
    // A bad object is that episode's row, not a stopped sweep: replace one
    // accepted archive with garbage in the bucket.
    let rows = cis490_pipeline::validate::index::read_index(&s3_val.join(index))?;
    let accepted = rows.iter().find(|r| r.status.is_usable()).ok_or("no usable episode")?;
    let garbage = dir.join("garbage");
    fs::create_dir_all(garbage.join(accepted.host_id.as_str()))?;
    fs::write(garbage.join(&accepted.path), b"\x28\xb5\x2f\xfd garbage")?;
    let mut put = Command::new(&python);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/s3_put.py");
    s3_env(&mut put, &endpoint).arg(script).args([&endpoint, BUCKET, "receiver/store", &arg(&garbage)]);
    ok(put.output()?)?;
    let said = ok(cis490(&endpoint, &["validate", "--store", &url, "--out", &arg(&s3_val)])?)?;
    assert!(said.contains("across 90 episodes") && said.contains("89 of 90 rows reused"), "{said}");
    let rows = cis490_pipeline::validate::index::read_index(&s3_val.join(index))?;
    let row = rows.iter().find(|r| r.path == accepted.path).ok_or("row gone")?;
    assert_eq!(row.status.to_string(), "errored", "{row:?}");
    Ok(())
}

#[test]
fn other_schemes_and_relative_file_urls_are_refused_by_name() -> TestResult {
    let dir = tempfile::tempdir()?;
    let out = Command::new(BIN)
        .args(["validate", "--store", "gs://bucket/x", "--out", &arg(&dir.path().join("o"))])
        .env("RUST_LOG", "error")
        .output()?;
    assert!(!out.status.success());
    assert!(text(&out).contains("gs:// is not supported"), "{}", text(&out));
    let out = Command::new(BIN)
        .args(["validate", "--store", "file://relative/x", "--out", &arg(&dir.path().join("o"))])
        .output()?;
    assert!(!out.status.success() && text(&out).contains("absolute path"), "{}", text(&out));
    Ok(())
}
