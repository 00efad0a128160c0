//! Saving a chart: the `SVG` and `PNG` buttons in a figure's caption
//! export the figure's `<svg>` as a standalone SVG file (the page's chart
//! styles inlined, colours resolved for the current theme) or as a PNG at
//! twice its on-screen size; a figure drawn on a `<canvas>` (the replay
//! strips) saves its bitmap as a PNG on the theme's background.

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{CanvasRenderingContext2d, Element, HtmlAnchorElement, HtmlCanvasElement, HtmlImageElement, js_sys};

use crate::palette;

/// The chart rules of `style.css` that an exported SVG needs (with the
/// class marks' rules from `palette`), with
/// `var(--name)` resolved at export time (only variables the page's root
/// defines resolve, so each series colour is spelled out).
const CHART_CSS: &str = "polyline{fill:none;stroke-width:2}\
 .line-f1,.spark polyline,.line-profile{stroke:var(--line-f1)}\
 .line-loss{stroke:var(--line-loss)} .axis{stroke:var(--border);stroke-width:1}\
 .dot-f1,.histogram rect{fill:var(--line-f1)}\
 .series-0 polyline{stroke:var(--series-0)} .series-0 circle{fill:var(--series-0)}\
 .series-1 polyline{stroke:var(--series-1)} .series-1 circle{fill:var(--series-1)}\
 .series-2 polyline{stroke:var(--series-2)} .series-2 circle{fill:var(--series-2)}\
 .series-3 polyline{stroke:var(--series-3)} .series-3 circle{fill:var(--series-3)}\
 .series-4 polyline{stroke:var(--series-4)} .series-4 circle{fill:var(--series-4)}\
 .series-5 polyline{stroke:var(--series-5)} .series-5 circle{fill:var(--series-5)}\
 .series-6 polyline{stroke:var(--series-6)} .series-6 circle{fill:var(--series-6)}\
 .series-7 polyline{stroke:var(--series-7)} .series-7 circle{fill:var(--series-7)}\
 .series-dashed polyline{stroke-dasharray:6 4}\
 .tick-label,.axis-title{fill:var(--muted);font-size:11px;font-family:sans-serif}\
 .gridline{stroke:var(--border);stroke-width:1;stroke-dasharray:2 3} .chart-hover{display:none}";

/// `CHART_CSS` with every `var(--x)` replaced by its current value.
fn resolved_css() -> String {
    let root = document().document_element();
    let style = root.and_then(|r| window().get_computed_style(&r).ok().flatten());
    let mut out = String::new();
    let rules = format!("{CHART_CSS}{}", palette::class_mark_rules());
    let mut rest = rules.as_str();
    while let Some(at) = rest.find("var(") {
        out.push_str(&rest[..at]);
        let Some(end) = rest[at..].find(')') else { break };
        let name = &rest[at + 4..at + end];
        let value = style.as_ref().and_then(|s| s.get_property_value(name).ok()).unwrap_or_default();
        out.push_str(value.trim());
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    out
}

fn background() -> String {
    let root = document().document_element();
    root.and_then(|r| window().get_computed_style(&r).ok().flatten())
        .and_then(|s| s.get_property_value("--bg").ok())
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| palette::DARK.bg.hex())
}

/// The standalone SVG text of `svg`.
fn svg_text(svg: &Element) -> Option<String> {
    let clone: Element = svg.clone_node_with_deep(true).ok()?.dyn_into().ok()?;
    clone.set_attribute("xmlns", "http://www.w3.org/2000/svg").ok()?;
    let style = document().create_element_ns(Some("http://www.w3.org/2000/svg"), "style").ok()?;
    style.set_text_content(Some(&format!("svg{{background:{}}} {}", background(), resolved_css())));
    clone.prepend_with_node_1(&style).ok()?;
    Some(clone.outer_html())
}

fn download(url: &str, file: &str) {
    if let Some(link) = document().create_element("a").ok().and_then(|a| a.dyn_into::<HtmlAnchorElement>().ok()) {
        link.set_href(url);
        link.set_download(file);
        link.click();
    }
}

fn data_url(text: &str) -> String {
    format!("data:image/svg+xml;charset=utf-8,{}", js_sys::encode_uri_component(text))
}

/// Draws the SVG on a canvas at twice its size and downloads a PNG.
fn export_png(svg: &Element, text: &str, file: String) {
    let (width, height) = (f64::from(svg.client_width().max(1)) * 2.0, f64::from(svg.client_height().max(1)) * 2.0);
    let Ok(image) = HtmlImageElement::new() else { return };
    let loaded = image.clone();
    let on_load = Closure::once(move || {
        let canvas = document().create_element("canvas").ok().and_then(|c| c.dyn_into::<HtmlCanvasElement>().ok());
        let Some(canvas) = canvas else { return };
        canvas.set_width(width as u32);
        canvas.set_height(height as u32);
        let context =
            canvas.get_context("2d").ok().flatten().and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok());
        let Some(context) = context else { return };
        context.set_fill_style_str(&background());
        context.fill_rect(0.0, 0.0, width, height);
        let _ = context.draw_image_with_html_image_element_and_dw_and_dh(&loaded, 0.0, 0.0, width, height);
        if let Ok(url) = canvas.to_data_url_with_type("image/png") {
            download(&url, &file);
        }
    });
    image.set_onload(Some(on_load.as_ref().unchecked_ref()));
    on_load.forget();
    image.set_src(&data_url(text));
}

/// The `<svg>` of the figure around the clicked button.
fn figure_svg(target: Option<web_sys::EventTarget>) -> Option<Element> {
    let button: Element = target?.dyn_into().ok()?;
    button.closest("figure").ok()??.query_selector("svg").ok()?
}

/// The `<canvas>` of the figure around the clicked button, if it has one.
fn figure_canvas(target: Option<web_sys::EventTarget>) -> Option<HtmlCanvasElement> {
    let button: Element = target?.dyn_into().ok()?;
    button.closest("figure").ok()??.query_selector("canvas").ok()??.dyn_into().ok()
}

/// Downloads a canvas chart as a PNG on the theme's background, at the
/// canvas' bitmap size (device pixels).
fn export_canvas_png(chart: &HtmlCanvasElement, file: &str) {
    let canvas = document().create_element("canvas").ok().and_then(|c| c.dyn_into::<HtmlCanvasElement>().ok());
    let Some(canvas) = canvas else { return };
    canvas.set_width(chart.width());
    canvas.set_height(chart.height());
    let context = canvas.get_context("2d").ok().flatten().and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok());
    let Some(context) = context else { return };
    context.set_fill_style_str(&background());
    context.fill_rect(0.0, 0.0, f64::from(chart.width()), f64::from(chart.height()));
    let _ = context.draw_image_with_html_canvas_element(chart, 0.0, 0.0);
    if let Ok(url) = canvas.to_data_url_with_type("image/png") {
        download(&url, file);
    }
}

/// `SVG` and `PNG` buttons that save the enclosing figure's chart as
/// `name`; a figure drawn on a `<canvas>` (`canvas`) has only `PNG`.
#[component]
pub fn ExportButtons(name: String, #[prop(optional)] canvas: bool) -> impl IntoView {
    let svg_name = format!("{name}.svg");
    let png_name = format!("{name}.png");
    let save_svg = move |ev: web_sys::MouseEvent| {
        if let Some(text) = figure_svg(ev.target()).and_then(|svg| svg_text(&svg)) {
            download(&data_url(&text), &svg_name);
        }
    };
    let save_png = move |ev: web_sys::MouseEvent| {
        if canvas {
            if let Some(chart) = figure_canvas(ev.target()) {
                export_canvas_png(&chart, &png_name);
            }
        } else if let Some(svg) = figure_svg(ev.target())
            && let Some(text) = svg_text(&svg)
        {
            export_png(&svg, &text, png_name.clone());
        }
    };
    view! {
        <span class="export-buttons">
            {(!canvas).then(|| view! { <button class="export" title="Save as SVG" on:click=save_svg>"SVG"</button> })}
            <button class="export" title="Save as PNG" on:click=save_png>"PNG"</button>
        </span>
    }
}
