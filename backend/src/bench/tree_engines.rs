//! One tree ensemble's `model.onnx` on three engines (`cis490 bench
//! inference`): the compact evaluator `OnnxRunner` picks for it, tract
//! (`OnnxRunner::with_tract`) and onnxruntime (`bench/onnxruntime_latency.py`
//! in the Python of `CIS490_PYTHON` or `~/.cache/cis490-pyenv`, skipped with
//! a note when neither runs it). Prints each engine's µs per window, the
//! tract → trees speed-up, and the largest difference of the evaluator's
//! probabilities from tract's, hessboost's (the checkpoint) and
//! onnxruntime's on the benchmark's 64 windows.

use std::path::{Path, PathBuf};
use std::process::Command;

use cis490_models::onnx::OnnxRunner;
use cis490_pipeline::run_dir::RunModel;

use super::BenchError;
use super::inference::{InferenceLatency, inputs, time_runner};

fn tool(cause: impl Into<cis490_shared::Cause>) -> BenchError {
    BenchError::Tool { tool: "tree engines".into(), source: cause.into() }
}

/// tract takes ~0.2 s per window on the lab's ensembles: it gets this
/// share of the single windows (at least 3, at most 20) and one batch.
fn tract_windows(windows: usize) -> usize {
    (windows / 100).clamp(3, 20)
}

fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max)
}

/// Times `model` (a tree ensemble whose evaluator figure is `trees`) on
/// tract and onnxruntime and prints the comparison; returns their lines.
pub fn compare(
    model: &RunModel,
    bytes: &[u8],
    dims: &[usize],
    trees: &InferenceLatency,
    windows: usize,
) -> Result<Vec<InferenceLatency>, BenchError> {
    let name = model.id.name();
    let len: usize = dims.iter().product();
    let x = inputs(len);
    let shape = |batch: usize| [&[batch][..], dims].concat();
    let runner = OnnxRunner::new(bytes, &shape(64)).map_err(tool)?;
    let by_trees = runner.probabilities(&x).map_err(tool)?;
    let size = runner
        .tree_ensemble()
        .map(|t| format!("{} trees, {} nodes, depth ≤ {}", t.trees(), t.nodes(), t.depth()))
        .unwrap_or_default();
    println!();
    println!("{name} ({size}): the same file on three engines, one core, µs per window");
    super::inference::print_header();
    trees.print();
    let tract_single = OnnxRunner::with_tract(bytes, &shape(1)).map_err(tool)?;
    let tract_batch = OnnxRunner::with_tract(bytes, &shape(64)).map_err(tool)?;
    let n = tract_windows(windows);
    let tract = time_runner(name.clone(), &tract_single, &tract_batch, &x, len, n, 1)?;
    tract.print();
    let by_tract = tract_batch.probabilities(&x).map_err(tool)?;
    let mut lines = vec![tract.clone()];
    let mut differences = vec![format!("tract {:.1e}", largest_difference(&by_trees, &by_tract))];
    // hessboost itself is only in builds that train.
    #[cfg(feature = "training")]
    {
        use cis490_models::Classifier;
        let (_, native) = cis490_pipeline::train::load_model(&model.checkpoint()).map_err(tool)?;
        let rows: Vec<&[f32]> = x.chunks(len).collect();
        let by_native: Vec<f32> = native.predict_proba(&rows).map_err(tool)?.into_iter().flatten().collect();
        differences.push(format!("hessboost {:.1e}", largest_difference(&by_trees, &by_native)));
    }
    match onnxruntime(&model.onnx(), &name, &x, len, windows)? {
        Ok((line, by_ort)) => {
            line.print();
            differences.push(format!("onnxruntime {:.1e}", largest_difference(&by_trees, &by_ort)));
            lines.push(line);
        }
        Err(note) => println!("{name:<24} onnxruntime        skipped: {note}"),
    }
    println!(
        "tract: {n} single windows and one batch of 64. Speed-up tract → trees: {:.0}× (p50), {:.0}× (batch 64)",
        tract.p50_us / trees.p50_us,
        tract.batched_us / trees.batched_us
    );
    println!("largest difference of the trees' probabilities on 64 windows: {}", differences.join(", "));
    Ok(lines)
}

/// The Python to run the onnxruntime reference with: `CIS490_PYTHON`,
/// else the project's `~/.cache/cis490-pyenv`.
fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CIS490_PYTHON") {
        return Some(p.into());
    }
    let venv = Path::new(&std::env::var_os("HOME")?).join(".cache/cis490-pyenv/bin/python");
    venv.exists().then_some(venv)
}

/// onnxruntime's figures and its batch-of-64 probabilities, or why it did
/// not run (a note, not an error: the reference is optional).
type Reference = Result<(InferenceLatency, Vec<f32>), String>;

/// Runs `bench/onnxruntime_latency.py` on `onnx` with the 64 windows `x`.
fn onnxruntime(onnx: &Path, name: &str, x: &[f32], len: usize, windows: usize) -> Result<Reference, BenchError> {
    let Some(python) = python() else {
        return Ok(Err("no CIS490_PYTHON and no ~/.cache/cis490-pyenv (cargo xtask setup makes it)".into()));
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/onnxruntime_latency.py");
    if !script.exists() {
        return Ok(Err(format!("{} is missing (run from the source tree)", script.display())));
    }
    let dir = std::env::temp_dir().join(format!("cis490-ort-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(tool)?;
    let (inputs, outputs) = (dir.join("inputs.bin"), dir.join("probabilities.bin"));
    std::fs::write(&inputs, x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>()).map_err(tool)?;
    let result = Command::new(&python)
        .arg(&script)
        .arg(onnx)
        .arg(&inputs)
        .args(["64", &len.to_string(), &windows.to_string()])
        .arg(&outputs)
        .output();
    let probabilities = std::fs::read(&outputs);
    // Best effort: a leftover temporary folder is harmless.
    let _ = std::fs::remove_dir_all(&dir);
    let out = match result {
        Ok(out) if out.status.success() => out,
        Ok(out) => return Ok(Err(format!("{}: {}", script.display(), String::from_utf8_lossy(&out.stderr).trim()))),
        Err(e) => return Ok(Err(format!("{}: {e}", python.display()))),
    };
    let figures: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(tool)?;
    let number = |key: &str| figures[key].as_f64().ok_or_else(|| tool(format!("onnxruntime_latency.py: no {key}")));
    let version = figures["onnxruntime"].as_str().unwrap_or("?");
    let line = InferenceLatency {
        model: name.into(),
        engine: format!("onnxruntime {version}"),
        p50_us: number("p50_us")?,
        p99_us: number("p99_us")?,
        batched_us: number("batched_us")?,
    };
    let probabilities =
        probabilities.map_err(tool)?.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    Ok(Ok((line, probabilities)))
}
