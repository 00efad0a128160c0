//! The hub's WebSocket (`GET ws`, relative to the page): every message is
//! applied to the dashboard state; when the socket closes (hub restarted,
//! network gone) it reconnects after [`reconnect_delay_ms`], and the state
//! the hub sends on connect brings the page up to date. The connection
//! state is a signal the header shows.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{MessageEvent, WebSocket};

use crate::state::{DashboardState, reconnect_delay_ms};

/// Where the connection stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Connection {
    /// Opening a socket (attempt number, 0 first).
    Connecting(u32),
    /// Connected: events flow.
    Open,
    /// Closed; the next attempt starts after this many milliseconds.
    Waiting(u32),
}

impl Connection {
    /// `data-state` value and CSS class.
    pub fn key(self) -> &'static str {
        match self {
            Connection::Connecting(_) => "connecting",
            Connection::Open => "open",
            Connection::Waiting(_) => "waiting",
        }
    }

    /// What the badge says.
    pub fn label(self) -> String {
        match self {
            Connection::Connecting(0) => "connecting…".into(),
            Connection::Connecting(n) => format!("reconnecting (attempt {})…", n + 1),
            Connection::Open => "live".into(),
            Connection::Waiting(ms) => format!("hub unreachable, retrying in {:.1} s", f64::from(ms) / 1000.0),
        }
    }
}

/// The WebSocket URL of the hub serving this page (`ws:`/`wss:`, same
/// host, `ws` beside the page).
fn hub_url() -> Option<String> {
    let location = web_sys::window()?.location();
    let scheme = if location.protocol().ok()? == "https:" { "wss" } else { "ws" };
    let path = location.pathname().ok()?;
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    Some(format!("{scheme}://{}{dir}ws", location.host().ok()?))
}

/// Connects and keeps reconnecting for the life of the page.
pub fn connect(state: RwSignal<DashboardState>, connection: RwSignal<Connection>) {
    open(state, connection, Rc::new(Cell::new(0)));
}

fn open(state: RwSignal<DashboardState>, connection: RwSignal<Connection>, attempts: Rc<Cell<u32>>) {
    connection.set(Connection::Connecting(attempts.get()));
    let socket = hub_url().and_then(|url| WebSocket::new(&url).ok());
    let Some(socket) = socket else {
        retry(state, connection, attempts);
        return;
    };
    // The closures live as long as the socket; a reconnect makes new ones
    // (a few bytes per reconnect).
    let on_open = {
        let attempts = attempts.clone();
        Closure::<dyn FnMut()>::new(move || {
            attempts.set(0);
            connection.set(Connection::Open);
        })
    };
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        if let Some(text) = event.data().as_string() {
            state.update(|s| s.apply_text(&text));
        }
    });
    let on_close = Closure::<dyn FnMut()>::new(move || retry(state, connection, attempts.clone()));
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    on_open.forget();
    on_message.forget();
    on_close.forget();
}

fn retry(state: RwSignal<DashboardState>, connection: RwSignal<Connection>, attempts: Rc<Cell<u32>>) {
    let attempt = attempts.get();
    attempts.set(attempt.saturating_add(1));
    let delay = reconnect_delay_ms(attempt);
    connection.set(Connection::Waiting(delay));
    set_timeout(move || open(state, connection, attempts), Duration::from_millis(u64::from(delay)));
}
