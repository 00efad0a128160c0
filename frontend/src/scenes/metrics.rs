//! The metrics scene: what an evaluation report says, as the hub's
//! `metrics` events carry it. Held-out macro F1 with its 95 % interval per
//! model × variant beside the in-distribution number and the gap, the
//! untested profiles named, then heat tables: per-class F1, per-profile
//! recall, per-host macro F1, the paired-significance matrix and one
//! model's confusion matrix (picked in desk and lecture modes). Every
//! table sits in a `<figure>` with a caption and carries the full numbers
//! (intervals, p-values) in cell tooltips; the heat tables are built as
//! text (`heat_table`) for speed.

use leptos::prelude::*;

use crate::evaluation::{
    GroupGrid, GroupScores, MetricsEntry, display_names, group_detail, group_grid, significance_matrix,
};
use crate::heat_table::{self, HeatCell};
use crate::state::{DashboardState, Interval};

/// A heat table (`heat_table::html`) in a captioned figure.
fn heat_table(
    testid: &'static str,
    corner: &'static str,
    columns: Vec<String>,
    rows: Vec<(String, Vec<HeatCell>)>,
    caption: String,
) -> impl IntoView + use<> {
    view! {
        <figure class="chart heat" data-testid=testid>
            <div class="table-scroll" inner_html=heat_table::html(corner, &columns, &rows)></div>
            <figcaption>{caption}</figcaption>
        </figure>
    }
}

fn per_class_table(entries: &[MetricsEntry]) -> impl IntoView + use<> {
    let mut labels: Vec<String> = Vec::new();
    for class in entries.iter().flat_map(|e| &e.per_class) {
        if !labels.contains(&class.label) {
            labels.push(class.label.clone());
        }
    }
    let rows = entries
        .iter()
        .zip(display_names(entries))
        .map(|(e, name)| {
            let cells = labels
                .iter()
                .map(|label| match e.per_class.iter().find(|c| c.label == *label).map(|c| c.f1) {
                    Some(f1) => HeatCell::shaded(
                        format!("{:.2}", f1.point),
                        f1.point,
                        format!("{name} on {label}: F1 {}", f1.text()),
                    ),
                    None => HeatCell::missing("neither in the truth nor predicted"),
                })
                .collect();
            (name, cells)
        })
        .collect();
    heat_table(
        "per-class",
        "model",
        labels,
        rows,
        "Per-class F1 on the held-out split (a stronger blue is better)".into(),
    )
}

/// Models (rows) × profiles or hosts (columns, with their episode
/// counts), like the per-class table; each cell one number of the group's
/// scores, every number in its tooltip.
fn group_table(
    testid: &'static str,
    entries: &[MetricsEntry],
    grid: GroupGrid,
    number: fn(&GroupScores) -> Option<Interval>,
    caption: String,
) -> impl IntoView + use<> {
    let columns = grid
        .rows
        .iter()
        .zip(&grid.cells)
        .map(|(name, cells)| {
            let episodes = cells.iter().flatten().map(|g| g.episodes).max().unwrap_or(0);
            format!("{name} ({episodes} ep.)")
        })
        .collect();
    let rows = entries
        .iter()
        .zip(display_names(entries))
        .enumerate()
        .map(|(column, (_, name))| {
            let cells = grid
                .cells
                .iter()
                .map(|row| match row[column].as_ref().and_then(|g| Some((g, number(g)?))) {
                    Some((g, value)) => HeatCell::shaded(
                        format!("{:.2}", value.point),
                        value.point,
                        format!("{name}, {}", group_detail(g)),
                    ),
                    None => HeatCell::missing("not scored"),
                })
                .collect();
            (name, cells)
        })
        .collect();
    heat_table(testid, "model", columns, rows, caption)
}

fn significance_table(entries: &[MetricsEntry]) -> impl IntoView + use<> {
    let names = display_names(entries);
    let matrix = significance_matrix(entries);
    let rows = names
        .iter()
        .zip(matrix)
        .map(|(name, cells)| {
            let cells = cells
                .into_iter()
                .map(|cell| match cell {
                    Some(c) => {
                        // The diverging scale's ends (`palette`): blue row
                        // better, orange row worse; the sign and * say it too.
                        let shade = match (c.significant, c.delta.point > 0.0) {
                            (true, true) => "better",
                            (true, false) => "worse",
                            (false, _) => "",
                        };
                        HeatCell {
                            text: format!("{:+.2}{}", c.delta.point, if c.significant { " *" } else { "" }),
                            shade,
                            title: format!(
                                "{} − {}: Δ macro F1 {}, Holm p = {:.3}",
                                c.a.name(),
                                c.b.name(),
                                c.delta.text(),
                                c.p_holm
                            ),
                        }
                    }
                    None => HeatCell::missing("not compared"),
                })
                .collect();
            (name.clone(), cells)
        })
        .collect();
    heat_table(
        "significance",
        "row − column",
        names,
        rows,
        "Paired bootstrap: Δ macro F1 (row − column) on the same held-out resamples; * significant after Holm \
         (blue: row better, orange: row worse); – not compared"
            .into(),
    )
}

fn confusion_table(entry: &MetricsEntry) -> impl IntoView + use<> {
    let rows = entry
        .confusion
        .matrix
        .iter()
        .zip(&entry.confusion.labels)
        .map(|(row, truth)| {
            let total = row.iter().sum::<u64>().max(1) as f64;
            let cells = row
                .iter()
                .zip(&entry.confusion.labels)
                .map(|(n, predicted)| {
                    HeatCell::shaded(
                        n.to_string(),
                        *n as f64 / total,
                        format!(
                            "{n} {truth} windows predicted {predicted} ({:.1} % of the row)",
                            *n as f64 / total * 100.0
                        ),
                    )
                })
                .collect();
            (truth.clone(), cells)
        })
        .collect();
    heat_table(
        "confusion",
        "truth \\ predicted",
        entry.confusion.labels.clone(),
        rows,
        format!(
            "Confusion matrix of {} on the held-out {} split (rows: truth, shaded by row share)",
            entry.name(),
            entry.split
        ),
    )
}

fn summary_table(entries: &[MetricsEntry]) -> impl IntoView + use<> {
    let optional = |i: Option<Interval>| i.map_or("–".to_string(), |i| i.text());
    let rows = entries
        .iter()
        .zip(display_names(entries))
        .map(|(e, name)| {
            view! {
                <tr data-testid="metrics-row">
                    <th scope="row">{e.name()}</th>
                    <td>{e.split.clone()}</td>
                    <td class="num" data-testid=format!("f1-{name}")>{e.macro_f1.text()}</td>
                    <td class="num">{optional(e.in_distribution)}</td>
                    <td class="num" title=e.gap.map(|g| g.text())>
                        {e.gap.map_or("–".to_string(), |g| format!("{:+.3}", g.point))}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <figure class="chart" data-testid="metrics-table">
            <table class="metrics-table">
                <thead>
                    <tr>
                        <th>"model"</th>
                        <th>"split"</th>
                        <th>"held-out macro F1 [95 % CI]"</th>
                        <th>"in-distribution"</th>
                        <th>"gap"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
            <figcaption>"Macro F1 with 95 % cluster-bootstrap intervals over held-out episodes"</figcaption>
        </figure>
    }
}

/// The profiles without held-out episodes, per split when there are
/// several (`host: scan-and-dial; time: ...`).
fn untested_text(entries: &[MetricsEntry]) -> String {
    let mut per_split: Vec<(String, String)> = Vec::new();
    for e in entries {
        if !e.untested_profiles.is_empty() && !per_split.iter().any(|(s, _)| *s == e.split) {
            per_split.push((e.split.clone(), e.untested_profiles.join(", ")));
        }
    }
    match per_split.as_slice() {
        [(_, only)] if entries.iter().all(|e| e.split == entries[0].split) => only.clone(),
        _ => per_split.iter().map(|(s, p)| format!("{s}: {p}")).collect::<Vec<_>>().join("; "),
    }
}

/// Evaluation results (see the module documentation); `controls` shows
/// the confusion matrix's model picker.
#[component]
pub fn MetricsScene(state: RwSignal<DashboardState>, controls: bool) -> impl IntoView {
    let confusion_of = RwSignal::new(None::<String>);
    let entries = Memo::new(move |_| state.with(|s| s.metrics_in_order().into_iter().cloned().collect::<Vec<_>>()));
    // The summary table paints with the scene; the heat tables (~500
    // cells) follow once it is painted, so switching to the scene shows it
    // at once (docs/performance.md, scene switch).
    let details = RwSignal::new(false);
    super::after_paint(move || details.set(true));
    view! {
        <section class="panel wide metrics" data-testid="scene-metrics">
            <h2>"Metrics"</h2>
            {move || {
                let entries = entries.get();
                if entries.is_empty() {
                    return view! {
                        <p class="muted" data-testid="metrics-empty">"No evaluation received yet."</p>
                    }
                        .into_any();
                }
                let untested = untested_text(&entries);
                let has_profiles = entries.iter().any(|e| !e.per_profile.is_empty());
                let has_hosts = entries.iter().any(|e| !e.per_host.is_empty());
                let has_comparisons = entries.iter().any(|e| !e.comparisons.is_empty());
                view! {
                    {summary_table(&entries)}
                    {(!untested.is_empty())
                        .then(|| {
                            view! {
                                <p class="warning" data-testid="untested">
                                    {format!("Untested profiles (no held-out episode): {untested}")}
                                </p>
                            }
                        })}
                    <Show when=move || details.get()>
                        <div class="metrics-grid">
                            {per_class_table(&entries)}
                            {has_profiles
                                .then(|| {
                                    let grid = group_grid(&entries, |e| &e.per_profile);
                                    group_table(
                                        "per-profile",
                                        &entries,
                                        grid,
                                        |g| g.recall,
                                        "Per profile of the held-out episodes: recall of the profile's own label \
                                         (benign: benign windows called benign)"
                                            .into(),
                                    )
                                })}
                            {has_hosts
                                .then(|| {
                                    let grid = group_grid(&entries, |e| &e.per_host);
                                    group_table(
                                        "per-host",
                                        &entries,
                                        grid,
                                        |g| g.macro_f1.known(),
                                        "Per held-out host: macro F1 (false-alarm and detection rates in the tooltips)"
                                            .into(),
                                    )
                                })}
                            {has_comparisons.then(|| significance_table(&entries))}
                        </div>
                    </Show>
                }
                    .into_any()
            }}
            {move || {
                if !details.get() {
                    return None;
                }
                let entries = entries.get();
                let chosen = confusion_of.get();
                let names = display_names(&entries);
                let at = names.iter().position(|n| Some(n) == chosen.as_ref()).unwrap_or(0);
                let entry = entries.get(at)?.clone();
                let picker = controls
                    .then(|| {
                        let options = names
                            .iter()
                            .enumerate()
                            .map(|(i, name)| {
                                let name = name.clone();
                                let selected = i == at;
                                let value = name.clone();
                                view! { <option value=value selected=selected>{name}</option> }
                            })
                            .collect_view();
                        view! {
                            <label class="picker">
                                "Confusion matrix of "
                                <select
                                    data-testid="confusion-model"
                                    on:change=move |ev| confusion_of.set(Some(event_target_value(&ev)))
                                >
                                    {options}
                                </select>
                            </label>
                        }
                    });
                Some(view! {
                    {picker}
                    {confusion_table(&entry)}
                })
            }}
        </section>
    }
}
