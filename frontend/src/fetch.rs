//! Requests to the hub through the browser's `fetch`: GET as text or bytes
//! and POST of JSON, each with `Authorization: Bearer <token>` when the page
//! was opened with `?token=` (kept here, in memory only, for the page's
//! life); errors become readable strings for the UI.

use std::cell::RefCell;

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Response, js_sys};

use crate::error_text::plain_error;

thread_local! {
    /// The token this page presents to the hub.
    static TOKEN: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Sets the token the page presents from now on.
pub fn set_token(token: Option<String>) {
    TOKEN.with(|t| *t.borrow_mut() = token);
}

/// The token the page presents, if any.
pub fn token() -> Option<String> {
    TOKEN.with(|t| t.borrow().clone())
}

/// Whether the page presents a token.
pub fn has_token() -> bool {
    TOKEN.with(|t| t.borrow().is_some())
}

/// A request with the page's token, and for a POST its JSON `body`.
fn request(method: &str, body: Option<&str>) -> Result<web_sys::RequestInit, String> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    let headers = web_sys::js_sys::Object::new();
    let set = |name: &str, value: &str| {
        web_sys::js_sys::Reflect::set(&headers, &name.into(), &value.into())
            .map_err(|err| describe(&format!("cannot set the {name} header"), &err))
    };
    if let Some(token) = token() {
        set("Authorization", &format!("Bearer {token}"))?;
    }
    if let Some(body) = body {
        // The hub takes JSON only (a plain-text POST is what a cross-site form sends).
        set("Content-Type", "application/json")?;
        init.set_body(&JsValue::from_str(body));
    }
    init.set_headers(&headers);
    Ok(init)
}

/// Sends a request to `url` (relative to the page) and waits for the response.
async fn send(url: &str, init: &web_sys::RequestInit) -> Result<Response, String> {
    let window = web_sys::window().ok_or_else(|| "no window object".to_owned())?;
    let response = JsFuture::from(window.fetch_with_str_and_init(url, init))
        .await
        .map_err(|err| describe(&format!("{url}: request failed"), &err))?;
    response.dyn_into().map_err(|_| "fetch did not return a Response".to_owned())
}

/// GETs `url` (relative to the page) and returns `(status, body)`.
pub async fn get_text(url: &str) -> Result<(u16, String), String> {
    status_and_body(send(url, &request("GET", None)?).await?).await
}

/// HEADs `url` (relative to the page): its status and `Content-Type`.
pub async fn head(url: &str) -> Result<(u16, Option<String>), String> {
    let response = send(url, &request("HEAD", None)?).await?;
    let content_type = response.headers().get("content-type").ok().flatten();
    Ok((response.status(), content_type))
}

/// POSTs the JSON `body` to `url` (relative to the page) and returns `(status, body)`.
pub async fn post_json(url: &str, body: &str) -> Result<(u16, String), String> {
    status_and_body(send(url, &request("POST", Some(body))?).await?).await
}

/// GETs `url` (relative to the page) as bytes; a status other than 2xx is
/// an error (a refusal says what to do).
pub async fn get_bytes(url: &str) -> Result<web_sys::js_sys::ArrayBuffer, String> {
    let response = send(url, &request("GET", None)?).await?;
    if !response.ok() {
        let status = response.status();
        return Err(
            crate::access::refusal(status, has_token()).map_or_else(|| format!("{url}: HTTP {status}"), String::from)
        );
    }
    let buffer = response.array_buffer().map_err(|err| describe(&format!("{url}: cannot read body"), &err))?;
    let buffer = JsFuture::from(buffer).await.map_err(|err| describe(&format!("{url}: cannot read body"), &err))?;
    buffer.dyn_into().map_err(|_| format!("{url}: not an ArrayBuffer"))
}

/// Reads a response's status and body text.
async fn status_and_body(response: Response) -> Result<(u16, String), String> {
    let status = response.status();
    let text_promise = response.text().map_err(|err| describe("cannot read body", &err))?;
    let body = JsFuture::from(text_promise).await.map_err(|err| describe("cannot read body", &err))?.as_string();
    Ok((status, body.unwrap_or_default()))
}

/// A JavaScript exception as one plain sentence ([`plain_error`]): its
/// string value, or an `Error`'s `message`; never its stack.
pub fn describe(context: &str, err: &JsValue) -> String {
    let message = err.as_string().or_else(|| err.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())));
    plain_error(context, message.as_deref())
}
