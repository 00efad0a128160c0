//! The run folder `cis490 train` writes and everything after it reads: the
//! one owner of its layout.
//!
//! ```text
//! RUN/
//!   <model>-<variant>/checkpoint.bin   schema-hashed checkpoint (models::checkpoint)
//!   <model>-<variant>/model.onnx       the same model for tract and the browser
//!   .resume/<model>-<variant>.state    trainer state between epochs (`--resume`)
//!   .windows-*/                        scratch tensor row files while training
//!   eval/                              the evaluation (`cis490 eval`)
//! ```
//!
//! A model folder counts as a model of the run only when its name is a
//! known `<model>-<variant>` and it holds both files ([`RunDir::models`],
//! on `cis490_store::run_layout`, which the server reads too); hidden
//! folders (staging, resume, scratch) never do. Train, eval, the live
//! producers and the benchmarks all list and open models through this
//! type.

use std::fmt;
use std::path::{Path, PathBuf};

use cis490_models::kind::Architecture;
use cis490_models::variant::Variant;

pub use cis490_store::run_layout::{CHECKPOINT_FILE, ONNX_FILE};
/// Trainer states between epochs (hidden: never listed as a model).
pub const RESUME_DIR: &str = ".resume";
/// The evaluation's folder by default.
pub const EVAL_DIR: &str = "eval";

/// Largest checkpoint read (the demo's are under 10 MB).
pub const MAX_CHECKPOINT_BYTES: u64 = 1 << 30;
/// Largest ONNX file read (the demo's are under 10 MB).
pub const MAX_ONNX_BYTES: u64 = 1 << 30;

/// One trained model of a run: an architecture under a threat model,
/// named `<model>-<variant>` (e.g. `gbt-realistic`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ModelId {
    /// The architecture.
    pub arch: Architecture,
    /// The threat model.
    pub variant: Variant,
}

impl ModelId {
    /// `arch` under `variant`.
    pub fn new(arch: Architecture, variant: Variant) -> Self {
        Self { arch, variant }
    }

    /// The folder (and job) name, `<model>-<variant>`.
    pub fn name(&self) -> String {
        format!("{}-{}", self.arch.as_str(), self.variant.as_str())
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.arch.as_str(), self.variant.as_str())
    }
}

impl std::str::FromStr for ModelId {
    type Err = String;

    /// `<model>-<variant>`, both known names.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let (arch, variant) =
            name.rsplit_once('-').ok_or_else(|| format!("{name:?} is not <model>-<variant> (e.g. gbt-realistic)"))?;
        Ok(Self { arch: arch.parse()?, variant: variant.parse()? })
    }
}

/// A model folder of a run that holds both its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunModel {
    /// Which model.
    pub id: ModelId,
    /// Its folder.
    pub dir: PathBuf,
}

impl RunModel {
    /// Its checkpoint.
    pub fn checkpoint(&self) -> PathBuf {
        self.dir.join(CHECKPOINT_FILE)
    }

    /// Its ONNX export.
    pub fn onnx(&self) -> PathBuf {
        self.dir.join(ONNX_FILE)
    }
}

/// A training run's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// The run at `root` (nothing is read or created).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The run folder itself.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// A model's folder.
    pub fn model_dir(&self, id: ModelId) -> PathBuf {
        self.root.join(id.name())
    }

    /// A model's checkpoint.
    pub fn checkpoint(&self, id: ModelId) -> PathBuf {
        self.model_dir(id).join(CHECKPOINT_FILE)
    }

    /// A model's ONNX export.
    pub fn onnx(&self, id: ModelId) -> PathBuf {
        self.model_dir(id).join(ONNX_FILE)
    }

    /// Where a training job's state is kept between epochs.
    pub fn resume_state(&self, job: &str) -> PathBuf {
        self.root.join(RESUME_DIR).join(format!("{job}.state"))
    }

    /// The evaluation's folder by default.
    pub fn eval_dir(&self) -> PathBuf {
        self.root.join(EVAL_DIR)
    }

    /// The run's models, sorted by name: folders named `<model>-<variant>`
    /// that hold both a checkpoint and an ONNX file. Anything else in the
    /// run folder (hidden staging or scratch folders, stray files, a
    /// half-written model) is not a model.
    pub fn models(&self) -> std::io::Result<Vec<RunModel>> {
        // Every known name parses (`listed_names_are_model_ids`).
        Ok(cis490_store::run_layout::model_folders(&self.root)?
            .into_iter()
            .filter_map(|(name, dir)| Some(RunModel { id: name.parse().ok()?, dir }))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_round_trip_and_unknown_ones_are_refused() {
        for arch in Architecture::ALL {
            for variant in Variant::ALL {
                let id = ModelId::new(arch, variant);
                assert_eq!(id.name().parse::<ModelId>(), Ok(id));
            }
        }
        assert!("forest-realistic".parse::<ModelId>().is_err());
        assert!("gbt-psychic".parse::<ModelId>().is_err());
        assert!("gbt".parse::<ModelId>().is_err());
    }

    #[test]
    fn listed_names_are_model_ids() {
        for model in cis490_shared::evaluation::MODEL_ORDER {
            for variant in cis490_shared::evaluation::VARIANT_ORDER {
                let name = format!("{model}-{variant}");
                assert!(cis490_store::run_layout::is_model_name(&name));
                assert_eq!(name.parse::<ModelId>().map(|id| id.name()), Ok(name));
            }
        }
    }

    #[test]
    fn only_complete_known_model_folders_are_models() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let run = RunDir::new(dir.path());
        let complete = ModelId::new(Architecture::Gbt, Variant::Oracle);
        std::fs::create_dir_all(run.model_dir(complete))?;
        std::fs::write(run.checkpoint(complete), b"c")?;
        std::fs::write(run.onnx(complete), b"o")?;
        let half = ModelId::new(Architecture::Gbt, Variant::Realistic);
        std::fs::create_dir_all(run.model_dir(half))?;
        std::fs::write(run.onnx(half), b"o")?;
        for stray in ["notes", ".gbt-oracle.staging-1", "eval"] {
            std::fs::create_dir_all(dir.path().join(stray))?;
            std::fs::write(dir.path().join(stray).join(CHECKPOINT_FILE), b"c")?;
            std::fs::write(dir.path().join(stray).join(ONNX_FILE), b"o")?;
        }
        let listed = run.models()?;
        assert_eq!(listed, vec![RunModel { id: complete, dir: run.model_dir(complete) }]);
        Ok(())
    }
}
