//! Named float32 tensors: how the neural models save their parameters in a
//! checkpoint and hand them to the ONNX writer, independent of burn's own
//! record format (so a burn upgrade never strands a checkpoint).
//!
//! Encoding (little endian): `u32` count, then per tensor `u16` name length,
//! name (UTF-8), `u8` rank, `u32` per dimension, the values as `f32`.

use std::collections::BTreeMap;

/// A named tensor: shape and row-major values.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// Dimensions.
    pub dims: Vec<usize>,
    /// Values, row-major.
    pub values: Vec<f32>,
}

/// A model's parameters by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Weights {
    tensors: BTreeMap<String, NamedTensor>,
}

/// Weights are missing, misshapen or undecodable.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The byte string is cut short or malformed.
    #[error("weights: {0}")]
    Corrupt(String),
    /// A parameter the architecture needs is absent.
    #[error("weights: parameter {0:?} is missing")]
    Missing(String),
    /// A parameter's values cannot be read from its tensor.
    #[error("weights: a parameter cannot be read from its tensor")]
    Unreadable(#[source] Box<burn::tensor::DataError>),
    /// A parameter has the wrong shape.
    #[error("weights: parameter {name:?} has shape {found:?}, the architecture needs {expected:?}")]
    Shape {
        /// Parameter.
        name: String,
        /// Shape stored.
        found: Vec<usize>,
        /// Shape needed.
        expected: Vec<usize>,
    },
}

impl Weights {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores a parameter.
    pub fn insert(&mut self, name: impl Into<String>, dims: Vec<usize>, values: Vec<f32>) {
        self.tensors.insert(name.into(), NamedTensor { dims, values });
    }

    /// A parameter, checked against the shape the caller needs.
    pub fn get(&self, name: &str, dims: &[usize]) -> Result<&NamedTensor, WeightsError> {
        let t = self.tensors.get(name).ok_or_else(|| WeightsError::Missing(name.to_string()))?;
        if t.dims != dims || t.values.len() != dims.iter().product::<usize>() {
            return Err(WeightsError::Shape { name: name.to_string(), found: t.dims.clone(), expected: dims.to_vec() });
        }
        Ok(t)
    }

    /// Number of parameters (scalars).
    pub fn scalar_count(&self) -> usize {
        self.tensors.values().map(|t| t.values.len()).sum()
    }

    /// Encodes all tensors.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.scalar_count() * 4 + self.tensors.len() * 32);
        out.extend_from_slice(&(self.tensors.len() as u32).to_le_bytes());
        for (name, t) in &self.tensors {
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.push(t.dims.len() as u8);
            for d in &t.dims {
                out.extend_from_slice(&(*d as u32).to_le_bytes());
            }
            for v in &t.values {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// Decodes [`Weights::to_bytes`] output.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WeightsError> {
        let mut reader = Reader { bytes, at: 0 };
        let count = reader.u32()? as usize;
        let mut weights = Weights::new();
        for _ in 0..count {
            let len = reader.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))? as usize;
            let name = std::str::from_utf8(reader.take(len)?)
                .map_err(|_| WeightsError::Corrupt("a parameter name is not UTF-8".into()))?
                .to_string();
            let rank = reader.take(1)?[0] as usize;
            let dims = (0..rank).map(|_| reader.u32().map(|d| d as usize)).collect::<Result<Vec<_>, _>>()?;
            let n: usize = dims.iter().try_fold(1usize, |acc, d| acc.checked_mul(*d)).unwrap_or(usize::MAX);
            let raw = reader.take(n.saturating_mul(4))?;
            let values = raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            weights.insert(name, dims, values);
        }
        if reader.at != bytes.len() {
            return Err(WeightsError::Corrupt(format!("{} bytes after the last parameter", bytes.len() - reader.at)));
        }
        Ok(weights)
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WeightsError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len()).ok_or_else(|| {
            WeightsError::Corrupt(format!("cut short at byte {} of {}", self.bytes.len(), self.at.saturating_add(n)))
        })?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, WeightsError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() -> Result<(), WeightsError> {
        let mut w = Weights::new();
        w.insert("a.weight", vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        w.insert("a.bias", vec![3], vec![-1.0, 0.5, f32::MIN_POSITIVE]);
        let bytes = w.to_bytes();
        assert_eq!(Weights::from_bytes(&bytes)?, w);
        assert!(matches!(Weights::from_bytes(&bytes[..bytes.len() - 1]), Err(WeightsError::Corrupt(_))));
        assert!(matches!(w.get("a.weight", &[3, 2]), Err(WeightsError::Shape { .. })));
        assert!(matches!(w.get("b", &[1]), Err(WeightsError::Missing(_))));
        Ok(())
    }
}
