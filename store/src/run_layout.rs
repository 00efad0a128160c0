//! The run folder's model files, for readers that do not link the models
//! crate (the server lists and serves a run's ONNX files without tract or
//! the trainers). The pipeline's `run_dir` owns the rest of the layout and
//! builds its typed model list on [`model_folders`], so every reader sees
//! the same models.

use std::io;
use std::path::{Path, PathBuf};

use cis490_shared::evaluation::{MODEL_ORDER, VARIANT_ORDER};

/// A model's checkpoint inside its folder.
pub const CHECKPOINT_FILE: &str = "checkpoint.bin";
/// A model's ONNX export inside its folder.
pub const ONNX_FILE: &str = "model.onnx";

/// Whether `name` is a known `<model>-<variant>` (e.g. `gbt-realistic`).
pub fn is_model_name(name: &str) -> bool {
    name.rsplit_once('-')
        .is_some_and(|(model, variant)| MODEL_ORDER.contains(&model) && VARIANT_ORDER.contains(&variant))
}

/// The run's model folders, sorted by name: folders named with a known
/// `<model>-<variant>` that hold both a checkpoint and an ONNX file.
/// Anything else in the run folder (hidden staging or scratch folders,
/// stray files, a half-written model) is not a model.
pub fn model_folders(root: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let mut models = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        if !is_model_name(&name) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = entry.path();
        if dir.join(CHECKPOINT_FILE).is_file() && dir.join(ONNX_FILE).is_file() {
            models.push((name, dir));
        }
    }
    models.sort();
    Ok(models)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_names_are_model_names() {
        assert!(is_model_name("gbt-realistic") && is_model_name("transformer-oracle"));
        for name in ["forest-realistic", "gbt-psychic", "gbt", "-realistic", "gbt-", ".gbt-oracle.staging-1"] {
            assert!(!is_model_name(name), "{name}");
        }
    }

    #[test]
    fn only_complete_known_model_folders_are_listed() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        for (name, files) in [
            ("gbt-oracle", &[CHECKPOINT_FILE, ONNX_FILE][..]),
            ("gbt-realistic", &[ONNX_FILE][..]),
            ("notes", &[CHECKPOINT_FILE, ONNX_FILE][..]),
            (".gbt-oracle.staging-1", &[CHECKPOINT_FILE, ONNX_FILE][..]),
        ] {
            std::fs::create_dir_all(dir.path().join(name))?;
            for file in files {
                std::fs::write(dir.path().join(name).join(file), b"x")?;
            }
        }
        std::fs::write(dir.path().join("mlp-oracle"), b"a file, not a folder")?;
        assert_eq!(model_folders(dir.path())?, vec![("gbt-oracle".to_owned(), dir.path().join("gbt-oracle"))]);
        Ok(())
    }
}
