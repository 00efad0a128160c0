//! Printing an error with its causes. Every cis490 error says what went
//! wrong and where in its own message and carries its cause as
//! `source()`, never also in the message, so the chain printed once reads
//! `what: why: root cause` with each part said once. Some libraries'
//! errors (Parquet's `External`, Arrow's `ExternalError`) also print their
//! source in their own message: [`error_chain`] leaves out a cause that
//! the message before it already ends with. [`Cause`] is the source of a
//! variant whose cause may come from several libraries, or be a plain
//! description.

use std::error::Error;

/// A boxed cause: any error, or a description (`String` and `&str` convert
/// into it).
pub type Cause = Box<dyn Error + Send + Sync + 'static>;

/// `err` and each of its causes, joined with `": "`; a cause whose text the
/// message before it already ends with is not said again.
pub fn error_chain(err: &(dyn Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut said = line.clone();
    let mut cause = err.source();
    while let Some(next) = cause {
        let text = next.to_string();
        if !said.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        said = text;
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

    /// A library error that prints its source in its own message too.
    #[derive(Debug, thiserror::Error)]
    #[error("External: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn a_cause_already_in_the_message_before_it_is_not_repeated() {
        let inner = Repeats(std::io::Error::other("disk on fire"));
        let err = Outer { path: "index.parquet", source: std::io::Error::other(inner) };
        assert_eq!(error_chain(&err), "cannot read index.parquet: External: disk on fire");
    }
}
