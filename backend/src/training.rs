//! The commands that train (`train`, `eval`, `demo`): built with the
//! `training` feature only, so the Raspberry Pi edge build has none of the
//! trainers' libraries.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Result, bail};

use cis490_models::architecture::FitSettings;
use cis490_models::gbt::GbtConfig;
use cis490_models::neural::trainer::TrainConfig;
use cis490_models::variant::Variant;
use cis490_pipeline::publish::Publish;
use cis490_pipeline::run_dir::RunDir;
use cis490_pipeline::{demo, eval, train};
use cis490_server::cli::{DemoArgs, say_where};
use cis490_server::serve;

use crate::cli::{EvalArgs, HubArgs, TrainArgs};
use crate::print::{print_eval, print_stage, print_trained};

/// `cis490 demo`: the whole path on built-in defaults, then (unless
/// `--no-serve`) kept live: beside the hub it serves, or, with
/// `--publish-only`, published to the hub `cis490-hub demo` serves with
/// the same arguments.
pub(crate) fn run_demo(args: DemoArgs) -> Result<()> {
    let opts = demo::DemoOptions {
        workdir: args.workdir.clone(),
        episodes: args.episodes,
        seed: args.seed,
        progress: true,
        ..demo::DemoOptions::default()
    };
    let paths = demo::DemoPaths::new(&opts.workdir);
    if args.no_serve {
        demo::run_pipeline(&opts, None, &mut |stage| print_stage(&paths, stage))?;
        return Ok(());
    }
    if args.publish_only {
        // As `--hub URL` for any job and producer: jobs never wait for the
        // hub, the replay reconnects for ever.
        let url = args.serve.local_url();
        eprintln!("demo: publishing to the hub at {url}/ (started by `cis490-hub demo`)");
        // `hub_retry_s` is for one-shot producers only, which the demo has none of.
        let hub = HubArgs { hub: Some(url), hub_token: args.serve.token.clone(), hub_retry_s: 0 };
        demo::run_pipeline(&opts, hub.publisher()?, &mut |stage| print_stage(&paths, stage))?;
        demo::keep_live(&paths, &hub.live_publisher()?, &stop_on_ctrl_c("stopping the replay"))?;
        return Ok(());
    }
    serve::run_beside(args.serve_args().into_config(), say_where, move |hub, stop| {
        demo::run_pipeline(&opts, Some(Arc::clone(&hub)), &mut |stage| print_stage(&paths, stage))?;
        demo::keep_live(&paths, hub.as_ref(), stop)
    })?;
    Ok(())
}

/// A flag the first Ctrl-C sets (training then stops after the current
/// batch or boosting round, its states left for `--resume`; a replay after
/// its current frame), saying `what` happens then; a second Ctrl-C exits
/// at once.
fn stop_on_ctrl_c(what: &'static str) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let watcher = std::thread::Builder::new().name("ctrl-c".into()).spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        runtime.block_on(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\n{what} (Ctrl-C again quits at once)");
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

pub(crate) fn run_train(args: &TrainArgs, publisher: Option<Arc<dyn Publish>>) -> Result<()> {
    let stop = stop_on_ctrl_c("stopping after the current batch");
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
        devices: args.device.0.clone(),
        precision: args.precision,
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

pub(crate) fn run_eval(args: &EvalArgs, publisher: Option<Arc<dyn Publish>>) -> Result<()> {
    let opts = eval::EvalOptions {
        run: args.run.clone(),
        split: args.split.clone(),
        features: args.features.clone(),
        out: args.out.clone().unwrap_or_else(|| RunDir::new(&args.run).eval_dir()),
        resamples: args.resamples,
        seed: args.seed,
        confidence: eval::DEFAULT_CONFIDENCE,
        publisher,
        force: args.force,
        device: args.device,
    };
    let started = Instant::now();
    let done = eval::run(&opts)?;
    print_eval(&done, started.elapsed());
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use cis490_server::cli;

    use super::*;

    /// The hub alone (`cis490-hub demo`) cannot see the pipeline, so it
    /// keeps copies of the demo's defaults; they must stay the pipeline's.
    #[test]
    fn the_hub_alone_knows_the_demos_defaults_and_folders() {
        assert_eq!(cli::DEMO_EPISODES, cis490_pipeline::synth::DEFAULT_EPISODES);
        assert_eq!(cli::DEMO_SEED, cis490_pipeline::DEFAULT_SEED);
        let paths = demo::DemoPaths::new(Path::new("w"));
        assert_eq!(paths.validation, Path::new("w").join(cli::DEMO_VALIDATION_DIR));
        assert_eq!(paths.run, Path::new("w").join(cli::DEMO_RUN_DIR));
    }
}
