//! Tree training: hessboost on the realistic training table of a split,
//! a fixed number of rounds, timed; the same tables are written for
//! `bench/gbt_xgboost.py` to train XGBoost (`hist`) with the same rounds,
//! depth, learning rate and threads.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use cis490_models::NUM_CLASSES;
use cis490_models::gbt::{Gbt, GbtConfig};
use cis490_models::score::{argmax_rows, macro_f1};
use cis490_models::table::Table;
use cis490_models::variant::Variant;

use super::BenchError;
use cis490_pipeline::extract::shards::windows::summary_table;
use cis490_pipeline::split::SplitFile;

fn tool(cause: impl Into<cis490_shared::Cause>) -> BenchError {
    BenchError::Tool { tool: "gbt".into(), source: cause.into() }
}

/// Writes a table as `<stem>.x.f32` (row-major little-endian float32),
/// `<stem>.y.u32` and `<stem>.json` (`{"rows", "cols"}`).
fn write_table(dir: &Path, stem: &str, t: &Table) -> Result<(), BenchError> {
    let x: Vec<u8> = t.x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let y: Vec<u8> = t.y.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(dir.join(format!("{stem}.x.f32")), x).map_err(tool)?;
    std::fs::write(dir.join(format!("{stem}.y.u32")), y).map_err(tool)?;
    std::fs::write(dir.join(format!("{stem}.json")), format!("{{\"rows\": {}, \"cols\": {}}}", t.rows, t.cols))
        .map_err(tool)
}

/// Trains hessboost for `rounds` rounds and reports time and validation macro F1.
pub fn gbt_training(features: &Path, split: &Path, out: &PathBuf, rounds: usize) -> Result<(f64, f64), BenchError> {
    let made: SplitFile = cis490_pipeline::split::read_split_file(split).map_err(tool)?;
    let ids = |v: &[String]| v.iter().cloned().collect::<BTreeSet<String>>();
    let train = summary_table(features, &ids(&made.train), Variant::Realistic).map_err(tool)?;
    let val = summary_table(features, &ids(&made.val), Variant::Realistic).map_err(tool)?;
    std::fs::create_dir_all(out).map_err(tool)?;
    write_table(out, "train", &train)?;
    write_table(out, "val", &val)?;
    // Early stopping off: exactly `rounds` rounds, like the reference.
    let config = GbtConfig { rounds, max_depth: 6, eta: 0.1, early_stopping_rounds: rounds };
    let started = Instant::now();
    let model = Gbt::fit(&train, &val, &config).map_err(tool)?;
    let seconds = started.elapsed().as_secs_f64();
    let f1 = macro_f1(&val.y, &argmax_rows(&model.predict_proba(&val).map_err(tool)?, NUM_CLASSES), NUM_CLASSES);
    println!(
        "hessboost: {rounds} rounds, depth 6, eta 0.1, {} x {} training rows: {seconds:.2} s, validation macro F1 {f1:.4}",
        train.rows, train.cols
    );
    println!("tables for the reference: {}", out.display());
    Ok((seconds, f1))
}
