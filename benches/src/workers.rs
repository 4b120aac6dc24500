//! Long-lived worker threads for throughput on one and two threads
//! (issue 15, item 7), as a server's would run: each has its own
//! current-thread runtime and lives for the whole measurement, so that no
//! thread start, runtime build or first touch of a fresh allocator arena
//! falls inside a measured round, and what a round frees was allocated on
//! the thread that frees it.
//!
//! A round gives each taking part worker a [`Prepare`]: run on that
//! worker, it makes the worker's input (not timed) and returns the
//! measured [`Run`]. Once its input is made a worker spins until every
//! worker of the round is ready (a sleeping thread's wake-up, tens of
//! microseconds on a VM, would be timed otherwise), then times its own
//! part; the round lasts from the first worker's start to the last one's
//! end. What a run leaves of its input is dropped after the round is
//! timed: a large buffer's free can unmap pages, which interrupts the
//! other worker's core.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::Scope;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

/// The measured part of a round on one worker: how many items it did, and
/// what is left of its input (dropped once the round is timed).
pub type Run<'a> = Box<dyn FnOnce(&Runtime) -> (usize, Box<dyn Any>) + 'a>;

/// A worker's part of a round: makes its input on the worker, and returns
/// the measured part.
pub type Prepare<'a> = Box<dyn FnOnce() -> Run<'a> + Send + 'a>;

/// A round's part for one worker, how many workers take part, the count
/// of those ready, and where the worker reports when it started and ended.
struct Job<'a> {
    prepare: Prepare<'a>,
    workers: usize,
    ready: Arc<AtomicUsize>,
    report: mpsc::Sender<(Instant, Instant)>,
}

/// Worker threads started in a [`std::thread::scope`], which they end
/// with (when the `Workers` is dropped).
pub struct Workers<'a> {
    jobs: Vec<mpsc::Sender<Job<'a>>>,
}

impl<'a> Workers<'a> {
    /// Starts `n` workers in `scope`.
    pub fn start<'scope>(scope: &'scope Scope<'scope, '_>, n: usize) -> Workers<'a>
    where
        'a: 'scope,
    {
        let jobs = (0..n)
            .map(|_| {
                let (tx, rx) = mpsc::channel::<Job<'a>>();
                scope.spawn(move || work(rx));
                tx
            })
            .collect();
        Workers { jobs }
    }

    /// Runs `parts[t]` on worker `t` and returns how long the round took,
    /// from the first worker's start to the last one's end.
    pub fn round(&self, parts: Vec<Prepare<'a>>) -> Duration {
        let n = parts.len();
        assert!(n <= self.jobs.len(), "more parts than workers");
        let ready = Arc::new(AtomicUsize::new(0));
        let (report, reports) = mpsc::channel();
        for (worker, prepare) in self.jobs.iter().zip(parts) {
            worker
                .send(Job {
                    prepare,
                    workers: n,
                    ready: Arc::clone(&ready),
                    report: report.clone(),
                })
                .expect("worker alive");
        }
        let times: Vec<(Instant, Instant)> = reports.iter().take(n).collect();
        let start = times.iter().map(|t| t.0).min().expect("a worker");
        let end = times.iter().map(|t| t.1).max().expect("a worker");
        end - start
    }
}

/// A worker's loop: one job per round until the pool is dropped.
fn work(jobs: mpsc::Receiver<Job<'_>>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for job in jobs {
        let run = (job.prepare)();
        job.ready.fetch_add(1, Ordering::AcqRel);
        while job.ready.load(Ordering::Acquire) < job.workers {
            std::hint::spin_loop();
        }
        let start = Instant::now();
        let (done, leftover) = run(&rt);
        let end = Instant::now();
        std::hint::black_box(done);
        job.report.send((start, end)).expect("round waits");
        drop(leftover);
    }
}
