//! Progress on long walks: a counter on standard error, shown only on a terminal (hidden
//! when it is piped or redirected, so that output for scripts stays clean).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A count of entries walked, with what is being walked.
pub struct Progress(ProgressBar);

impl Progress {
    pub fn new(what: &str) -> Progress {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {msg}: {pos} entries ({per_sec})")
        {
            bar.set_style(style);
        }
        bar.set_message(what.to_string());
        Progress(bar)
    }

    /// Names what is walked now.
    pub fn walking(&self, what: &str) {
        self.0.set_message(what.to_string());
    }

    /// One more entry walked.
    pub fn step(&self) {
        self.0.inc(1);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
