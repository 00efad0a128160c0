//! The `cis490` command line: one subcommand per stage of the data path
//! (`synth`, `validate`, `extract`, `split`, `train`, `eval`, `serve`), the producers
//! (`profiles`, `replay`), `bench`, and `demo`, which serves the dashboard
//! and runs them all on built-in defaults.

mod bench;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use cis490_models::architecture::FitSettings;
use cis490_models::gbt::GbtConfig;
use cis490_models::neural::trainer::TrainConfig;
use cis490_models::variant::Variant;
use cis490_pipeline::publish::background::Background;
use cis490_pipeline::publish::retry::Retrying;
use cis490_pipeline::publish::{HttpPublisher, Publish};
use cis490_pipeline::store::archive::ReadLimits;
use cis490_pipeline::synth::{self, SynthOptions};
use cis490_pipeline::validate::{self, ValidateOptions};
use cis490_pipeline::{DEFAULT_SEED, default_jobs, demo, eval, extract, jobs, producers, split, train};
use cis490_server::serve;

#[derive(Parser)]
#[command(
    name = "cis490",
    version,
    about = "Episode telemetry lab: validate, learn from and show VM behaviour recordings"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct SynthArgs {
    /// Store folder to write (`<store>/<host_id>/<episode_id>.tar.zst`).
    #[arg(long)]
    out: PathBuf,
    /// Number of hosts.
    #[arg(long, default_value_t = synth::DEFAULT_HOSTS)]
    hosts: usize,
    /// Number of episodes.
    #[arg(long, default_value_t = synth::DEFAULT_EPISODES)]
    episodes: u64,
    /// Seed; the same seed writes the same bytes.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Share of episodes with an injected fault (0..=1).
    #[arg(long, default_value_t = synth::DEFAULT_FAULT_RATE)]
    fault_rate: f64,
    /// Worker threads (default: all cores).
    #[arg(long, default_value_t = default_jobs())]
    jobs: usize,
}

#[derive(clap::Args, Clone)]
struct HubArgs {
    /// Publish progress to the hub at this URL (e.g. http://127.0.0.1:8447).
    #[arg(long)]
    hub: Option<String>,
    /// Token for the hub's /publish.
    #[arg(long, env = "CIS490_TOKEN", hide_env_values = true)]
    hub_token: Option<String>,
    /// Seconds a one-shot producer (profiles, metrics) keeps retrying an
    /// unreachable hub before it gives up; replay and perf retry for ever,
    /// and jobs (validate, extract, train, eval) never wait for the hub.
    #[arg(long, default_value_t = 120)]
    hub_retry_s: u64,
}

impl Default for HubArgs {
    fn default() -> Self {
        Self { hub: None, hub_token: None, hub_retry_s: 120 }
    }
}

impl HubArgs {
    fn http(&self) -> Result<Option<HttpPublisher>> {
        self.hub.as_ref().map(|url| HttpPublisher::new(url, self.hub_token.clone())).transpose().map_err(Into::into)
    }

    /// For jobs: progress goes through a queue, so the job never waits for
    /// the hub (and is sent when the hub comes back).
    fn publisher(&self) -> Result<Option<Arc<dyn Publish>>> {
        Ok(self.http()?.map(|http| Arc::new(Background::start(Box::new(http))) as Arc<dyn Publish>))
    }

    /// For producers that run until stopped: reconnects for ever.
    fn live_publisher(&self) -> Result<Retrying<HttpPublisher>> {
        Ok(Retrying::forever(self.http()?.context("--hub URL is required")?))
    }

    /// For one-shot producers: reconnects for `--hub-retry-s` at most.
    fn one_shot_publisher(&self) -> Result<Retrying<HttpPublisher>> {
        let http = self.http()?.context("--hub URL is required")?;
        Ok(Retrying::for_at_most(http, std::time::Duration::from_secs(self.hub_retry_s)))
    }
}

#[derive(clap::Args)]
struct ValidateArgs {
    /// The receiver store.
    #[arg(long)]
    store: PathBuf,
    /// Output folder for validation_v1.parquet and validation_summary.json.
    #[arg(long)]
    out: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long, default_value_t = default_jobs())]
    jobs: usize,
    #[command(flatten)]
    limits: LimitArgs,
    /// Replace --out even if it is not an earlier validation output.
    #[arg(long)]
    force: bool,
    /// Re-read every archive; by default an --out holding an earlier sweep
    /// of this store keeps the rows of archives whose size and mtime are unchanged.
    #[arg(long)]
    full: bool,
    #[command(flatten)]
    hub: HubArgs,
}

/// Caps on what one archive may cost (docs/reliability.md).
#[derive(clap::Args, Clone)]
struct LimitArgs {
    /// Cap on decompressed bytes per archive.
    #[arg(long, default_value_t = ReadLimits::default().max_decompressed_bytes)]
    max_decompressed_bytes: u64,
    /// Most rows kept per telemetry member (~6.9 h at 2 Hz by default).
    #[arg(long, default_value_t = ReadLimits::default().max_rows_per_member)]
    max_rows_per_member: usize,
    /// Longest labelled span of an episode, in seconds.
    #[arg(long, default_value_t = ReadLimits::default().max_span_s)]
    max_span_s: u64,
}

impl LimitArgs {
    fn read_limits(&self) -> Result<ReadLimits> {
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

impl Default for LimitArgs {
    fn default() -> Self {
        let d = ReadLimits::default();
        Self {
            max_decompressed_bytes: d.max_decompressed_bytes,
            max_rows_per_member: d.max_rows_per_member,
            max_span_s: d.max_span_s,
        }
    }
}

#[derive(clap::Args)]
struct ExtractArgs {
    /// The receiver store.
    #[arg(long)]
    store: PathBuf,
    /// The acceptance index written by `cis490 validate`.
    #[arg(long)]
    index: PathBuf,
    /// Output folder for summary/ and tensors/ shards.
    #[arg(long)]
    out: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long, default_value_t = default_jobs())]
    jobs: usize,
    #[command(flatten)]
    limits: LimitArgs,
    /// Replace --out even if it is not an earlier extraction.
    #[arg(long)]
    force: bool,
    /// Extract every episode; by default an --out holding an earlier
    /// extraction of this store keeps the shards of unchanged episodes.
    #[arg(long)]
    full: bool,
    #[command(flatten)]
    hub: HubArgs,
}

/// `--recipe`: the three names, listed in `--help` and completed by shells.
fn recipe_parser() -> impl clap::builder::TypedValueParser<Value = split::recipes::Recipe> {
    use clap::builder::TypedValueParser;
    use split::recipes::Recipe;
    clap::builder::PossibleValuesParser::new(Recipe::ALL.map(Recipe::as_str)).try_map(|name| name.parse::<Recipe>())
}

#[derive(clap::Args)]
struct SplitArgs {
    /// The feature folder written by `cis490 extract`.
    #[arg(long)]
    features: PathBuf,
    /// host, sample or time.
    #[arg(long, value_parser = recipe_parser())]
    recipe: split::recipes::Recipe,
    /// Hosts to hold out (host recipe; default: one chosen by --seed).
    #[arg(long, value_delimiter = ',')]
    test_hosts: Vec<String>,
    /// Seed of every random choice.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Share of training episodes carved into validation.
    #[arg(long, default_value_t = split::DEFAULT_VAL_SHARE)]
    val_share: f64,
    /// Share of training episodes carved into an in-distribution test side
    /// (scored by `cis490 eval` beside the held-out test; 0: none).
    #[arg(long, default_value_t = split::DEFAULT_IN_DISTRIBUTION_SHARE)]
    in_distribution_share: f64,
    /// The split file to write (normalization goes beside it as <name>.norm.json).
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
struct EvalArgs {
    /// The run folder written by `cis490 train`.
    #[arg(long)]
    run: PathBuf,
    /// The split file the run was trained on.
    #[arg(long)]
    split: PathBuf,
    /// Where report.json and predictions.parquet go (default: RUN/eval).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The feature folder (default: the one the split file names).
    #[arg(long)]
    features: Option<PathBuf>,
    /// Bootstrap resamples of the test episodes.
    #[arg(long, default_value_t = eval::DEFAULT_RESAMPLES)]
    resamples: usize,
    /// Seed of the resamples.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Replace --out even if it is not an earlier evaluation.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    hub: HubArgs,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// The feature folder written by `cis490 extract`.
    #[arg(long)]
    features: PathBuf,
    /// The split file written by `cis490 split`.
    #[arg(long)]
    split: PathBuf,
    /// Architectures, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "gbt,mlp,cnn,gru,lstm,transformer")]
    models: Vec<String>,
    /// Threat models, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "realistic,oracle")]
    variants: Vec<String>,
    /// The run folder to write (`<model>-<variant>/checkpoint.bin` and `model.onnx`).
    #[arg(long)]
    out: PathBuf,
    /// Most epochs of each network (early stopping usually ends sooner).
    #[arg(long, default_value_t = train::DEFAULT_EPOCHS)]
    epochs: usize,
    /// Epochs without a better validation macro F1 before a network stops.
    #[arg(long, default_value_t = train::DEFAULT_PATIENCE)]
    patience: usize,
    /// Seed of the networks' weights and batch order.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Models trained at once (each network uses one core).
    #[arg(long, default_value_t = default_jobs())]
    jobs: usize,
    /// Training windows per network epoch: a fresh class-stratified sample
    /// each epoch when the training side is larger (0: every window).
    #[arg(long, default_value_t = train::DEFAULT_EPOCH_WINDOWS)]
    epoch_windows: usize,
    /// Most training windows in the summary tables the trees and the mlp
    /// read (a class-stratified sample when there are more; 0: all); it
    /// bounds the trees' memory, ~3 KB per window with all 46 channels.
    #[arg(long, default_value_t = train::DEFAULT_TREE_WINDOWS)]
    tree_windows: usize,
    /// Continue an interrupted run in --out: each network from its last
    /// completed epoch, models already trained on this split kept.
    #[arg(long)]
    resume: bool,
    #[command(flatten)]
    hub: HubArgs,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to bind.
    #[arg(long, default_value = serve::DEFAULT_BIND)]
    bind: SocketAddr,
    /// Folder with the dashboard (index.html and pkg/).
    #[arg(long, default_value = "public")]
    public: PathBuf,
    /// Folder with validation outputs to show.
    #[arg(long)]
    validation: Option<PathBuf>,
    /// Token publishers must present (required off loopback).
    #[arg(long, env = "CIS490_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Require the token for reading too: /ws (also as ?token=), /api/snapshot, /api/validation/summary, /api/models, /models/...
    #[arg(long)]
    private: bool,
    /// Another host name the hub answers to, e.g. the lab name kiosks use (`NAME` or `NAME:PORT`; repeatable).
    #[arg(long = "allow-host", value_name = "NAME")]
    allow_hosts: Vec<String>,
    /// Another origin whose pages may publish and stream, e.g. https://lab.example behind a TLS proxy (repeatable).
    #[arg(long = "allow-origin", value_name = "URL")]
    allow_origins: Vec<String>,
    /// Connections open at once (WebSockets included); one more is answered 503.
    #[arg(long, default_value_t = serve::ServeLimits::default().max_connections)]
    max_connections: usize,
    /// A training run whose ONNX models the dashboard may load.
    #[arg(long)]
    run: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Write a deterministic synthetic receiver store.
    Synth(SynthArgs),
    /// Validate a store into accepted / degraded / rejected / errored.
    Validate(ValidateArgs),
    /// Extract windows and features into Parquet shards.
    Extract(ExtractArgs),
    /// Publish one attack-profile curve per profile to a hub.
    Profiles {
        /// The receiver store.
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
        /// The receiver store.
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
    /// Train models × variants on a split.
    Train(TrainArgs),
    /// Evaluate a run on its split: bootstrap CIs, breakdowns, paired comparisons.
    Eval(EvalArgs),
    /// Serve the dashboard.
    Serve(ServeArgs),
    /// Run the whole path on built-in defaults: generate, validate, extract, split, train, evaluate, serve.
    Demo {
        /// Working folder for the generated store and results.
        #[arg(long, default_value = "demo-out")]
        workdir: PathBuf,
        /// Episodes to generate.
        #[arg(long, default_value_t = synth::DEFAULT_EPISODES)]
        episodes: u64,
        /// Seed of the synthetic corpus.
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
        /// Stop after the pipeline instead of serving.
        #[arg(long)]
        no_serve: bool,
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Benchmarks that print figures next to a reference.
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
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
    /// Neural training ms per step at batch 64 (compare with bench/neural_torch.py).
    Neural {
        /// Timed steps per model.
        #[arg(long, default_value_t = 40)]
        steps: usize,
    },
    /// tract inference latency per window for every model of a training run.
    Inference {
        /// The run folder written by `cis490 train`.
        #[arg(long)]
        run: PathBuf,
        /// Single-window runs per model.
        #[arg(long, default_value_t = 2000)]
        windows: usize,
    },
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

fn main() -> std::process::ExitCode {
    let result = run();
    bench::scale::report_peak_rss();
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // Errors name the file or field at fault and carry each cause
            // once; the chain on one line says it all (a backtrace would bury it).
            // `{err:#}` but for a library's cause already in the message before it.
            eprintln!("error: {}", cis490_shared::error_chain(err.as_ref()));
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Synth(args) => run_synth(&args),
        Command::Validate(args) => {
            let publisher = args.hub.publisher()?;
            run_validate(&args, publisher)
        }
        Command::Extract(args) => {
            let publisher = args.hub.publisher()?;
            run_extract(&args, publisher)
        }
        Command::Profiles { store, index, hub } => {
            let publisher = hub.one_shot_publisher()?;
            let rows = validate::index::read_index(&index)?;
            let published = producers::profiles::publish(&store, &rows, &publisher)?;
            eprintln!("published {published} attack profiles");
            Ok(())
        }
        Command::Metrics { report, hub } => {
            let publisher = hub.one_shot_publisher()?;
            let events = producers::metrics::events(&report)?;
            publisher.publish(&events)?;
            eprintln!("published {} metrics events", events.len());
            Ok(())
        }
        Command::Perf { pid, source, interval, hub } => {
            let publisher = hub.live_publisher()?;
            let every = std::time::Duration::from_secs_f64(interval.max(0.1));
            producers::perf::watch(&pid, &source, every, &publisher)?;
            Ok(())
        }
        Command::Replay { store, episode, speed, repeat, models, hub } => {
            let publisher = hub.live_publisher()?;
            let (host, id) = episode.split_once('/').context("--episode must be <host_id>/<episode_id>")?;
            let path = store.join(host).join(format!("{id}.tar.zst"));
            let models = match models {
                Some(run) => producers::predictions::load_run(&run)?,
                None => Vec::new(),
            };
            let stop = AtomicBool::new(false);
            loop {
                producers::replay::replay(&path, id, host, speed, &models, &publisher, &stop)
                    .with_context(|| format!("replaying {}", path.display()))?;
                if !repeat {
                    return Ok(());
                }
            }
        }
        Command::Split(args) => run_split(&args),
        Command::Train(args) => {
            let publisher = args.hub.publisher()?;
            run_train(&args, publisher)
        }
        Command::Eval(args) => {
            let publisher = args.hub.publisher()?;
            run_eval(&args, publisher)
        }
        Command::Serve(args) => {
            serve::serve_until_stopped(serve_config(args), say_where)?;
            Ok(())
        }
        Command::Demo { workdir, episodes, seed, no_serve, mut serve } => {
            let opts = demo::DemoOptions { workdir, episodes, seed, jobs: default_jobs(), progress: true };
            let paths = demo::DemoPaths::new(&opts.workdir);
            if no_serve {
                demo::run_pipeline(&opts, None, &mut |stage| print_stage(&paths, stage))?;
                return Ok(());
            }
            serve.validation = Some(serve.validation.unwrap_or_else(|| paths.validation.clone()));
            serve.run = Some(serve.run.unwrap_or_else(|| paths.run.clone()));
            serve::run_beside(serve_config(serve), say_where, move |hub, stop| {
                demo::run_pipeline(&opts, Some(Arc::clone(&hub)), &mut |stage| print_stage(&paths, stage))?;
                demo::keep_live(&paths, hub.as_ref(), stop)
            })?;
            Ok(())
        }
        Command::Bench { which: BenchCommand::Validate { episodes, workdir } } => {
            bench::validate_throughput(&bench::ValidateBench { workdir, episodes, jobs: vec![1, 2] })?;
            Ok(())
        }
        Command::Bench { which: BenchCommand::Gbt { features, split, out, rounds } } => {
            bench::gbt::gbt_training(&features, &split, &out, rounds)?;
            Ok(())
        }
        Command::Bench { which: BenchCommand::Neural { steps } } => {
            bench::neural::training_steps(steps.max(1))?;
            Ok(())
        }
        Command::Bench { which: BenchCommand::Inference { run, windows } } => {
            bench::neural::inference_latency(&run, windows.max(1))?;
            Ok(())
        }
        Command::Bench { which: BenchCommand::Eval { run, split, resamples } } => {
            bench::eval::evaluation(&run, &split, resamples)?;
            Ok(())
        }
        #[cfg(feature = "hub-bench")]
        Command::Bench { which: BenchCommand::Hub { seconds } } => {
            bench::hub::hub_load(seconds)?;
            Ok(())
        }
        #[cfg(feature = "hub-bench")]
        Command::Bench { which: BenchCommand::HubMemory { scenario, server } } => {
            bench::hub_memory::hub_memory(&scenario, server.as_deref())?;
            Ok(())
        }
        #[cfg(not(feature = "hub-bench"))]
        Command::Bench { which: BenchCommand::Hub { .. } | BenchCommand::HubMemory { .. } } => bail!(
            "the hub benchmarks need WebSocket clients the normal binary leaves out: \
             build with `cargo build --release -p cis490-backend --features hub-bench`"
        ),
        Command::Bench { which: BenchCommand::Scale { episodes, workdir, stages, train_args } } => {
            bench::scale::scale(&bench::scale::ScaleBench { episodes, workdir, stages, train_args })?;
            Ok(())
        }
        Command::Bench { which: BenchCommand::Extract { episodes, workdir, jobs } } => {
            bench::extract_throughput(&bench::ExtractBench { workdir, episodes, jobs })?;
            Ok(())
        }
    }
}

fn run_synth(args: &SynthArgs) -> Result<()> {
    let started = Instant::now();
    let opts = SynthOptions {
        out: args.out.clone(),
        hosts: args.hosts,
        episodes: args.episodes,
        seed: args.seed,
        fault_rate: args.fault_rate,
        jobs: args.jobs,
        progress: true,
    };
    let report = synth::run(&opts).with_context(|| format!("generating a store in {}", args.out.display()))?;
    print_synth(&report, &args.out, started.elapsed());
    Ok(())
}

/// Prints what a demo stage did, as its subcommand would.
fn print_stage(paths: &demo::DemoPaths, stage: demo::StageDone<'_>) {
    match stage {
        demo::StageDone::Synth(report, took) => print_synth(report, &paths.store, took),
        demo::StageDone::Validate(sweep, took) => print_validate(sweep, &paths.index, took),
        demo::StageDone::Extract(summary, took) => print_extract(summary, &paths.features, took),
        demo::StageDone::Split(made) => print_split(made, &paths.split),
        demo::StageDone::Train(trained, took) => print_trained(trained, &paths.run, took),
        demo::StageDone::Eval(evaluated, took) => print_eval(evaluated, took),
    }
}

fn print_synth(report: &synth::SynthReport, out: &Path, took: Duration) {
    eprintln!(
        "wrote {} episodes ({:.1} MB) to {} in {:.1} s",
        report.plans.len(),
        report.bytes as f64 / 1e6,
        out.display(),
        took.as_secs_f64()
    );
}

fn run_validate(args: &ValidateArgs, publisher: Option<Arc<dyn Publish>>) -> Result<()> {
    if args.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let started = Instant::now();
    let opts = ValidateOptions {
        store: args.store.clone(),
        out: args.out.clone(),
        jobs: args.jobs,
        limits: args.limits.read_limits()?,
        progress: true,
        force: args.force,
        full: args.full,
    };
    let sweep = jobs::validate(&opts, publisher)?;
    print_validate(&sweep, &args.out.join(validate::index::INDEX_FILE), started.elapsed());
    Ok(())
}

fn print_validate(sweep: &validate::Sweep, index: &Path, took: Duration) {
    for skipped in &sweep.summary.skipped_paths {
        eprintln!("skipped {skipped}");
    }
    println!("{}", sweep.summary.line());
    let total = sweep.rows.len() as u64;
    eprintln!(
        "index: {} ({:.1} s; {} of {total} rows reused from the earlier sweep, {} archives read)",
        index.display(),
        took.as_secs_f64(),
        sweep.reused,
        total - sweep.reused,
    );
}

fn run_extract(args: &ExtractArgs, publisher: Option<Arc<dyn Publish>>) -> Result<()> {
    if args.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let started = Instant::now();
    let opts = extract::ExtractOptions {
        store: args.store.clone(),
        index: args.index.clone(),
        out: args.out.clone(),
        jobs: args.jobs,
        progress: true,
        limits: args.limits.read_limits()?,
        force: args.force,
        full: args.full,
    };
    let summary = jobs::extract(&opts, publisher)?;
    print_extract(&summary, &args.out, started.elapsed());
    Ok(())
}

fn print_extract(summary: &extract::ExtractSummary, out: &Path, took: Duration) {
    println!(
        "extracted {} windows from {} episodes ({} windows dropped at transitions, {} episodes skipped) into {} in {:.1} s; {} episodes' rows kept from the earlier extraction, {} extracted",
        summary.windows,
        summary.episodes,
        summary.dropped_windows,
        summary.skipped.len(),
        out.display(),
        took.as_secs_f64(),
        summary.reused_episodes,
        summary.episodes - summary.reused_episodes,
    );
}

fn run_split(args: &SplitArgs) -> Result<()> {
    let opts = split::SplitOptions {
        features: args.features.clone(),
        recipe: args.recipe,
        test_hosts: args.test_hosts.clone(),
        seed: args.seed,
        val_share: args.val_share,
        in_distribution_share: args.in_distribution_share,
        out: args.out.clone(),
    };
    let made = split::run(&opts)?;
    print_split(&made, &args.out);
    Ok(())
}

fn print_split(made: &split::SplitFile, out: &Path) {
    println!(
        "{:?} split (held out: {}): {} train, {} val, {} test, {} in-distribution test episodes; untested profiles: {}; written to {}",
        made.recipe,
        made.held_out.join(", "),
        made.train.len(),
        made.val.len(),
        made.test.len(),
        made.in_distribution.len(),
        if made.untested_profiles.is_empty() { "none".to_string() } else { made.untested_profiles.join(", ") },
        out.display()
    );
}

/// A flag the first Ctrl-C sets (training then stops after the current
/// batch or boosting round, its states left for `--resume`); a second
/// Ctrl-C exits at once.
fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let watcher = std::thread::Builder::new().name("ctrl-c".into()).spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        runtime.block_on(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nstopping after the current batch (Ctrl-C again quits at once)");
                flag.store(true, Ordering::Relaxed);
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
    });
    if let Err(e) = watcher {
        tracing::warn!("Ctrl-C will end training without a clean stop: {e}");
    }
    stop
}

fn run_train(args: &TrainArgs, publisher: Option<Arc<dyn Publish>>) -> Result<()> {
    let stop = stop_on_ctrl_c();
    let variants =
        args.variants.iter().map(|v| v.parse::<Variant>().map_err(anyhow::Error::msg)).collect::<Result<Vec<_>>>()?;
    let models = train::parse_models(&args.models)?;
    if args.epochs == 0 || args.jobs == 0 {
        bail!("--epochs and --jobs must be at least 1");
    }
    let started = Instant::now();
    let settings = FitSettings {
        gbt: GbtConfig::default(),
        neural: TrainConfig {
            max_epochs: args.epochs,
            patience: args.patience,
            seed: args.seed,
            max_windows_per_epoch: (args.epoch_windows > 0).then_some(args.epoch_windows),
            ..TrainConfig::default()
        },
    };
    let opts = train::TrainOptions {
        features: args.features.clone(),
        split: args.split.clone(),
        models,
        variants,
        out: args.out.clone(),
        settings,
        jobs: args.jobs,
        publisher,
        progress: true,
        max_tree_windows: (args.tree_windows > 0).then_some(args.tree_windows),
        resume: args.resume,
        stop: Some(Arc::clone(&stop)),
    };
    let trained = train::run(&opts).map_err(|e| {
        let e = anyhow::Error::from(e);
        if stop.load(Ordering::Relaxed) {
            e.context(
                "stopped by Ctrl-C: run the same command with --resume to continue from the last completed epochs",
            )
        } else {
            e
        }
    })?;
    print_trained(&trained, &args.out, started.elapsed());
    Ok(())
}

fn print_trained(trained: &[train::Trained], out: &Path, took: Duration) {
    println!("{:<24} {:>9} {:>8} {:>8} {:>7} {:>8}", "model", "val F1", "train", "val", "epochs", "seconds");
    for t in trained {
        println!(
            "{:<24} {:>9.3} {:>8} {:>8} {:>7} {:>8.1}",
            format!("{}-{}", t.model, t.variant.as_str()),
            t.val_macro_f1,
            t.train_windows,
            t.val_windows,
            t.epochs,
            t.seconds,
        );
    }
    println!(
        "trained {} models in {:.1} s -> {} (checkpoint.bin and model.onnx per model)",
        trained.len(),
        took.as_secs_f64(),
        out.display()
    );
}

fn run_eval(args: &EvalArgs, publisher: Option<Arc<dyn Publish>>) -> Result<()> {
    let opts = eval::EvalOptions {
        run: args.run.clone(),
        split: args.split.clone(),
        features: args.features.clone(),
        out: args.out.clone().unwrap_or_else(|| args.run.join(eval::EVAL_DIR)),
        resamples: args.resamples,
        seed: args.seed,
        confidence: eval::DEFAULT_CONFIDENCE,
        publisher,
        force: args.force,
    };
    let started = Instant::now();
    let done = eval::run(&opts)?;
    print_eval(&done, started.elapsed());
    Ok(())
}

fn print_eval(done: &eval::Evaluated, took: Duration) {
    print!("{}", eval::report::summary_table(&done.report));
    eprintln!(
        "evaluated {} models in {:.1} s -> {} and {} ({} rows)",
        done.report.models.len(),
        took.as_secs_f64(),
        done.report_path.display(),
        done.predictions_path.display(),
        done.prediction_rows
    );
}

/// The server's configuration from `cis490 serve`'s arguments.
fn serve_config(args: ServeArgs) -> serve::ServeConfig {
    serve::ServeConfig {
        validation_dir: args.validation,
        token: args.token,
        private: args.private,
        allow_hosts: args.allow_hosts,
        allow_origins: args.allow_origins,
        run_dir: args.run,
        limits: serve::ServeLimits { max_connections: args.max_connections, ..serve::ServeLimits::default() },
        ..serve::ServeConfig::new(args.bind, args.public)
    }
}

fn say_where(addr: SocketAddr) {
    eprintln!("dashboard: http://{addr}/  (Ctrl-C stops)");
}
