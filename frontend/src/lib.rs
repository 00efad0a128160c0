//! The cis490 dashboard, a Leptos client-side app compiled to WebAssembly.
//!
//! [`summary`] holds the data model behind the panels and the pure maths that
//! shapes it for display; it builds on every target so it can be unit-tested
//! natively. The Leptos views, the `fetch` calls and the `#[wasm_bindgen(start)]`
//! entry point only exist on `wasm32`; `cargo xtask bundle` builds them and
//! runs wasm-bindgen to produce `public/pkg/`.

pub mod summary;

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod fetch;
