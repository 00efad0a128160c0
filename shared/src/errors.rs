//! Printing an error with its causes. Every cis490 error says what went
//! wrong and where in its own message and carries its cause as
//! `source()`, never also in the message, so the chain printed once reads
//! `what: why: root cause` with each part said once.

use std::error::Error;

/// `err` and each of its causes, joined with `": "`.
pub fn error_chain(err: &(dyn Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut cause = err.source();
    while let Some(next) = cause {
        line.push_str(": ");
        line.push_str(&next.to_string());
        cause = next.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read {path}")]
    struct Outer {
        path: &'static str,
        #[source]
        source: std::io::Error,
    }

    #[test]
    fn each_cause_is_said_once_in_order() {
        let err = Outer { path: "ep-1.tar.zst", source: std::io::Error::other("disk on fire") };
        assert_eq!(error_chain(&err), "cannot read ep-1.tar.zst: disk on fire");
        assert_eq!(error_chain(&std::io::Error::other("alone")), "alone");
    }
}
