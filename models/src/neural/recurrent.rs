//! `gru` and `lstm`: one recurrent layer over the 20 steps, the last hidden
//! state into a linear head.
//!
//! The cells follow the ONNX `GRU` (with `linear_before_reset = 1`) and
//! `LSTM` equations exactly, with gates in ONNX order (GRU: z, r, h; LSTM:
//! i, o, f, c), so export is one standard node each: the input projection's
//! weight is ONNX `W` transposed, the recurrent one `R`, and their biases
//! `Wb` and `Rb`.

use burn::prelude::*;
use burn::tensor::activation::{sigmoid, tanh};
use cis490_shared::rng::Rng;

use super::layers::{Dense, param, uniform, values};
use super::weights::{Weights, WeightsError};
use crate::NUM_CLASSES;
use crate::onnx::proto::{GraphBuilder, int};

/// Which recurrent cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// Gated recurrent unit (3 gates).
    Gru,
    /// Long short-term memory (4 gates).
    Lstm,
}

impl Cell {
    fn gates(self) -> usize {
        match self {
            Cell::Gru => 3,
            Cell::Lstm => 4,
        }
    }
}

/// A recurrent network (GRU or LSTM).
#[derive(Module, Debug)]
pub struct Recurrent {
    /// `x · W + Wb`, `[channels, gates·hidden]`.
    input: Dense,
    /// `h · R + Rb`, `[hidden, gates·hidden]`.
    recurrent: Dense,
    head: Dense,
    #[module(skip)]
    cell: Cell,
}

fn chunk(t: &Tensor<2>, i: usize, hidden: usize) -> Tensor<2> {
    t.clone().narrow(1, i * hidden, hidden)
}

/// `[rows, cols]` row-major → `[cols, rows]` row-major.
fn transposed(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; v.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = v[r * cols + c];
        }
    }
    out
}

impl Recurrent {
    /// Fresh weights (uniform in ±1/√hidden, as PyTorch; LSTM forget-gate bias 1).
    pub fn init(rng: &mut Rng, cell: Cell, channels: usize, hidden: usize, device: &Device) -> Self {
        let g = cell.gates() * hidden;
        let bound = 1.0 / (hidden as f64).sqrt();
        let mut input_bias = uniform(rng, g, bound);
        if cell == Cell::Lstm {
            input_bias[2 * hidden..3 * hidden].iter_mut().for_each(|b| *b = 1.0);
        }
        let input = Dense {
            weight: param(uniform(rng, channels * g, bound), [channels, g], device),
            bias: param(input_bias, [g], device),
        };
        let recurrent = Dense {
            weight: param(uniform(rng, hidden * g, bound), [hidden, g], device),
            bias: param(uniform(rng, g, bound), [g], device),
        };
        Self { input, recurrent, head: Dense::init(rng, hidden, NUM_CLASSES, device), cell }
    }

    fn hidden(&self) -> usize {
        self.recurrent.weight.val().dims()[0]
    }

    /// Logits for `[batch, channels, steps]`.
    pub fn logits(&self, x: Tensor<3>) -> Tensor<2> {
        let [b, _, steps] = x.dims();
        let hidden = self.hidden();
        let g = self.cell.gates() * hidden;
        let projected = self.input.forward3(x.swap_dims(1, 2));
        let device = projected.device();
        // The states start as zeros in the step's float type.
        let mut h = Tensor::<2>::zeros([b, hidden], &device).cast(projected.dtype());
        let mut c: Tensor<2> = h.clone();
        for t in 0..steps {
            let xt = projected.clone().narrow(1, t, 1).reshape([b, g]);
            let ht = self.recurrent.forward(h.clone());
            match self.cell {
                Cell::Gru => {
                    let z = sigmoid(chunk(&xt, 0, hidden) + chunk(&ht, 0, hidden));
                    let r = sigmoid(chunk(&xt, 1, hidden) + chunk(&ht, 1, hidden));
                    let n = tanh(chunk(&xt, 2, hidden) + r * chunk(&ht, 2, hidden));
                    h = (z.clone().neg() + 1.0) * n + z * h;
                }
                Cell::Lstm => {
                    let gates = xt + ht;
                    let i = sigmoid(chunk(&gates, 0, hidden));
                    let o = sigmoid(chunk(&gates, 1, hidden));
                    let f = sigmoid(chunk(&gates, 2, hidden));
                    let cand = tanh(chunk(&gates, 3, hidden));
                    c = f * c + i * cand;
                    h = o * tanh(c.clone());
                }
            }
        }
        self.head.forward(h)
    }

    /// Saves every parameter.
    pub fn save(&self, w: &mut Weights) -> Result<(), WeightsError> {
        self.input.save("input", w)?;
        self.recurrent.save("recurrent", w)?;
        self.head.save("head", w)
    }

    /// Loads what [`Recurrent::save`] wrote.
    pub fn load(
        w: &Weights,
        cell: Cell,
        channels: usize,
        hidden: usize,
        device: &Device,
    ) -> Result<Self, WeightsError> {
        let g = cell.gates() * hidden;
        Ok(Self {
            input: Dense::load(w, "input", channels, g, device)?,
            recurrent: Dense::load(w, "recurrent", hidden, g, device)?,
            head: Dense::load(w, "head", hidden, NUM_CLASSES, device)?,
            cell,
        })
    }

    /// The network as ONNX nodes on `x` (`[batch, channels, steps]`): one
    /// `GRU` or `LSTM` node over `[steps, batch, channels]`; returns the logits.
    pub fn onnx(&self, g: &mut GraphBuilder, x: &str) -> Result<String, WeightsError> {
        let hidden = self.hidden();
        let gates = self.cell.gates() * hidden;
        let channels = self.input.weight.val().dims()[0];
        let seq = g.transpose(x, &[2, 0, 1]);
        let w = g.weight("W", &[1, gates, channels], transposed(&values(&self.input.weight)?, channels, gates));
        let r = g.weight("R", &[1, gates, hidden], transposed(&values(&self.recurrent.weight)?, hidden, gates));
        let mut bias = values(&self.input.bias)?;
        bias.extend(values(&self.recurrent.bias)?);
        let b = g.weight("B", &[1, 2 * gates], bias);
        let (op, outputs, mut attributes) = match self.cell {
            Cell::Gru => ("GRU", 2, vec![int("linear_before_reset", 1)]),
            Cell::Lstm => ("LSTM", 3, vec![]),
        };
        attributes.push(int("hidden_size", hidden as i64));
        let out = g.node_n(op, &[&seq, &w, &r, &b], attributes, outputs);
        let last = g.reshape(&out[1], &[-1, hidden as i64]);
        self.head.onnx(g, "head", &last)
    }
}
