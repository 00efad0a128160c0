//! The cis490 server: the event hub and the HTTP/WebSocket server that
//! serves the dashboard bundle, the hub's routes and the validation
//! summary. It is the only crate with an async runtime. It does not link
//! the pipeline (`cis490-pipeline`): events arrive through
//! `cis490-publish`, and the files it serves are read with `cis490-store`,
//! so the hub alone (the `cis490-hub` binary) builds in minutes.
//!
//! - [`cli`]: the serving arguments both binaries share;
//! - [`hub`]: the event hub (publish, WebSocket fan-out, state for late
//!   joiners);
//! - [`serve`]: the HTTP server (connections, access rules, static files).

pub mod cli;
pub mod hub;
pub mod serve;
