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
//! end. What a run leaves of its input is dropped when the worker gets its
//! next round, after every worker of this one has finished timing: a large
//! buffer's free can unmap pages, which interrupts the other worker's core.
//! A panic in a worker fails the round instead of hanging it.

use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::Scope;
use std::time::{Duration, Instant};

use identity_core::{IdentityManager, IdentitySchema, Limits, TenantId, UpdateIdentityBody};
use serde_json::Value;
use tokio::runtime::Runtime;
use uuid::Uuid;

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
        assert!(
            (1..=self.jobs.len()).contains(&n),
            "a round needs one to {} parts, got {n}",
            self.jobs.len()
        );
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
        // Only the workers hold senders now: a worker that panicked drops
        // its own, so the reports end instead of waiting for it.
        drop(report);
        let times: Vec<(Instant, Instant)> = reports.iter().take(n).collect();
        assert_eq!(times.len(), n, "a worker panicked");
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
    // What the last round left, dropped when the next one is handed out:
    // by then every worker of the last round has finished timing.
    let mut leftover: Box<dyn Any> = Box::new(());
    for job in jobs {
        drop(std::mem::replace(&mut leftover, Box::new(())));
        let run = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(job.prepare)) {
            Ok(run) => run,
            Err(panic) => {
                // Count this worker as ready, so that the others do not
                // spin for it, then pass the panic on.
                job.ready.fetch_add(1, Ordering::AcqRel);
                std::panic::resume_unwind(panic)
            }
        };
        job.ready.fetch_add(1, Ordering::AcqRel);
        while job.ready.load(Ordering::Acquire) < job.workers {
            std::hint::spin_loop();
        }
        let start = Instant::now();
        let (done, left) = run(&rt);
        let end = Instant::now();
        std::hint::black_box(done);
        leftover = left;
        job.report.send((start, end)).expect("round waits");
    }
}

/// `docs` validated from bytes against `schema` (bench (b): parse, then
/// validate and derive), the bytes copied on the worker.
pub fn validations<'a>(
    schema: &'a IdentitySchema,
    limits: &'a Limits,
    docs: &'a [Vec<u8>],
) -> Prepare<'a> {
    Box::new(move || {
        let docs = docs.to_vec();
        Box::new(move |_: &Runtime| {
            let valid = docs
                .iter()
                .map(|raw| {
                    let mut traits: Value =
                        serde_json::from_slice(std::hint::black_box(raw)).expect("json");
                    usize::from(schema.validate(&mut traits, limits).is_ok())
                })
                .sum();
            (valid, Box::new(docs) as Box<dyn Any>)
        })
    })
}

/// The control: a bare `serde_json` parse of `docs` (nothing of the
/// library: the machine's own two-thread factor), the bytes copied on the
/// worker.
pub fn parses(docs: &[Vec<u8>]) -> Prepare<'_> {
    Box::new(move || {
        let docs = docs.to_vec();
        Box::new(move |_: &Runtime| {
            let objects = docs
                .iter()
                .map(|raw| {
                    let v: Value = serde_json::from_slice(std::hint::black_box(raw)).expect("json");
                    usize::from(std::hint::black_box(v).is_object())
                })
                .sum();
            (objects, Box::new(docs) as Box<dyn Any>)
        })
    })
}

/// `count` PUTs through `m` into the default tenant, cycling over `ids`:
/// the `k`th updates `ids[k % ids.len()]` with `body(k % ids.len())`, the
/// bodies made on the worker.
pub fn puts<'a>(
    m: &'a IdentityManager,
    ids: &'a [Uuid],
    count: usize,
    body: impl Fn(usize) -> UpdateIdentityBody + Send + 'a,
) -> Prepare<'a> {
    Box::new(move || {
        let mut work: Vec<(Uuid, UpdateIdentityBody)> = (0..count)
            .map(|k| {
                let i = k % ids.len();
                (ids[i], body(i))
            })
            .collect();
        Box::new(move |rt: &Runtime| {
            for (id, body) in work.drain(..) {
                rt.block_on(m.update(TenantId::DEFAULT, id, body, None))
                    .expect("put");
            }
            (count, Box::new(work) as Box<dyn Any>)
        })
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::{Prepare, Workers};

    /// A part that adds `n` to `sum` when run.
    fn adds(sum: &AtomicUsize, n: usize) -> Prepare<'_> {
        Box::new(move || {
            Box::new(move |_| {
                sum.fetch_add(n, Ordering::Relaxed);
                (n, Box::new(()))
            })
        })
    }

    #[test]
    fn a_round_runs_each_part_once_on_its_own_worker() {
        let sum = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            let workers = Workers::start(scope, 2);
            workers.round(vec![adds(&sum, 1), adds(&sum, 10)]);
            workers.round(vec![adds(&sum, 100)]);
        });
        assert_eq!(sum.load(Ordering::Relaxed), 111);
    }

    #[test]
    fn a_panic_in_a_worker_fails_the_round_instead_of_hanging_it() {
        let sum = AtomicUsize::new(0);
        let in_prepare: Prepare<'_> = Box::new(|| panic!("in prepare"));
        let in_run: Prepare<'_> = Box::new(|| Box::new(|_| panic!("in run")));
        for failing in [in_prepare, in_run] {
            let sum = &sum;
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                std::thread::scope(|scope| {
                    let workers = Workers::start(scope, 2);
                    workers.round(vec![failing, adds(sum, 1)]);
                })
            }));
            assert!(outcome.is_err());
        }
        // The other worker's part ran both times.
        assert_eq!(sum.load(Ordering::Relaxed), 2);
    }
}
