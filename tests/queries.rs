//! The recipes of `docs/queries.md` run on real outputs: 150 episodes
//! (enough for two feature shards, with errored episodes that have no
//! start time) are generated, validated, extracted, split by host, trained
//! (trees, both threat models) and evaluated, then
//! `tests/python/check_queries.py` runs every recipe of the doc in DuckDB
//! and in Polars and checks that both give the rows of an independent
//! pyarrow count (skipped, saying so, when `CIS490_PYTHON` is unset).

use std::path::Path;

use cis490_pipeline::eval::{self, EvalOptions, MIN_RESAMPLES};
use cis490_pipeline::split::recipes::Recipe;
use cis490_pipeline::split::{self, SplitOptions};
use cis490_pipeline::train;
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The recipes `docs/queries.md` holds, each reported once by the script.
const RECIPES: [&str; 5] =
    ["acceptance_per_host", "acceptance_per_host_day", "episode_errors", "windows_per_file", "windows_per_profile"];

fn json(path: &Path) -> Result<Value, Box<dyn std::error::Error>> {
    Ok(serde_json::from_slice(&std::fs::read(path)?)?)
}

#[test]
fn the_documented_queries_agree_with_pyarrow() -> TestResult {
    let Some(python) = cis490_tests::peer_python("DuckDB/Polars query check", "duckdb, polars and pyarrow") else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    let features = cis490_tests::extracted_store(dir.path(), 150, 41, 0.2)?;
    let validation = dir.path().join("validation");
    // What the recipes must cope with: several shards, episodes without a start.
    let shards = json(&features.join("extract_summary.json"))?["shard_files"].as_array().map_or(0, Vec::len);
    assert!(shards >= 2, "{shards} shard(s): the glob and list recipes need several");
    let errored = json(&validation.join("validation_summary.json"))?["errored"].as_u64();
    assert!(errored.is_some_and(|n| n > 0), "no errored episode: no null day to group");
    let split_path = dir.path().join("split.json");
    split::run(&SplitOptions {
        features: features.clone(),
        recipe: Recipe::Host,
        test_hosts: Vec::new(),
        seed: 8,
        val_share: 0.15,
        in_distribution_share: 0.15,
        out: split_path.clone(),
    })?;
    let run = dir.path().join("run");
    train::run(&cis490_tests::quick_train_options(features.clone(), split_path.clone(), run.clone(), &["gbt"])?)?;
    let out = dir.path().join("eval");
    eval::run(&EvalOptions {
        run,
        split: split_path,
        features: None,
        out: out.clone(),
        resamples: MIN_RESAMPLES,
        seed: 490,
        confidence: 0.95,
        publisher: None,
        force: false,
        device: Default::default(),
    })?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/check_queries.py");
    let result = std::process::Command::new(python).arg(script).arg(&validation).arg(&features).arg(&out).output()?;
    let stdout = String::from_utf8_lossy(&result.stdout);
    let report = format!("{stdout}{}", String::from_utf8_lossy(&result.stderr));
    assert!(result.status.success(), "check_queries.py failed:\n{report}");
    for recipe in RECIPES {
        assert!(
            stdout.lines().any(|l| l.starts_with(&format!("{recipe}: ok,"))),
            "{recipe} was not checked:\n{report}"
        );
    }
    Ok(())
}
