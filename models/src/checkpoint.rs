//! Checkpoints: a JSON header (schema hash, variant, channels, feature
//! names, normalization, class labels, architecture config, training
//! metadata) and the model's weights, in one byte string:
//! `CIS490CK` · u32 header length (little endian) · header · weights.
//!
//! A checkpoint whose schema hash differs from the running code's refuses
//! to load, naming both hashes: features computed differently would feed
//! the model silently wrong inputs.

use cis490_shared::registry::schema_hash;

use crate::variant::Variant;

/// The magic bytes every checkpoint starts with.
pub const MAGIC: &[u8; 8] = b"CIS490CK";
/// The header format version.
pub const FORMAT_VERSION: u32 = 1;

/// Everything about a trained model except its weights.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckpointHeader {
    /// Header format version.
    pub format_version: u32,
    /// The feature schema hash the model was trained on.
    pub schema_hash: String,
    /// Architecture name, e.g. `gbt`.
    pub architecture: String,
    /// The threat model.
    pub variant: Variant,
    /// Channels the model sees, in input order.
    pub channels: Vec<String>,
    /// Input feature names, in input order.
    pub feature_names: Vec<String>,
    /// Normalization mean per input feature (training split only).
    pub norm_mean: Vec<f64>,
    /// Normalization std per input feature.
    pub norm_std: Vec<f64>,
    /// Class labels in output order.
    pub labels: Vec<String>,
    /// Architecture configuration.
    pub config: serde_json::Value,
    /// Training metadata (split, rounds, validation scores, times).
    pub training: serde_json::Value,
    /// Input dimensions after the batch: `[features]` or `[channels, steps]`.
    #[serde(default)]
    pub input_shape: Vec<usize>,
}

impl CheckpointHeader {
    /// The header's facts as ONNX `metadata_props` (values are JSON text
    /// except the plain strings `schema_hash`, `architecture`, `variant`).
    pub fn onnx_metadata(&self) -> Vec<(String, String)> {
        let json = |v: serde_json::Value| v.to_string();
        vec![
            ("schema_hash".into(), self.schema_hash.clone()),
            ("architecture".into(), self.architecture.clone()),
            ("variant".into(), self.variant.as_str().to_string()),
            ("input_shape".into(), json(serde_json::json!(self.input_shape))),
            ("channels".into(), json(serde_json::json!(self.channels))),
            ("feature_names".into(), json(serde_json::json!(self.feature_names))),
            ("labels".into(), json(serde_json::json!(self.labels))),
            ("norm_mean".into(), json(serde_json::json!(self.norm_mean))),
            ("norm_std".into(), json(serde_json::json!(self.norm_std))),
            ("config".into(), self.config.to_string()),
            ("training".into(), self.training.to_string()),
        ]
    }
}

/// A checkpoint could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Not a cis490 checkpoint, or cut short.
    #[error("not a cis490 checkpoint or truncated: {0}")]
    Corrupt(String),
    /// The header is not valid JSON.
    #[error("the checkpoint header is not valid JSON")]
    Header(#[source] serde_json::Error),
    /// The header could not be encoded.
    #[error("cannot encode the checkpoint header")]
    Encode(#[source] serde_json::Error),
    /// Written for another feature schema.
    #[error(
        "checkpoint was trained on feature schema {found}, but this build computes schema {expected}: retrain it (or use the cis490 version that made it)"
    )]
    SchemaMismatch {
        /// The checkpoint's hash.
        found: String,
        /// The running code's hash.
        expected: String,
    },
    /// A newer header format.
    #[error("checkpoint format version {0} is newer than this build understands ({FORMAT_VERSION})")]
    Version(u32),
}

/// Encodes a checkpoint.
pub fn encode(header: &CheckpointHeader, weights: &[u8]) -> Result<Vec<u8>, CheckpointError> {
    let json = serde_json::to_vec(header).map_err(CheckpointError::Encode)?;
    let mut out = Vec::with_capacity(12 + json.len() + weights.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(weights);
    Ok(out)
}

/// Decodes a checkpoint, refusing one made for another feature schema.
pub fn decode(bytes: &[u8]) -> Result<(CheckpointHeader, &[u8]), CheckpointError> {
    let corrupt = |why: &str| CheckpointError::Corrupt(why.to_string());
    if bytes.len() < 12 || &bytes[..8] != MAGIC {
        return Err(corrupt("missing the CIS490CK magic"));
    }
    let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    let header_bytes = bytes.get(12..12 + len).ok_or_else(|| corrupt("header runs past the end"))?;
    let header: CheckpointHeader = serde_json::from_slice(header_bytes).map_err(CheckpointError::Header)?;
    if header.format_version > FORMAT_VERSION {
        return Err(CheckpointError::Version(header.format_version));
    }
    let expected = schema_hash();
    if header.schema_hash != expected {
        return Err(CheckpointError::SchemaMismatch { found: header.schema_hash, expected });
    }
    Ok((header, &bytes[12 + len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> CheckpointHeader {
        CheckpointHeader {
            format_version: FORMAT_VERSION,
            schema_hash: schema_hash(),
            architecture: "gbt".into(),
            variant: Variant::Realistic,
            channels: Variant::Realistic.channel_names(),
            feature_names: vec!["a".into()],
            norm_mean: vec![0.0],
            norm_std: vec![1.0],
            labels: vec!["benign".into()],
            config: serde_json::json!({"max_depth": 6}),
            training: serde_json::json!({}),
            input_shape: vec![1],
        }
    }

    #[test]
    fn round_trip_and_refusals() -> Result<(), CheckpointError> {
        let bytes = encode(&header(), b"weights")?;
        let (h, w) = decode(&bytes)?;
        assert_eq!((h, w), (header(), b"weights".as_slice()));
        let mut other = header();
        other.schema_hash = "0".repeat(64);
        let err = decode(&encode(&other, b"w")?).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains(&"0".repeat(64)) && err.contains(&schema_hash()), "{err}");
        assert!(matches!(decode(b"garbage"), Err(CheckpointError::Corrupt(_))));
        assert!(matches!(decode(&bytes[..20]), Err(CheckpointError::Corrupt(_))));
        Ok(())
    }
}
