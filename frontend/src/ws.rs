//! The hub's WebSocket (`GET ws`, relative to the page, with `?token=` when
//! the page has one): messages are applied to the dashboard state once per
//! animation frame (a burst costs one render); when the socket closes (hub
//! restarted, network gone) it reconnects after [`reconnect_delay_ms`], and
//! the state the hub sends on connect brings the page up to date. A socket
//! that closes before opening may have been refused: a plain `GET ws`
//! with the page's token then says why (401, 403, 421), and the badge
//! shows it. The connection state is a signal the header shows, counting
//! down to the next attempt; a closed socket marks the page's data stale
//! ([`crate::freshness`]) until the hub's state comes again.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{MessageEvent, WebSocket, js_sys};

use crate::freshness::seconds_until;
use crate::state::{DashboardState, reconnect_delay_ms};
use crate::{access, fetch};

/// Where the connection stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Connection {
    /// Opening a socket (attempt number, 0 first).
    Connecting(u32),
    /// Connected: events flow.
    Open,
    /// Closed; the next attempt starts at this time (Unix ms).
    Waiting(f64),
    /// The hub refused the page (what to do about it); the next attempt
    /// starts at this time (Unix ms).
    Refused(&'static str, f64),
}

impl Connection {
    /// `data-state` value and CSS class.
    pub fn key(self) -> &'static str {
        match self {
            Connection::Connecting(_) => "connecting",
            Connection::Open => "open",
            Connection::Waiting(_) => "waiting",
            Connection::Refused(..) => "refused",
        }
    }

    /// What the badge says at `now_ms` (Unix ms): a wait counts down to
    /// the next attempt in whole seconds.
    pub fn label(self, now_ms: f64) -> String {
        match self {
            Connection::Connecting(0) => "connecting…".into(),
            Connection::Connecting(n) => format!("reconnecting (attempt {})…", n + 1),
            Connection::Open => "live".into(),
            Connection::Waiting(at) => format!("reconnecting in {} s", seconds_until(at, now_ms)),
            Connection::Refused(why, at) => format!("{why}; retrying in {} s", seconds_until(at, now_ms)),
        }
    }
}

/// The page's clock: Unix milliseconds.
pub fn unix_ms() -> f64 {
    js_sys::Date::now()
}

/// The WebSocket URL of the hub serving this page.
fn hub_url() -> Option<String> {
    let location = web_sys::window()?.location();
    let (scheme, host, path) = (location.protocol().ok()?, location.host().ok()?, location.pathname().ok()?);
    Some(access::ws_url(&scheme, &host, &path, fetch::token().as_deref()))
}

/// Connects and keeps reconnecting for the life of the page; with
/// `timing`, records each message's apply-and-render time (see [`timed`]).
pub fn connect(state: RwSignal<DashboardState>, connection: RwSignal<Connection>, timing: bool) {
    open(state, connection, Rc::new(Cell::new(0)), timing);
}

/// Milliseconds since the page's time origin.
pub fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

/// After the state change of a message (started at `started`) has run its
/// effects and the layout is up to date, appends the elapsed milliseconds
/// to `window.__cis490_frame_ms` (kept to the last 2,000).
fn timed(started: f64) {
    // A zero-delay timeout runs after the render effects (microtasks).
    set_timeout(
        move || {
            let Some(window) = web_sys::window() else { return };
            if let Some(body) = window.document().and_then(|d| d.body()) {
                let _ = body.offset_height(); // forces style and layout
            }
            let elapsed = now_ms() - started;
            let key = wasm_bindgen::JsValue::from_str("__cis490_frame_ms");
            let existing = js_sys::Reflect::get(&window, &key).ok().and_then(|v| v.dyn_into::<js_sys::Array>().ok());
            let list = match existing {
                Some(list) => list,
                None => {
                    let list = js_sys::Array::new();
                    let _ = js_sys::Reflect::set(&window, &key, &list);
                    list
                }
            };
            list.push(&wasm_bindgen::JsValue::from_f64(elapsed));
            if list.length() > 2000 {
                list.shift();
            }
        },
        Duration::ZERO,
    );
}

fn open(state: RwSignal<DashboardState>, connection: RwSignal<Connection>, attempts: Rc<Cell<u32>>, timing: bool) {
    connection.set(Connection::Connecting(attempts.get()));
    let socket = hub_url().and_then(|url| WebSocket::new(&url).ok());
    let Some(socket) = socket else {
        retry(state, connection, attempts, timing, None);
        return;
    };
    // The closures live as long as the socket; a reconnect makes new ones
    // (a few bytes per reconnect).
    let opened = Rc::new(Cell::new(false));
    let on_open = {
        let (attempts, opened) = (attempts.clone(), opened.clone());
        Closure::<dyn FnMut()>::new(move || {
            attempts.set(0);
            opened.set(true);
            connection.set(Connection::Open);
            state.update(|s| s.freshness.connection_open());
        })
    };
    let pending = Rc::new(RefCell::new(Pending::default()));
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        if let Some(text) = event.data().as_string() {
            queue(&pending, text, state, timing);
        }
    });
    let on_close = Closure::<dyn FnMut()>::new(move || {
        state.update(|s| s.freshness.connection_lost(unix_ms()));
        let attempts = attempts.clone();
        if opened.get() {
            retry(state, connection, attempts, timing, None);
        } else {
            leptos::task::spawn_local(async move {
                let refused = probe_refusal().await;
                retry(state, connection, attempts, timing, refused);
            });
        }
    });
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    on_open.forget();
    on_message.forget();
    on_close.forget();
}

/// Messages waiting for the next animation frame.
#[derive(Default)]
struct Pending {
    texts: Vec<String>,
    scheduled: bool,
}

/// Most messages held for one frame; beyond it they are applied at once
/// (a hidden tab gets no animation frames, and nothing may pile up).
const MAX_PENDING: usize = 2000;

/// Queues a message; the state is updated (and the page rendered) once
/// per animation frame with everything that arrived since, so a burst of
/// frames costs one render, not one each.
fn queue(pending: &Rc<RefCell<Pending>>, text: String, state: RwSignal<DashboardState>, timing: bool) {
    let mut p = pending.borrow_mut();
    p.texts.push(text);
    if p.texts.len() >= MAX_PENDING {
        let texts = std::mem::take(&mut p.texts);
        drop(p);
        apply(texts, state, timing);
        return;
    }
    if !p.scheduled {
        p.scheduled = true;
        let pending = pending.clone();
        request_animation_frame(move || {
            let texts = {
                let mut p = pending.borrow_mut();
                p.scheduled = false;
                std::mem::take(&mut p.texts)
            };
            apply(texts, state, timing);
        });
    }
}

fn apply(texts: Vec<String>, state: RwSignal<DashboardState>, timing: bool) {
    if texts.is_empty() {
        return;
    }
    let started = now_ms();
    let arrived = unix_ms();
    state.update(|s| texts.iter().for_each(|t| s.apply_text_at(t, arrived)));
    if timing {
        timed(started);
    }
}

/// Why the hub refused a WebSocket, if it did: a plain `GET ws` with the
/// page's token passes the same checks, and browsers hide the status of a
/// refused WebSocket handshake.
async fn probe_refusal() -> Option<&'static str> {
    let (status, _) = fetch::get_text("ws").await.ok()?;
    access::refusal(status, fetch::has_token())
}

fn retry(
    state: RwSignal<DashboardState>,
    connection: RwSignal<Connection>,
    attempts: Rc<Cell<u32>>,
    timing: bool,
    refused: Option<&'static str>,
) {
    let attempt = attempts.get();
    attempts.set(attempt.saturating_add(1));
    let delay = reconnect_delay_ms(attempt);
    let at = unix_ms() + f64::from(delay);
    connection.set(refused.map_or(Connection::Waiting(at), |why| Connection::Refused(why, at)));
    set_timeout(move || open(state, connection, attempts, timing), Duration::from_millis(u64::from(delay)));
}
