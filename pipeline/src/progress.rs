//! Terminal progress bars for long sweeps, hidden when asked or when stderr
//! is not a terminal.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar over `total` items labelled with `what`.
pub fn bar(total: u64, what: &str, visible: bool) -> ProgressBar {
    let target = if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    let style = ProgressStyle::with_template("{msg:>11} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}

/// One bar per job running at once (training), each with its own rate and ETA.
#[derive(Debug)]
pub struct Bars {
    multi: MultiProgress,
}

impl Bars {
    /// Bars on stderr when `visible` (and stderr is a terminal).
    pub fn new(visible: bool) -> Self {
        let target = if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        Self { multi: MultiProgress::with_draw_target(target) }
    }

    /// A bar for `job` over `total` windows (removed when finished and cleared).
    pub fn job(&self, job: &str, total: u64) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new(total));
        let style =
            ProgressStyle::with_template("{msg:<28} [{bar:30}] {human_pos}/{human_len} windows ({per_sec}, eta {eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(job.to_string());
        bar
    }
}
