//! The cis490 server: the event hub and the HTTP/WebSocket server that
//! serves the dashboard bundle, the hub's routes and the validation
//! summary. It is the only crate with an async runtime; the pipeline it
//! serves is `cis490-pipeline`.
//!
//! - [`hub`]: the event hub (publish, WebSocket fan-out, state for late
//!   joiners);
//! - [`serve`]: the HTTP server (connections, access rules, static files).

pub mod hub;
pub mod serve;
