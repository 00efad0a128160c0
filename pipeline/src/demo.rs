//! The demo pipeline on built-in defaults: synth → validate → extract →
//! host split → train (all twelve models) → eval, publishing progress and
//! the evaluation's `metrics` events; then the producers that keep a
//! dashboard live (attack profiles once, the test episodes replayed with
//! live predictions until stopped).
//!
//! `cis490 demo` runs it beside the server; the tests run it directly.
//! Every default comes from the stage's own constants, the ones the
//! subcommands show in `--help`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cis490_models::architecture::FitSettings;
use cis490_models::gbt::GbtConfig;
use cis490_models::kind::Architecture;
use cis490_models::neural::trainer::TrainConfig;
use cis490_models::variant::Variant;

use crate::eval::{self, EvalError, EvalOptions, Evaluated};
use crate::extract::{ExtractError, ExtractOptions, ExtractSummary};
use crate::producers::predictions::{self, LoadError};
use crate::producers::profiles::{self, ProfilesError};
use crate::producers::replay::{self, ReplayError};
use crate::publish::Publish;
use crate::run_dir::RunDir;
use crate::split::recipes::Recipe;
use crate::split::{self, SplitError, SplitFile, SplitOptions};
use crate::store::archive::ReadLimits;
use crate::synth::{self, SynthError, SynthOptions, SynthReport};
use crate::train::{self, TrainError, TrainOptions, Trained};
use crate::validate::index::{IndexReadError, read_index};
use crate::validate::{self, Sweep, ValidateError, ValidateOptions};
use crate::{DEFAULT_SEED, jobs};

/// Most epochs per network in the demo (a few minutes for all twelve
/// models on 2 cores; `cis490 train` defaults to [`train::DEFAULT_EPOCHS`]).
pub const DEMO_EPOCHS: usize = 8;

/// What to run.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The working folder: `store/`, `validation/`, `features/`,
    /// `split-host.json`, `run/` (see [`DemoPaths`]).
    pub workdir: PathBuf,
    /// Episodes to generate.
    pub episodes: u64,
    /// The seed of the corpus, the split, the networks and the bootstrap.
    pub seed: u64,
    /// Worker threads.
    pub jobs: usize,
    /// Most epochs per network ([`DEMO_EPOCHS`] by default).
    pub max_epochs: usize,
    /// Show progress bars on stderr.
    pub progress: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            workdir: PathBuf::from("demo-out"),
            episodes: synth::DEFAULT_EPISODES,
            seed: DEFAULT_SEED,
            jobs: crate::default_jobs(),
            max_epochs: DEMO_EPOCHS,
            progress: false,
        }
    }
}

/// Where the demo puts each stage's output under its working folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoPaths {
    /// The generated receiver store.
    pub store: PathBuf,
    /// The validation output folder.
    pub validation: PathBuf,
    /// The acceptance index in it.
    pub index: PathBuf,
    /// The feature folder.
    pub features: PathBuf,
    /// The host split file.
    pub split: PathBuf,
    /// The training run folder (its evaluation in `eval/`).
    pub run: PathBuf,
}

impl DemoPaths {
    /// The layout under `workdir`.
    pub fn new(workdir: &Path) -> Self {
        let validation = workdir.join("validation");
        Self {
            store: workdir.join("store"),
            index: validation.join(validate::index::INDEX_FILE),
            validation,
            features: workdir.join("features"),
            split: workdir.join("split-host.json"),
            run: workdir.join("run"),
        }
    }
}

/// A stage the demo finished, with what it produced (for printing).
#[derive(Debug)]
pub enum StageDone<'a> {
    /// The store was generated.
    Synth(&'a SynthReport, Duration),
    /// The store was validated.
    Validate(&'a Sweep, Duration),
    /// Features were extracted.
    Extract(&'a ExtractSummary, Duration),
    /// The split was made.
    Split(&'a SplitFile),
    /// The models were trained.
    Train(&'a [Trained], Duration),
    /// The run was evaluated.
    Eval(&'a Evaluated, Duration),
}

/// The demo failed; the source says why.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Generating the store.
    #[error("demo: generating the store")]
    Synth(#[source] SynthError),
    /// Validating it.
    #[error("demo: validating the store")]
    Validate(#[source] ValidateError),
    /// Extracting features.
    #[error("demo: extracting features")]
    Extract(#[source] ExtractError),
    /// Splitting.
    #[error("demo: splitting")]
    Split(#[source] SplitError),
    /// Training.
    #[error("demo: training")]
    Train(#[source] TrainError),
    /// Evaluating.
    #[error("demo: evaluating")]
    Eval(#[source] EvalError),
    /// Reading the index back for the producers.
    #[error("demo: reading the acceptance index")]
    Index(#[source] IndexReadError),
    /// Loading the run's models for live predictions.
    #[error("demo: loading the trained models")]
    Models(#[source] LoadError),
    /// Publishing the attack profiles.
    #[error("demo: publishing the attack profiles")]
    Profiles(#[source] ProfilesError),
    /// Replaying an episode.
    #[error("demo: replaying {episode}")]
    Replay {
        /// `<host_id>/<episode_id>`.
        episode: String,
        /// Why.
        #[source]
        source: ReplayError,
    },
}

/// Runs synth → validate → extract → host split → train → eval under
/// `opts.workdir`, calling `on_stage` after each stage.
pub fn run_pipeline(
    opts: &DemoOptions,
    publisher: Option<Arc<dyn Publish>>,
    on_stage: &mut dyn FnMut(StageDone<'_>),
) -> Result<DemoPaths, DemoError> {
    let paths = DemoPaths::new(&opts.workdir);
    let started = Instant::now();
    let synth_opts = SynthOptions {
        out: paths.store.clone(),
        episodes: opts.episodes,
        seed: opts.seed,
        jobs: opts.jobs,
        progress: opts.progress,
        ..SynthOptions::default()
    };
    let report = synth::run(&synth_opts).map_err(DemoError::Synth)?;
    on_stage(StageDone::Synth(&report, started.elapsed()));

    let started = Instant::now();
    let validate_opts = ValidateOptions {
        store: paths.store.clone(),
        out: paths.validation.clone(),
        jobs: opts.jobs,
        limits: ReadLimits::default(),
        progress: opts.progress,
        force: false,
        full: false,
        shard: None,
    };
    let sweep = jobs::validate(&validate_opts, publisher.clone()).map_err(DemoError::Validate)?;
    on_stage(StageDone::Validate(&sweep, started.elapsed()));

    let started = Instant::now();
    let extract_opts = ExtractOptions {
        store: paths.store.clone(),
        index: paths.index.clone(),
        out: paths.features.clone(),
        jobs: opts.jobs,
        progress: opts.progress,
        limits: ReadLimits::default(),
        force: false,
        full: false,
        shard: None,
    };
    let extracted = jobs::extract(&extract_opts, publisher.clone()).map_err(DemoError::Extract)?;
    on_stage(StageDone::Extract(&extracted, started.elapsed()));

    let split_opts = SplitOptions {
        features: paths.features.clone(),
        recipe: Recipe::Host,
        test_hosts: Vec::new(),
        seed: opts.seed,
        val_share: split::DEFAULT_VAL_SHARE,
        in_distribution_share: split::DEFAULT_IN_DISTRIBUTION_SHARE,
        out: paths.split.clone(),
    };
    let made = split::run(&split_opts).map_err(DemoError::Split)?;
    on_stage(StageDone::Split(&made));

    let started = Instant::now();
    let train_opts = TrainOptions {
        features: paths.features.clone(),
        split: paths.split.clone(),
        models: Architecture::ALL.to_vec(),
        variants: Variant::ALL.to_vec(),
        out: paths.run.clone(),
        settings: FitSettings {
            gbt: GbtConfig::default(),
            neural: TrainConfig {
                max_epochs: opts.max_epochs,
                patience: train::DEFAULT_PATIENCE,
                seed: opts.seed,
                max_windows_per_epoch: Some(train::DEFAULT_EPOCH_WINDOWS),
                ..TrainConfig::default()
            },
        },
        jobs: opts.jobs,
        publisher: publisher.clone(),
        progress: opts.progress,
        max_tree_windows: Some(train::DEFAULT_TREE_WINDOWS),
        resume: false,
        stop: None,
        devices: Vec::new(),
        precision: Default::default(),
    };
    let trained = train::run(&train_opts).map_err(DemoError::Train)?;
    on_stage(StageDone::Train(&trained, started.elapsed()));

    let started = Instant::now();
    let eval_opts = EvalOptions {
        run: paths.run.clone(),
        split: paths.split.clone(),
        features: Some(paths.features.clone()),
        out: RunDir::new(&paths.run).eval_dir(),
        resamples: eval::DEFAULT_RESAMPLES,
        seed: opts.seed,
        confidence: eval::DEFAULT_CONFIDENCE,
        publisher,
        force: false,
        device: Default::default(),
    };
    let evaluated = eval::run(&eval_opts).map_err(DemoError::Eval)?;
    on_stage(StageDone::Eval(&evaluated, started.elapsed()));
    Ok(paths)
}

/// Publishes one attack-profile curve per profile, then replays the
/// split's test episodes in turn at real time, with every model's live
/// predictions, until `stop` (a kiosk always has something live).
pub fn keep_live(paths: &DemoPaths, publisher: &dyn Publish, stop: &AtomicBool) -> Result<(), DemoError> {
    let index = read_index(&paths.index).map_err(DemoError::Index)?;
    let store = crate::source::Source::Local(paths.store.clone());
    let published = profiles::publish(&store, &index, publisher).map_err(DemoError::Profiles)?;
    tracing::info!("published {published} attack profiles");
    let made = split::read_split_file(&paths.split).map_err(DemoError::Split)?;
    let models = predictions::load_run(&paths.run).map_err(DemoError::Models)?;
    let test: std::collections::BTreeSet<&str> = made.test.iter().map(String::as_str).collect();
    let episodes: Vec<_> = index.iter().filter(|row| test.contains(row.episode_id.as_str())).collect();
    if episodes.is_empty() {
        return Ok(());
    }
    while !stop.load(Ordering::Relaxed) {
        for row in &episodes {
            replay::stream(&store, row.episode_id.as_str(), row.host_id.as_str(), 1.0, &models, publisher, stop)
                .map_err(|source| DemoError::Replay {
                    episode: format!("{}/{}", row.host_id, row.episode_id),
                    source,
                })?;
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
    }
    Ok(())
}
