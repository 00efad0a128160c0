//! Building ONNX graphs from trained weights with the protobuf types tract
//! exposes (`tract_onnx::pb`): attribute and value-info helpers, and a
//! [`GraphBuilder`] that names every intermediate value, stores weights as
//! initializers and wraps the graph in a model with `metadata_props`.
//!
//! Every cis490 model has the same interface: one float32 input named
//! `input` with a symbolic `batch` dimension, and two outputs, `label`
//! (int64, the arg-max class) and `probabilities` (float32, batch × 7).

use prost::Message;
use tract_onnx::pb::{
    self, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto, TensorProto,
    TypeProto, ValueInfoProto, attribute_proto::AttributeType, tensor_shape_proto, type_proto,
};

use crate::NUM_CLASSES;

/// The default-domain opset the graphs use (`LayerNormalization` needs 17;
/// `ReduceMean` still takes `axes` as an attribute there).
pub const OPSET: i64 = 17;

fn attr(name: &str, kind: AttributeType) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: kind as i32, ..Default::default() }
}

/// An integer attribute.
pub fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto { i: v, ..attr(name, AttributeType::Int) }
}

/// A float attribute.
pub fn float(name: &str, v: f32) -> AttributeProto {
    AttributeProto { f: v, ..attr(name, AttributeType::Float) }
}

/// An integer-list attribute.
pub fn ints(name: &str, v: Vec<i64>) -> AttributeProto {
    AttributeProto { ints: v, ..attr(name, AttributeType::Ints) }
}

/// A float-list attribute.
pub fn floats(name: &str, v: Vec<f32>) -> AttributeProto {
    AttributeProto { floats: v, ..attr(name, AttributeType::Floats) }
}

/// A string-list attribute.
pub fn strings(name: &str, v: Vec<&str>) -> AttributeProto {
    AttributeProto {
        strings: v.into_iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..attr(name, AttributeType::Strings)
    }
}

/// A string attribute.
pub fn string(name: &str, v: &str) -> AttributeProto {
    AttributeProto { s: v.as_bytes().to_vec(), ..attr(name, AttributeType::String) }
}

/// The declared type of a graph input or output; `None` dimensions are the
/// symbolic `batch`.
pub fn tensor_info(name: &str, elem: i32, dims: &[Option<usize>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| tensor_shape_proto::Dimension {
            value: Some(match d {
                Some(n) => tensor_shape_proto::dimension::Value::DimValue(*n as i64),
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

/// ONNX element type codes.
pub fn float_type() -> i32 {
    pb::tensor_proto::DataType::Float as i32
}

fn int64_type() -> i32 {
    pb::tensor_proto::DataType::Int64 as i32
}

/// A graph under construction: nodes in topological order (each added
/// after its inputs) and weights as initializers.
#[derive(Debug, Default)]
pub struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    counter: usize,
}

impl GraphBuilder {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    fn fresh(&mut self, hint: &str) -> String {
        self.counter += 1;
        format!("{hint}_{}", self.counter)
    }

    /// A float32 weight or constant of shape `dims`.
    pub fn weight(&mut self, name: &str, dims: &[usize], data: Vec<f32>) -> String {
        let name = self.fresh(name);
        self.initializers.push(TensorProto {
            name: name.clone(),
            dims: dims.iter().map(|d| *d as i64).collect(),
            data_type: float_type(),
            float_data: data,
            ..Default::default()
        });
        name
    }

    /// An int64 constant (shapes, axes).
    pub fn int64s(&mut self, name: &str, data: &[i64]) -> String {
        let name = self.fresh(name);
        self.initializers.push(TensorProto {
            name: name.clone(),
            dims: vec![data.len() as i64],
            data_type: int64_type(),
            int64_data: data.to_vec(),
            ..Default::default()
        });
        name
    }

    /// A node with several outputs; returns their names.
    pub fn node_n(
        &mut self,
        op: &str,
        inputs: &[&str],
        attributes: Vec<AttributeProto>,
        outputs: usize,
    ) -> Vec<String> {
        let names: Vec<String> = (0..outputs).map(|_| self.fresh(&op.to_lowercase())).collect();
        let name = self.fresh(op);
        self.nodes.push(NodeProto {
            op_type: op.into(),
            name,
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: names.clone(),
            attribute: attributes,
            ..Default::default()
        });
        names
    }

    /// A node with one output; returns its name.
    pub fn node(&mut self, op: &str, inputs: &[&str], attributes: Vec<AttributeProto>) -> String {
        self.node_n(op, inputs, attributes, 1).remove(0)
    }

    /// A node from another domain (e.g. `ai.onnx.ml`) with named outputs.
    pub fn push_node(&mut self, node: NodeProto) {
        self.nodes.push(node);
    }

    /// `x · w + b` with `w` stored as `[inputs, outputs]` (row-major).
    pub fn dense(&mut self, x: &str, name: &str, w: (&[usize], Vec<f32>), b: Vec<f32>) -> String {
        let w = self.weight(&format!("{name}.weight"), w.0, w.1);
        let b_len = b.len();
        let b = self.weight(&format!("{name}.bias"), &[b_len], b);
        let y = self.node("MatMul", &[x, &w], vec![]);
        self.node("Add", &[&y, &b], vec![])
    }

    /// Reshape to `shape` (0 keeps the input's dimension, as ONNX defines).
    pub fn reshape(&mut self, x: &str, shape: &[i64]) -> String {
        let s = self.int64s("shape", shape);
        self.node("Reshape", &[x, &s], vec![])
    }

    /// Transpose with `perm`.
    pub fn transpose(&mut self, x: &str, perm: &[i64]) -> String {
        self.node("Transpose", &[x], vec![ints("perm", perm.to_vec())])
    }

    /// Adds the `label` (arg-max, int64) and `probabilities` (softmax)
    /// outputs from `logits` (batch × 7).
    pub fn classify(&mut self, logits: &str) -> [String; 2] {
        self.nodes.push(NodeProto {
            op_type: "Softmax".into(),
            name: "softmax".into(),
            input: vec![logits.into()],
            output: vec!["probabilities".into()],
            attribute: vec![int("axis", -1)],
            ..Default::default()
        });
        self.nodes.push(NodeProto {
            op_type: "ArgMax".into(),
            name: "argmax".into(),
            input: vec!["probabilities".into()],
            output: vec!["label".into()],
            attribute: vec![int("axis", 1), int("keepdims", 0)],
            ..Default::default()
        });
        ["label".into(), "probabilities".into()]
    }

    /// The finished model: input `input` of shape `(batch, input_dims…)`,
    /// outputs `label` and `probabilities`, `metadata` as `metadata_props`.
    pub fn into_model_bytes(self, input_dims: &[usize], metadata: &[(String, String)], ml_domain: bool) -> Vec<u8> {
        let mut dims = vec![None];
        dims.extend(input_dims.iter().map(|d| Some(*d)));
        let graph = GraphProto {
            name: "cis490".into(),
            node: self.nodes,
            initializer: self.initializers,
            input: vec![tensor_info("input", float_type(), &dims)],
            output: vec![
                tensor_info("label", int64_type(), &[None]),
                tensor_info("probabilities", float_type(), &[None, Some(NUM_CLASSES)]),
            ],
            ..Default::default()
        };
        let mut opset_import = vec![OperatorSetIdProto { domain: String::new(), version: OPSET }];
        if ml_domain {
            opset_import.push(OperatorSetIdProto { domain: "ai.onnx.ml".into(), version: 3 });
        }
        let model = ModelProto {
            ir_version: 8,
            producer_name: "cis490".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            opset_import,
            graph: Some(graph),
            metadata_props: metadata
                .iter()
                .map(|(k, v)| StringStringEntryProto { key: k.clone(), value: v.clone() })
                .collect(),
            ..Default::default()
        };
        model.encode_to_vec()
    }
}
