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

use leptos::prelude::*;

use crate::route::Scene;
use crate::state::DashboardState;
use browser::BrowserScene;
use metrics::MetricsScene;
use overview::OverviewScene;
use perf::PerfScene;
use profiles::ProfilesScene;
use replay::ReplayScene;
use training::TrainingScene;

/// What the scenes are given: the hub's state and what the page's route
/// says about them.
pub struct SceneInputs {
    /// The dashboard state the hub's events build.
    pub state: RwSignal<DashboardState>,
    /// Whether pickers and buttons are shown (desk and lecture modes, not
    /// the kiosk).
    pub controls: bool,
    /// Replay strips shown before the user picks channels (`strips=`).
    pub strips: usize,
    /// The model the browser scene runs (`model=`).
    pub model: Option<String>,
}

/// The view of `scene`.
pub fn render(scene: Scene, inputs: &SceneInputs) -> AnyView {
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
