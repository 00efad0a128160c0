//! Past one machine, as a cluster runs it: sharded `validate`/`extract`
//! in concurrent child processes plus `cis490 merge` write exactly what one
//! process writes (byte for byte); a missing or duplicated part is named;
//! the Slurm scripts of `deploy/slurm` run the whole pipeline under a
//! stand-in `sbatch`; the Kubernetes manifests of `deploy/k8s` parse
//! (PyYAML, when `CIS490_PYTHON` is set) and their commands run.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const BIN: &str = env!("CARGO_BIN_EXE_cis490");

fn cis490(args: &[&str]) -> std::io::Result<Output> {
    Command::new(BIN).args(args).env("RUST_LOG", "error").output()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn ok(out: Output) -> Result<String, Box<dyn std::error::Error>> {
    let shown = text(&out);
    if !out.status.success() {
        return Err(format!("cis490 failed: {shown}").into());
    }
    Ok(shown)
}

fn path_arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A store of `episodes` with faults, a stray file and a stray folder.
fn store(dir: &Path, episodes: usize) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let store = dir.join("store");
    let n = episodes.to_string();
    ok(cis490(&["synth", "--out", &path_arg(&store), "--episodes", &n, "--fault-rate", "0.3", "--seed", "7"])?)?;
    fs::write(store.join("stray.txt"), b"not an episode")?;
    fs::create_dir_all(store.join("Not A Host"))?;
    Ok(store)
}

/// Files as (path relative to a folder, bytes), sorted.
type Files = Vec<(String, Vec<u8>)>;

/// Every file under `dir`, for comparing outputs.
fn files(dir: &Path) -> Result<Files, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            } else {
                let rel = entry.path().strip_prefix(dir)?.to_string_lossy().into_owned();
                out.push((rel, fs::read(entry.path())?));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn assert_same_files(single: &Path, merged: &Path) -> TestResult {
    let (a, b) = (files(single)?, files(merged)?);
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b), "the merged folder holds other files than the single run's");
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{name} differs between {} and {}", single.display(), merged.display());
    }
    Ok(())
}

fn wait_all(children: Vec<Child>) -> TestResult {
    for child in children {
        let out = child.wait_with_output()?;
        ok(out)?;
    }
    Ok(())
}

#[test]
fn sharded_sweeps_merge_into_exactly_what_one_process_writes() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let store = store(dir, 320)?;
    let (s, single_val, single_feat) = (path_arg(&store), dir.join("single/validation"), dir.join("single/features"));
    let index = single_val.join("validation_v1.parquet");
    ok(cis490(&["validate", "--store", &s, "--out", &path_arg(&single_val)])?)?;
    // Validate: four concurrent processes, one per shard.
    let parts = dir.join("parts/validation");
    let children = (0..4)
        .map(|i| {
            Command::new(BIN)
                .args([
                    "validate",
                    "--store",
                    &s,
                    "--out",
                    &path_arg(&parts),
                    "--shard",
                    &format!("{i}/4"),
                    "--jobs",
                    "1",
                ])
                .env("RUST_LOG", "error")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;
    wait_all(children)?;
    let merged_val = dir.join("merged/validation");
    let said = ok(cis490(&["merge", "--validation", &path_arg(&parts), "--out", &path_arg(&merged_val)])?)?;
    assert!(said.contains("merged 4 parts"), "{said}");
    assert_same_files(&single_val, &merged_val)?;

    // An archive replaced after validation: extraction refuses it (its
    // sha256 is not the index's), so both runs record the same failure.
    let rows = cis490_pipeline::validate::index::read_index(&index)?;
    let accepted = rows.iter().find(|r| r.status.is_usable()).ok_or("no usable episode")?;
    let victim = store.join(&accepted.path);
    let mut bytes = fs::read(&victim)?;
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    fs::write(&victim, bytes)?;

    ok(cis490(&["extract", "--store", &s, "--index", &path_arg(&index), "--out", &path_arg(&single_feat)])?)?;

    // Extract: three concurrent processes, their shard from the scheduler's
    // environment (a Slurm array starting at 1, and Kubernetes indexes).
    let feat_parts = dir.join("parts/features");
    let extract = |env: &[(&str, &str)]| {
        let mut cmd = Command::new(BIN);
        cmd.args(["extract", "--store", &s, "--index", &path_arg(&index), "--out", &path_arg(&feat_parts)])
            .args(["--shard", "auto", "--jobs", "1"])
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn()
    };
    let children = vec![
        extract(&[("SLURM_ARRAY_TASK_ID", "1"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "3")])?,
        extract(&[("JOB_COMPLETION_INDEX", "1"), ("CIS490_SHARD_COUNT", "3")])?,
        extract(&[("JOB_COMPLETION_INDEX", "2"), ("CIS490_SHARD_COUNT", "3")])?,
    ];
    wait_all(children)?;
    let merged_feat = dir.join("merged/features");
    let said = ok(cis490(&["merge", "--features", &path_arg(&feat_parts), "--out", &path_arg(&merged_feat)])?)?;
    assert!(said.contains("merged 3 parts"), "{said}");
    let summary = fs::read_to_string(merged_feat.join("extract_summary.json"))?;
    assert!(summary.contains("sha256"), "the tampered archive's failure is recorded: {summary}");
    assert!(summary.contains("\"part-00002.parquet\""), "several output shards: {summary}");
    assert_same_files(&single_feat, &merged_feat)?;

    // A duplicated part is named, both copies.
    let copy = dir.join("copy");
    let part1 = feat_parts.join("shard-0001-of-0003");
    fs::create_dir_all(copy.join("shard-0001-of-0003"))?;
    for (rel, bytes) in files(&part1)? {
        let to = copy.join("shard-0001-of-0003").join(rel);
        fs::create_dir_all(to.parent().ok_or("no parent")?)?;
        fs::write(to, bytes)?;
    }
    let out = cis490(&[
        "merge",
        "--features",
        &path_arg(&feat_parts),
        &path_arg(&copy),
        "--out",
        &path_arg(&dir.join("m2")),
    ])?;
    assert!(!out.status.success());
    let said = text(&out);
    assert!(said.contains("shard 1/3 given twice") && said.contains(&path_arg(&copy)), "{said}");

    // A missing part is named, and nothing is written.
    fs::remove_dir_all(&part1)?;
    let out = cis490(&["merge", "--features", &path_arg(&feat_parts), "--out", &path_arg(&dir.join("m3"))])?;
    assert!(!out.status.success());
    let said = text(&out);
    assert!(said.contains("shard 1/3 is missing") && said.contains("shard-0001-of-0003"), "{said}");
    assert!(!dir.join("m3").exists());

    // A bad --shard is a usage error naming it.
    let out = cis490(&["validate", "--store", &s, "--out", &path_arg(&parts), "--shard", "4/4"])?;
    assert!(!out.status.success() && text(&out).contains("--shard 4/4"), "{}", text(&out));
    let out = Command::new(BIN)
        .args(["validate", "--store", &s, "--out", &path_arg(&parts), "--shard", "auto"])
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX")
        .output()?;
    assert!(!out.status.success() && text(&out).contains("SLURM_ARRAY_TASK_ID"), "{}", text(&out));
    Ok(())
}

/// A stand-in for `sbatch`: runs the script at once (every array task as
/// its own concurrent process, with Slurm's array variables), records the
/// call, and prints a job id. Jobs submitted with a dependency run after
/// the ones before them have finished, as `afterok` would have it.
const FAKE_SBATCH: &str = r#"#!/bin/bash
set -euo pipefail
echo "$*" >> "$SBATCH_LOG"
array=""; chdir="."
for arg in "$@"; do
    case "$arg" in
        --array=*) array="${arg#--array=}" ;;
        --chdir=*) chdir="${arg#--chdir=}" ;;
        --parsable|--dependency=*|--gres=*) ;;
        -*) echo "stand-in sbatch: unknown option $arg" >&2; exit 2 ;;
        *) script="$arg" ;;
    esac
done
job=$(( $(wc -l < "$SBATCH_LOG") + 1000 ))
cd "$chdir"
if [[ -n "$array" ]]; then
    lo=${array%-*}; hi=${array#*-}
    pids=()
    for (( i = lo; i <= hi; i++ )); do
        SLURM_JOB_ID=$job SLURM_ARRAY_JOB_ID=$job SLURM_ARRAY_TASK_ID=$i SLURM_ARRAY_TASK_MIN=$lo \
        SLURM_ARRAY_TASK_MAX=$hi SLURM_ARRAY_TASK_COUNT=$(( hi - lo + 1 )) SLURM_CPUS_PER_TASK=1 \
            bash "$script" > "logs/task-$job-$i.out" 2>&1 &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid" || { echo "array task of $script failed" >&2; exit 1; }; done
else
    SLURM_JOB_ID=$job SLURM_CPUS_PER_TASK=1 bash "$script" > "logs/job-$job.out" 2>&1 || { echo "$script failed" >&2; exit 1; }
fi
echo "$job;cluster"
"#;

#[test]
fn the_slurm_scripts_run_the_pipeline_under_a_stand_in_scheduler() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let store = store(dir, 160)?;
    let work = dir.join("work");
    let bin_dir = dir.join("bin");
    fs::create_dir_all(&bin_dir)?;
    let sbatch = bin_dir.join("sbatch");
    fs::write(&sbatch, FAKE_SBATCH)?;
    fs::set_permissions(&sbatch, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let log = dir.join("sbatch.log");
    let out = Command::new("bash")
        .arg(repo().join("deploy/slurm/submit.sh"))
        .env("CIS490", BIN)
        .env("STORE", &store)
        .env("WORK", &work)
        .env("SHARDS", "3")
        .env("MODELS", "gbt mlp")
        .env("VARIANTS", "realistic oracle")
        .env("TRAIN_ARGS", "--epochs 1 --epoch-windows 2000 --device cpu")
        .env("TRAIN_SBATCH_ARGS", "--gres=gpu:1")
        .env("SBATCH", &sbatch)
        .env("SBATCH_LOG", &log)
        .env("RUST_LOG", "error")
        .output()?;
    let logs = fs::read_dir(work.join("logs"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| format!("{}:\n{}", e.path().display(), fs::read_to_string(e.path()).unwrap_or_default()))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    assert!(out.status.success(), "submit.sh failed: {}\n{logs}", text(&out));
    let calls = fs::read_to_string(&log)?;
    assert_eq!(calls.lines().count(), 6, "{calls}");
    assert!(
        calls.lines().next().is_some_and(|l| l.contains("--array=0-2") && l.ends_with("validate.sbatch")),
        "{calls}"
    );
    assert!(calls.lines().nth(4).is_some_and(|l| l.contains("--array=0-3") && l.contains("afterok:")), "{calls}");
    // The train array alone asks for the GPU.
    let gres: Vec<usize> =
        calls.lines().enumerate().filter(|(_, l)| l.contains("--gres=gpu:1")).map(|(i, _)| i).collect();
    assert_eq!(gres, [4], "{calls}");

    // The merged validation is what one sweep writes.
    let single = dir.join("single");
    ok(cis490(&["validate", "--store", &path_arg(&store), "--out", &path_arg(&single)])?)?;
    assert_same_files(&single, &work.join("validation"))?;
    // Every model × variant was trained into the one run folder, and evaluated.
    let trained: BTreeSet<String> = fs::read_dir(work.join("run"))?
        .filter_map(Result::ok)
        .filter(|e| e.path().join("checkpoint.bin").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let want: BTreeSet<String> =
        ["gbt-realistic", "gbt-oracle", "mlp-realistic", "mlp-oracle"].into_iter().map(String::from).collect();
    assert_eq!(trained, want);
    let report = fs::read_to_string(work.join("run/eval/report.json"))?;
    for model in &want {
        let (arch, variant) = model.split_once('-').ok_or("model name")?;
        assert!(report.contains(&format!("\"{arch}\"")) && report.contains(variant), "{model} not in the report");
    }
    Ok(())
}

#[test]
fn the_kubernetes_manifests_parse_and_their_commands_run() -> TestResult {
    let Some(python) = std::env::var_os("CIS490_PYTHON") else {
        eprintln!(
            "kubernetes manifests check skipped: set CIS490_PYTHON to a python with PyYAML (cargo xtask test does)"
        );
        return Ok(());
    };
    let checker = repo().join("tests/python/check_k8s.py");
    let out = Command::new(python).arg(&checker).arg(repo().join("deploy/k8s")).output()?;
    assert!(out.status.success(), "check_k8s.py: {}", text(&out));
    let steps: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)?;
    let jobs: Vec<&str> = steps.iter().filter_map(|s| s["job"].as_str()).collect();
    assert_eq!(
        jobs,
        ["validate", "merge-validation", "extract", "merge-features", "merge-features", "train", "eval"],
        "the Jobs run.sh applies, in order"
    );

    // Run them on a small store in place of the volume: /data is a folder
    // here, `cis490` this build. Training is checked with a stand-in
    // binary (every index a distinct model × variant), not run.
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    fs::create_dir_all(&data)?;
    let store = store(&data, 100)?;
    assert_eq!(store, data.join("store"));
    let stand_in = tmp.path().join("stand-in");
    fs::create_dir_all(&stand_in)?;
    let calls = tmp.path().join("calls.log");
    let fake = stand_in.join("cis490");
    fs::write(&fake, format!("#!/bin/sh\necho \"$*\" >> '{}'\n", calls.display()))?;
    fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let data_text = path_arg(&data);
    for step in &steps {
        let job = step["job"].as_str().unwrap_or_default();
        let command: Vec<String> = step["command"]
            .as_array()
            .ok_or("command")?
            .iter()
            .map(|a| a.as_str().unwrap_or_default().replace("/data", &data_text))
            .collect();
        let indexes =
            if step["indexed"].as_bool() == Some(true) { step["completions"].as_u64().unwrap_or(1) } else { 1 };
        let mut children = Vec::new();
        for index in 0..indexes {
            let (program, args) = command.split_first().ok_or("empty command")?;
            let program = if program == "cis490" { BIN.to_string() } else { program.clone() };
            let mut cmd = Command::new(&program);
            cmd.args(args)
                .env("RUST_LOG", "error")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            if step["indexed"].as_bool() == Some(true) {
                cmd.env("JOB_COMPLETION_INDEX", index.to_string());
            }
            for (k, v) in step["env"].as_object().into_iter().flatten() {
                cmd.env(k, v.as_str().unwrap_or_default());
            }
            if job == "train" || job == "eval" {
                // The stand-in binary first on PATH.
                let path = format!("{}:{}", stand_in.display(), std::env::var("PATH").unwrap_or_default());
                cmd.env("PATH", path);
                if program == BIN {
                    cmd = Command::new(&fake);
                    cmd.args(args);
                }
            }
            children.push(cmd.spawn()?);
        }
        wait_all(children).map_err(|e| format!("job {job}: {e}"))?;
    }
    // The sweeps and merges ran for real: the merged index is one sweep's.
    let single = tmp.path().join("single");
    ok(cis490(&["validate", "--store", &path_arg(&store), "--out", &path_arg(&single)])?)?;
    assert_same_files(&single, &data.join("work/validation"))?;
    assert!(data.join("work/features/extract_summary.json").is_file());
    assert!(data.join("work/split-host.json").is_file());
    // Twelve trainings, every architecture under both threat models, into one run.
    let calls = fs::read_to_string(&calls)?;
    let mut pairs = BTreeSet::new();
    for line in calls.lines().filter(|l| l.starts_with("train ")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let value = |flag: &str| words.iter().position(|w| *w == flag).and_then(|i| words.get(i + 1)).copied();
        assert_eq!(value("--out"), Some(format!("{data_text}/work/run").as_str()), "{line}");
        pairs.insert((
            value("--models").unwrap_or_default().to_string(),
            value("--variants").unwrap_or_default().to_string(),
        ));
    }
    assert_eq!(pairs.len(), 12, "{calls}");
    assert!(calls.lines().any(|l| l.starts_with("eval --run") && l.contains("/work/run")), "{calls}");
    Ok(())
}
