//! Honest evaluation of a training run on its split: every model × variant
//! predicts the held-out test windows and the in-distribution test
//! windows; scores come with cluster-bootstrap intervals (whole episodes
//! resampled), broken down per class, profile and host, and every pair of
//! models is compared on the same resamples with Holm-corrected p-values.
//!
//! - [`confusion`]: confusion matrices and the F1 conventions (re-exported
//!   from `cis490_models`, where the trainer's validation score uses them);
//! - [`bootstrap`]: episode draws, percentile intervals, paired tests, Holm;
//! - [`scoring`]: one model on one side, with every breakdown;
//! - [`report`]: `report.json` and the terminal summary;
//! - [`predictions_file`]: the `predictions.parquet` writer.
//!
//! A model is scored only on the split it was trained on: each checkpoint
//! records the split's digest, and a mismatch is refused (its test side
//! could hold the model's training episodes).

pub mod bootstrap;
pub use cis490_models::confusion;
pub mod predictions_file;
pub mod report;
pub mod scoring;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cis490_models::architecture::TrainedModel;
use cis490_models::checkpoint::CheckpointHeader;
use cis490_models::kind::{Architecture, header_input};
use cis490_models::neural::device::ComputeDevice;
use cis490_models::variant::Variant;
use cis490_models::{ClassProbabilities, Classifier};
use cis490_shared::Cause;
use cis490_shared::evaluation::report_order;
use cis490_shared::label::Label;
use rayon::prelude::*;
use serde_json::Map;

use crate::atomic_file;
use crate::extract::shards::episodes::read_episodes;
use crate::extract::shards::windows::{self as dataset, FeatureKind, WindowOrigin};
use crate::output_dir::{OutputError, StagedDir};
use crate::publish::Publish;
use crate::publish::progress_events::ProgressEvents;
use crate::run_dir::RunDir;
use crate::split::{SplitError, SplitFile};
use crate::train::load_model;
use bootstrap::{Draws, paired};
use predictions_file::{IN_DISTRIBUTION, RowSource, write_predictions};
use report::{
    BootstrapSettings, Comparison, ConfusionEntry, FORMAT, InDistribution, ModelEntry, ModelRef, Report, SIGNIFICANCE,
    SkippedModel, SplitSummary,
};
use scoring::{ScoredWindow, SideEpisodes, SideScores, score_side};

/// Default number of bootstrap resamples.
pub const DEFAULT_RESAMPLES: usize = 2000;

/// Confidence of the bootstrap intervals by default.
pub const DEFAULT_CONFIDENCE: f64 = 0.95;
/// Fewest resamples accepted: fewer make the interval bounds noise.
pub const MIN_RESAMPLES: usize = 100;
/// Salt of the in-distribution side's draws (independent of the test side's).
const IN_DISTRIBUTION_DRAWS: u64 = 0x1d_d7a3;

/// The scored windows of one variant and feature kind: each one's key and
/// true class index, in the order the models' probabilities come.
#[derive(Default)]
struct ScoredKeys {
    keys: Vec<WindowOrigin>,
    truth: Vec<u32>,
}

/// Windows predicted at once by every model of a variant and feature kind.
const PREDICT_BATCH: usize = 4096;

/// What to evaluate.
#[derive(Clone)]
pub struct EvalOptions {
    /// The training run (its `<model>-<variant>/checkpoint.bin` files).
    pub run: PathBuf,
    /// The split the run was trained on.
    pub split: PathBuf,
    /// The feature folder (default: the one the split records).
    pub features: Option<PathBuf>,
    /// Where `report.json` and `predictions.parquet` go.
    pub out: PathBuf,
    /// Bootstrap resamples.
    pub resamples: usize,
    /// Seed of the draws.
    pub seed: u64,
    /// Interval coverage.
    pub confidence: f64,
    /// Where `progress` and `metrics` events go, if anywhere.
    pub publisher: Option<Arc<dyn Publish>>,
    /// Replace `out` even if it is not an earlier evaluation.
    pub force: bool,
    /// Where the networks predict (the trees always on the CPU).
    pub device: ComputeDevice,
}

impl std::fmt::Debug for EvalOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvalOptions")
            .field("run", &self.run)
            .field("split", &self.split)
            .field("features", &self.features)
            .field("out", &self.out)
            .field("resamples", &self.resamples)
            .field("seed", &self.seed)
            .finish()
    }
}

/// Evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// Bad options.
    #[error("{0}")]
    Options(String),
    /// The split file or the feature shards are unreadable (the error
    /// names the file).
    #[error(transparent)]
    Read(#[from] SplitError),
    /// The split file does not fit the features.
    #[error("cannot use {path}")]
    Split {
        /// The file.
        path: String,
        /// What is wrong.
        #[source]
        source: Cause,
    },
    /// Features or a checkpoint are unreadable.
    #[error(transparent)]
    Input(#[from] crate::train::TrainError),
    /// A model cannot be scored.
    #[error("cannot score {path}")]
    Model {
        /// The checkpoint.
        path: String,
        /// What is wrong.
        #[source]
        source: Cause,
    },
    /// The output folder cannot be prepared or swapped in.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// Writing failed.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: String,
        /// What went wrong.
        #[source]
        source: Cause,
    },
    /// The written report does not make metrics events (its error names it).
    #[error("cannot turn the report into metrics events")]
    Metrics(#[source] Box<crate::producers::metrics::MetricsError>),
}

/// What an evaluation wrote.
#[derive(Debug, Clone)]
pub struct Evaluated {
    /// The report (also at `report_path`).
    pub report: Report,
    /// `OUT/report.json`.
    pub report_path: PathBuf,
    /// `OUT/predictions.parquet`.
    pub predictions_path: PathBuf,
    /// Rows in the predictions file.
    pub prediction_rows: usize,
    /// Wall seconds per phase: `load` (split and checkpoints), `predict`
    /// (the windows streamed through the models),
    /// `score` (bootstrap and comparisons), `write`.
    pub seconds: Vec<(&'static str, f64)>,
}

/// A loaded checkpoint and where it came from.
struct Candidate {
    path: PathBuf,
    header: CheckpointHeader,
    arch: Architecture,
    model: TrainedModel,
}

/// One model's predictions on both sides.
struct Predicted {
    path: PathBuf,
    arch: Architecture,
    variant: Variant,
    probs: Vec<ClassProbabilities>,
}

fn read_split(path: &Path) -> Result<SplitFile, EvalError> {
    Ok(crate::split::read_split_file(path)?)
}

/// Loads every checkpoint of the run, refusing ones trained on another
/// split; checkpoints that cannot be read are skipped with their reason
/// (one damaged model does not stop the others' evaluation).
fn load_candidates(
    run: &Path,
    split: &SplitFile,
    split_path: &Path,
    device: ComputeDevice,
) -> Result<(Vec<Candidate>, Vec<SkippedModel>), EvalError> {
    // A missing device stops the evaluation here, named, rather than
    // skipping every network one by one.
    device.open().map_err(|e| EvalError::Options(format!("--device: {e}")))?;
    let models = RunDir::new(run).models().map_err(|e| EvalError::Options(format!("{}: {e}", run.display())))?;
    if models.is_empty() {
        return Err(EvalError::Options(format!(
            "{}: no trained models here (run `cis490 train` first)",
            run.display()
        )));
    }
    let digest = split.digest();
    let labels: Vec<String> = Label::ALL.iter().map(|l| l.to_string()).collect();
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for model in models {
        let path = model.checkpoint();
        let (header, model) = match load_model(&path) {
            Ok(loaded) => loaded,
            Err(e) => {
                let reason = crate::error_chain(&e);
                tracing::warn!("skipped: {reason}");
                skipped.push(SkippedModel { checkpoint: path.display().to_string(), reason });
                continue;
            }
        };
        let model_err = |source: Cause| EvalError::Model { path: path.display().to_string(), source };
        let recorded = header.training.get("split_digest").and_then(|d| d.as_str()).unwrap_or("none recorded");
        if recorded != digest {
            return Err(model_err(
                format!(
                    "trained on another split (digest {recorded}) than {} ({digest}): its test side may hold \
                     training episodes; evaluate with the split it was trained on, or retrain",
                    split_path.display()
                )
                .into(),
            ));
        }
        if header.labels != labels {
            return Err(model_err(format!("outputs labels {:?}, expected {labels:?}", header.labels).into()));
        }
        let (arch, _) = header_input(&header).map_err(|e| model_err(e.into()))?;
        let model = model.on_device(device).map_err(|e| model_err(e.into()))?;
        out.push(Candidate { path, header, arch, model });
    }
    if out.is_empty() {
        let reasons: Vec<String> = skipped.iter().map(|s| s.reason.clone()).collect();
        return Err(EvalError::Options(format!(
            "no model of {} could be loaded: {}",
            run.display(),
            reasons.join("; ")
        )));
    }
    out.sort_by_key(|c| report_order(c.arch.as_str(), c.header.variant.as_str()));
    Ok((out, skipped))
}

/// Evaluates every model of `opts.run` and writes the outputs.
pub fn run(opts: &EvalOptions) -> Result<Evaluated, EvalError> {
    if opts.resamples < MIN_RESAMPLES {
        return Err(EvalError::Options(format!(
            "--resamples must be at least {MIN_RESAMPLES}, got {}",
            opts.resamples
        )));
    }
    if !(0.5..1.0).contains(&opts.confidence) {
        return Err(EvalError::Options(format!("confidence must be in [0.5, 1), got {}", opts.confidence)));
    }
    let mut clock = PhaseClock::default();
    let split = read_split(&opts.split)?;
    let features = match (&opts.features, split.features.is_empty()) {
        (Some(f), _) => f.clone(),
        (None, false) => PathBuf::from(&split.features),
        (None, true) => {
            return Err(EvalError::Split {
                path: opts.split.display().to_string(),
                source: "names no feature folder (made by an older cis490): pass --features".into(),
            });
        }
    };
    crate::extract::check_features_digest(&features, &split.features_digest)
        .map_err(|message| EvalError::Split { path: opts.split.display().to_string(), source: message.into() })?;
    let (candidates, skipped) = load_candidates(&opts.run, &split, &opts.split, opts.device)?;
    let progress = ProgressEvents::new(opts.publisher.clone(), "eval", &opts.run.display().to_string(), "models");
    let total = candidates.len() as u64 * 2;
    progress.report(0, total, "predicting", Map::new());

    let episodes = read_episodes(&features)?;
    let facts = |id: &str| {
        episodes
            .get(id)
            .map_or_else(|| ("unknown".into(), "unknown".into()), |e| (e.profile.clone(), e.host_id.clone()))
    };
    let test_side = SideEpisodes::new(split.test.clone(), facts);
    let (id_ids, id_source) = if split.in_distribution.is_empty() {
        tracing::warn!("the split has no in-distribution side; the validation side stands in (optimistic)");
        (split.val.clone(), "validation")
    } else {
        (split.in_distribution.clone(), IN_DISTRIBUTION)
    };
    let id_side = SideEpisodes::new(id_ids, facts);

    clock.lap("load");

    // Windows are streamed per variant and feature kind, over both sides'
    // episodes, a batch at a time through every model that reads them; only
    // keys, truths and probabilities are kept.
    let wanted: BTreeSet<String> = test_side.ids.iter().chain(&id_side.ids).cloned().collect();
    let mut groups: BTreeMap<(Variant, bool), Vec<usize>> = BTreeMap::new();
    for (i, c) in candidates.iter().enumerate() {
        groups.entry((c.header.variant, c.arch.reads_tensors())).or_default().push(i);
    }
    let mut scored_keys: BTreeMap<(Variant, bool), ScoredKeys> = BTreeMap::new();
    let mut probs: Vec<Vec<ClassProbabilities>> = candidates.iter().map(|_| Vec::new()).collect();
    let done = std::sync::atomic::AtomicU64::new(0);
    for (&(variant, tensors), members) in &groups {
        let kind = if tensors { FeatureKind::Tensor } else { FeatureKind::Summary };
        let cols = dataset::row_len(variant, kind);
        let mut windows = ScoredKeys::default();
        let mut batch: Vec<f32> = Vec::with_capacity(PREDICT_BATCH * cols);
        let predict = |batch: &mut Vec<f32>, probs: &mut Vec<Vec<ClassProbabilities>>| -> Result<(), EvalError> {
            let rows: Vec<&[f32]> = batch.chunks(cols.max(1)).collect();
            let out: Vec<Vec<ClassProbabilities>> = members
                .par_iter()
                .map(|i| {
                    let c = &candidates[*i];
                    c.model
                        .predict_proba(&rows)
                        .map_err(|e| EvalError::Model { path: c.path.display().to_string(), source: e.into() })
                })
                .collect::<Result<_, _>>()?;
            for (i, p) in members.iter().zip(out) {
                probs[*i].extend(p);
            }
            batch.clear();
            Ok(())
        };
        let mut failed: Option<EvalError> = None;
        dataset::scan(&features, &[&wanted], variant, kind, &mut |_, key, class, row| {
            windows.keys.push(key.to_owned());
            windows.truth.push(class);
            batch.extend_from_slice(row);
            if batch.len() == PREDICT_BATCH * cols
                && let Err(e) = predict(&mut batch, &mut probs)
            {
                failed = Some(e);
                return Err(crate::train::TrainError::Options("prediction failed".into()));
            }
            Ok(())
        })
        .map_err(|e| failed.take().unwrap_or_else(|| e.into()))?;
        if !batch.is_empty() {
            predict(&mut batch, &mut probs)?;
        }
        let n = done.fetch_add(members.len() as u64, std::sync::atomic::Ordering::Relaxed) + members.len() as u64;
        progress.report(n, total, "predicting", Map::new());
        scored_keys.insert((variant, tensors), windows);
    }

    let predicted: Vec<Predicted> = candidates
        .into_iter()
        .zip(probs)
        .map(|(c, probs)| Predicted { path: c.path, arch: c.arch, variant: c.header.variant, probs })
        .collect();

    clock.lap("predict");

    // Scores, models in parallel, on shared draws per side.
    let test_draws = Draws::new(test_side.ids.len(), opts.resamples, opts.seed);
    let id_draws = Draws::new(id_side.ids.len(), opts.resamples, opts.seed ^ IN_DISTRIBUTION_DRAWS);
    let scored: Vec<(SideScores, SideScores)> = predicted
        .par_iter()
        .map(|p| {
            let windows = &scored_keys[&(p.variant, p.arch.reads_tensors())];
            let side_windows = |side: &SideEpisodes| -> Vec<ScoredWindow> {
                windows
                    .keys
                    .iter()
                    .zip(&windows.truth)
                    .zip(&p.probs)
                    .filter_map(|((key, truth), probs)| {
                        let episode = side.position(&key.episode_id)?;
                        Some((episode, *truth as usize, cis490_models::argmax(probs).index()))
                    })
                    .collect()
            };
            let scores = (
                score_side(&test_side, &side_windows(&test_side), &test_draws, opts.confidence),
                score_side(&id_side, &side_windows(&id_side), &id_draws, opts.confidence),
            );
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress.report(n, total, "scoring", Map::new());
            scores
        })
        .collect();

    let recipe = serde_json::to_value(split.recipe).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
    let models: Vec<ModelEntry> = predicted
        .iter()
        .zip(&scored)
        .map(|(p, (test, id))| model_entry(p, test, id, &recipe, &split, opts.confidence))
        .collect();
    let comparisons = compare(&predicted, &scored, &recipe, opts.confidence);
    let report = Report {
        format: FORMAT.into(),
        run: opts.run.display().to_string(),
        split: SplitSummary {
            file: opts.split.display().to_string(),
            recipe: recipe.clone(),
            held_out: split.held_out.clone(),
            digest: split.digest(),
            test_episodes: test_side.ids.len(),
            in_distribution_episodes: id_side.ids.len(),
            in_distribution_source: id_source.into(),
        },
        bootstrap: BootstrapSettings {
            unit: "episode".into(),
            resamples: opts.resamples,
            seed: opts.seed,
            confidence: opts.confidence,
            interval: "percentile (linear interpolation); resamples where a score is undefined are left out".into(),
            p_value: "two-sided, centred paired bootstrap: (1 + #{|d* - d| >= |d|}) / (1 + B)".into(),
            correction: "holm".into(),
            macro_f1: "mean F1 over labels in truth or predictions (scikit-learn average='macro')".into(),
        },
        labels: Label::ALL.iter().map(|l| l.to_string()).collect(),
        models,
        comparisons,
        skipped,
    };

    clock.lap("score");

    // Outputs.
    let write_err = |path: &Path, source: Cause| EvalError::Write { path: path.display().to_string(), source };
    // Report and predictions are staged and swapped in together.
    let staged =
        StagedDir::begin(&opts.out, "cis490 eval", "report.json", opts.force, &[&opts.run, &opts.split, &features])?;
    let predictions_path = opts.out.join("predictions.parquet");
    let prediction_rows = write_predictions(&staged.path().join("predictions.parquet"), |rows| {
        for p in &predicted {
            let windows = &scored_keys[&(p.variant, p.arch.reads_tensors())];
            for ((key, truth), probs) in windows.keys.iter().zip(&windows.truth).zip(&p.probs) {
                let split_name =
                    if test_side.position(&key.episode_id).is_some() { recipe.as_str() } else { IN_DISTRIBUTION };
                let source = RowSource { model: p.arch.as_str(), variant: p.variant.as_str(), split: split_name };
                let truth = Label::ALL
                    .get(*truth as usize)
                    .ok_or_else(|| format!("{}: class index {truth} is not a label", key.episode_id))?;
                rows.push(source, key, *truth, probs)?;
            }
        }
        Ok(())
    })
    .map_err(|e| write_err(&predictions_path, e.into()))?;
    let report_path = opts.out.join("report.json");
    let json = serde_json::to_vec_pretty(&report).map_err(|e| write_err(&report_path, e.into()))?;
    // The staged file's error names the staging folder: the final path is said instead.
    atomic_file::write_bytes_atomically(&staged.path().join("report.json"), &json)
        .map_err(|e| write_err(&report_path, e.source.into()))?;
    staged.commit()?;
    progress.report(total, total, "done", Map::new());
    if let Some(publisher) = &opts.publisher {
        let events = crate::producers::metrics::events(&report_path).map_err(|e| EvalError::Metrics(Box::new(e)))?;
        if let Err(e) = publisher.publish(&events) {
            // The report is written; a hub that is down must not lose it.
            tracing::warn!("metrics events not published: {}", crate::error_chain(&e));
        }
    }
    clock.lap("write");
    Ok(Evaluated { report, report_path, predictions_path, prediction_rows, seconds: clock.laps })
}

/// Wall time per phase.
struct PhaseClock {
    last: std::time::Instant,
    laps: Vec<(&'static str, f64)>,
}

impl Default for PhaseClock {
    fn default() -> Self {
        Self { last: std::time::Instant::now(), laps: Vec::new() }
    }
}

impl PhaseClock {
    fn lap(&mut self, phase: &'static str) {
        let now = std::time::Instant::now();
        self.laps.push((phase, (now - self.last).as_secs_f64()));
        self.last = now;
    }
}

fn model_entry(
    p: &Predicted,
    test: &SideScores,
    id: &SideScores,
    recipe: &str,
    split: &SplitFile,
    confidence: f64,
) -> ModelEntry {
    let present = test.confusion.present_classes();
    let gap_resampled: Vec<f64> =
        id.resampled_macro_f1.iter().zip(&test.resampled_macro_f1).map(|(i, t)| i - t).collect();
    ModelEntry {
        model: p.arch.as_str().into(),
        variant: p.variant.as_str().into(),
        split: recipe.into(),
        checkpoint: p.path.display().to_string(),
        episodes: test.episodes,
        windows: test.windows,
        macro_f1: test.macro_f1,
        accuracy: test.accuracy,
        per_class: test.per_class.clone(),
        per_profile: test.per_profile.clone(),
        per_host: test.per_host.clone(),
        confusion: ConfusionEntry {
            labels: present.iter().map(|k| Label::ALL[*k].to_string()).collect(),
            matrix: test.confusion.rows(&present),
        },
        untested_profiles: split.untested_profiles.clone(),
        in_distribution: InDistribution {
            episodes: id.episodes,
            windows: id.windows,
            macro_f1: id.macro_f1,
            accuracy: id.accuracy,
            per_class: id.per_class.clone(),
        },
        generalization_gap: bootstrap::percentile_interval(
            id.macro_f1.point - test.macro_f1.point,
            &gap_resampled,
            confidence,
        ),
    }
}

/// Every pair of models under one variant, and each architecture's
/// realistic against its oracle, on the held-out side's shared resamples.
fn compare(
    predicted: &[Predicted],
    scored: &[(SideScores, SideScores)],
    recipe: &str,
    confidence: f64,
) -> Vec<Comparison> {
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for a in 0..predicted.len() {
        for b in a + 1..predicted.len() {
            let (pa, pb) = (&predicted[a], &predicted[b]);
            if pa.variant == pb.variant || pa.arch == pb.arch {
                pairs.push((a, b));
            }
        }
    }
    let tests: Vec<bootstrap::Paired> = pairs
        .iter()
        .map(|(a, b)| {
            let (ta, tb) = (&scored[*a].0, &scored[*b].0);
            paired(ta.macro_f1.point, tb.macro_f1.point, &ta.resampled_macro_f1, &tb.resampled_macro_f1, confidence)
        })
        .collect();
    let adjusted = bootstrap::holm(&tests.iter().map(|t| t.p_value).collect::<Vec<_>>());
    let model_ref = |p: &Predicted| ModelRef { model: p.arch.as_str().into(), variant: p.variant.as_str().into() };
    pairs
        .iter()
        .zip(tests)
        .zip(adjusted)
        .map(|(((a, b), t), p_holm)| Comparison {
            split: Some(recipe.into()),
            a: model_ref(&predicted[*a]),
            b: model_ref(&predicted[*b]),
            delta: t.delta,
            p_value: t.p_value,
            p_holm,
            significant: p_holm < SIGNIFICANCE,
        })
        .collect()
}
