//! The page's theme in the browser: `data-theme` on `<html>` pins the
//! light or dark palette (`palette::css`), its absence follows the
//! system's `prefers-color-scheme`. The lecture mode pins light, a kiosk
//! follows the system unless `?theme=` says otherwise, and a desk has a
//! theme picker whose choice is remembered in `localStorage`
//! (`route::pinned_theme` decides). Canvas strips draw with a colour read
//! from the page, so every change of theme (picked, or the system's)
//! bumps [`ThemeChanges`], which the strips watch to redraw.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

use crate::palette::Theme;

/// `localStorage` key of the desk's choice (`light` or `dark`; absent:
/// the system's).
const STORAGE_KEY: &str = "cis490-theme";

/// Counts changes of the page's theme (context; the replay strips redraw
/// when it moves).
#[derive(Clone, Copy)]
pub struct ThemeChanges(pub RwSignal<u32>);

/// The desk's remembered choice.
pub fn stored() -> Option<Theme> {
    let storage = web_sys::window()?.local_storage().ok()??;
    Theme::from_name(&storage.get_item(STORAGE_KEY).ok()??)
}

fn store(theme: Option<Theme>) {
    let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) else { return };
    let _ = match theme {
        Some(theme) => storage.set_item(STORAGE_KEY, theme.as_str()),
        None => storage.remove_item(STORAGE_KEY),
    };
}

/// Pins the page to `theme` (`None`: follow the system).
pub fn apply(theme: Option<Theme>) {
    let Some(root) = document().document_element() else { return };
    let _ = match theme {
        Some(theme) => root.set_attribute("data-theme", theme.as_str()),
        None => root.remove_attribute("data-theme"),
    };
}

/// The theme the page is pinned to now (what [`apply`] set).
pub fn pinned() -> Option<Theme> {
    let root = document().document_element()?;
    Theme::from_name(&root.get_attribute("data-theme")?)
}

/// Bumps `changes` whenever the system switches between light and dark
/// (what an unpinned page follows), for the life of the page.
pub fn watch_system(changes: ThemeChanges) {
    let Some(query) = web_sys::window().and_then(|w| w.match_media("(prefers-color-scheme: light)").ok().flatten())
    else {
        return;
    };
    let on_change = Closure::<dyn FnMut()>::new(move || changes.0.update(|n| *n = n.wrapping_add(1)));
    if query.add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref()).is_ok() {
        on_change.forget();
    }
}

/// The desk's theme picker: system, light or dark, starting at `pinned`.
#[component]
pub fn ThemePicker(pinned: Option<Theme>, changes: ThemeChanges) -> impl IntoView {
    let on_change = move |ev: leptos::ev::Event| {
        let chosen = Theme::from_name(&event_target_value(&ev));
        apply(chosen);
        store(chosen);
        changes.0.update(|n| *n = n.wrapping_add(1));
    };
    let options = [("system", None), ("light", Some(Theme::Light)), ("dark", Some(Theme::Dark))]
        .into_iter()
        .map(|(name, theme)| {
            let selected = theme == pinned;
            view! { <option value=name selected=selected>{name}</option> }
        })
        .collect_view();
    view! {
        <label class="theme-picker">
            "Theme "
            <select data-testid="theme-picker" on:change=on_change>
                {options}
            </select>
        </label>
    }
}
