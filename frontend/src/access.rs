//! The page's side of the hub's access rules: the token it presents (the
//! `?token=` it was opened with, kept in memory) goes into the WebSocket
//! URL, since browsers cannot set headers on a WebSocket, and what to say
//! when the hub refuses the page instead of spinning.

/// What to tell the user about an HTTP `status` from the hub, when it is a
/// refusal (401 token, 403 origin, 421 host name); `has_token` says
/// whether the page presented one.
pub fn refusal(status: u16, has_token: bool) -> Option<&'static str> {
    match status {
        401 if has_token => Some("the hub refused this page's token"),
        401 => Some("the hub asks for a token: open this page with ?token=<the hub's token>"),
        403 => Some("the hub refused this page's origin (start the hub with --allow-origin <this page's origin>)"),
        421 => Some("the hub does not answer to this host name (start the hub with --allow-host <this name>)"),
        _ => None,
    }
}

/// `value` percent-encoded for a query string (everything but
/// `A-Z a-z 0-9 - . _ ~` as `%XX` of its UTF-8 bytes).
pub fn query_encoded(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The hub's WebSocket URL for a page at `scheme://host{path}`: `ws` beside
/// the page (`wss` under https), with `?token=` when the page has one.
pub fn ws_url(page_scheme: &str, host: &str, page_path: &str, token: Option<&str>) -> String {
    let scheme = if page_scheme == "https:" { "wss" } else { "ws" };
    let dir = &page_path[..page_path.rfind('/').map_or(0, |i| i + 1)];
    let query = token.map(|t| format!("?token={}", query_encoded(t))).unwrap_or_default();
    format!("{scheme}://{host}{dir}ws{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_what_to_do_and_other_statuses_are_not_refusals() {
        assert!(refusal(401, false).is_some_and(|m| m.contains("?token=")));
        assert!(refusal(401, true).is_some_and(|m| m.contains("refused this page's token")));
        assert!(refusal(403, false).is_some_and(|m| m.contains("--allow-origin")));
        assert!(refusal(421, true).is_some_and(|m| m.contains("--allow-host")));
        for other in [200, 400, 404, 426, 500, 503] {
            assert_eq!(refusal(other, true), None, "{other}");
        }
    }

    #[test]
    fn the_websocket_url_carries_the_token_encoded() {
        assert_eq!(ws_url("http:", "127.0.0.1:8447", "/", None), "ws://127.0.0.1:8447/ws");
        assert_eq!(ws_url("https:", "lab.example", "/hub/index.html", None), "wss://lab.example/hub/ws");
        assert_eq!(
            ws_url("http:", "lab:8447", "/", Some("a+b/c&d=é")),
            "ws://lab:8447/ws?token=a%2Bb%2Fc%26d%3D%C3%A9"
        );
    }
}
