//! ONNX export and tract inference.
//!
//! Trees become one `ai.onnx.ml` `TreeEnsembleClassifier` node built from
//! the model's XGBoost JSON (split `x < threshold` goes to the true branch,
//! missing values follow XGBoost's default direction, leaves add their
//! weight to their tree's class, softmax on top). Checkpoint metadata goes
//! in `metadata_props`. tract runs the file; tests compare it with the
//! native prediction.

use prost::Message;
use serde_json::Value;
use tract_onnx::pb::{
    self, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto, TypeProto,
    ValueInfoProto, attribute_proto::AttributeType, tensor_shape_proto, type_proto,
};
use tract_onnx::prelude::*;

use crate::NUM_CLASSES;

/// Export or inference failed.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// The XGBoost JSON lacks something the export needs.
    #[error("tree model JSON: {0}")]
    TreeJson(String),
    /// tract could not load or run the model.
    #[error("tract: {0}")]
    Tract(String),
}

fn attr(name: &str, kind: AttributeType) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: kind as i32, ..Default::default() }
}

fn ints(name: &str, v: Vec<i64>) -> AttributeProto {
    AttributeProto { ints: v, ..attr(name, AttributeType::Ints) }
}

fn floats(name: &str, v: Vec<f32>) -> AttributeProto {
    AttributeProto { floats: v, ..attr(name, AttributeType::Floats) }
}

fn strings(name: &str, v: Vec<&str>) -> AttributeProto {
    AttributeProto {
        strings: v.into_iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..attr(name, AttributeType::Strings)
    }
}

fn string(name: &str, v: &str) -> AttributeProto {
    AttributeProto { s: v.as_bytes().to_vec(), ..attr(name, AttributeType::String) }
}

fn tensor_info(name: &str, elem: i32, dims: Vec<Option<i64>>) -> ValueInfoProto {
    let dim = dims
        .into_iter()
        .map(|d| tensor_shape_proto::Dimension {
            value: Some(match d {
                Some(n) => tensor_shape_proto::dimension::Value::DimValue(n),
                None => tensor_shape_proto::dimension::Value::DimParam("batch".into()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: elem,
                shape: Some(pb::TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

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

/// Parses XGBoost's `base_score` (a number, a string, or a bracketed list).
fn base_scores(v: Option<&Value>) -> Vec<f64> {
    let text = match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return vec![0.0; NUM_CLASSES],
    };
    let parsed: Vec<f64> =
        text.trim_matches(|c| c == '[' || c == ']').split(',').filter_map(|s| s.trim().parse().ok()).collect();
    match parsed.len() {
        n if n == NUM_CLASSES => parsed,
        1 => vec![parsed[0]; NUM_CLASSES],
        _ => vec![0.0; NUM_CLASSES],
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
                missing_true.push(i64::from(default_left.get(i).copied().unwrap_or(0.0) != 0.0));
            }
        }
    }
    let base: Vec<f32> =
        base_scores(learner["learner_model_param"].get("base_score")).into_iter().map(|v| v as f32).collect();
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
    let node = tree_ensemble_node(xgboost_json)?;
    let float = pb::tensor_proto::DataType::Float as i32;
    let int64 = pb::tensor_proto::DataType::Int64 as i32;
    let graph = GraphProto {
        name: "cis490".into(),
        node: vec![node],
        input: vec![tensor_info("input", float, vec![None, Some(features as i64)])],
        output: vec![
            tensor_info("label", int64, vec![None]),
            tensor_info("probabilities", float, vec![None, Some(NUM_CLASSES as i64)]),
        ],
        ..Default::default()
    };
    let model = ModelProto {
        ir_version: 8,
        producer_name: "cis490".into(),
        opset_import: vec![
            OperatorSetIdProto { domain: String::new(), version: 17 },
            OperatorSetIdProto { domain: "ai.onnx.ml".into(), version: 3 },
        ],
        graph: Some(graph),
        metadata_props: metadata
            .iter()
            .map(|(k, v)| StringStringEntryProto { key: k.clone(), value: v.clone() })
            .collect(),
        ..Default::default()
    };
    Ok(model.encode_to_vec())
}

/// Runs an exported model with tract on `rows` rows of `cols` features;
/// returns the probabilities (`rows × 7`).
pub fn run_tract(bytes: &[u8], x: &[f32], rows: usize, cols: usize) -> Result<Vec<f32>, OnnxError> {
    let err = |e: TractError| OnnxError::Tract(format!("{e:?}"));
    let model = tract_onnx::onnx()
        .with_ignore_value_info(true)
        .model_for_read(&mut &bytes[..])
        .map_err(err)?
        .with_input_fact(0, f32::fact([rows, cols]).into())
        .map_err(err)?
        .into_optimized()
        .map_err(err)?
        .into_runnable()
        .map_err(err)?;
    let input =
        tract_ndarray::Array2::from_shape_vec((rows, cols), x.to_vec()).map_err(|e| OnnxError::Tract(e.to_string()))?;
    let outputs = model.run(tvec!(input.into_tvalue())).map_err(err)?;
    let probs = outputs.get(1).ok_or_else(|| OnnxError::Tract("no probabilities output".into()))?;
    let view = probs.to_plain_array_view::<f32>().map_err(err)?;
    Ok(view.iter().copied().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gbt::{Gbt, GbtConfig, Table};

    #[test]
    fn tract_runs_the_exported_trees_like_the_native_model() -> Result<(), Box<dyn std::error::Error>> {
        let mut t = Table { cols: 3, ..Table::default() };
        for i in 0..210u32 {
            let class = i % 7;
            let missing = if i % 11 == 0 { f32::NAN } else { (i % 5) as f32 };
            t.x.extend([class as f32 + (i % 3) as f32 * 0.3, missing, (i * 7 % 13) as f32]);
            t.y.push(class);
            t.rows += 1;
        }
        let model = Gbt::fit(&t, &t, &GbtConfig { rounds: 30, max_depth: 4, eta: 0.3, early_stopping_rounds: 30 })?;
        let native = model.predict_proba(&t)?;
        let bytes = tree_model_bytes(&model.xgboost_json()?, 3, &[("schema_hash".into(), "x".into())])?;
        let via_tract = run_tract(&bytes, &t.x, t.rows, t.cols)?;
        assert_eq!(native.len(), via_tract.len());
        let worst = native.iter().zip(&via_tract).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst <= 1e-4, "largest difference {worst}");
        Ok(())
    }
}
