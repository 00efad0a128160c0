//! ONNX export of gradient-boosted trees.
//!
//! Trees become one `ai.onnx.ml` `TreeEnsembleClassifier` node built from
//! the model's XGBoost JSON (split `x < threshold` goes to the true branch,
//! missing values follow XGBoost's default direction, leaves add their
//! weight to their tree's class, softmax on top). Checkpoint metadata goes
//! in `metadata_props`. tract runs the file; tests compare it with the
//! native prediction.

use serde_json::Value;
use tract_onnx::pb::NodeProto;

use super::OnnxError;
use super::proto::{GraphBuilder, floats, ints, string, strings};
use crate::NUM_CLASSES;

fn numbers(v: &Value, what: &str) -> Result<Vec<f64>, OnnxError> {
    v.as_array()
        .ok_or_else(|| OnnxError::TreeJson(format!("{what} is not an array")))?
        .iter()
        .map(|x| {
            x.as_f64()
                .or_else(|| x.as_bool().map(f64::from))
                .ok_or_else(|| OnnxError::TreeJson(format!("{what} holds a non-number")))
        })
        .collect()
}

/// Parses XGBoost's `base_score` (a number, a string, or a bracketed list;
/// none is zero). One that does not parse to one or seven numbers is an
/// error, never a silent zero.
fn base_scores(v: Option<&Value>) -> Result<Vec<f64>, OnnxError> {
    let text = match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        None | Some(Value::Null) => return Ok(vec![0.0; NUM_CLASSES]),
        Some(other) => return Err(OnnxError::TreeJson(format!("base_score {other} is not a number or a string"))),
    };
    let parsed = text
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<Vec<f64>, _>>()
        .map_err(|_| OnnxError::TreeJson(format!("base_score {text:?} is not a list of numbers")))?;
    match parsed.len() {
        n if n == NUM_CLASSES => Ok(parsed),
        1 => Ok(vec![parsed[0]; NUM_CLASSES]),
        n => Err(OnnxError::TreeJson(format!("base_score has {n} values, not 1 or {NUM_CLASSES}"))),
    }
}

/// The `TreeEnsembleClassifier` node of a multiclass XGBoost JSON model.
pub fn tree_ensemble_node(model: &Value) -> Result<NodeProto, OnnxError> {
    let learner = &model["learner"];
    let booster = &learner["gradient_booster"]["model"];
    let trees = booster["trees"].as_array().ok_or_else(|| OnnxError::TreeJson("no trees".into()))?;
    let tree_info = numbers(&booster["tree_info"], "tree_info")?;
    let (mut t_ids, mut n_ids, mut f_ids, mut modes, mut values) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut true_ids, mut false_ids, mut missing_true) = (vec![], vec![], vec![]);
    let (mut c_tree, mut c_node, mut c_ids, mut c_weights) = (vec![], vec![], vec![], vec![]);
    for (t, tree) in trees.iter().enumerate() {
        let left = numbers(&tree["left_children"], "left_children")?;
        let right = numbers(&tree["right_children"], "right_children")?;
        let feature = numbers(&tree["split_indices"], "split_indices")?;
        let condition = numbers(&tree["split_conditions"], "split_conditions")?;
        let default_left = numbers(&tree["default_left"], "default_left")?;
        let class = *tree_info.get(t).ok_or_else(|| OnnxError::TreeJson(format!("tree {t} has no class")))? as i64;
        if [&right, &feature, &condition, &default_left].iter().any(|a| a.len() != left.len()) {
            return Err(OnnxError::TreeJson(format!("tree {t}: its node arrays differ in length")));
        }
        for i in 0..left.len() {
            t_ids.push(t as i64);
            n_ids.push(i as i64);
            if left[i] < 0.0 {
                f_ids.push(0);
                modes.push("LEAF");
                values.push(0.0);
                true_ids.push(0);
                false_ids.push(0);
                missing_true.push(0);
                c_tree.push(t as i64);
                c_node.push(i as i64);
                c_ids.push(class);
                c_weights.push(condition[i] as f32);
            } else {
                f_ids.push(feature[i] as i64);
                modes.push("BRANCH_LT");
                values.push(condition[i] as f32);
                true_ids.push(left[i] as i64);
                false_ids.push(right[i] as i64);
                missing_true.push(i64::from(default_left[i] != 0.0));
            }
        }
    }
    let base: Vec<f32> =
        base_scores(learner["learner_model_param"].get("base_score"))?.into_iter().map(|v| v as f32).collect();
    Ok(NodeProto {
        op_type: "TreeEnsembleClassifier".into(),
        domain: "ai.onnx.ml".into(),
        name: "trees".into(),
        input: vec!["input".into()],
        output: vec!["label".into(), "probabilities".into()],
        attribute: vec![
            ints("classlabels_int64s", (0..NUM_CLASSES as i64).collect()),
            ints("nodes_treeids", t_ids),
            ints("nodes_nodeids", n_ids),
            ints("nodes_featureids", f_ids),
            strings("nodes_modes", modes),
            floats("nodes_values", values),
            ints("nodes_truenodeids", true_ids),
            ints("nodes_falsenodeids", false_ids),
            ints("nodes_missing_value_tracks_true", missing_true),
            ints("class_treeids", c_tree),
            ints("class_nodeids", c_node),
            ints("class_ids", c_ids),
            floats("class_weights", c_weights),
            floats("base_values", base),
            string("post_transform", "SOFTMAX"),
        ],
        ..Default::default()
    })
}

/// A complete ONNX model around a tree ensemble over `features` inputs,
/// with `metadata` as `metadata_props`.
pub fn tree_model_bytes(
    xgboost_json: &Value,
    features: usize,
    metadata: &[(String, String)],
) -> Result<Vec<u8>, OnnxError> {
    let mut graph = GraphBuilder::new();
    graph.push_node(tree_ensemble_node(xgboost_json)?);
    Ok(graph.into_model_bytes(&[features], metadata, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gbt::{Gbt, GbtConfig};
    use crate::onnx::{OnnxRunner, run_tract};
    use crate::table::Table;

    /// A small ensemble trained on three features (the second one often
    /// missing), its rows and its ONNX file.
    fn trained(rounds: usize) -> Result<(Gbt, Table, Vec<u8>), Box<dyn std::error::Error>> {
        let mut t = Table { cols: 3, ..Table::default() };
        for i in 0..210u32 {
            let class = i % 7;
            let missing = if i % 11 == 0 { f32::NAN } else { (i % 5) as f32 };
            t.x.extend([class as f32 + (i % 3) as f32 * 0.3, missing, (i * 7 % 13) as f32]);
            t.y.push(class);
            t.rows += 1;
        }
        let config = GbtConfig { rounds, max_depth: 4, eta: 0.3, early_stopping_rounds: rounds };
        let model = Gbt::fit(&t, &t, &config)?;
        let bytes = tree_model_bytes(&model.xgboost_json()?, 3, &[("schema_hash".into(), "x".into())])?;
        Ok((model, t, bytes))
    }

    fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter().zip(b).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max)
    }

    #[test]
    fn tract_runs_the_exported_trees_like_the_native_model() -> Result<(), Box<dyn std::error::Error>> {
        let (model, t, bytes) = trained(30)?;
        let native = model.predict_proba(&t)?;
        let via_tract = run_tract(&bytes, &t.x, &[t.rows, t.cols])?;
        let worst = largest_difference(&native, &via_tract);
        assert!(worst <= 1e-4, "largest difference {worst}");
        Ok(())
    }

    #[test]
    fn the_compact_evaluator_runs_the_file_like_hessboost_and_tract() -> Result<(), Box<dyn std::error::Error>> {
        let (model, mut t, bytes) = trained(60)?;
        // Rows exactly on thresholds and with every feature missing too.
        t.x.extend([1.0, 2.0, 3.0, f32::NAN, f32::NAN, f32::NAN, 0.0, f32::NAN, 12.0]);
        t.rows += 3;
        let native = model.predict_proba(&t)?;
        let trees = OnnxRunner::new(&bytes, &[t.rows, t.cols])?;
        assert_eq!(trees.engine(), "trees");
        let tract = OnnxRunner::with_tract(&bytes, &[t.rows, t.cols])?;
        assert_eq!(tract.engine(), "tract");
        let (by_trees, by_tract) = (trees.probabilities(&t.x)?, tract.probabilities(&t.x)?);
        let (vs_native, vs_tract) = (largest_difference(&by_trees, &native), largest_difference(&by_trees, &by_tract));
        assert!(vs_native <= 1e-5, "trees vs hessboost: {vs_native}");
        assert!(vs_tract <= 1e-5, "trees vs tract: {vs_tract}");
        // One window at a time (the replay's and the browser's batch) gives the same rows.
        let single = OnnxRunner::new(&bytes, &[1, t.cols])?;
        for (row, want) in t.x.chunks(t.cols).zip(by_trees.chunks(NUM_CLASSES)) {
            assert_eq!(single.probabilities(row)?, want);
        }
        Ok(())
    }
}
