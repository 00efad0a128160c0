//! The `cis490` command line's arguments: one clap struct per subcommand,
//! the argument groups they share (hub, read limits, sweeps), and how each
//! group becomes the library's options. Every default comes from the
//! library's own constants.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[cfg(feature = "training")]
use cis490_models::neural::device::{ComputeDevice, Precision};
use cis490_pipeline::publish::background::Background;
use cis490_pipeline::publish::retry::Retrying;
use cis490_pipeline::publish::{HttpPublisher, Publish};
use cis490_pipeline::shard::Shard;
use cis490_pipeline::store::archive::ReadLimits;
use cis490_pipeline::{DEFAULT_SEED, default_jobs, split, synth};
#[cfg(feature = "training")]
use cis490_pipeline::{eval, train};
#[cfg(feature = "training")]
use cis490_server::cli::DemoArgs;
use cis490_server::cli::ServeArgs;

use crate::bench;

#[derive(Parser)]
#[command(
    name = "cis490",
    version,
    about = "Episode telemetry lab: validate, learn from and show VM behaviour recordings"
)]
#[cfg_attr(
    not(feature = "training"),
    command(after_help = "This is the edge build (no trainers): train, eval, demo and the training \
                          benchmarks are in the full cis490 binary.")
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(clap::Args)]
pub(crate) struct SynthArgs {
    /// Store folder to write (`<store>/<host_id>/<episode_id>.tar.zst`).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Number of hosts.
    #[arg(long, default_value_t = synth::DEFAULT_HOSTS)]
    pub(crate) hosts: usize,
    /// Number of episodes.
    #[arg(long, default_value_t = synth::DEFAULT_EPISODES)]
    pub(crate) episodes: u64,
    /// Seed; the same seed writes the same bytes.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub(crate) seed: u64,
    /// Share of episodes with an injected fault (0..=1).
    #[arg(long, default_value_t = synth::DEFAULT_FAULT_RATE)]
    pub(crate) fault_rate: f64,
    /// Worker threads (default: all cores).
    #[arg(long, default_value_t = default_jobs())]
    pub(crate) jobs: usize,
}

#[derive(clap::Args, Clone)]
pub(crate) struct HubArgs {
    /// Publish progress to the hub at this URL (e.g. http://127.0.0.1:8447).
    #[arg(long)]
    pub(crate) hub: Option<String>,
    /// Token for the hub's /publish.
    #[arg(long, env = "CIS490_TOKEN", hide_env_values = true)]
    pub(crate) hub_token: Option<String>,
    /// Seconds a one-shot producer (profiles, metrics) keeps retrying an
    /// unreachable hub before it gives up; replay and perf retry for ever,
    /// and jobs (validate, extract, train, eval) never wait for the hub.
    #[arg(long, default_value_t = 120)]
    pub(crate) hub_retry_s: u64,
}

impl HubArgs {
    pub(crate) fn http(&self) -> Result<Option<HttpPublisher>> {
        self.hub.as_ref().map(|url| HttpPublisher::new(url, self.hub_token.clone())).transpose().map_err(Into::into)
    }

    /// For jobs: progress goes through a queue, so the job never waits for
    /// the hub (and is sent when the hub comes back).
    pub(crate) fn publisher(&self) -> Result<Option<Arc<dyn Publish>>> {
        Ok(self.http()?.map(|http| Arc::new(Background::start(Box::new(http))) as Arc<dyn Publish>))
    }

    /// For producers that run until stopped: reconnects for ever.
    pub(crate) fn live_publisher(&self) -> Result<Retrying<HttpPublisher>> {
        Ok(Retrying::forever(self.http()?.context("--hub URL is required")?))
    }

    /// For one-shot producers: reconnects for `--hub-retry-s` at most.
    pub(crate) fn one_shot_publisher(&self) -> Result<Retrying<HttpPublisher>> {
        let http = self.http()?.context("--hub URL is required")?;
        Ok(Retrying::for_at_most(http, std::time::Duration::from_secs(self.hub_retry_s)))
    }
}

#[derive(clap::Args)]
pub(crate) struct ValidateArgs {
    /// The receiver store: a folder, file:///path, or s3://bucket/prefix (binary built with `--features object-store`; AWS_* environment).
    #[arg(long)]
    pub(crate) store: PathBuf,
    /// Output folder for validation_v1.parquet and validation_summary.json.
    #[arg(long)]
    pub(crate) out: PathBuf,
    #[command(flatten)]
    pub(crate) sweep: SweepArgs,
}

/// What `validate` and `extract` share: how they read the store, whether
/// they may replace or reuse --out, and where they report progress.
#[derive(clap::Args)]
pub(crate) struct SweepArgs {
    /// Worker threads (default: all cores).
    #[arg(long, default_value_t = default_jobs())]
    pub(crate) jobs: usize,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    /// Replace --out even if it does not hold this command's earlier output.
    #[arg(long)]
    pub(crate) force: bool,
    /// Redo every episode; by default an --out holding this command's
    /// earlier output of the same store keeps what unchanged archives gave.
    #[arg(long)]
    pub(crate) full: bool,
    /// Do only shard I of N of the episodes (a fixed hash of
    /// host_id/episode_id), into --out/shard-IIII-of-NNNN/; `auto` takes I
    /// and N from a Slurm array task or a Kubernetes Indexed Job. Combine
    /// the parts with `cis490 merge`.
    #[arg(long, value_name = "I/N|auto")]
    pub(crate) shard: Option<String>,
    /// The shard count for `--shard auto` under Kubernetes (default: the
    /// CIS490_SHARD_COUNT environment variable).
    #[arg(long, value_name = "N", requires = "shard")]
    pub(crate) shard_count: Option<u64>,
    #[command(flatten)]
    pub(crate) hub: HubArgs,
}

impl SweepArgs {
    /// `--jobs` checked and `--max-*` as read limits.
    pub(crate) fn checked(&self) -> Result<(usize, ReadLimits)> {
        if self.jobs == 0 {
            bail!("--jobs must be at least 1");
        }
        Ok((self.jobs, self.limits.read_limits()?))
    }

    /// `--shard` resolved (`auto` from the scheduler's environment).
    pub(crate) fn shard(&self) -> Result<Option<Shard>> {
        Ok(self.shard.as_deref().map(|text| Shard::from_arg(text, self.shard_count)).transpose()?)
    }
}

/// Caps on what one archive may cost (docs/reliability.md).
#[derive(clap::Args, Clone)]
pub(crate) struct LimitArgs {
    /// Cap on decompressed bytes per archive.
    #[arg(long, default_value_t = ReadLimits::default().max_decompressed_bytes)]
    pub(crate) max_decompressed_bytes: u64,
    /// Most rows kept per telemetry member (~6.9 h at 2 Hz by default).
    #[arg(long, default_value_t = ReadLimits::default().max_rows_per_member)]
    pub(crate) max_rows_per_member: usize,
    /// Longest labelled span of an episode, in seconds.
    #[arg(long, default_value_t = ReadLimits::default().max_span_s)]
    pub(crate) max_span_s: u64,
}

impl LimitArgs {
    pub(crate) fn read_limits(&self) -> Result<ReadLimits> {
        if self.max_rows_per_member == 0 || self.max_span_s == 0 || self.max_decompressed_bytes == 0 {
            bail!("--max-decompressed-bytes, --max-rows-per-member and --max-span-s must be at least 1");
        }
        Ok(ReadLimits {
            max_decompressed_bytes: self.max_decompressed_bytes,
            max_rows_per_member: self.max_rows_per_member,
            max_span_s: self.max_span_s,
            ..ReadLimits::default()
        })
    }
}

#[derive(clap::Args)]
pub(crate) struct ExtractArgs {
    /// The receiver store: a folder, file:///path, or s3://bucket/prefix (binary built with `--features object-store`; AWS_* environment).
    #[arg(long)]
    pub(crate) store: PathBuf,
    /// The acceptance index written by `cis490 validate`.
    #[arg(long)]
    pub(crate) index: PathBuf,
    /// Output folder for summary/ and tensors/ shards.
    #[arg(long)]
    pub(crate) out: PathBuf,
    #[command(flatten)]
    pub(crate) sweep: SweepArgs,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("parts").required(true).args(["validation", "features"])))]
pub(crate) struct MergeArgs {
    /// Parts of `cis490 validate --shard` (part folders, or the --out folder holding them).
    #[arg(long, num_args = 1.., value_name = "PART_DIR")]
    pub(crate) validation: Vec<PathBuf>,
    /// Parts of `cis490 extract --shard` (part folders, or the --out folder holding them).
    #[arg(long, num_args = 1.., value_name = "PART_DIR")]
    pub(crate) features: Vec<PathBuf>,
    /// The merged output folder.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// With --features: the acceptance index, if not at the path the parts recorded.
    #[arg(long, requires = "features")]
    pub(crate) index: Option<PathBuf>,
    /// Replace --out even if it does not hold an earlier output of the stage.
    #[arg(long)]
    pub(crate) force: bool,
    /// With --features: threads encoding the merged shards (default: all cores).
    #[arg(long, default_value_t = default_jobs())]
    pub(crate) jobs: usize,
}

/// `--recipe`: the three names, listed in `--help` and completed by shells.
pub(crate) fn recipe_parser() -> impl clap::builder::TypedValueParser<Value = split::recipes::Recipe> {
    use clap::builder::TypedValueParser;
    use split::recipes::Recipe;
    clap::builder::PossibleValuesParser::new(Recipe::ALL.map(Recipe::as_str)).try_map(|name| name.parse::<Recipe>())
}

#[derive(clap::Args)]
pub(crate) struct SplitArgs {
    /// The feature folder written by `cis490 extract`.
    #[arg(long)]
    pub(crate) features: PathBuf,
    /// host, sample or time.
    #[arg(long, value_parser = recipe_parser())]
    pub(crate) recipe: split::recipes::Recipe,
    /// Hosts to hold out (host recipe; default: one chosen by --seed).
    #[arg(long, value_delimiter = ',')]
    pub(crate) test_hosts: Vec<String>,
    /// Seed of every random choice.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub(crate) seed: u64,
    /// Share of training episodes carved into validation.
    #[arg(long, default_value_t = split::DEFAULT_VAL_SHARE)]
    pub(crate) val_share: f64,
    /// Share of training episodes carved into an in-distribution test side
    /// (scored by `cis490 eval` beside the held-out test; 0: none).
    #[arg(long, default_value_t = split::DEFAULT_IN_DISTRIBUTION_SHARE)]
    pub(crate) in_distribution_share: f64,
    /// The split file to write (normalization goes beside it as <name>.norm.json).
    #[arg(long)]
    pub(crate) out: PathBuf,
}

#[cfg(feature = "training")]
#[derive(clap::Args)]
pub(crate) struct EvalArgs {
    /// The run folder written by `cis490 train`.
    #[arg(long)]
    pub(crate) run: PathBuf,
    /// The split file the run was trained on.
    #[arg(long)]
    pub(crate) split: PathBuf,
    /// Where report.json and predictions.parquet go (default: RUN/eval).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// The feature folder (default: the one the split file names).
    #[arg(long)]
    pub(crate) features: Option<PathBuf>,
    /// Bootstrap resamples of the test episodes.
    #[arg(long, default_value_t = eval::DEFAULT_RESAMPLES)]
    pub(crate) resamples: usize,
    /// Seed of the resamples.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub(crate) seed: u64,
    /// Replace --out even if it is not an earlier evaluation.
    #[arg(long)]
    pub(crate) force: bool,
    /// Where the networks predict: cpu, cuda[:N], vulkan[:N] or vulkan:cpu
    /// (the trees always on the CPU).
    #[arg(long, default_value = "cpu")]
    pub(crate) device: ComputeDevice,
    #[command(flatten)]
    pub(crate) hub: HubArgs,
}

#[cfg(feature = "training")]
#[derive(clap::Args)]
pub(crate) struct TrainArgs {
    /// The feature folder written by `cis490 extract`.
    #[arg(long)]
    pub(crate) features: PathBuf,
    /// The split file written by `cis490 split`.
    #[arg(long)]
    pub(crate) split: PathBuf,
    /// Architectures, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "gbt,mlp,cnn,gru,lstm,transformer")]
    pub(crate) models: Vec<String>,
    /// Threat models, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "realistic,oracle")]
    pub(crate) variants: Vec<String>,
    /// The run folder to write (`<model>-<variant>/checkpoint.bin` and `model.onnx`).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Most epochs of each network (early stopping usually ends sooner).
    #[arg(long, default_value_t = train::DEFAULT_EPOCHS)]
    pub(crate) epochs: usize,
    /// Epochs without a better validation macro F1 before a network stops.
    #[arg(long, default_value_t = train::DEFAULT_PATIENCE)]
    pub(crate) patience: usize,
    /// Seed of the networks' weights and batch order.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub(crate) seed: u64,
    /// Models trained at once (each network uses one core).
    #[arg(long, default_value_t = default_jobs())]
    pub(crate) jobs: usize,
    /// Training windows per network epoch: a fresh class-stratified sample
    /// each epoch when the training side is larger (0: every window).
    #[arg(long, default_value_t = train::DEFAULT_EPOCH_WINDOWS)]
    pub(crate) epoch_windows: usize,
    /// Most training windows in the summary tables the trees and the mlp
    /// read (a class-stratified sample when there are more; 0: all); it
    /// bounds the trees' memory, ~3 KB per window with all 46 channels.
    #[arg(long, default_value_t = train::DEFAULT_TREE_WINDOWS)]
    pub(crate) tree_windows: usize,
    /// Continue an interrupted run in --out: each network from its last
    /// completed epoch, models already trained on this split kept.
    #[arg(long)]
    pub(crate) resume: bool,
    /// Where the networks train: cpu, cuda[:N], vulkan[:N] or vulkan:cpu;
    /// a comma-separated list spreads them one network per device. GPUs
    /// need a binary built with `--features gpu-cuda` or `gpu-vulkan`.
    #[arg(long, default_value = "cpu", value_parser = device_list)]
    pub(crate) device: DeviceList,
    /// The networks' training precision: f32, f16 or bf16 (steps in the
    /// half type, weights and checkpoints in f32).
    #[arg(long, default_value = "f32")]
    pub(crate) precision: Precision,
    #[command(flatten)]
    pub(crate) hub: HubArgs,
}

/// `--device`'s devices, in the order named.
#[cfg(feature = "training")]
#[derive(Debug, Clone)]
pub(crate) struct DeviceList(pub(crate) Vec<ComputeDevice>);

#[cfg(feature = "training")]
fn device_list(s: &str) -> Result<DeviceList, String> {
    cis490_models::neural::device::parse_device_list(s).map(DeviceList)
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Write a deterministic synthetic receiver store.
    Synth(SynthArgs),
    /// Validate a store into accepted / degraded / rejected / errored.
    Validate(ValidateArgs),
    /// Extract windows and features into Parquet shards.
    Extract(ExtractArgs),
    /// Combine the parts of a sharded validate or extract (`--shard`) into
    /// exactly what one process writes.
    Merge(MergeArgs),
    /// Publish one attack-profile curve per profile to a hub.
    Profiles {
        /// The receiver store: a folder, file:///path, or s3://bucket/prefix (binary built with `--features object-store`; AWS_* environment).
        #[arg(long)]
        store: PathBuf,
        /// The acceptance index written by `cis490 validate`.
        #[arg(long)]
        index: PathBuf,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Stream an episode's frames to a hub at real time × speed.
    Replay {
        /// The receiver store: a folder, file:///path, or s3://bucket/prefix (binary built with `--features object-store`; AWS_* environment).
        #[arg(long)]
        store: PathBuf,
        /// The episode, as `<host_id>/<episode_id>`.
        #[arg(long)]
        episode: String,
        /// Playback speed (2 = twice real time).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Start again at the end, until interrupted.
        #[arg(long = "loop")]
        repeat: bool,
        /// A training run: its models predict every window (tract) and
        /// publish `prediction` events as the replay reaches each window's end.
        #[arg(long)]
        models: Option<PathBuf>,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Publish an evaluation report's entries as `metrics` events.
    Metrics {
        /// The report written by `cis490 eval` (RUN/eval/report.json).
        #[arg(long)]
        report: PathBuf,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Publish a process's memory and CPU use as `perf` events, until interrupted.
    Perf {
        /// The process to watch (default: this one).
        #[arg(long, default_value = "self")]
        pid: String,
        /// Name of the source in the events.
        #[arg(long, default_value = "cis490")]
        source: String,
        /// Seconds between events.
        #[arg(long, default_value_t = 5.0)]
        interval: f64,
        #[command(flatten)]
        hub: HubArgs,
    },
    /// Make a held-out host / sample / time split of extracted features.
    Split(SplitArgs),
    #[cfg(feature = "training")]
    /// Train models × variants on a split.
    Train(TrainArgs),
    #[cfg(feature = "training")]
    /// Evaluate a run on its split: bootstrap CIs, breakdowns, paired comparisons.
    Eval(EvalArgs),
    /// Serve the dashboard.
    Serve(ServeArgs),
    #[cfg(feature = "training")]
    /// Check that a GPU backend computes what the CPU does: the five
    /// networks' logits and one training step's loss on the same weights.
    CheckDevice {
        /// The device: cuda[:N], vulkan[:N] or vulkan:cpu.
        #[arg(long)]
        device: ComputeDevice,
        /// Rows of the compared batch.
        #[arg(long, default_value_t = 64)]
        rows: usize,
    },
    #[cfg(feature = "training")]
    /// Run the whole path on built-in defaults: generate, validate, extract, split, train, evaluate, serve.
    Demo(DemoArgs),
    /// Benchmarks that print figures next to a reference.
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
}

#[derive(Subcommand)]
pub(crate) enum BenchCommand {
    /// Validation throughput with 1 and 2 jobs against `zstd -dc` + `sha256sum`.
    Validate {
        /// Episodes in the generated store.
        #[arg(long, default_value_t = 5000)]
        episodes: u64,
        /// Working folder (the store is generated once and reused).
        #[arg(long, default_value_os_t = bench::default_workdir())]
        workdir: PathBuf,
    },
    /// Hub publish→receive latency and delivered events/s with 1, 10, 100 clients.
    Hub {
        /// Seconds of the fixed-rate runs.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
    /// Hub memory under hostile publishing (distinct state keys, 1 MB events).
    HubMemory {
        /// Run only these scenarios (keys, progress, frames; repeatable).
        #[arg(long)]
        scenario: Vec<String>,
        /// Measure this `cis490` binary's `serve` instead of this one's (e.g. an older build).
        #[arg(long)]
        server: Option<PathBuf>,
    },
    #[cfg(feature = "training")]
    /// Tree training time and validation macro F1 (compare with bench/gbt_xgboost.py).
    Gbt {
        /// The feature folder.
        #[arg(long)]
        features: PathBuf,
        /// The split file.
        #[arg(long)]
        split: PathBuf,
        /// Where to write the tables for the reference.
        #[arg(long)]
        out: PathBuf,
        /// Boosting rounds (no early stopping).
        #[arg(long, default_value_t = 200)]
        rounds: usize,
    },
    #[cfg(feature = "training")]
    /// Neural training ms per step per device, precision and batch (compare with bench/neural_torch.py).
    Neural {
        /// Timed steps per model and configuration.
        #[arg(long, default_value_t = 40)]
        steps: usize,
        /// Devices to time, comma-separated (cpu, cuda[:N], vulkan[:N], vulkan:cpu).
        #[arg(long, default_value = "cpu", value_parser = device_list)]
        device: DeviceList,
        /// Precisions to time, comma-separated (f32, f16, bf16).
        #[arg(long, value_delimiter = ',', default_value = "f32")]
        precision: Vec<Precision>,
        /// Batch sizes, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "64")]
        batch: Vec<usize>,
    },
    /// Inference latency per window for every model of a training run (trees: also on tract and onnxruntime).
    Inference {
        /// The run folder written by `cis490 train`.
        #[arg(long)]
        run: PathBuf,
        /// Single-window runs per model.
        #[arg(long, default_value_t = 2000)]
        windows: usize,
    },
    #[cfg(feature = "training")]
    /// Evaluation time of a run (compare with bench/eval_numpy.py).
    Eval {
        /// The run folder written by `cis490 train`.
        #[arg(long)]
        run: PathBuf,
        /// The split file it was trained on.
        #[arg(long)]
        split: PathBuf,
        /// Bootstrap resamples.
        #[arg(long, default_value_t = eval::DEFAULT_RESAMPLES)]
        resamples: usize,
    },
    /// Every stage at growing corpus sizes: wall time, rate and peak RSS per stage.
    Scale {
        /// Corpus sizes in episodes, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "5000,20000,77000")]
        episodes: Vec<u64>,
        /// Working folder (`scale-<n>/` per size; stores are kept and reused).
        #[arg(long, default_value_os_t = bench::default_workdir())]
        workdir: PathBuf,
        /// Only these stages, comma-separated (synth, validate, extract, split,
        /// train-gbt-realistic, train-gbt-oracle, train-cnn-1-epoch, eval).
        #[arg(long, value_delimiter = ',')]
        stages: Vec<String>,
        /// Extra arguments for the train stages, e.g. `--train-arg=--epoch-windows=100000` (repeatable).
        #[arg(long = "train-arg", allow_hyphen_values = true)]
        train_args: Vec<String>,
    },
    /// Sharded validate/extract + merge against one process: each part's
    /// time, the merges' rates, the time with one node per shard.
    Shards {
        /// Episodes in the generated store.
        #[arg(long, default_value_t = 5000)]
        episodes: u64,
        /// Shards to cut the sweeps into.
        #[arg(long, default_value_t = 4)]
        shards: u32,
        /// Working folder (the store is generated once and reused).
        #[arg(long, default_value_os_t = bench::default_workdir())]
        workdir: PathBuf,
        /// Worker threads of every run.
        #[arg(long, default_value_t = default_jobs())]
        jobs: usize,
    },
    /// Extraction windows/s and MB/s against only reading and decompressing.
    Extract {
        /// Episodes in the generated store.
        #[arg(long, default_value_t = 5000)]
        episodes: u64,
        /// Working folder (the store is generated once and reused).
        #[arg(long, default_value_os_t = bench::default_workdir())]
        workdir: PathBuf,
        /// Worker threads.
        #[arg(long, default_value_t = default_jobs())]
        jobs: usize,
    },
}
