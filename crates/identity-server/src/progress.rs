//! Progress of a long command on standard error: one line redrawn in
//! place on a terminal, an occasional plain line otherwise (a log file
//! gets no carriage returns).

use std::io::{IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

/// How often a terminal's line is redrawn.
const REDRAW: Duration = Duration::from_millis(100);
/// How often a plain line is written when standard error is not a
/// terminal.
const PLAIN: Duration = Duration::from_secs(10);

/// The progress line of an import.
pub(crate) struct Progress {
    terminal: bool,
    started: Instant,
    last: Instant,
    drawn: bool,
    /// The input's size, when it is a file.
    total_bytes: Option<u64>,
}

impl Progress {
    pub(crate) fn new(total_bytes: Option<u64>) -> Self {
        let now = Instant::now();
        Progress {
            terminal: std::io::stderr().is_terminal(),
            started: now,
            last: now,
            drawn: false,
            total_bytes,
        }
    }

    /// Reports the counts, if it is time to.
    pub(crate) fn update(&mut self, done: u64, failed: u64, bytes: u64) {
        let every = if self.terminal { REDRAW } else { PLAIN };
        if self.last.elapsed() < every {
            return;
        }
        self.last = Instant::now();
        let line = self.line(done, failed, bytes);
        let mut err = std::io::stderr().lock();
        // Progress is advisory: a failed write to stderr is not an error.
        let _ = if self.terminal {
            self.drawn = true;
            write!(err, "\r\x1b[K{line}")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }

    fn line(&self, done: u64, failed: u64, bytes: u64) -> String {
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = done as f64 / seconds;
        let share = match self.total_bytes {
            Some(total) if total > 0 => {
                format!(", {:.0}% of the input", bytes as f64 * 100.0 / total as f64)
            }
            _ => String::new(),
        };
        format!("{done} entries read, {failed} failed{share} ({rate:.0}/s)")
    }

    /// Writes a line of its own (a failed entry, the summary), clearing the
    /// progress line first.
    pub(crate) fn println(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        if self.drawn {
            let _ = write!(err, "\r\x1b[K");
            self.drawn = false;
        }
        let _ = writeln!(err, "{text}");
    }
}
