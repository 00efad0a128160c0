//! The commands that train (`train`, `eval`, `demo`): built with the
//! `training` feature only, so the Raspberry Pi edge build has none of the
//! trainers' libraries.

use std::path::PathBuf;
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
use cis490_server::serve;

use crate::cli::{EvalArgs, ServeArgs, TrainArgs};
use crate::print::{print_eval, print_stage, print_trained, say_where};
use crate::serve_config;

/// `cis490 demo`: the whole path on built-in defaults, then (unless
/// `--no-serve`) the hub beside it, kept live.
pub(crate) fn run_demo(workdir: PathBuf, episodes: u64, seed: u64, no_serve: bool, mut serve: ServeArgs) -> Result<()> {
    let opts = demo::DemoOptions { workdir, episodes, seed, progress: true, ..demo::DemoOptions::default() };
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

pub(crate) fn run_train(args: &TrainArgs, publisher: Option<Arc<dyn Publish>>) -> Result<()> {
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
