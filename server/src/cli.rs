//! The server's command-line arguments, defined once for both binaries
//! that serve: `cis490 serve` / `cis490 demo` (the full binary) and
//! `cis490-hub serve` / `cis490-hub demo` (the hub alone, which builds in
//! a few minutes without the pipeline). `cargo xtask demo` starts
//! `cis490-hub demo ARGS` as soon as it is built, so the dashboard is up
//! while the full binary still compiles, then `cis490 demo ARGS
//! --publish-only`, which publishes to that hub instead of serving: both
//! read the same ARGS, so they agree on the address, token and folders.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use crate::serve::{self, ServeConfig, ServeLimits};

/// Episodes `demo` generates by default (the pipeline's
/// `synth::DEFAULT_EPISODES`; the backend tests that they agree).
pub const DEMO_EPISODES: u64 = 600;
/// The demo's seed by default (the pipeline's `DEFAULT_SEED`; tested).
pub const DEMO_SEED: u64 = 490;
/// The demo's validation outputs under its working folder (the
/// pipeline's `DemoPaths`; tested).
pub const DEMO_VALIDATION_DIR: &str = "validation";
/// The demo's training run under its working folder (`DemoPaths`; tested).
pub const DEMO_RUN_DIR: &str = "run";

/// Serving the dashboard and the hub.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to bind.
    #[arg(long, default_value = serve::DEFAULT_BIND)]
    pub bind: SocketAddr,
    /// Folder with the dashboard (index.html and pkg/).
    #[arg(long, default_value = "public")]
    pub public: PathBuf,
    /// Folder with validation outputs to show.
    #[arg(long)]
    pub validation: Option<PathBuf>,
    /// Token publishers must present (required off loopback).
    #[arg(long, env = "CIS490_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Require the token for reading too: /ws (also as ?token=), /api/snapshot, /api/validation/summary, /api/models, /models/...
    #[arg(long)]
    pub private: bool,
    /// Another host name the hub answers to, e.g. the lab name kiosks use (`NAME` or `NAME:PORT`; repeatable).
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_hosts: Vec<String>,
    /// Another origin whose pages may publish and stream, e.g. https://lab.example behind a TLS proxy (repeatable).
    #[arg(long = "allow-origin", value_name = "URL")]
    pub allow_origins: Vec<String>,
    /// Connections open at once (WebSockets included); one more is answered 503.
    #[arg(long, default_value_t = ServeLimits::default().max_connections)]
    pub max_connections: usize,
    /// A training run whose ONNX models the dashboard may load.
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// Keep the hub's state (jobs, training curves, evaluations, profiles) in this folder across restarts: saved while it changes and on shutdown, reloaded on start.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl ServeArgs {
    /// The server's configuration.
    pub fn into_config(self) -> ServeConfig {
        ServeConfig {
            validation_dir: self.validation,
            token: self.token,
            private: self.private,
            allow_hosts: self.allow_hosts,
            allow_origins: self.allow_origins,
            run_dir: self.run,
            state_dir: self.state_dir,
            limits: ServeLimits { max_connections: self.max_connections, ..ServeLimits::default() },
            ..ServeConfig::new(self.bind, self.public)
        }
    }

    /// The URL a publisher on this machine reaches the hub at: the bound
    /// address, with an unspecified one (`0.0.0.0`, `::`) as loopback.
    pub fn local_url(&self) -> String {
        let ip = match self.bind.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.bind.port()))
    }
}

/// `demo`: the whole path on built-in defaults, served as it runs.
#[derive(clap::Args, Debug, Clone)]
pub struct DemoArgs {
    /// Working folder for the generated store and results.
    #[arg(long, default_value = "demo-out")]
    pub workdir: PathBuf,
    /// Episodes to generate.
    #[arg(long, default_value_t = DEMO_EPISODES)]
    pub episodes: u64,
    /// Seed of the synthetic corpus.
    #[arg(long, default_value_t = DEMO_SEED)]
    pub seed: u64,
    /// Stop after the pipeline instead of serving.
    #[arg(long)]
    pub no_serve: bool,
    /// Do not serve: publish to the hub already serving at --bind, started
    /// with the same arguments by `cis490-hub demo` (`cargo xtask demo`
    /// does this so the dashboard is up before `cis490` is built).
    #[arg(long, conflicts_with = "no_serve")]
    pub publish_only: bool,
    /// How it is served (or, with --publish-only, where the hub is).
    #[command(flatten)]
    pub serve: ServeArgs,
}

impl DemoArgs {
    /// What the demo serves: `--validation` and `--run` default to the
    /// demo's own folders under `--workdir`.
    pub fn serve_args(&self) -> ServeArgs {
        let mut serve = self.serve.clone();
        serve.validation.get_or_insert_with(|| self.workdir.join(DEMO_VALIDATION_DIR));
        serve.run.get_or_insert_with(|| self.workdir.join(DEMO_RUN_DIR));
        serve
    }
}

/// Logs to stderr at `RUST_LOG`'s level (`info` when unset), as both
/// binaries do.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// Prints where the dashboard is served (the line `cargo xtask demo` and
/// users look for).
pub fn say_where(addr: SocketAddr) {
    eprintln!("dashboard: http://{addr}/  (Ctrl-C stops)");
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Demo {
        #[command(flatten)]
        args: DemoArgs,
    }

    #[test]
    fn the_demo_serves_its_own_folders_unless_told_otherwise() {
        let demo = Demo::parse_from(["demo", "--workdir", "w"]).args;
        let serve = demo.serve_args();
        assert_eq!(serve.validation, Some(PathBuf::from("w/validation")));
        assert_eq!(serve.run, Some(PathBuf::from("w/run")));
        let demo = Demo::parse_from(["demo", "--run", "elsewhere"]).args;
        assert_eq!(demo.serve_args().run, Some(PathBuf::from("elsewhere")));
    }

    #[test]
    fn publishers_reach_an_unspecified_bind_on_loopback() {
        let url = |bind: &str| Demo::parse_from(["demo", "--bind", bind]).args.serve.local_url();
        assert_eq!(url("0.0.0.0:9000"), "http://127.0.0.1:9000");
        assert_eq!(url("[::]:9000"), "http://[::1]:9000");
        assert_eq!(url("192.168.1.5:8447"), "http://192.168.1.5:8447");
        assert_eq!(Demo::parse_from(["demo"]).args.serve.local_url(), format!("http://{}", serve::DEFAULT_BIND));
    }

    #[test]
    fn publish_only_and_no_serve_exclude_each_other() {
        assert!(Demo::try_parse_from(["demo", "--no-serve", "--publish-only"]).is_err());
    }
}
