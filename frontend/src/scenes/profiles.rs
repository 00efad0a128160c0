//! The profiles scene: the six attack-profile curves (values 0–1, the
//! profile's shape and channel in the caption) as small multiples, each
//! with its export buttons.

use leptos::prelude::*;

use crate::chart;
use crate::export::ExportButtons;
use crate::state::{DashboardState, ProfileCurve};

/// The attack-profile curves as small multiples.
#[component]
pub fn ProfilesScene(state: RwSignal<DashboardState>) -> impl IntoView {
    let profiles = Memo::new(move |_| state.with(|s| s.profiles.values().cloned().collect::<Vec<ProfileCurve>>()));
    view! {
        <section class="panel wide profiles" data-testid="scene-profiles">
            <h2>"Attack profiles"</h2>
            {move || {
                let all = profiles.get();
                if all.is_empty() {
                    return view! { <p class="muted" data-testid="profiles-empty">"No attack profiles received yet."</p> }.into_any();
                }
                let figures = all
                    .into_iter()
                    .map(|p| {
                        const W: f64 = 300.0;
                        const H: f64 = 100.0;
                        let data: Vec<(f64, f64)> = p.curve.iter().enumerate().map(|(i, v)| (i as f64, *v)).collect();
                        let x_end = (p.curve.len().max(2) - 1) as f64;
                        let points = chart::svg_points(&chart::to_box(&data, (0.0, x_end), (0.0, 1.0), W, H));
                        let caption = format!("{}: {} ({})", p.name, p.shape, p.channel);
                        view! {
                            <figure class="chart curve" data-testid=format!("profile-{}", p.name)>
                                <svg viewBox=format!("-4 -4 {} {}", W + 8.0, H + 8.0) role="img" aria-label=caption.clone()>
                                    <line class="axis" x1="0" y1=H x2=W y2=H></line>
                                    <polyline class=format!("line-profile lab-stroke-{}", p.name) points=points></polyline>
                                </svg>
                                <figcaption>{caption} " " <ExportButtons name=format!("profile-{}", p.name)/></figcaption>
                            </figure>
                        }
                    })
                    .collect_view();
                view! { <div class="small-multiples">{figures}</div> }.into_any()
            }}
        </section>
    }
}
