//! Where blocking work runs: the one seam between the core and an async
//! runtime.
//!
//! Hashing a plaintext password takes tens of milliseconds of CPU (Argon2id
//! with 19 MiB by default). Run on an async executor's thread, it would stall
//! every other task on that thread, so the manager hands each hash to a
//! [`BlockingExecutor`] and awaits it. The core names no runtime: with the
//! default `tokio` feature the manager uses `TokioBlockingExecutor` unless
//! told otherwise; an embedder on another runtime (or on none) supplies its
//! own through
//! [`IdentityManagerBuilder::blocking_executor`](crate::IdentityManagerBuilder::blocking_executor).
//!
//! A manager that has no executor (built without the `tokio` feature and
//! without one supplied) never hashes inline: an operation that has a
//! plaintext password to hash fails with an [`ErrorKind::Internal`] error
//! naming the missing executor, before anything is written. Every other
//! operation, imports of already-hashed passwords included, works as usual.
//!
//! [`ErrorKind::Internal`]: crate::ErrorKind::Internal

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use identity_password::{HashMemory, Password, PasswordError, PasswordHasher};
use tokio::sync::Semaphore;

use crate::error::{BoxError, Error};
use crate::observe::{HashQueued, hashing};

/// A job for a [`BlockingExecutor`]: it runs once, on a thread where
/// blocking is fine.
pub type BlockingJob = Box<dyn FnOnce() + Send + 'static>;

/// What [`BlockingExecutor::spawn_blocking`] returns: it completes with
/// `Ok(())` once the job has run, or with an error if the job will never
/// run to its end (the executor shut down, the job panicked).
pub type BlockingFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + 'static>>;

/// Runs blocking jobs away from the async executor's threads.
///
/// An implementation gives each job to a thread that may block (a thread
/// pool, a dedicated thread, the runtime's blocking pool) and returns a
/// future that completes when the job has returned. The manager awaits that
/// future and reads the job's result once it is `Ok`; it bounds how many
/// jobs it gives out at once itself (see
/// [`IdentityManagerBuilder::hash_concurrency`](crate::IdentityManagerBuilder::hash_concurrency)),
/// so an executor need not queue or limit.
///
/// Running the job inline inside `spawn_blocking` is allowed (the job has
/// then run when the future is first polled), but it blocks the calling
/// task for the whole hash: that is the stall this trait exists to avoid.
///
/// ```
/// use std::sync::Arc;
/// use identity_core::{BlockingExecutor, BlockingFuture, BlockingJob};
///
/// /// One OS thread per job, awaited through a channel.
/// #[derive(Debug)]
/// struct ThreadPerJob;
///
/// impl BlockingExecutor for ThreadPerJob {
///     fn spawn_blocking(&self, job: BlockingJob) -> BlockingFuture {
///         let handle = std::thread::spawn(job);
///         Box::pin(async move {
///             // A real executor would wake the task instead of joining here.
///             handle.join().map_err(|_| "the hashing thread panicked".into())
///         })
///     }
/// }
///
/// # fn demo(store: identity_core::DynIdentityStore, schemas: Arc<identity_core::SchemaRegistry>) {
/// let manager = identity_core::IdentityManager::builder(store, schemas)
///     .blocking_executor(Arc::new(ThreadPerJob))
///     .build();
/// # }
/// ```
pub trait BlockingExecutor: Send + Sync + fmt::Debug {
    /// Starts `job` on a thread where blocking is fine; the future
    /// completes when it has run.
    fn spawn_blocking(&self, job: BlockingJob) -> BlockingFuture;
}

/// Tokio's blocking pool ([`tokio::task::spawn_blocking`]) of the runtime
/// the operation runs in: the default executor with the `tokio` feature.
///
/// Called outside a Tokio runtime, the future fails with an error saying
/// so (the job does not run): supply an executor of your own there.
#[cfg(feature = "tokio")]
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioBlockingExecutor;

#[cfg(feature = "tokio")]
impl BlockingExecutor for TokioBlockingExecutor {
    fn spawn_blocking(&self, job: BlockingJob) -> BlockingFuture {
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let task = handle.spawn_blocking(job);
                Box::pin(async move { task.await.map_err(BoxError::from) })
            }
            Err(e) => Box::pin(std::future::ready(Err(BoxError::from(format!(
                "no Tokio runtime to hash on ({e}); outside Tokio, give the manager a \
                 BlockingExecutor through IdentityManagerBuilder::blocking_executor"
            ))))),
        }
    }
}

/// Concurrent password hashing: a permit per hash that may run at once,
/// the executor the hashes run on, and the working memory of each, reused
/// from hash to hash so that the memory held is exactly `permits` times the
/// memory cost (a fresh 19 MiB allocation per hash is kept by glibc's
/// per-thread arenas once freed, and peak memory would grow with the number
/// of hashes, not of permits).
pub(crate) struct HashPool {
    /// A runtime-agnostic semaphore (Tokio's `sync` part needs no runtime).
    permits: Semaphore,
    /// `None` only without the `tokio` feature and without an executor
    /// given to the builder: hashing then fails instead of running inline.
    executor: Option<Arc<dyn BlockingExecutor>>,
    memories: Mutex<Vec<HashMemory>>,
}

impl fmt::Debug for HashPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashPool")
            .field("available_permits", &self.permits.available_permits())
            .field("executor", &self.executor)
            .finish_non_exhaustive()
    }
}

/// What a hashing job hands back: the hash, and the memory for the next one.
type HashOutcome = (Result<String, PasswordError>, HashMemory);

impl HashPool {
    /// A pool of `permits` concurrent hashes (at least one) on `executor`.
    pub(crate) fn new(permits: usize, executor: Option<Arc<dyn BlockingExecutor>>) -> Self {
        HashPool {
            permits: Semaphore::new(permits.max(1)),
            executor,
            memories: Mutex::new(Vec::new()),
        }
    }

    /// The same pool with `permits` concurrent hashes.
    pub(crate) fn with_permits(self, permits: usize) -> Self {
        HashPool::new(permits, self.executor)
    }

    /// The same pool on `executor`.
    pub(crate) fn with_executor(self, executor: Arc<dyn BlockingExecutor>) -> Self {
        HashPool {
            executor: Some(executor),
            ..self
        }
    }

    /// Hashes one password once a permit is free, on the executor (never
    /// on the calling task: without an executor this is an error).
    pub(crate) async fn hash(
        &self,
        hasher: &PasswordHasher,
        password: Password,
    ) -> Result<String, Error> {
        let Some(executor) = &self.executor else {
            return Err(Error::Internal {
                message: "no BlockingExecutor to hash passwords on: enable identity-core's \
                          `tokio` feature or call IdentityManagerBuilder::blocking_executor"
                    .to_owned(),
                source: None,
            });
        };
        let queued = HashQueued::enter();
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| Error::internal("the password hashing pool is closed", e))?;
        queued.admitted();
        // A poisoned lock only means a panic elsewhere: fresh memory works.
        let mut memory = self
            .memories
            .lock()
            .ok()
            .and_then(|mut m| m.pop())
            .unwrap_or_default();
        let hasher = hasher.clone();
        // The job leaves its outcome here; the executor's future says when.
        let slot: Arc<Mutex<Option<HashOutcome>>> = Arc::new(Mutex::new(None));
        let out = Arc::clone(&slot);
        let job = Box::new(move || {
            let result = hasher.hash_password_with_memory(&password, &mut memory);
            if let Ok(mut out) = out.lock() {
                *out = Some((result, memory));
            }
        });
        hashing(executor.spawn_blocking(job))
            .await
            .map_err(|e| Error::internal("the password hashing job failed", e))?;
        let outcome = slot.lock().ok().and_then(|mut s| s.take());
        let Some((result, memory)) = outcome else {
            return Err(Error::Internal {
                message: "the blocking executor reported a hashing job done that never ran"
                    .to_owned(),
                source: None,
            });
        };
        if let Ok(mut memories) = self.memories.lock() {
            memories.push(memory);
        }
        result.map_err(|e| Error::invalid(format!("credentials.password: {e}")))
    }
}

/// The executor a new builder starts with: Tokio's blocking pool with the
/// `tokio` feature, none without it.
pub(crate) fn default_executor() -> Option<Arc<dyn BlockingExecutor>> {
    #[cfg(feature = "tokio")]
    {
        Some(Arc::new(TokioBlockingExecutor))
    }
    #[cfg(not(feature = "tokio"))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::ErrorKind;

    /// Polls a future that must be ready at once (every executor here runs
    /// its job before returning), with no runtime at all.
    fn ready<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("the future was not ready at once"),
        }
    }

    /// Runs each job inline and counts them.
    #[derive(Debug, Default)]
    struct Inline(AtomicUsize);

    impl BlockingExecutor for Inline {
        fn spawn_blocking(&self, job: BlockingJob) -> BlockingFuture {
            self.0.fetch_add(1, Ordering::SeqCst);
            job();
            Box::pin(std::future::ready(Ok(())))
        }
    }

    /// Drops every job and says it ran: a broken executor.
    #[derive(Debug)]
    struct Liar;

    impl BlockingExecutor for Liar {
        fn spawn_blocking(&self, job: BlockingJob) -> BlockingFuture {
            drop(job);
            Box::pin(std::future::ready(Ok(())))
        }
    }

    fn hash(pool: &HashPool) -> Result<String, Error> {
        let hasher = PasswordHasher::insecure_fast_for_tests();
        ready(pool.hash(&hasher, Password::new("correct horse battery")))
    }

    #[test]
    fn without_an_executor_hashing_is_refused_not_run_inline() {
        let pool = HashPool::new(2, None);
        let err = hash(&pool).expect_err("no executor");
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert_eq!(
            err.to_string(),
            "internal error: no BlockingExecutor to hash passwords on: enable identity-core's \
             `tokio` feature or call IdentityManagerBuilder::blocking_executor"
        );
        assert!(pool.memories.lock().expect("lock").is_empty());
    }

    #[test]
    fn hashes_run_on_the_executor_and_reuse_their_memory() {
        let executor = Arc::new(Inline::default());
        let pool = HashPool::new(2, None).with_executor(executor.clone());
        for _ in 0..3 {
            let encoded = hash(&pool).expect("hashes");
            assert!(
                identity_password::verify("correct horse battery", &encoded).expect("verifies")
            );
        }
        assert_eq!(executor.0.load(Ordering::SeqCst), 3);
        // One hash at a time here: one working memory, reused by all three.
        assert_eq!(pool.memories.lock().expect("lock").len(), 1);
        // Changing the permits keeps the executor.
        let pool = pool.with_permits(4);
        hash(&pool).expect("hashes");
        assert_eq!(executor.0.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn a_job_the_executor_never_ran_is_an_error() {
        let pool = HashPool::new(1, Some(Arc::new(Liar)));
        let err = hash(&pool).expect_err("never ran");
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert_eq!(
            err.to_string(),
            "internal error: the blocking executor reported a hashing job done that never ran"
        );
    }

    #[cfg(feature = "tokio")]
    #[test]
    fn the_tokio_executor_outside_a_runtime_is_an_error_not_an_inline_hash() {
        let pool = HashPool::new(1, default_executor());
        let err = hash(&pool).expect_err("no runtime");
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert_eq!(
            err.to_string(),
            "internal error: the password hashing job failed"
        );
        let source = std::error::Error::source(&err)
            .expect("a source")
            .to_string();
        assert!(
            source.starts_with("no Tokio runtime to hash on"),
            "{source}"
        );
    }
}
