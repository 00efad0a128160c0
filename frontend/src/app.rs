//! The Leptos shell and the WebAssembly entry point: a one-line header
//! (name, scene tabs or the kiosk's scene name, the page indicator, the
//! hub connection badge), the current scene, and the modes of `route`
//! (desk, kiosk rotation, lecture keys and theme), the desk's theme picker
//! (`theme`). The scenes themselves are in `scenes`.
//!
//! On a screen of at least `pager::MIN_PAGED_WIDTH` × `MIN_PAGED_HEIGHT`
//! `<main>` is as tall as the space under the header and the browser
//! flows the scene into columns (`public/style.css`); columns past the
//! right edge are further pages (`pager`). →, PgDn and Space turn to the
//! next page and, after the last, to the next scene; ←, PgUp go back;
//! kiosk rotation and a swipe on a touch screen do the same. Nothing
//! scrolls.
//!
//! Once mounted, `document.body.dataset.rendered` is set to `"true"` so tests
//! can tell that the WebAssembly ran; `<main>` carries the scene in
//! `data-scene` and its page and page count in `data-page` (0-based) and
//! `data-pages`, `<body>` the mode in `data-mode`.

use std::time::Duration;

use leptos::ev;
use leptos::prelude::*;
use wasm_bindgen::prelude::wasm_bindgen;

use crate::fetch;
use crate::pager::{self, Columns, Turn};
use crate::route::{self, Mode, Scene};
use crate::scenes::{self, SceneInputs};
use crate::state::DashboardState;
use crate::theme::{self, ThemeChanges, ThemePicker};
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
    let stored = if route.mode == Mode::Desk { theme::stored() } else { None };
    theme::apply(route::pinned_theme(route.mode, route.theme, stored));
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

/// The paged `<main>` measured: its visible and content widths and its
/// column gap.
fn measure_columns(main: &web_sys::HtmlElement) -> Columns {
    let gap = web_sys::window()
        .and_then(|w| w.get_computed_style(main).ok().flatten())
        .and_then(|style| style.get_property_value("column-gap").ok())
        .map_or(0.0, |gap| pager::css_px(&gap));
    Columns { visible_width: f64::from(main.client_width()), content_width: f64::from(main.scroll_width()), gap }
}

/// The scene being shown and its page, and how to turn pages.
#[derive(Clone, Copy)]
struct Pages {
    scene: RwSignal<Scene>,
    page: RwSignal<usize>,
    count: RwSignal<usize>,
    /// Set when going back a scene: land on its last page once measured.
    land_on_last: RwSignal<bool>,
    main: NodeRef<leptos::html::Main>,
}

impl Pages {
    /// Measures `<main>` and keeps the page in range and on screen
    /// (content grows as events stream in, screens get resized).
    fn refresh(self) -> usize {
        let Some(main) = self.main.get_untracked() else { return 1 };
        let columns = measure_columns(&main);
        let count = columns.pages();
        if self.count.get_untracked() != count {
            self.count.set(count);
        }
        let wanted = if self.land_on_last.get_untracked() {
            self.land_on_last.set(false);
            count - 1
        } else {
            self.page.get_untracked().min(count - 1)
        };
        if self.page.get_untracked() != wanted {
            self.page.set(wanted);
        }
        let left = columns.offset_of(wanted).round() as i32;
        if main.scroll_left() != left {
            main.set_scroll_left(left);
        }
        count
    }

    fn go_to_scene(self, scene: Scene, last_page: bool) {
        self.page.set(0);
        self.count.set(1);
        self.land_on_last.set(last_page);
        self.scene.set(scene);
        if let Some(main) = self.main.get_untracked() {
            main.set_scroll_left(0);
        }
        // Measure once the new scene is laid out.
        request_animation_frame(move || {
            self.refresh();
        });
    }

    fn turn(self, turn: Turn) {
        match turn {
            Turn::Page(page) => {
                self.page.set(page);
                self.refresh();
            }
            Turn::NextScene => self.go_to_scene(self.scene.get_untracked().next(), false),
            Turn::PreviousScene => self.go_to_scene(self.scene.get_untracked().previous(), true),
        }
    }

    fn forward(self) {
        let count = self.refresh();
        self.turn(pager::forward(self.page.get_untracked(), count));
    }

    fn back(self) {
        let count = self.refresh();
        self.turn(pager::back(self.page.get_untracked(), count));
    }
}

/// Whether a key press belongs to a control (a focused button, input or
/// picker) rather than to the page.
fn typed_into_control(event: &web_sys::KeyboardEvent) -> bool {
    use wasm_bindgen::JsCast;
    event
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA" | "BUTTON" | "SUMMARY"))
}

/// The whole page.
#[component]
fn App(route: route::Route) -> impl IntoView {
    let state = RwSignal::new(DashboardState::default());
    let theme_changes = ThemeChanges(RwSignal::new(0));
    provide_context(theme_changes);
    theme::watch_system(theme_changes);
    let desk = route.mode == Mode::Desk;
    let pinned = theme::pinned();
    let connection = RwSignal::new(Connection::Connecting(0));
    // The page's clock, a tick a second: the badge's countdown and the
    // scenes' stale notes read it (and nothing else re-renders with it).
    let clock = RwSignal::new(ws::unix_ms());
    set_interval(move || clock.set(ws::unix_ms()), Duration::from_secs(1));
    provide_context(Clock(clock));
    let scene = RwSignal::new(route.scene);
    let pages = Pages {
        scene,
        page: RwSignal::new(0),
        count: RwSignal::new(1),
        land_on_last: RwSignal::new(false),
        main: NodeRef::new(),
    };
    ws::connect(state, connection, route.timing);
    // The address bar says the scene (and loses the token) at once on
    // load; after a switch it follows once the new scene is painted
    // (`replaceState` takes ~8 ms, ~50 on a Pi: off the switch's path).
    Effect::new(move |loaded: Option<()>| {
        let now = scene.get();
        if loaded.is_none() {
            remember_scene(now);
        } else {
            scenes::after_paint(move || remember_scene(now));
        }
    });
    if let Mode::Kiosk { rotate_s } = route.mode {
        set_interval(move || pages.forward(), Duration::from_secs_f64(rotate_s));
    }
    // Content grows as events arrive and screens get resized: re-measure
    // once a second (one layout read; nothing is re-rendered).
    set_interval(
        move || {
            pages.refresh();
        },
        Duration::from_secs(1),
    );
    let keys = window_event_listener(ev::keydown, move |event| {
        let turned = match event.key().as_str() {
            "ArrowRight" | "PageDown" => Some(true),
            " " if !typed_into_control(&event) => Some(true),
            "ArrowLeft" | "PageUp" => Some(false),
            "f" | "F" => {
                toggle_fullscreen();
                None
            }
            _ => None,
        };
        match turned {
            Some(true) => pages.forward(),
            Some(false) => pages.back(),
            None => return,
        }
        event.prevent_default();
    });
    on_cleanup(move || keys.remove());
    // A swipe on the kiosk's touch screen turns the page.
    let swipe_from = StoredValue::new(None::<i32>);
    let kiosk = matches!(route.mode, Mode::Kiosk { .. });
    let on_pointer_down = move |event: ev::PointerEvent| {
        if kiosk {
            swipe_from.set_value(Some(event.client_x()));
        }
    };
    let on_pointer_up = move |event: ev::PointerEvent| {
        let Some(from) = swipe_from.get_value() else { return };
        swipe_from.set_value(None);
        match event.client_x() - from {
            dx if dx <= -SWIPE_PX => pages.forward(),
            dx if dx >= SWIPE_PX => pages.back(),
            _ => {}
        }
    };
    let controls = matches!(route.mode, Mode::Desk | Mode::Present);
    let problems = route.problems.clone();
    let inputs = SceneInputs { state, controls, strips: route.strips, model: route.model };
    let indicator = move || pager::indicator(pages.page.get(), pages.count.get());
    // The replay's clock changes every frame: it lives in the header, in a
    // box of fixed size, so a frame does not lay out the scene's pages.
    let replay_clock = Memo::new(move |_| {
        (scene.get() == Scene::Replay).then(|| state.with(|s| scenes::replay_clock(&s.replay))).flatten()
    });

    view! {
        <header class="site-header" data-testid="site-header">
            <h1>
                <span class="brand">"cis490"</span>
                <span class="tagline">" — episode telemetry lab"</span>
            </h1>
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
                                            on:click=move |_| pages.go_to_scene(s, false)
                                        >
                                            {s.title()}
                                        </button>
                                    }
                                })
                                .collect_view()}
                        </nav>
                    }
                })}
            {(!controls)
                .then(|| view! { <span class="scene-name" data-testid="scene-name">{move || scene.get().title()}</span> })}
            <span
                class="replay-clock"
                title="Newest replay frame: seconds since the episode began, and its true label"
                class:hidden=move || replay_clock.with(Option::is_none)
            >
                <span class="replay-clock-text" data-testid="replay-clock">{move || replay_clock.get().unwrap_or_default()}</span>
            </span>
            <span class="pager" data-testid="pager" class:hidden=move || indicator().is_none()>
                {controls
                    .then(|| {
                        view! {
                            <button class="page-turn" aria-label="Previous page" on:click=move |_| pages.back()>
                                "‹"
                            </button>
                        }
                    })}
                <span class="page-number" aria-live="polite">{move || indicator().unwrap_or_default()}</span>
                {controls
                    .then(|| {
                        view! {
                            <button class="page-turn" aria-label="Next page" on:click=move |_| pages.forward()>
                                "›"
                            </button>
                        }
                    })}
            </span>
            <span
                class=move || format!("connection {}", connection.get().key())
                data-testid="connection"
                data-state=move || connection.get().key()
                title=move || connection.get().label(clock.get())
                role="status"
            >
                {move || connection.get().label(clock.get())}
            </span>
            {desk.then(|| view! { <ThemePicker pinned=pinned changes=theme_changes/> })}
        </header>
        {(!problems.is_empty())
            .then(|| {
                view! { <p class="warning query-problems" data-testid="query-problems">{problems.join("; ")}</p> }
            })}
        <main
            class="panels"
            node_ref=pages.main
            data-testid="scene"
            data-scene=move || scene.get().as_str()
            data-page=move || pages.page.get()
            data-pages=move || pages.count.get()
            on:pointerdown=on_pointer_down
            on:pointerup=on_pointer_up
        >
            {move || scenes::render(scene.get(), &inputs)}
        </main>
    }
}

/// Horizontal travel (CSS px) that makes a pointer drag a swipe.
const SWIPE_PX: i32 = 60;
