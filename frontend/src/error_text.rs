//! What the page says when a browser call fails: one plain sentence, never
//! a JavaScript stack trace. A failed `fetch` ("Failed to fetch", "Load
//! failed", "NetworkError when attempting to fetch resource") means the
//! server could not be reached, and says so; any other error keeps its
//! message and loses everything after its first line (where a stack
//! begins). Pure: unit-tested natively; `fetch` and the browser scene
//! pass it what a JavaScript error holds.

/// `context: what went wrong` for an error whose `message` (or string
/// value) is `message`, if it had one.
pub fn plain_error(context: &str, message: Option<&str>) -> String {
    let first_line = message.and_then(|m| m.lines().map(str::trim).find(|line| !line.is_empty()));
    match first_line {
        Some(line) if is_network_failure(line) => {
            format!("{context}: the dashboard's server cannot be reached (is `cis490 serve` running?)")
        }
        Some(line) => format!("{context}: {line}"),
        None => format!("{context}: the browser gave no reason"),
    }
}

/// The messages browsers give a `fetch` that never got an answer.
fn is_network_failure(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    ["failed to fetch", "load failed", "networkerror"].iter().any(|m| message.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_one_plain_sentence() {
        assert_eq!(
            plain_error("GET /models/gbt/model.onnx", Some("Failed to fetch")),
            "GET /models/gbt/model.onnx: the dashboard's server cannot be reached (is `cis490 serve` running?)"
        );
        assert!(
            plain_error("x", Some("NetworkError when attempting to fetch resource.")).contains("cannot be reached")
        );
        assert_eq!(
            plain_error(
                "cannot start the worker",
                Some("SyntaxError: bad module\n    at runner-worker.js:3:1\n    at x")
            ),
            "cannot start the worker: SyntaxError: bad module"
        );
        assert_eq!(plain_error("cannot read body", None), "cannot read body: the browser gave no reason");
        assert_eq!(plain_error("c", Some("\n\n")), "c: the browser gave no reason");
    }
}
