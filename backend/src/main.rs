//! The `cis490` command line: one subcommand per stage of the data path
//! (`synth`, `validate`, `extract`, `split`, `train`, `eval`, `serve`), the producers
//! (`profiles`, `replay`), `bench`, and `demo`, which serves the dashboard
//! and runs them all on built-in defaults.
//!
//! Every stage is a library call (`cis490-pipeline`, `cis490-server`):
//! this binary parses arguments ([`cli`]), calls the library, and prints
//! what it did ([`print`]); the benchmarks are in [`bench`].
//!
//! The `training` feature (default) adds `train`, `eval`, `demo` and the
//! training benchmarks (`training`). Without it, the Raspberry Pi edge
//! build (`cargo xtask pi`) keeps what a Pi runs: `replay --models`,
//! `profiles`, `perf`, `metrics`, `serve`, and the sweeps.

mod bench;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

#[cfg(not(feature = "hub-bench"))]
use anyhow::bail;
use anyhow::{Context, Result};
use clap::Parser;

use cis490_pipeline::publish::Publish;
use cis490_pipeline::source::Source;
use cis490_pipeline::synth::{self, SynthOptions};
use cis490_pipeline::validate::{self, ValidateOptions};
use cis490_pipeline::{extract, jobs, merge, producers, split};
use cis490_server::cli::{init_logging, say_where};
use cis490_server::serve;
use cis490_shared::ids::{EpisodeId, HostId};

mod cli;
mod print;
#[cfg(feature = "training")]
mod training;

use cli::{BenchCommand, Cli, Command, ExtractArgs, MergeArgs, SplitArgs, SynthArgs, ValidateArgs};
use print::{print_extract, print_merge_features, print_merge_validation, print_split, print_synth, print_validate};

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
    init_logging();
    let cli = Cli::parse();
    match cli.command {
        Command::Synth(args) => run_synth(&args),
        Command::Validate(args) => {
            let publisher = args.sweep.hub.publisher()?;
            run_validate(&args, publisher)
        }
        Command::Extract(args) => {
            let publisher = args.sweep.hub.publisher()?;
            run_extract(&args, publisher)
        }
        Command::Merge(args) => run_merge(&args),
        Command::Profiles { store, index, hub } => {
            let publisher = hub.one_shot_publisher()?;
            let rows = validate::index::read_index(&index)?;
            let store = Source::open(&store)?;
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
            let (host, id) = (HostId::new(host).context("--episode")?, EpisodeId::new(id).context("--episode")?);
            let store = Source::open(&store)?;
            let models = match models {
                Some(run) => producers::predictions::load_run(&run)?,
                None => Vec::new(),
            };
            let stop = AtomicBool::new(false);
            loop {
                producers::replay::stream(&store, id.as_str(), host.as_str(), speed, &models, &publisher, &stop)
                    .with_context(|| format!("replaying {episode}"))?;
                if !repeat {
                    return Ok(());
                }
            }
        }
        Command::Split(args) => run_split(&args),
        #[cfg(feature = "training")]
        Command::Train(args) => {
            let publisher = args.hub.publisher()?;
            training::run_train(&args, publisher)
        }
        #[cfg(feature = "training")]
        Command::Eval(args) => {
            let publisher = args.hub.publisher()?;
            training::run_eval(&args, publisher)
        }
        Command::Serve(args) => {
            serve::serve_until_stopped(args.into_config(), say_where)?;
            Ok(())
        }
        #[cfg(feature = "training")]
        Command::Demo(args) => training::run_demo(args),
        Command::Bench { which: BenchCommand::Validate { episodes, workdir } } => {
            bench::validate_throughput(&bench::ValidateBench { workdir, episodes, jobs: vec![1, 2] })?;
            Ok(())
        }
        #[cfg(feature = "training")]
        Command::Bench { which: BenchCommand::Gbt { features, split, out, rounds } } => {
            bench::gbt::gbt_training(&features, &split, &out, rounds)?;
            Ok(())
        }
        #[cfg(feature = "training")]
        Command::Bench { which: BenchCommand::Neural { steps, device, precision, batch } } => {
            if batch.contains(&0) {
                anyhow::bail!("--batch: a batch size must be at least 1");
            }
            bench::neural::training_steps(steps.max(1), &device.0, &precision, &batch)?;
            Ok(())
        }
        #[cfg(feature = "training")]
        Command::CheckDevice { device, rows } => {
            if !bench::neural::check_device(device, rows.max(1))? {
                anyhow::bail!("{device} does not compute what the CPU does (the table above says where)");
            }
            Ok(())
        }
        Command::Bench { which: BenchCommand::Inference { run, windows } } => {
            bench::inference::inference_latency(&run, windows.max(1))?;
            Ok(())
        }
        #[cfg(feature = "training")]
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
        Command::Bench { which: BenchCommand::Shards { episodes, shards, workdir, jobs } } => {
            if shards == 0 || jobs == 0 {
                anyhow::bail!("--shards and --jobs must be at least 1");
            }
            bench::shards::shard_overhead(&bench::shards::ShardsBench { workdir, episodes, shards, jobs })?;
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

fn run_validate(args: &ValidateArgs, publisher: Option<Arc<dyn Publish>>) -> Result<()> {
    let (jobs, limits) = args.sweep.checked()?;
    let shard = args.sweep.shard()?;
    let started = Instant::now();
    let opts = ValidateOptions {
        store: args.store.clone(),
        out: args.out.clone(),
        jobs,
        limits,
        progress: true,
        force: args.sweep.force,
        full: args.sweep.full,
        shard,
    };
    let sweep = jobs::validate(&opts, publisher)?;
    print_validate(&sweep, &opts.target().join(validate::index::INDEX_FILE), started.elapsed());
    Ok(())
}

fn run_extract(args: &ExtractArgs, publisher: Option<Arc<dyn Publish>>) -> Result<()> {
    let (jobs, limits) = args.sweep.checked()?;
    let shard = args.sweep.shard()?;
    let started = Instant::now();
    let opts = extract::ExtractOptions {
        store: args.store.clone(),
        index: args.index.clone(),
        out: args.out.clone(),
        jobs,
        progress: true,
        limits,
        force: args.sweep.force,
        full: args.sweep.full,
        shard,
    };
    let summary = jobs::extract(&opts, publisher)?;
    print_extract(&summary, &opts.target(), started.elapsed());
    Ok(())
}

fn run_merge(args: &MergeArgs) -> Result<()> {
    let started = Instant::now();
    if !args.validation.is_empty() {
        let merged = merge::validation::merge(&args.validation, &args.out, args.force)?;
        print_merge_validation(&merged, &args.out, started.elapsed());
    } else {
        let opts = merge::features::MergeFeaturesOptions {
            parts: args.features.clone(),
            out: args.out.clone(),
            index: args.index.clone(),
            force: args.force,
            progress: true,
            jobs: args.jobs,
        };
        let merged = merge::features::merge(&opts)?;
        print_merge_features(&merged, &args.out, started.elapsed());
    }
    Ok(())
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
