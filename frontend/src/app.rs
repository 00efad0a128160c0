//! The Leptos shell and the WebAssembly entry point: a header with the
//! scene tabs and the hub connection badge, the current scene, and the
//! modes of `route` (desk, kiosk rotation, lecture keys and theme). The
//! scenes themselves are in `scenes`.
//!
//! Once mounted, `document.body.dataset.rendered` is set to `"true"` so tests
//! can tell that the WebAssembly ran; `<main>` carries the scene in
//! `data-scene`, `<body>` the mode in `data-mode`.

use std::time::Duration;

use leptos::ev;
use leptos::prelude::*;
use wasm_bindgen::prelude::wasm_bindgen;

use crate::fetch;
use crate::route::{self, Mode, Scene};
use crate::scenes::{self, SceneInputs};
use crate::state::DashboardState;
use crate::ws::{self, Connection};

/// The page's clock (Unix ms), ticking once a second, for what shows the
/// time passing: the reconnect countdown, stale notes.
#[derive(Debug, Clone, Copy)]
pub struct Clock(pub RwSignal<f64>);

/// Mounts the dashboard into `<body>`; wasm-bindgen runs it on load.
#[wasm_bindgen(start)]
pub fn start() {
    let query = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    let route = route::parse(&query);
    fetch::set_token(route.hub_token.clone());
    if let Some(body) = document().body() {
        let mode = match route.mode {
            Mode::Desk => "desk",
            Mode::Kiosk { .. } => "kiosk",
            Mode::Present => "present",
        };
        if body.dataset().set("mode", mode).is_err() {
            leptos::logging::warn!("cis490: could not set the mode marker");
        }
    }
    leptos::mount::mount_to_body(move || view! { <App route=route.clone()/> });
    if let Some(body) = document().body()
        && body.dataset().set("rendered", "true").is_err()
    {
        leptos::logging::warn!("cis490: could not set the rendered marker");
    }
}

/// Puts `scene` in the address bar (keeping the other parameters except the
/// hub token, which stays in memory only), so the page can be reloaded
/// or shared where it is.
fn remember_scene(scene: Scene) {
    let Some(window) = web_sys::window() else { return };
    let query = window.location().search().unwrap_or_default();
    let mut pairs: Vec<String> = crate::route::without_token(&query)
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("scene="))
        .map(String::from)
        .collect();
    pairs.insert(0, format!("scene={}", scene.as_str()));
    if let Ok(history) = window.history() {
        let _ =
            history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&format!("?{}", pairs.join("&"))));
    }
}

fn toggle_fullscreen() {
    let doc = document();
    if doc.fullscreen_element().is_some() {
        doc.exit_fullscreen();
    } else if let Some(root) = doc.document_element() {
        let _ = root.request_fullscreen();
    }
}

/// The whole page.
#[component]
fn App(route: route::Route) -> impl IntoView {
    let state = RwSignal::new(DashboardState::default());
    let connection = RwSignal::new(Connection::Connecting(0));
    // The page's clock, a tick a second: the badge's countdown and the
    // scenes' stale notes read it (and nothing else re-renders with it).
    let clock = RwSignal::new(ws::unix_ms());
    set_interval(move || clock.set(ws::unix_ms()), Duration::from_secs(1));
    provide_context(Clock(clock));
    let scene = RwSignal::new(route.scene);
    ws::connect(state, connection, route.timing);
    Effect::new(move |_| remember_scene(scene.get()));
    if let Mode::Kiosk { rotate_s } = route.mode {
        set_interval(move || scene.update(|s| *s = s.next()), Duration::from_secs_f64(rotate_s));
    }
    let keys = window_event_listener(ev::keydown, move |event| match event.key().as_str() {
        "ArrowRight" => scene.update(|s| *s = s.next()),
        "ArrowLeft" => scene.update(|s| *s = s.previous()),
        "f" | "F" => toggle_fullscreen(),
        _ => {}
    });
    on_cleanup(move || keys.remove());
    let controls = matches!(route.mode, Mode::Desk | Mode::Present);
    let problems = route.problems.clone();
    let inputs = SceneInputs { state, controls, strips: route.strips, model: route.model };

    view! {
        <header class="site-header" data-testid="site-header">
            <h1>"cis490 — episode telemetry lab"</h1>
            {controls
                .then(|| {
                    view! {
                        <nav class="scene-tabs" aria-label="Scenes">
                            {Scene::ALL
                                .into_iter()
                                .map(|s| {
                                    view! {
                                        <button
                                            class="tab"
                                            class:active=move || scene.get() == s
                                            data-testid=format!("tab-{}", s.as_str())
                                            on:click=move |_| scene.set(s)
                                        >
                                            {s.title()}
                                        </button>
                                    }
                                })
                                .collect_view()}
                        </nav>
                    }
                })}
            <span
                class=move || format!("connection {}", connection.get().key())
                data-testid="connection"
                data-state=move || connection.get().key()
                title=move || connection.get().label(clock.get())
                role="status"
            >
                {move || connection.get().label(clock.get())}
            </span>
        </header>
        {(!problems.is_empty())
            .then(|| {
                view! { <p class="warning query-problems" data-testid="query-problems">{problems.join("; ")}</p> }
            })}
        <main class="panels" data-testid="scene" data-scene=move || scene.get().as_str()>
            {move || scenes::render(scene.get(), &inputs)}
        </main>
    }
}
