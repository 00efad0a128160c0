//! Minimal HTTP GET and POST through the browser's `fetch`, returning the
//! status and the body as text; errors become readable strings for the UI.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::Response;

/// Fetches `url` (relative to the page) and returns `(status, body)`.
pub async fn get_text(url: &str) -> Result<(u16, String), String> {
    let window = web_sys::window().ok_or_else(|| "no window object".to_owned())?;
    status_and_body(window.fetch_with_str(url)).await
}

/// POSTs `body` (text) to `url` (relative to the page), with
/// `Authorization: Bearer <token>` when a token is given, and returns
/// `(status, body)`.
pub async fn post_text(url: &str, body: &str, token: Option<&str>) -> Result<(u16, String), String> {
    let window = web_sys::window().ok_or_else(|| "no window object".to_owned())?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    if let Some(token) = token {
        let headers = web_sys::js_sys::Object::new();
        web_sys::js_sys::Reflect::set(&headers, &"Authorization".into(), &format!("Bearer {token}").into())
            .map_err(|err| describe("cannot set the token header", &err))?;
        init.set_headers(&headers);
    }
    status_and_body(window.fetch_with_str_and_init(url, &init)).await
}

/// Waits for a `fetch` promise and reads the response's status and body text.
async fn status_and_body(fetched: web_sys::js_sys::Promise) -> Result<(u16, String), String> {
    let response = JsFuture::from(fetched).await.map_err(|err| describe("request failed", &err))?;
    let response: Response = response.dyn_into().map_err(|_| "fetch did not return a Response".to_owned())?;
    let status = response.status();
    let text_promise = response.text().map_err(|err| describe("cannot read body", &err))?;
    let body = JsFuture::from(text_promise).await.map_err(|err| describe("cannot read body", &err))?.as_string();
    Ok((status, body.unwrap_or_default()))
}

/// Formats a JavaScript exception for display.
fn describe(context: &str, err: &JsValue) -> String {
    match err.as_string() {
        Some(message) => format!("{context}: {message}"),
        None => format!("{context}: {err:?}"),
    }
}
