//! The cis490 dashboard, a Leptos client-side app compiled to WebAssembly.
//!
//! [`access`] (the token the page presents and what a refusal means),
//! [`summary`] (the validation panel), [`state`] (what the hub's events
//! say: jobs, training curves, evaluation results, bounded), [`evaluation`]
//! (metrics events and the grids drawn from them), [`freshness`] (what
//! is stale: the connection down, a stream stopped) and [`route`]
//! (scene and mode from the query string), [`chart`] (geometry,
//! min/max downsampling), [`axis`] (nice value, time and epoch ticks),
//! [`time_view`] (the replay's zoomed or panned time range), [`units`]
//! (values in human units), [`error_text`] (failures as one plain
//! sentence), [`pager`] (pages of a scene on a fixed screen), [`palette`]
//! (every colour, per theme, and its contrast and colour-blindness check)
//! and [`colour`] (the colour arithmetic behind it) are the data model and pure maths
//! behind the views; they build on every target so they can be unit-tested
//! natively. The Leptos views (the shell in `app`, one module per scene
//! in `scenes/`, and the pieces several scenes draw: `export`,
//! `strip_canvas`, `latency_histogram`; `theme`, the page's theme), the `fetch` calls and the
//! `#[wasm_bindgen(start)]` entry point only exist on `wasm32`;
//! `cargo xtask bundle` builds them and runs wasm-bindgen to produce
//! `public/pkg/`.

pub mod access;
pub mod axis;
pub mod chart;
pub mod colour;
pub mod error_text;
pub mod evaluation;
pub mod freshness;
pub mod heat_table;
pub mod pager;
pub mod palette;
pub mod route;
pub mod scroll_strip;
pub mod state;
pub mod summary;
pub mod time_view;
pub mod units;

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod export;
#[cfg(target_arch = "wasm32")]
mod fetch;
#[cfg(target_arch = "wasm32")]
mod latency_histogram;
#[cfg(target_arch = "wasm32")]
mod scenes;
#[cfg(target_arch = "wasm32")]
mod strip_canvas;
#[cfg(target_arch = "wasm32")]
mod theme;
#[cfg(target_arch = "wasm32")]
mod ws;
