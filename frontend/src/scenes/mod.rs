//! The dashboard's scenes. A scene is what `<main>` shows at a time, one
//! of [`Scene::ALL`], chosen by a tab, the arrow keys, kiosk rotation or
//! `?scene=`: a view of the hub's state (the browser scene also runs a
//! model in this page). One module each:
//! [`overview`] (validation summary, running jobs), [`replay`] (strip
//! charts, truth and prediction bands), [`training`] (loss and
//! validation-F1 curves), [`metrics`] (evaluation results and heat
//! tables), [`perf`] (perf series, prediction latency), [`profiles`]
//! (attack-profile curves) and [`browser`] (a model run in this browser).
//!
//! [`after_paint`] defers what is not on a scene's first page (metrics'
//! heat tables, the replay's probability table) past its first paint.
//!
//! [`render`] is the one place that maps a [`Scene`] to its view. Pieces
//! several scenes draw (`chart`, `export`, `heat_table`, `strip_canvas`,
//! `latency_histogram`) are helpers outside this folder.

mod browser;
mod metrics;
mod overview;
mod perf;
mod profiles;
mod replay;
mod training;

use std::time::Duration;

use leptos::prelude::*;

use crate::route::Scene;
use crate::state::DashboardState;
use browser::BrowserScene;
use metrics::MetricsScene;
use overview::OverviewScene;
use perf::PerfScene;
use profiles::ProfilesScene;
use replay::ReplayScene;
pub use replay::clock as replay_clock;
use training::TrainingScene;

/// What the scenes are given: the hub's state and what the page's route
/// says about them.
pub struct SceneInputs {
    /// The dashboard state the hub's events build.
    pub state: RwSignal<DashboardState>,
    /// Whether pickers and buttons are shown (desk and lecture modes, not
    /// the kiosk).
    pub controls: bool,
    /// Replay strips shown before the user picks channels (`strips=`;
    /// `None`: as many as fit).
    pub strips: Option<usize>,
    /// The model the browser scene runs (`model=`).
    pub model: Option<String>,
}

/// "stale since HH:MM:SS" (local time) while the data `scene` draws is
/// stale ([`crate::freshness`]): the hub connection is down or a stream
/// that should move has stopped. Nothing while it is live.
#[component]
fn StaleNote(scene: Scene, state: RwSignal<DashboardState>) -> impl IntoView {
    let clock = use_context::<crate::app::Clock>().map(|c| c.0);
    move || {
        let now = clock.map_or_else(crate::ws::unix_ms, |c| c.get());
        let since = state.with(|s| s.freshness.scene_stale_since(scene, s.has_running_jobs(), now))?;
        let offset_min = -web_sys::js_sys::Date::new_0().get_timezone_offset();
        let text = format!("stale since {}", crate::freshness::clock_time(since, offset_min));
        Some(view! { <p class="stale-note" data-testid="stale" data-since=since.to_string() role="status">{text}</p> })
    }
}

/// The view of `scene`, under a note when its data is stale.
pub fn render(scene: Scene, inputs: &SceneInputs) -> AnyView {
    let SceneInputs { state, .. } = *inputs;
    view! { <StaleNote scene=scene state=state/> {scene_view(scene, inputs)} }.into_any()
}

fn scene_view(scene: Scene, inputs: &SceneInputs) -> AnyView {
    let SceneInputs { state, controls, strips, ref model } = *inputs;
    match scene {
        Scene::Overview => view! { <OverviewScene state=state/> }.into_any(),
        Scene::Replay => view! { <ReplayScene state=state controls=controls strips=strips/> }.into_any(),
        Scene::Training => view! { <TrainingScene state=state controls=controls/> }.into_any(),
        Scene::Metrics => view! { <MetricsScene state=state controls=controls/> }.into_any(),
        Scene::Perf => view! { <PerfScene state=state/> }.into_any(),
        Scene::Profiles => view! { <ProfilesScene state=state/> }.into_any(),
        Scene::Browser => view! { <BrowserScene state=state controls=controls model=model.clone()/> }.into_any(),
    }
}

/// Runs `then` once the page has been painted: queued from the next
/// animation frame, so it runs after that frame's rendering (a scene that
/// sets a signal here shows its first page first, and builds the rest
/// off a switch's path).
pub fn after_paint(then: impl FnOnce() + 'static) {
    request_animation_frame(move || set_timeout(then, Duration::ZERO));
}
