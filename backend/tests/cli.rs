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
