//! Running one logical operation against the pool: client-side timeouts,
//! discarding connections that timed out, reconnecting (through a
//! multi-host `target_session_attrs=read-write` configuration, to a new
//! primary after a failover), re-running what is safe to re-run, and
//! settling a write whose commit was lost.
//!
//! # Which failures are re-run
//!
//! - A serialization failure or a deadlock: the whole transaction, up to
//!   [`PostgresOptions::max_retries`] times, with jittered backoff.
//! - A write that met a concurrent write and wrote nothing
//!   ([`Failure::Retry`]: a delete whose identity came back between its two
//!   statements), like a serialization failure.
//! - A connection that failed or timed out **before** the write sent its
//!   `COMMIT` (or, for a one-statement write, before it sent that
//!   statement): nothing can have been committed, so the attempt is re-run
//!   on a fresh connection (the failed one is dropped from the pool, which
//!   may not have noticed yet), at once the first time, then with backoff
//!   for as long as [`PostgresOptions::reconnect_window`] allows. Reads are
//!   re-run the same way.
//! - A connection that failed or timed out **after** `COMMIT` was sent: the
//!   write is *in doubt*. The attempt is re-run in "settling" mode
//!   ([`Lease::settling`]), in which each write first finds out, under the
//!   locks its first attempt took (so an attempt still pending on the same
//!   server is waited for), whether that attempt committed: a create finds
//!   its identity id taken (ids are fresh, so only by itself), an update
//!   finds the row equal to what it wrote, a delete waits for the row lock.
//!   Proven committed: success. Proven not committed: the write goes on in
//!   the same attempt, exactly once. Neither: [`Error::OutcomeUnknown`].
//!   When no connection answers within the window, or the settling attempt
//!   fails again, the write is [`Error::OutcomeUnknown`], never a success
//!   and never a failure it may not be.
//!
//! # Timeouts
//!
//! Every attempt runs under [`PostgresOptions::statement_timeout`] until its
//! commit is sent, and the commit under [`PostgresOptions::commit_timeout`]
//! (a server whose synchronous standby is gone waits for it forever, and
//! PostgreSQL's own `statement_timeout` does not bound that wait). A
//! connection whose attempt timed out is detached from the pool and closed,
//! never handed out again.

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use deadpool_postgres::Transaction;
use deadpool_postgres::{Object, Pool, PoolError};
use identity_core::Error;
use tokio::time::Instant;
use tokio_postgres::Error as PgError;

use crate::error::{self, map_pool, retryable};
use crate::options::PostgresOptions;

/// Why one attempt failed.
pub(crate) enum Failure {
    /// A driver error.
    Db(PgError),
    /// A store error, final.
    Store(Error),
    /// A client-side timeout (the connection is discarded).
    TimedOut,
    /// The attempt met a concurrent write and wrote nothing: re-run it
    /// like a serialization failure (the error is the answer once the
    /// retries are spent).
    Retry(Error),
}

impl From<PgError> for Failure {
    fn from(e: PgError) -> Self {
        Failure::Db(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Store(e)
    }
}

/// What an operation is, for the runner.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Changes nothing: re-run freely.
    Read,
    /// A write that is the same whether it runs once or twice (pruning,
    /// numbering the feed, moving a consumer's cursor forward): re-run
    /// even when in doubt.
    Idempotent,
    /// A write whose lost commit must be settled ([`Lease::settling`]).
    Write,
}

/// One attempt's state, shared by its [`Lease`], its [`Committer`] and the
/// runner.
#[derive(Default)]
struct AttemptState {
    /// The commit (or a statement that commits by itself) was sent.
    commit_sent: AtomicBool,
    /// The connection timed out: close it instead of pooling it.
    poisoned: AtomicBool,
}

/// What the attempts of one operation share.
#[derive(Default)]
pub(crate) struct Shared {
    /// A version an update was about to commit (0: none yet), so that a
    /// settling attempt knows what its lost commit would have written.
    intended_version: AtomicU64,
}

impl Shared {
    /// Records the version the attempt is about to commit.
    pub(crate) fn intend(&self, version: u64) {
        self.intended_version.store(version, Ordering::SeqCst);
    }

    /// The version an earlier attempt was about to commit, if any.
    pub(crate) fn intended(&self) -> Option<u64> {
        match self.intended_version.load(Ordering::SeqCst) {
            0 => None,
            v => Some(v),
        }
    }
}

/// A pooled connection lent to one attempt. Dropped after a timeout, it
/// is detached from the pool and closed (a backend that stopped answering
/// must not serve the next call); otherwise it goes back to the pool.
pub(crate) struct Lease {
    conn: Option<Object>,
    state: Arc<AttemptState>,
    shared: Arc<Shared>,
    settling: bool,
    commit_timeout: Duration,
}

impl Lease {
    /// The handle that sends this attempt's commit.
    pub(crate) fn committer(&self) -> Committer {
        Committer {
            state: Arc::clone(&self.state),
            timeout: self.commit_timeout,
        }
    }

    /// Whether an earlier attempt of this write may have committed: the
    /// attempt must first find out (see the module docs) and never apply
    /// the write a second time.
    pub(crate) fn settling(&self) -> bool {
        self.settling
    }

    /// What the attempts of this operation share.
    pub(crate) fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }
}

impl Deref for Lease {
    type Target = Object;

    fn deref(&self) -> &Object {
        // Present until drop.
        self.conn.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl DerefMut for Lease {
    fn deref_mut(&mut self) -> &mut Object {
        self.conn.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take()
            && self.state.poisoned.load(Ordering::SeqCst)
        {
            // Detached: dropping the client closes the connection.
            drop(Object::take(conn));
        }
    }
}

/// Sends a commit under the commit timeout, marking the attempt as
/// possibly committed from the moment it is sent.
pub(crate) struct Committer {
    state: Arc<AttemptState>,
    timeout: Duration,
}

impl Committer {
    /// Commits `tx`.
    pub(crate) async fn commit(&self, tx: Transaction<'_>) -> Result<(), Failure> {
        self.statement(tx.commit()).await
    }

    /// Runs a statement that commits by itself (outside a transaction).
    pub(crate) async fn statement<T>(
        &self,
        statement: impl Future<Output = Result<T, PgError>>,
    ) -> Result<T, Failure> {
        self.state.commit_sent.store(true, Ordering::SeqCst);
        match tokio::time::timeout(self.timeout, statement).await {
            Ok(result) => result.map_err(Failure::Db),
            Err(_) => {
                self.state.poisoned.store(true, Ordering::SeqCst);
                Err(Failure::TimedOut)
            }
        }
    }
}

/// How one attempt ended, as the runner sees it.
enum Ended<T> {
    /// The attempt's own answer.
    Done(Result<T, Error>),
    /// The server answered with an error: nothing was committed.
    Failed(PgError),
    /// A serialization failure, a deadlock, or [`Failure::Retry`].
    Conflict(Failure),
    /// The connection failed or timed out: before the commit was sent,
    /// safe to re-run; after, the write is in doubt.
    Lost(Failure),
}

/// Runs `attempt` until it gives an answer (see the module docs).
pub(crate) async fn run<T, F, Fut>(
    pool: &Pool,
    options: &PostgresOptions,
    context: &'static str,
    kind: Kind,
    attempt: F,
) -> Result<T, Error>
where
    F: Fn(Lease) -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let started = Instant::now();
    let shared = Arc::new(Shared::default());
    let base = options.retry_base_delay;
    let cap = base.saturating_mul(100).max(Duration::from_millis(1));
    let mut delay = base;
    let mut retries = 0;
    // The failure that left the write in doubt, while it is.
    let mut doubt: Option<Failure> = None;
    let mut lost_once = false;
    loop {
        let attempt_started = std::time::Instant::now();
        let conn = match pool.get().await {
            Ok(conn) => conn,
            Err(e) => {
                if started.elapsed() < options.reconnect_window && reconnectable(&e) {
                    tracing::debug!(context, "no database connection, retrying");
                    tokio::time::sleep(jitter(reconnect_delay(delay))).await;
                    delay = delay.saturating_mul(2).min(cap);
                    continue;
                }
                return Err(match doubt {
                    Some(_) => unknown(context, map_pool(context, e)),
                    None => map_pool(context, e),
                });
            }
        };
        let state = Arc::new(AttemptState::default());
        let lease = Lease {
            conn: Some(conn),
            state: Arc::clone(&state),
            shared: Arc::clone(&shared),
            settling: doubt.is_some() && kind == Kind::Write,
            commit_timeout: options.commit_timeout,
        };
        let mut future = Box::pin(attempt(lease));
        let result = tokio::select! {
            result = &mut future => result,
            () = tokio::time::sleep(options.statement_timeout) => {
                if state.commit_sent.load(Ordering::SeqCst) {
                    // The commit is under way, bounded by its own timeout.
                    future.await
                } else {
                    state.poisoned.store(true, Ordering::SeqCst);
                    drop(future);
                    Err(Failure::TimedOut)
                }
            }
        };
        let commit_sent = state.commit_sent.load(Ordering::SeqCst);
        match classify(result) {
            Ended::Done(result) => return result,
            Ended::Failed(e) => {
                let e = error::map(context, e);
                return Err(if doubt.is_some() {
                    unknown(context, e)
                } else {
                    e
                });
            }
            Ended::Conflict(_) if retries < options.max_retries => {
                retries += 1;
                tracing::debug!(context, retries, "transaction conflict, retrying");
                tokio::time::sleep(jitter(delay)).await;
                delay = delay.saturating_mul(2).min(cap);
            }
            Ended::Conflict(failure) => {
                let e = failure_error(context, failure);
                return Err(if doubt.is_some() {
                    unknown(context, e)
                } else {
                    e
                });
            }
            Ended::Lost(failure) => {
                // The attempt's connection went back to the pool before
                // its task noticed it is dead: drop it (and any other
                // handed out since), so the re-run opens a fresh one.
                pool.retain(|_, m| m.recycled.unwrap_or(m.created) < attempt_started);
                let in_doubt = doubt.is_some() || (commit_sent && kind == Kind::Write);
                // The first loss is re-run at once, whatever the window: the
                // pool may hand out a connection whose server end closed a
                // moment ago, before its task noticed.
                if !lost_once {
                    lost_once = true;
                    if in_doubt {
                        doubt = Some(failure);
                    }
                    tracing::debug!(context, "the connection failed; re-running at once");
                    continue;
                }
                if started.elapsed() >= options.reconnect_window {
                    let cause = failure_error(context, failure);
                    return Err(if in_doubt {
                        unknown(context, cause)
                    } else {
                        cause
                    });
                }
                if in_doubt {
                    if doubt.is_none() {
                        tracing::warn!(context, "the commit's answer was lost; settling it");
                    }
                    doubt = Some(failure);
                } else {
                    tracing::debug!(context, "the connection failed; re-running");
                }
                tokio::time::sleep(jitter(reconnect_delay(delay))).await;
                delay = delay.saturating_mul(2).min(cap);
            }
        }
    }
}

/// Sorts an attempt's result.
fn classify<T>(result: Result<T, Failure>) -> Ended<T> {
    let failure = match result {
        Ok(value) => return Ended::Done(Ok(value)),
        Err(Failure::Store(e)) => return Ended::Done(Err(e)),
        Err(failure) => failure,
    };
    match failure {
        Failure::Db(e) if retryable(&e) => Ended::Conflict(Failure::Db(e)),
        failure @ Failure::Retry(_) => Ended::Conflict(failure),
        // PostgreSQL rolls back a transaction whose COMMIT fails.
        Failure::Db(e) if !lost_connection(&e) => Ended::Failed(e),
        failure => Ended::Lost(failure),
    }
}

/// Whether the connection, rather than the statement, failed: the answer
/// was lost (closed, I/O, a server shutting down or killing the backend,
/// CockroachDB's "result is ambiguous").
fn lost_connection(e: &PgError) -> bool {
    match e.code() {
        None => true,
        Some(code) => {
            let code = code.code();
            code.starts_with("08") || code.starts_with("57P") || code == "40003"
        }
    }
}

/// Whether a failure to get a connection may pass: the server refused, is
/// starting, is a standby not yet promoted, or did not answer in time.
fn reconnectable(e: &PoolError) -> bool {
    match e {
        PoolError::Backend(e) => lost_connection(e) || e.code().is_none(),
        PoolError::Timeout(_) => true,
        _ => false,
    }
}

fn failure_error(context: &'static str, failure: Failure) -> Error {
    match failure {
        Failure::Db(e) => error::map(context, e),
        Failure::Store(e) | Failure::Retry(e) => e,
        Failure::TimedOut => Error::Unavailable {
            message: format!("{context}: the database did not answer in time"),
            source: None,
        },
    }
}

/// The error of a write left in doubt, keeping the last failure as its
/// source.
fn unknown(context: &'static str, cause: Error) -> Error {
    Error::outcome_unknown(
        format!("{context}: the connection was lost after the commit was sent"),
        cause,
    )
}

/// Backoff between reconnections: at least 50 ms (a promotion takes a
/// while), at most 500 ms.
fn reconnect_delay(delay: Duration) -> Duration {
    delay.clamp(Duration::from_millis(50), Duration::from_millis(500))
}

/// A delay between half and all of `delay`, so that writers that collided
/// do not collide again in lockstep.
pub(crate) fn jitter(delay: Duration) -> Duration {
    let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
    let half = micros / 2;
    Duration::from_micros(half + fastrand::u64(0..=half.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_half_and_all() {
        for _ in 0..100 {
            let d = jitter(Duration::from_millis(10));
            assert!(d >= Duration::from_millis(5) && d <= Duration::from_millis(10));
        }
    }

    #[test]
    fn reconnections_wait_between_50_and_500_ms() {
        assert_eq!(
            reconnect_delay(Duration::from_millis(2)),
            Duration::from_millis(50)
        );
        assert_eq!(
            reconnect_delay(Duration::from_millis(80)),
            Duration::from_millis(80)
        );
        assert_eq!(
            reconnect_delay(Duration::from_secs(3)),
            Duration::from_millis(500)
        );
    }

    #[test]
    fn lost_answers_are_told_from_refusals() {
        let timeout = tokio_postgres::Error::__private_api_timeout();
        assert!(lost_connection(&timeout));
        assert!(matches!(
            classify::<()>(Err(Failure::Db(timeout))),
            Ended::Lost(_)
        ));
        assert!(matches!(
            classify::<()>(Err(Failure::TimedOut)),
            Ended::Lost(_)
        ));
        assert!(matches!(classify(Ok(7)), Ended::Done(Ok(7))));
        assert!(matches!(
            classify::<()>(Err(Failure::Store(Error::NotFound))),
            Ended::Done(Err(Error::NotFound))
        ));
    }
}
