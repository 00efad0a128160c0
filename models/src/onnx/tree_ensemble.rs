//! The project's own evaluator of one `ai.onnx.ml` `TreeEnsembleClassifier`
//! node, read from a decoded `tract_onnx::pb::ModelProto` (no hessboost, so
//! it runs in wasm32 too).
//!
//! [`TreeEnsemble::from_node`] checks every attribute and compiles the trees
//! into one flat array of 16-byte nodes (each tree's nodes in depth-first
//! order, a branch holding its feature, comparison, missing-value
//! direction, threshold and its two children's indices; a leaf is its own
//! two children, its class weights kept aside). Evaluation walks eight
//! trees side by side for as many steps as the deepest of them needs (no
//! branch on the path, the eight walks' loads overlap), sums the reached
//! leaves' weights per class in `f64` in tree order, adds `base_values` and
//! applies `post_transform`, as onnxruntime does:
//!
//! - a branch goes to its true child when `x <mode> threshold` holds
//!   (`BRANCH_LEQ` `<=`, `BRANCH_LT` `<`, `BRANCH_GTE` `>=`, `BRANCH_GT` `>`,
//!   `BRANCH_EQ` `==`, `BRANCH_NEQ` `!=`) or when `x` is NaN and
//!   `nodes_missing_value_tracks_true` is set; otherwise (a NaN compares
//!   false, except for `!=`) to its false child;
//! - `class_ids` index `classlabels_int64s`; output column `k` is class `k`;
//! - `post_transform` NONE, SOFTMAX, LOGISTIC or SOFTMAX_ZERO.
//!
//! A hostile file cannot make it panic or loop: every list has the same
//! length as its siblings, counts are capped ([`MAX_NODES`],
//! [`MAX_CLASS_WEIGHTS`], [`MAX_CLASSES`]), children must be nodes of the
//! same tree, every tree has one root from which each of its nodes is
//! reached exactly once (no cycle, no shared node), and branch features are
//! below the input width (so a window costs at most eight steps per node);
//! any violation is an [`OnnxError::TreeAttribute`]
//! naming the attribute. What the evaluator does not implement (PROBIT, the
//! `*_as_tensor` doubles, string labels, two classes or fewer, whose
//! onnxruntime semantics differ) is reported by [`compile`] as
//! [`Compiled::Tract`] so the caller can let tract run the file instead.

use std::collections::HashMap;

use tract_onnx::pb::{AttributeProto, ModelProto, NodeProto, attribute_proto::AttributeType, tensor_proto, type_proto};

use super::OnnxError;

/// Most nodes in one ensemble (16.7 million; the lab's ensembles have
/// ~270,000).
pub const MAX_NODES: usize = 1 << 24;
/// Most class weights (leaf votes) in one ensemble.
pub const MAX_CLASS_WEIGHTS: usize = 1 << 24;
/// Most classes.
pub const MAX_CLASSES: usize = 1 << 16;
/// Largest input width a branch may read (feature ids are packed in 28 bits).
pub const MAX_FEATURES: usize = 1 << 28;

/// What [`compile`] makes of a model.
#[derive(Debug, Clone)]
pub enum Compiled {
    /// The model is one tree ensemble this module evaluates.
    Trees(TreeEnsemble),
    /// Something this module does not evaluate; tract should run the file.
    Tract {
        /// Why, in words.
        reason: String,
    },
}

/// How the class scores become the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostTransform {
    /// The scores as they are.
    None,
    /// Softmax over the classes.
    Softmax,
    /// `1 / (1 + e^-s)` per class.
    Logistic,
    /// Softmax over the non-zero scores; zero scores stay zero.
    SoftmaxZero,
}

/// A branch's comparison (or a leaf), packed in a node's low 3 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum Mode {
    Leq = 0,
    Lt = 1,
    Gte = 2,
    Gt = 3,
    Eq = 4,
    Neq = 5,
    Leaf = 6,
}

impl Mode {
    fn parse(bytes: &[u8]) -> Option<Self> {
        Some(match bytes {
            b"BRANCH_LEQ" => Self::Leq,
            b"BRANCH_LT" => Self::Lt,
            b"BRANCH_GTE" => Self::Gte,
            b"BRANCH_GT" => Self::Gt,
            b"BRANCH_EQ" => Self::Eq,
            b"BRANCH_NEQ" => Self::Neq,
            b"LEAF" => Self::Leaf,
            _ => return None,
        })
    }
}

const MODE_BITS: u32 = 0b111;
const MISSING_TRUE: u32 = 0b1000;
const FEATURE_SHIFT: u32 = 4;
const LEAF: u32 = Mode::Leaf as u32;

/// One compiled node (16 bytes): `op` = feature << 4 | missing flag |
/// mode, `next` = [false child, true child]. A leaf (mode `LEAF`, feature 0)
/// is its own two children, so a walk that reaches it early stays there.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Node {
    op: u32,
    threshold: f32,
    next: [u32; 2],
}

/// One leaf vote.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Vote {
    class: usize,
    weight: f64,
}

/// Trees walked side by side: their walks are independent, so the CPU
/// overlaps their memory loads.
const LANES: usize = 8;

/// [`LANES`] consecutive trees and the most steps any of them needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Group {
    first: u32,
    len: u32,
    depth: u32,
}

/// A compiled `TreeEnsembleClassifier`.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeEnsemble {
    nodes: Vec<Node>,
    roots: Vec<u32>,
    groups: Vec<Group>,
    /// Node `i`'s votes are `votes[vote_start[i]..vote_start[i + 1]]`.
    vote_start: Vec<u32>,
    votes: Vec<Vote>,
    base: Vec<f64>,
    labels: Vec<i64>,
    width: usize,
    transform: PostTransform,
}

fn bad(attribute: &'static str, reason: impl Into<String>) -> OnnxError {
    OnnxError::TreeAttribute { attribute, reason: reason.into() }
}

/// Looks a model over: one `TreeEnsembleClassifier` from the input to the
/// two outputs (`label`, `probabilities`) is compiled for rows of `width`
/// features; anything else is left to tract. A tree node that is present
/// but invalid is an error.
pub fn compile(model: &ModelProto, width: usize) -> Result<Compiled, OnnxError> {
    let tract = |reason: &str| Ok(Compiled::Tract { reason: reason.into() });
    let Some(graph) = &model.graph else { return tract("no graph") };
    let [node] = graph.node.as_slice() else { return tract("not a single node") };
    if node.op_type != "TreeEnsembleClassifier" || node.domain != "ai.onnx.ml" {
        return tract("not an ai.onnx.ml TreeEnsembleClassifier");
    }
    let [input] = graph.input.as_slice() else { return tract("not one graph input") };
    if !graph.initializer.is_empty() || node.input.as_slice() != std::slice::from_ref(&input.name) {
        return tract("the node does not read the graph input");
    }
    let elem = input.r#type.as_ref().and_then(|t| match &t.value {
        Some(type_proto::Value::TensorType(tensor)) => Some(tensor.elem_type),
        _ => None,
    });
    if elem != Some(tensor_proto::DataType::Float as i32) {
        return tract("the input is not float32");
    }
    let outputs: Vec<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
    if node.output.len() != 2 || outputs != node.output.iter().map(String::as_str).collect::<Vec<_>>() {
        return tract("the outputs are not the node's (label, probabilities)");
    }
    TreeEnsemble::from_node(node, width)
}

/// The node's attributes by name; a repeated name is an error.
fn attributes(node: &NodeProto) -> Result<HashMap<&str, &AttributeProto>, OnnxError> {
    let mut map = HashMap::new();
    for a in &node.attribute {
        if map.insert(a.name.as_str(), a).is_some() {
            return Err(OnnxError::TreeAttribute { attribute: "attribute", reason: format!("{} is repeated", a.name) });
        }
    }
    Ok(map)
}

const KNOWN: [&str; 15] = [
    "base_values",
    "class_ids",
    "class_nodeids",
    "class_treeids",
    "class_weights",
    "classlabels_int64s",
    "nodes_falsenodeids",
    "nodes_featureids",
    "nodes_hitrates",
    "nodes_missing_value_tracks_true",
    "nodes_modes",
    "nodes_nodeids",
    "nodes_treeids",
    "nodes_truenodeids",
    "nodes_values",
];

struct Attributes<'a>(HashMap<&'a str, &'a AttributeProto>);

impl<'a> Attributes<'a> {
    fn get(&self, name: &'static str, kind: AttributeType) -> Result<Option<&'a AttributeProto>, OnnxError> {
        match self.0.get(name) {
            None => Ok(None),
            Some(a) if a.r#type == kind as i32 => Ok(Some(a)),
            Some(_) => Err(bad(name, format!("is not of type {}", kind.as_str_name()))),
        }
    }

    fn ints(&self, name: &'static str, len: Option<usize>) -> Result<&'a [i64], OnnxError> {
        let values = self.get(name, AttributeType::Ints)?.map(|a| a.ints.as_slice()).unwrap_or_default();
        check_len(name, values.len(), len)?;
        Ok(values)
    }

    fn floats(&self, name: &'static str, len: Option<usize>) -> Result<&'a [f32], OnnxError> {
        let values = self.get(name, AttributeType::Floats)?.map(|a| a.floats.as_slice()).unwrap_or_default();
        check_len(name, values.len(), len)?;
        Ok(values)
    }
}

fn check_len(name: &'static str, got: usize, expected: Option<usize>) -> Result<(), OnnxError> {
    match expected {
        Some(n) if n != got => Err(bad(name, format!("has {got} values, not {n}"))),
        _ => Ok(()),
    }
}

fn index(name: &'static str, v: i64, below: usize) -> Result<usize, OnnxError> {
    usize::try_from(v).ok().filter(|i| *i < below).ok_or_else(|| bad(name, format!("{v} is not in 0..{below}")))
}

impl TreeEnsemble {
    /// Compiles a `TreeEnsembleClassifier` node for rows of `width` features.
    /// [`Compiled::Tract`] for what this module does not evaluate; an error
    /// naming the attribute for what no evaluator should accept.
    pub fn from_node(node: &NodeProto, width: usize) -> Result<Compiled, OnnxError> {
        let raw = attributes(node)?;
        if let Some(other) = raw.keys().find(|k| !KNOWN.contains(k) && **k != "post_transform") {
            return Ok(Compiled::Tract { reason: format!("attribute {other} is not evaluated here") });
        }
        let a = Attributes(raw);
        let transform = match a.get("post_transform", AttributeType::String)?.map(|p| p.s.as_slice()) {
            None | Some(b"NONE") => PostTransform::None,
            Some(b"SOFTMAX") => PostTransform::Softmax,
            Some(b"LOGISTIC") => PostTransform::Logistic,
            Some(b"SOFTMAX_ZERO") => PostTransform::SoftmaxZero,
            Some(b"PROBIT") => return Ok(Compiled::Tract { reason: "post_transform PROBIT".into() }),
            Some(other) => {
                return Err(bad("post_transform", format!("{:?} is unknown", String::from_utf8_lossy(other))));
            }
        };
        let Some(labels) = a.get("classlabels_int64s", AttributeType::Ints)? else {
            return Ok(Compiled::Tract { reason: "no classlabels_int64s".into() });
        };
        let labels = labels.ints.clone();
        if labels.len() <= 2 {
            return Ok(Compiled::Tract { reason: format!("{} classes (binary semantics)", labels.len()) });
        }
        if labels.len() > MAX_CLASSES {
            return Err(bad("classlabels_int64s", format!("{} classes, more than {MAX_CLASSES}", labels.len())));
        }
        if width == 0 {
            return Ok(Compiled::Tract { reason: "an input without features".into() });
        }
        if width > MAX_FEATURES {
            return Err(bad("nodes_featureids", format!("input width {width} is over {MAX_FEATURES}")));
        }
        let n = a.ints("nodes_nodeids", None)?.len();
        if n > MAX_NODES {
            return Err(bad("nodes_nodeids", format!("{n} nodes, more than {MAX_NODES}")));
        }
        let tree_ids = a.ints("nodes_treeids", Some(n))?;
        let node_ids = a.ints("nodes_nodeids", Some(n))?;
        let features = a.ints("nodes_featureids", Some(n))?;
        let values = a.floats("nodes_values", Some(n))?;
        let true_ids = a.ints("nodes_truenodeids", Some(n))?;
        let false_ids = a.ints("nodes_falsenodeids", Some(n))?;
        let modes = a.get("nodes_modes", AttributeType::Strings)?.map(|m| m.strings.as_slice()).unwrap_or_default();
        check_len("nodes_modes", modes.len(), Some(n))?;
        let missing = a.ints("nodes_missing_value_tracks_true", None)?;
        if !missing.is_empty() {
            check_len("nodes_missing_value_tracks_true", missing.len(), Some(n))?;
        }
        if a.0.contains_key("nodes_hitrates") {
            a.floats("nodes_hitrates", Some(n))?;
        }
        let base = a.floats("base_values", None)?;
        if !base.is_empty() {
            check_len("base_values", base.len(), Some(labels.len()))?;
        }
        let votes = a.ints("class_ids", None)?.len();
        if votes > MAX_CLASS_WEIGHTS {
            return Err(bad("class_ids", format!("{votes} class weights, more than {MAX_CLASS_WEIGHTS}")));
        }
        let nodes = NodeLists {
            tree_ids,
            node_ids,
            features,
            values,
            true_ids,
            false_ids,
            modes: modes.iter().enumerate().map(|(i, m)| mode(i, m)).collect::<Result<_, _>>()?,
            missing,
        };
        let classes = ClassLists {
            tree_ids: a.ints("class_treeids", Some(votes))?,
            node_ids: a.ints("class_nodeids", Some(votes))?,
            class_ids: a.ints("class_ids", Some(votes))?,
            weights: a.floats("class_weights", Some(votes))?,
        };
        let mut ensemble = build(&nodes, &classes, labels.len(), width)?;
        ensemble.base =
            if base.is_empty() { vec![0.0; labels.len()] } else { base.iter().map(|v| f64::from(*v)).collect() };
        ensemble.labels = labels;
        ensemble.transform = transform;
        Ok(Compiled::Trees(ensemble))
    }

    /// Number of classes (output columns).
    pub fn classes(&self) -> usize {
        self.labels.len()
    }

    /// The class labels (`classlabels_int64s`), in output column order.
    pub fn labels(&self) -> &[i64] {
        &self.labels
    }

    /// Features per row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Number of trees.
    pub fn trees(&self) -> usize {
        self.roots.len()
    }

    /// Number of nodes, branches and leaves.
    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }

    /// The most comparisons on a path from a root to a leaf.
    pub fn depth(&self) -> usize {
        self.groups.iter().map(|g| g.depth as usize).max().unwrap_or(0)
    }

    /// The post-transform applied to the scores.
    pub fn post_transform(&self) -> PostTransform {
        self.transform
    }

    /// The transformed class scores of `rows` rows of `x` (row-major,
    /// [`TreeEnsemble::width`] features each), row-major,
    /// [`TreeEnsemble::classes`] per row.
    pub fn predict(&self, x: &[f32], rows: usize) -> Result<Vec<f32>, OnnxError> {
        let expected = rows.saturating_mul(self.width);
        if x.len() != expected {
            return Err(OnnxError::Input { got: x.len(), expected, shape: vec![rows, self.width] });
        }
        let classes = self.classes();
        let size = rows.checked_mul(classes).ok_or_else(|| bad("classlabels_int64s", "batch × classes overflows"))?;
        let mut out = vec![0.0f32; size];
        let mut scores = vec![0.0f64; classes];
        for (row, out) in x.chunks_exact(self.width).zip(out.chunks_exact_mut(classes)) {
            self.scores(row, &mut scores);
            self.transform(&mut scores);
            for (o, s) in out.iter_mut().zip(&scores) {
                *o = *s as f32;
            }
        }
        Ok(out)
    }

    /// The raw scores of one row: base values plus every reached leaf's
    /// votes, summed in tree order.
    fn scores(&self, row: &[f32], scores: &mut [f64]) {
        scores.copy_from_slice(&self.base);
        for group in &self.groups {
            let (first, len) = (group.first as usize, group.len as usize);
            let mut at = [self.roots[first]; LANES];
            at[..len].copy_from_slice(&self.roots[first..first + len]);
            // Fixed steps, no branch on the path: leaves are their own children.
            for _ in 0..group.depth {
                for a in &mut at {
                    *a = self.step(row, *a);
                }
            }
            for &leaf in &at[..len] {
                let range = self.vote_start[leaf as usize] as usize..self.vote_start[leaf as usize + 1] as usize;
                for vote in &self.votes[range] {
                    scores[vote.class] += vote.weight;
                }
            }
        }
    }

    /// The node after `at` for `row`.
    #[inline(always)]
    fn step(&self, row: &[f32], at: u32) -> u32 {
        let node = &self.nodes[at as usize];
        let x = row[(node.op >> FEATURE_SHIFT) as usize];
        let t = node.threshold;
        let holds = match node.op & MODE_BITS {
            0 => x <= t,
            1 => x < t,
            2 => x >= t,
            3 => x > t,
            4 => x == t,
            _ => x != t,
        };
        let go_true = holds | (node.op & MISSING_TRUE != 0 && x.is_nan());
        node.next[usize::from(go_true)]
    }

    fn transform(&self, scores: &mut [f64]) {
        match self.transform {
            PostTransform::None => {}
            PostTransform::Logistic => {
                for s in scores.iter_mut() {
                    *s = 1.0 / (1.0 + (-*s).exp());
                }
            }
            PostTransform::Softmax => {
                let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mut sum = 0.0;
                for s in scores.iter_mut() {
                    *s = (*s - max).exp();
                    sum += *s;
                }
                for s in scores.iter_mut() {
                    *s /= sum;
                }
            }
            PostTransform::SoftmaxZero => {
                // onnxruntime: scores within 1e-7 of zero stay zero (they
                // take no part in the sum); all-zero scores give NaN.
                let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mut sum = 0.0;
                for s in scores.iter_mut() {
                    if s.abs() > 1e-7 {
                        *s = (*s - max).exp();
                        sum += *s;
                    } else {
                        *s = 0.0;
                    }
                }
                for s in scores.iter_mut() {
                    *s /= sum;
                }
            }
        }
    }
}

fn mode(i: usize, bytes: &[u8]) -> Result<Mode, OnnxError> {
    Mode::parse(bytes)
        .ok_or_else(|| bad("nodes_modes", format!("node {i}: {:?} is not a node mode", String::from_utf8_lossy(bytes))))
}

/// The `nodes_*` lists, all of one length.
struct NodeLists<'a> {
    tree_ids: &'a [i64],
    node_ids: &'a [i64],
    features: &'a [i64],
    values: &'a [f32],
    true_ids: &'a [i64],
    false_ids: &'a [i64],
    modes: Vec<Mode>,
    /// Empty or one per node.
    missing: &'a [i64],
}

/// The `class_*` lists, all of one length.
struct ClassLists<'a> {
    tree_ids: &'a [i64],
    node_ids: &'a [i64],
    class_ids: &'a [i64],
    weights: &'a [f32],
}

const CHILDREN: &str = "nodes_truenodeids, nodes_falsenodeids";

/// Lays the trees out depth-first, checking the structure.
fn build(lists: &NodeLists, classes: &ClassLists, n_classes: usize, width: usize) -> Result<TreeEnsemble, OnnxError> {
    let n = lists.node_ids.len();
    // (tree id, node id) -> position in the lists; trees in order of first appearance.
    let mut position: HashMap<(i64, i64), usize> = HashMap::with_capacity(n);
    let mut trees: Vec<i64> = Vec::new();
    let mut tree_of: HashMap<i64, usize> = HashMap::new();
    for i in 0..n {
        let key = (lists.tree_ids[i], lists.node_ids[i]);
        if position.insert(key, i).is_some() {
            return Err(bad("nodes_nodeids", format!("node {} appears twice in tree {}", key.1, key.0)));
        }
        tree_of.entry(key.0).or_insert_with(|| {
            trees.push(key.0);
            trees.len() - 1
        });
    }
    // Children of each branch (positions), and how many parents each node has.
    let mut parents = vec![0u8; n];
    let mut children = vec![[0usize; 2]; n];
    for i in 0..n {
        if lists.modes[i] == Mode::Leaf {
            continue;
        }
        index("nodes_featureids", lists.features[i], width)?;
        for (slot, (ids, name)) in
            [(lists.false_ids, "nodes_falsenodeids"), (lists.true_ids, "nodes_truenodeids")].into_iter().enumerate()
        {
            let child = *position.get(&(lists.tree_ids[i], ids[i])).ok_or_else(|| {
                bad(
                    name,
                    format!(
                        "node {} of tree {} points to node {}, not in that tree",
                        lists.node_ids[i], lists.tree_ids[i], ids[i]
                    ),
                )
            })?;
            parents[child] = parents[child].saturating_add(1);
            children[i][slot] = child;
        }
    }
    let mut roots_at: Vec<Option<usize>> = vec![None; trees.len()];
    for i in 0..n {
        if parents[i] > 1 {
            return Err(bad(
                CHILDREN,
                format!("node {} of tree {} has {} parents", lists.node_ids[i], lists.tree_ids[i], parents[i]),
            ));
        }
        if parents[i] == 0 {
            let slot = &mut roots_at[tree_of[&lists.tree_ids[i]]];
            if slot.is_some() {
                return Err(bad(CHILDREN, format!("tree {} has more than one root", lists.tree_ids[i])));
            }
            *slot = Some(i);
        }
    }
    let roots_at = roots_at
        .iter()
        .zip(&trees)
        .map(|(root, tree)| root.ok_or_else(|| bad(CHILDREN, format!("tree {tree} has no root (a cycle)"))))
        .collect::<Result<Vec<usize>, _>>()?;
    // Leaf votes by position.
    let mut votes_of: Vec<Vec<Vote>> = vec![Vec::new(); n];
    for v in 0..classes.class_ids.len() {
        let at = *position.get(&(classes.tree_ids[v], classes.node_ids[v])).ok_or_else(|| {
            bad(
                "class_nodeids",
                format!(
                    "weight {v} is for node {} of tree {}, which does not exist",
                    classes.node_ids[v], classes.tree_ids[v]
                ),
            )
        })?;
        if lists.modes[at] != Mode::Leaf {
            return Err(bad(
                "class_nodeids",
                format!("weight {v} is for node {} of tree {}, not a leaf", classes.node_ids[v], classes.tree_ids[v]),
            ));
        }
        let class = index("class_ids", classes.class_ids[v], n_classes)?;
        votes_of[at].push(Vote { class, weight: f64::from(classes.weights[v]) });
    }
    // Depth-first layout from each root: a node seen twice is a cycle.
    let mut nodes: Vec<Node> = Vec::with_capacity(n);
    let mut votes: Vec<Vote> = Vec::with_capacity(classes.class_ids.len());
    let mut roots = Vec::with_capacity(trees.len());
    let mut compiled_at = vec![u32::MAX; n];
    let mut vote_start: Vec<u32> = Vec::with_capacity(n + 1);
    let mut depths: Vec<u32> = Vec::with_capacity(trees.len());
    let mut stack: Vec<(usize, u32)> = Vec::new();
    for (t, &root) in roots_at.iter().enumerate() {
        roots.push(nodes.len() as u32);
        depths.push(0);
        stack.push((root, 0));
        while let Some((i, depth)) = stack.pop() {
            if compiled_at[i] != u32::MAX {
                return Err(bad(
                    CHILDREN,
                    format!("tree {} reaches node {} twice (a cycle)", trees[t], lists.node_ids[i]),
                ));
            }
            let at = nodes.len() as u32;
            compiled_at[i] = at;
            vote_start.push(votes.len() as u32);
            depths[t] = depths[t].max(depth);
            nodes.push(if lists.modes[i] == Mode::Leaf {
                votes.extend_from_slice(&votes_of[i]);
                Node { op: LEAF, threshold: 0.0, next: [at, at] }
            } else {
                let missing = lists.missing.get(i).is_some_and(|m| *m != 0);
                let feature = lists.features[i] as u32; // checked above: below width ≤ 2^28
                Node {
                    op: feature << FEATURE_SHIFT | if missing { MISSING_TRUE } else { 0 } | lists.modes[i] as u32,
                    threshold: lists.values[i],
                    next: [0, 0],
                }
            });
            if lists.modes[i] != Mode::Leaf {
                // True child popped first, so it follows its parent.
                stack.push((children[i][0], depth + 1));
                stack.push((children[i][1], depth + 1));
            }
        }
    }
    if let Some(i) = compiled_at.iter().position(|c| *c == u32::MAX) {
        return Err(bad(
            CHILDREN,
            format!("node {} of tree {} is not reached from its root (a cycle)", lists.node_ids[i], lists.tree_ids[i]),
        ));
    }
    // Children as compiled indices.
    for i in 0..n {
        if lists.modes[i] != Mode::Leaf {
            let at = compiled_at[i] as usize;
            nodes[at].next = [compiled_at[children[i][0]], compiled_at[children[i][1]]];
        }
    }
    vote_start.push(votes.len() as u32);
    let groups = (0..roots.len())
        .step_by(LANES)
        .map(|first| {
            let len = LANES.min(roots.len() - first);
            let depth = depths[first..first + len].iter().copied().max().unwrap_or(0);
            Group { first: first as u32, len: len as u32, depth }
        })
        .collect();
    Ok(TreeEnsemble {
        nodes,
        roots,
        groups,
        vote_start,
        votes,
        base: Vec::new(),
        labels: Vec::new(),
        width,
        transform: PostTransform::None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::proto::{floats, ints, string, strings};

    /// One node of a test tree: `(tree, id, mode, feature, threshold, true id, false id, missing → true)`.
    type Spec = (i64, i64, &'static str, i64, f32, i64, i64, i64);

    /// A classifier node over `classes` classes from `nodes` and leaf
    /// votes `(tree, node, class, weight)`.
    fn node(nodes: &[Spec], votes: &[(i64, i64, i64, f32)], classes: i64, transform: &str) -> NodeProto {
        let col = |f: fn(&Spec) -> i64| nodes.iter().map(f).collect::<Vec<i64>>();
        NodeProto {
            op_type: "TreeEnsembleClassifier".into(),
            domain: "ai.onnx.ml".into(),
            input: vec!["input".into()],
            output: vec!["label".into(), "probabilities".into()],
            attribute: vec![
                ints("classlabels_int64s", (0..classes).collect()),
                ints("nodes_treeids", col(|n| n.0)),
                ints("nodes_nodeids", col(|n| n.1)),
                strings("nodes_modes", nodes.iter().map(|n| n.2).collect()),
                ints("nodes_featureids", col(|n| n.3)),
                floats("nodes_values", nodes.iter().map(|n| n.4).collect()),
                ints("nodes_truenodeids", col(|n| n.5)),
                ints("nodes_falsenodeids", col(|n| n.6)),
                ints("nodes_missing_value_tracks_true", col(|n| n.7)),
                ints("class_treeids", votes.iter().map(|v| v.0).collect()),
                ints("class_nodeids", votes.iter().map(|v| v.1).collect()),
                ints("class_ids", votes.iter().map(|v| v.2).collect()),
                floats("class_weights", votes.iter().map(|v| v.3).collect()),
                string("post_transform", transform),
            ],
            ..Default::default()
        }
    }

    /// One split on feature 0 at 1.0: true → class 0, false → class 1.
    fn stump(mode: &'static str, missing_true: i64) -> NodeProto {
        node(
            &[
                (0, 0, mode, 0, 1.0, 1, 2, missing_true),
                (0, 1, "LEAF", 0, 0.0, 0, 0, 0),
                (0, 2, "LEAF", 0, 0.0, 0, 0, 0),
            ],
            &[(0, 1, 0, 1.0), (0, 2, 1, 1.0)],
            3,
            "NONE",
        )
    }

    fn compiled(node: &NodeProto, width: usize) -> Result<TreeEnsemble, Box<dyn std::error::Error>> {
        match TreeEnsemble::from_node(node, width)? {
            Compiled::Trees(t) => Ok(t),
            Compiled::Tract { reason } => Err(format!("left to tract: {reason}").into()),
        }
    }

    fn refused(node: &NodeProto, width: usize) -> Result<(&'static str, String), Box<dyn std::error::Error>> {
        match TreeEnsemble::from_node(node, width) {
            Err(OnnxError::TreeAttribute { attribute, reason }) => Ok((attribute, reason)),
            Err(other) => Err(format!("another error: {other}").into()),
            Ok(_) => Err("accepted".into()),
        }
    }

    fn set(node: &mut NodeProto, attribute: AttributeProto) {
        node.attribute.retain(|a| a.name != attribute.name);
        node.attribute.push(attribute);
    }

    #[test]
    fn every_branch_mode_compares_as_onnxruntime_does() -> Result<(), Box<dyn std::error::Error>> {
        // Inputs 0, 1, 2, NaN: true (class 0) or false (class 1).
        let cases = [
            ("BRANCH_LEQ", [true, true, false, false]),
            ("BRANCH_LT", [true, false, false, false]),
            ("BRANCH_GTE", [false, true, true, false]),
            ("BRANCH_GT", [false, false, true, false]),
            ("BRANCH_EQ", [false, true, false, false]),
            ("BRANCH_NEQ", [true, false, true, true]),
        ];
        for (mode, expected) in cases {
            let trees = compiled(&stump(mode, 0), 1)?;
            let out = trees.predict(&[0.0, 1.0, 2.0, f32::NAN], 4)?;
            for (row, want) in expected.iter().enumerate() {
                let got = &out[row * 3..row * 3 + 3];
                let want = if *want { [1.0, 0.0, 0.0] } else { [0.0, 1.0, 0.0] };
                assert_eq!(got, want, "{mode}, input row {row}");
            }
        }
        Ok(())
    }

    #[test]
    fn missing_values_follow_nodes_missing_value_tracks_true() -> Result<(), Box<dyn std::error::Error>> {
        for mode in ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"] {
            let trees = compiled(&stump(mode, 1), 1)?;
            assert_eq!(trees.predict(&[f32::NAN], 1)?, [1.0, 0.0, 0.0], "{mode}: NaN goes to the true child");
        }
        // Without the attribute, NaN compares false (to the false child, except for !=).
        let mut node = stump("BRANCH_LT", 0);
        node.attribute.retain(|a| a.name != "nodes_missing_value_tracks_true");
        assert_eq!(compiled(&node, 1)?.predict(&[f32::NAN], 1)?, [0.0, 1.0, 0.0]);
        Ok(())
    }

    #[test]
    fn deeper_trees_sum_their_votes_and_base_values() -> Result<(), Box<dyn std::error::Error>> {
        // Tree 7: x0 <= 0 ? (x1 < 5 ? leaf 3 : leaf 4) : leaf 2; tree 9: one leaf voting for two classes.
        let mut node = node(
            &[
                (7, 0, "BRANCH_LEQ", 0, 0.0, 1, 2, 0),
                (7, 1, "BRANCH_LT", 1, 5.0, 3, 4, 0),
                (7, 2, "LEAF", 0, 0.0, 0, 0, 0),
                (7, 3, "LEAF", 0, 0.0, 0, 0, 0),
                (7, 4, "LEAF", 0, 0.0, 0, 0, 0),
                (9, 0, "LEAF", 0, 0.0, 0, 0, 0),
            ],
            &[(7, 2, 0, 0.5), (7, 3, 1, 0.25), (7, 4, 2, -1.0), (9, 0, 0, 2.0), (9, 0, 2, 3.0)],
            3,
            "NONE",
        );
        set(&mut node, floats("base_values", vec![0.1, 0.2, 0.3]));
        let trees = compiled(&node, 2)?;
        assert_eq!(trees.trees(), 2);
        let out = trees.predict(&[1.0, 0.0, -1.0, 4.0, -1.0, 6.0], 3)?;
        let want = [0.1 + 0.5 + 2.0, 0.2, 0.3 + 3.0, 0.1 + 2.0, 0.2 + 0.25, 0.3 + 3.0, 0.1 + 2.0, 0.2, 0.3 - 1.0 + 3.0];
        for (g, w) in out.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{out:?} vs {want:?}");
        }
        Ok(())
    }

    #[test]
    fn each_post_transform_matches_its_formula() -> Result<(), Box<dyn std::error::Error>> {
        // Scores for x = 0 (true leaf): [1, 0, 0] plus base [0, -1, 0.5] → [1, -1, 0.5]; class 2 base 0 for SOFTMAX_ZERO.
        let scores = |transform: &str, base: Vec<f32>| -> Result<Vec<f32>, Box<dyn std::error::Error>> {
            let mut node = stump("BRANCH_LT", 0);
            set(&mut node, string("post_transform", transform));
            set(&mut node, floats("base_values", base));
            Ok(compiled(&node, 1)?.predict(&[0.0], 1)?)
        };
        let close = |got: &[f32], want: &[f64]| {
            assert!(got.iter().zip(want).all(|(g, w)| (f64::from(*g) - w).abs() < 1e-6), "{got:?} vs {want:?}");
        };
        close(&scores("NONE", vec![0.0, -1.0, 0.5])?, &[1.0, -1.0, 0.5]);
        let e = [1.0f64.exp(), (-1.0f64).exp(), 0.5f64.exp()];
        let sum: f64 = e.iter().sum();
        close(&scores("SOFTMAX", vec![0.0, -1.0, 0.5])?, &e.map(|v| v / sum));
        close(&scores("LOGISTIC", vec![0.0, -1.0, 0.5])?, &[1.0, -1.0, 0.5].map(|s: f64| 1.0 / (1.0 + (-s).exp())));
        // SOFTMAX_ZERO: the zero score stays zero and takes no part in the sum.
        let (a, b) = ((1.0f64 - 1.0).exp(), (-1.0f64 - 1.0).exp());
        close(&scores("SOFTMAX_ZERO", vec![0.0, -1.0, 0.0])?, &[a / (a + b), b / (a + b), 0.0]);
        Ok(())
    }

    #[test]
    fn what_it_does_not_evaluate_is_left_to_tract() -> Result<(), Box<dyn std::error::Error>> {
        let mut probit = stump("BRANCH_LT", 0);
        set(&mut probit, string("post_transform", "PROBIT"));
        let mut binary = stump("BRANCH_LT", 0);
        set(&mut binary, ints("classlabels_int64s", vec![0, 1]));
        let mut strings_labels = stump("BRANCH_LT", 0);
        strings_labels.attribute.retain(|a| a.name != "classlabels_int64s");
        set(&mut strings_labels, strings("classlabels_strings", vec!["a", "b", "c"]));
        let mut doubles = stump("BRANCH_LT", 0);
        set(&mut doubles, AttributeProto { name: "nodes_values_as_tensor".into(), ..Default::default() });
        for (what, node) in
            [("PROBIT", probit), ("binary", binary), ("string labels", strings_labels), ("doubles", doubles)]
        {
            assert!(matches!(TreeEnsemble::from_node(&node, 1)?, Compiled::Tract { .. }), "{what}");
        }
        Ok(())
    }

    #[test]
    fn hostile_structures_are_errors_naming_the_attribute() -> Result<(), Box<dyn std::error::Error>> {
        let leaf = |tree, id| (tree, id, "LEAF", 0, 0.0, 0, 0, 0);
        let votes = [(0, 1, 0, 1.0), (0, 2, 1, 1.0)];
        let cases: Vec<(&str, Vec<Spec>, &str)> = vec![
            (
                "child out of range",
                vec![(0, 0, "BRANCH_LT", 0, 1.0, 1, 99, 0), leaf(0, 1), leaf(0, 2)],
                "nodes_falsenodeids",
            ),
            (
                "child in another tree",
                vec![(0, 0, "BRANCH_LT", 0, 1.0, 1, 3, 0), leaf(0, 1), leaf(0, 2), leaf(1, 3)],
                "nodes_falsenodeids",
            ),
            (
                "cycle through the root",
                vec![
                    (0, 0, "BRANCH_LT", 0, 1.0, 1, 2, 0),
                    (0, 1, "BRANCH_LT", 0, 1.0, 0, 3, 0),
                    leaf(0, 2),
                    leaf(0, 3),
                ],
                CHILDREN,
            ),
            (
                "cycle apart from the root",
                vec![
                    (0, 0, "BRANCH_LT", 0, 1.0, 1, 2, 0),
                    leaf(0, 1),
                    leaf(0, 2),
                    (0, 3, "BRANCH_LT", 0, 1.0, 4, 5, 0),
                    (0, 4, "BRANCH_LT", 0, 1.0, 3, 6, 0),
                    leaf(0, 5),
                    leaf(0, 6),
                ],
                CHILDREN,
            ),
            ("self loop", vec![(0, 0, "BRANCH_LT", 0, 1.0, 0, 0, 0), leaf(0, 1), leaf(0, 2)], CHILDREN),
            ("shared child", vec![(0, 0, "BRANCH_LT", 0, 1.0, 1, 1, 0), leaf(0, 1), leaf(0, 2)], CHILDREN),
            (
                "feature past the input",
                vec![(0, 0, "BRANCH_LT", 3, 1.0, 1, 2, 0), leaf(0, 1), leaf(0, 2)],
                "nodes_featureids",
            ),
            (
                "negative feature",
                vec![(0, 0, "BRANCH_LT", -1, 1.0, 1, 2, 0), leaf(0, 1), leaf(0, 2)],
                "nodes_featureids",
            ),
            ("repeated node id", vec![(0, 0, "BRANCH_LT", 0, 1.0, 1, 2, 0), leaf(0, 1), leaf(0, 1)], "nodes_nodeids"),
            ("unknown mode", vec![(0, 0, "BRANCH_MEMBER", 0, 1.0, 1, 2, 0), leaf(0, 1), leaf(0, 2)], "nodes_modes"),
        ];
        for (what, nodes, attribute) in cases {
            let got = refused(&node(&nodes, &votes, 3, "SOFTMAX"), 3).map_err(|e| format!("{what}: {e}"))?;
            assert_eq!(got.0, attribute, "{what}: {}", got.1);
        }
        Ok(())
    }

    #[test]
    fn hostile_lists_are_errors_naming_the_attribute() -> Result<(), Box<dyn std::error::Error>> {
        let mut short = stump("BRANCH_LT", 0);
        set(&mut short, floats("nodes_values", vec![1.0]));
        let mut short_votes = stump("BRANCH_LT", 0);
        set(&mut short_votes, floats("class_weights", vec![1.0]));
        let mut class = stump("BRANCH_LT", 0);
        set(&mut class, ints("class_ids", vec![0, 3]));
        let mut not_leaf = stump("BRANCH_LT", 0);
        set(&mut not_leaf, ints("class_nodeids", vec![0, 2]));
        let mut base = stump("BRANCH_LT", 0);
        set(&mut base, floats("base_values", vec![1.0; 2]));
        let mut wrong_type = stump("BRANCH_LT", 0);
        set(&mut wrong_type, floats("nodes_treeids", vec![0.0; 3]));
        let mut transform = stump("BRANCH_LT", 0);
        set(&mut transform, string("post_transform", "SOFTPLUS"));
        let mut huge = stump("BRANCH_LT", 0);
        set(&mut huge, ints("nodes_nodeids", vec![0; MAX_NODES + 1]));
        let mut repeated = stump("BRANCH_LT", 0);
        repeated.attribute.push(string("post_transform", "NONE"));
        let cases = [
            ("short list", short, "nodes_values"),
            ("short votes", short_votes, "class_weights"),
            ("class past the labels", class, "class_ids"),
            ("vote for a branch", not_leaf, "class_nodeids"),
            ("base values", base, "base_values"),
            ("wrong type", wrong_type, "nodes_treeids"),
            ("unknown transform", transform, "post_transform"),
            ("huge count", huge, "nodes_nodeids"),
            ("repeated attribute", repeated, "attribute"),
        ];
        for (what, node, attribute) in cases {
            let got = refused(&node, 1).map_err(|e| format!("{what}: {e}"))?;
            assert_eq!(got.0, attribute, "{what}: {}", got.1);
        }
        Ok(())
    }

    #[test]
    fn compile_takes_only_a_lone_tree_ensemble_over_the_input() -> Result<(), Box<dyn std::error::Error>> {
        let mut graph = crate::onnx::proto::GraphBuilder::new();
        graph.push_node(stump("BRANCH_LT", 0));
        let bytes = graph.into_model_bytes(&[1], &[], true);
        use prost::Message;
        let model = ModelProto::decode(bytes.as_slice())?;
        assert!(matches!(compile(&model, 1)?, Compiled::Trees(_)));
        let mut two = model.clone();
        if let Some(g) = two.graph.as_mut() {
            g.node.push(g.node[0].clone());
        }
        assert!(matches!(compile(&two, 1)?, Compiled::Tract { .. }));
        let mut renamed = model.clone();
        if let Some(g) = renamed.graph.as_mut() {
            g.node[0].input[0] = "other".into();
        }
        assert!(matches!(compile(&renamed, 1)?, Compiled::Tract { .. }));
        assert!(matches!(compile(&model, 0)?, Compiled::Tract { .. }));
        Ok(())
    }

    /// A random ensemble of `trees` trees over `width` features and
    /// `classes` classes: node ids shuffled within each tree, every mode,
    /// leaves voting for random classes, as attribute columns.
    struct RandomEnsemble {
        tree_ids: Vec<i64>,
        node_ids: Vec<i64>,
        modes: Vec<&'static str>,
        features: Vec<i64>,
        thresholds: Vec<f32>,
        true_ids: Vec<i64>,
        false_ids: Vec<i64>,
        missing: Vec<i64>,
        votes: Vec<(i64, i64, i64, f32)>,
        classes: i64,
        transform: &'static str,
    }

    const MODES: [&str; 6] = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"];

    impl RandomEnsemble {
        fn new(rng: &mut cis490_shared::rng::Rng, width: usize) -> Self {
            let classes = 3 + rng.below(5) as i64;
            let transforms = ["NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO"];
            let mut e = RandomEnsemble {
                tree_ids: Vec::new(),
                node_ids: Vec::new(),
                modes: Vec::new(),
                features: Vec::new(),
                thresholds: Vec::new(),
                true_ids: Vec::new(),
                false_ids: Vec::new(),
                missing: Vec::new(),
                votes: Vec::new(),
                classes,
                transform: transforms[rng.below(4) as usize],
            };
            for tree in 0..1 + rng.below(12) as i64 {
                // A random shape: each open node splits with probability 0.6
                // down to depth 5, then ids are shuffled.
                let mut shape: Vec<Option<(usize, usize)>> = vec![None];
                let mut open = vec![(0usize, 0usize)];
                while let Some((at, depth)) = open.pop() {
                    if depth < 5 && rng.chance(0.6) {
                        let (t, f) = (shape.len(), shape.len() + 1);
                        shape.extend([None, None]);
                        shape[at] = Some((t, f));
                        open.extend([(t, depth + 1), (f, depth + 1)]);
                    }
                }
                let mut ids: Vec<i64> = (0..shape.len() as i64).collect();
                for i in (1..ids.len()).rev() {
                    ids.swap(i, rng.below(i as u64 + 1) as usize);
                }
                for (at, split) in shape.iter().enumerate() {
                    e.tree_ids.push(tree);
                    e.node_ids.push(ids[at]);
                    e.missing.push(rng.below(2) as i64);
                    match split {
                        Some((t, f)) => {
                            e.modes.push(MODES[rng.below(6) as usize]);
                            e.features.push(rng.below(width as u64) as i64);
                            e.thresholds.push(rng.range(-2.0, 2.0) as f32);
                            e.true_ids.push(ids[*t]);
                            e.false_ids.push(ids[*f]);
                        }
                        None => {
                            e.modes.push("LEAF");
                            e.features.push(0);
                            e.thresholds.push(0.0);
                            e.true_ids.push(0);
                            e.false_ids.push(0);
                            for _ in 0..1 + rng.below(2) {
                                e.votes.push((
                                    tree,
                                    ids[at],
                                    rng.below(classes as u64) as i64,
                                    rng.range(-1.0, 1.0) as f32,
                                ));
                            }
                        }
                    }
                }
            }
            e
        }

        fn node(&self) -> NodeProto {
            let mut node = node(&[], &[], self.classes, self.transform);
            for attribute in [
                ints("nodes_treeids", self.tree_ids.clone()),
                ints("nodes_nodeids", self.node_ids.clone()),
                strings("nodes_modes", self.modes.clone()),
                ints("nodes_featureids", self.features.clone()),
                floats("nodes_values", self.thresholds.clone()),
                ints("nodes_truenodeids", self.true_ids.clone()),
                ints("nodes_falsenodeids", self.false_ids.clone()),
                ints("nodes_missing_value_tracks_true", self.missing.clone()),
                ints("class_treeids", self.votes.iter().map(|v| v.0).collect()),
                ints("class_nodeids", self.votes.iter().map(|v| v.1).collect()),
                ints("class_ids", self.votes.iter().map(|v| v.2).collect()),
                floats("class_weights", self.votes.iter().map(|v| v.3).collect()),
            ] {
                set(&mut node, attribute);
            }
            node
        }

        /// One hostile change: an entry of one column set to a value from
        /// just outside its range (or NaN, or a truncated column).
        fn corrupt(&mut self, rng: &mut cis490_shared::rng::Rng, width: usize) {
            let n = self.node_ids.len();
            let i = rng.below(n as u64) as usize;
            let wild = |rng: &mut cis490_shared::rng::Rng, hi: usize| rng.below(hi as u64 + 4) as i64 - 2;
            match rng.below(12) {
                0 => self.true_ids[i] = wild(rng, n),
                // An earlier change may have cut this column short.
                1 if i < self.false_ids.len() => self.false_ids[i] = wild(rng, n),
                2 => self.features[i] = wild(rng, width),
                3 => self.node_ids[i] = wild(rng, n),
                4 => self.tree_ids[i] = wild(rng, 3),
                5 => self.modes[i] = ["LEAF", "BRANCH_MEMBER", "", "BRANCH_LT"][rng.below(4) as usize],
                6 => self.thresholds[i] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][rng.below(3) as usize],
                7 => self.missing[i] = wild(rng, 2),
                8 => {
                    let cut = rng.below(n as u64) as usize;
                    self.false_ids.truncate(cut);
                }
                9 if !self.votes.is_empty() => {
                    let v = rng.below(self.votes.len() as u64) as usize;
                    self.votes[v].2 = wild(rng, self.classes as usize);
                }
                10 if !self.votes.is_empty() => {
                    let v = rng.below(self.votes.len() as u64) as usize;
                    self.votes[v].1 = wild(rng, n);
                }
                _ if !self.votes.is_empty() => {
                    let v = rng.below(self.votes.len() as u64) as usize;
                    self.votes[v].3 = [f32::NAN, f32::INFINITY, 1e38][rng.below(3) as usize];
                }
                _ => self.classes = 0,
            }
        }
    }

    /// The spec's semantics, walked naively: each tree from its first node
    /// in list order, by node id, summing every reached leaf's votes in
    /// f64, then the post-transform (NONE, SOFTMAX or LOGISTIC).
    fn reference(e: &RandomEnsemble, row: &[f32]) -> Result<Vec<f64>, String> {
        let mut scores = vec![0.0f64; e.classes as usize];
        let mut roots: Vec<(i64, usize)> = Vec::new();
        for (i, tree) in e.tree_ids.iter().enumerate() {
            if !roots.iter().any(|(t, _)| t == tree) {
                roots.push((*tree, i));
            }
        }
        for (tree, mut at) in roots {
            while e.modes[at] != "LEAF" {
                let (x, t) = (row[e.features[at] as usize], e.thresholds[at]);
                let holds = match e.modes[at] {
                    "BRANCH_LEQ" => x <= t,
                    "BRANCH_LT" => x < t,
                    "BRANCH_GTE" => x >= t,
                    "BRANCH_GT" => x > t,
                    "BRANCH_EQ" => x == t,
                    _ => x != t,
                };
                let next = if holds || (x.is_nan() && e.missing[at] == 1) { e.true_ids[at] } else { e.false_ids[at] };
                at = (0..e.node_ids.len())
                    .find(|&k| e.tree_ids[k] == tree && e.node_ids[k] == next)
                    .ok_or(format!("tree {tree}: no node {next}"))?;
            }
            for vote in e.votes.iter().filter(|v| v.0 == tree && v.1 == e.node_ids[at]) {
                scores[vote.2 as usize] += f64::from(vote.3);
            }
        }
        match e.transform {
            "SOFTMAX" => {
                let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = scores.iter().map(|s| (s - top).exp()).sum();
                scores.iter_mut().for_each(|s| *s = (*s - top).exp() / sum);
            }
            "LOGISTIC" => scores.iter_mut().for_each(|s| *s = 1.0 / (1.0 + (-*s).exp())),
            _ => {}
        }
        Ok(scores)
    }

    /// Random valid ensembles (shuffled node ids, every mode, missing
    /// values) evaluate as the spec's naive walk does, and the same
    /// ensembles with hostile changes are refused naming an attribute or
    /// evaluated without a panic: a seeded fuzz run in CI. (tract 0.23.9's
    /// own operator is not the reference: on some of these ensembles it
    /// disagrees with onnxruntime, which agrees with this evaluator.)
    #[test]
    fn random_ensembles_match_the_spec_and_hostile_ones_never_panic() -> Result<(), Box<dyn std::error::Error>> {
        const WIDTH: usize = 5;
        let mut rng = cis490_shared::rng::Rng::new(17);
        let rows: Vec<f32> =
            (0..16 * WIDTH).map(|i| if i % 7 == 3 { f32::NAN } else { rng.range(-2.5, 2.5) as f32 }).collect();
        let (mut compared, mut refused, mut accepted) = (0, 0, 0);
        for case in 0..3000 {
            let mut ensemble = RandomEnsemble::new(&mut rng, WIDTH);
            if case % 3 == 0 && ensemble.transform != "SOFTMAX_ZERO" {
                let ours = compiled(&ensemble.node(), WIDTH).map_err(|e| format!("case {case}: {e}"))?;
                let got = ours.predict(&rows, 16)?;
                for (row, got) in rows.chunks(WIDTH).zip(got.chunks(ours.classes())) {
                    let want = reference(&ensemble, row)?;
                    for (x, y) in got.iter().zip(&want) {
                        let (x, y) = (f64::from(*x), *y);
                        assert!((x - y).abs() <= 1e-5 * y.abs().max(1.0), "case {case}: got {x}, the spec {y}");
                    }
                }
                compared += 1;
                continue;
            }
            for _ in 0..1 + rng.below(3) {
                ensemble.corrupt(&mut rng, WIDTH);
            }
            match TreeEnsemble::from_node(&ensemble.node(), WIDTH) {
                Ok(Compiled::Trees(trees)) => {
                    let out = trees.predict(&rows, 16)?;
                    assert_eq!(out.len(), 16 * trees.classes(), "case {case}");
                    accepted += 1;
                }
                Ok(Compiled::Tract { .. }) | Err(OnnxError::TreeAttribute { .. }) => refused += 1,
                Err(other) => return Err(format!("case {case}: an error that names no attribute: {other}").into()),
            }
        }
        assert!(
            compared >= 500 && refused >= 500 && accepted >= 100,
            "{compared} compared, {refused} refused, {accepted} accepted"
        );
        Ok(())
    }
}
