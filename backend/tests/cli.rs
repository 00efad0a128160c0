//! The `cis490` binary as a user runs it: the demo pipeline end to end
//! (without serving), and clear errors with a non-zero exit for bad input.

use std::process::{Command, Output};

fn cis490(args: &[&str]) -> std::io::Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_cis490")).args(args).env("RUST_LOG", "error").output()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn demo_runs_the_pipeline_and_writes_every_output() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let work = dir.path().join("demo");
    let work_arg = work.to_string_lossy().into_owned();
    let out = cis490(&["demo", "--no-serve", "--episodes", "60", "--workdir", &work_arg])?;
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(shown.contains("across 60 episodes"), "{shown}");
    assert!(shown.contains("extracted"), "{shown}");
    assert!(shown.contains("Host split"), "{shown}");
    for file in [
        "validation/validation_v1.parquet",
        "validation/validation_summary.json",
        "features/extract_summary.json",
        "features/summary/part-00000.parquet",
        "features/tensors/part-00000.parquet",
        "split-host.json",
        "split-host.norm.json",
    ] {
        assert!(work.join(file).is_file(), "{file} missing");
    }
    Ok(())
}

#[test]
fn bad_input_fails_with_a_message_naming_it() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let missing = dir.path().join("no-store").to_string_lossy().into_owned();
    let out_dir = dir.path().join("out").to_string_lossy().into_owned();
    let out = cis490(&["validate", "--store", &missing, "--out", &out_dir])?;
    assert!(!out.status.success());
    assert!(text(&out).contains("no-store"), "{}", text(&out));

    let store = dir.path().join("store").to_string_lossy().into_owned();
    let out = cis490(&["synth", "--out", &store, "--fault-rate", "2"])?;
    assert!(!out.status.success());
    assert!(text(&out).contains("--fault-rate"), "{}", text(&out));

    let out = cis490(&["serve", "--bind", "0.0.0.0:0"])?;
    assert!(!out.status.success());
    assert!(text(&out).contains("--token"), "{}", text(&out));

    let out = cis490(&["validate", "--store"])?;
    assert!(!out.status.success(), "a missing value is a usage error");

    // An episode is named by its ids: nothing else reaches a path.
    let hub = "http://127.0.0.1:9";
    let out = cis490(&["replay", "--store", &store, "--episode", "lab-pc-01/../../etc/x", "--hub", hub])?;
    assert!(!out.status.success());
    assert!(text(&out).contains("--episode") && text(&out).contains("not an episode id"), "{}", text(&out));

    // Devices and precisions are checked before anything is read; a GPU the
    // binary was built without names the feature to rebuild with.
    let out = cis490(&["train", "--features", &out_dir, "--split", &missing, "--out", &out_dir, "--device", "gpu:0"])?;
    assert!(!out.status.success() && text(&out).contains("gpu:0"), "{}", text(&out));
    let out = cis490(&["train", "--features", &out_dir, "--split", &missing, "--out", &out_dir, "--precision", "fp8"])?;
    assert!(!out.status.success() && text(&out).contains("fp8"), "{}", text(&out));
    let out = cis490(&["check-device", "--device", "cuda:1"])?;
    assert!(!out.status.success() && text(&out).contains("gpu-cuda"), "{}", text(&out));

    // Each cause is said once on the error line.
    let split = dir.path().join("no-split.json").to_string_lossy().into_owned();
    let out = cis490(&["eval", "--run", &out_dir, "--split", &split])?;
    assert!(!out.status.success());
    let line = text(&out);
    assert_eq!(line.matches("no-split.json").count(), 1, "{line}");
    assert_eq!(line.matches("No such file").count(), 1, "{line}");
    Ok(())
}

#[test]
fn an_unwritable_output_folder_is_named() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store)?;
    // A file where the output folder should be.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "x")?;
    let out_dir = blocker.join("out").to_string_lossy().into_owned();
    let out = cis490(&["validate", "--store", &store.to_string_lossy(), "--out", &out_dir])?;
    assert!(!out.status.success());
    assert!(text(&out).contains("not writable"), "{}", text(&out));
    Ok(())
}

/// `cis490 demo --publish-only` (what `cargo xtask demo` runs beside
/// `cis490-hub demo`) serves nothing and publishes its jobs to the hub at
/// `--bind`, reached on loopback when the bind address is unspecified,
/// with `--token`. The hub here is a bare listener recording each POST.
#[test]
fn demo_publish_only_sends_its_jobs_to_the_hub_at_bind() -> Result<(), Box<dyn std::error::Error>> {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::{Arc, Mutex};

    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let requests = Arc::new(Mutex::new(Vec::<String>::new()));
    let recorded = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut head = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_ok() {
                let _ =
                    reader.get_mut().write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                if let Ok(mut all) = recorded.lock() {
                    all.push(format!("{head}\r\n{}", String::from_utf8_lossy(&body)));
                }
            }
        }
    });
    let dir = tempfile::tempdir()?;
    let work = dir.path().join("demo");
    let mut demo = Command::new(env!("CARGO_BIN_EXE_cis490"))
        .args(["demo", "--publish-only", "--episodes", "12", "--bind", &format!("0.0.0.0:{port}")])
        .arg("--workdir")
        .arg(&work)
        .args(["--token", "sesame"])
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    // Extraction starts once validation has written its outputs.
    let validated = loop {
        let seen = requests.lock().map(|all| all.clone()).unwrap_or_default();
        if let Some(request) = seen.iter().find(|r| r.contains("\"progress\"") && r.contains("extract")) {
            break Some(request.clone());
        }
        if std::time::Instant::now() > deadline || demo.try_wait()?.is_some() {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let _ = demo.kill();
    let _ = demo.wait();
    let request = validated.ok_or("no extract progress reached the hub")?;
    assert!(request.starts_with("POST /publish "), "{request}");
    assert!(request.contains(&format!("127.0.0.1:{port}")), "loopback, not 0.0.0.0: {request}");
    assert!(request.contains("Authorization: Bearer sesame"), "{request}");
    assert!(work.join("validation/validation_summary.json").is_file(), "the demo writes where the hub serves");
    Ok(())
}
