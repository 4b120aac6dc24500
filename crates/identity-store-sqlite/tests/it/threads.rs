//! Which thread a write runs on: the caller's when the caller is no Tokio
//! task (it is blocked on the write anyway), the blocking pool for a task.
//! A write that runs on the caller's thread is done by the end of the
//! future's first poll; one handed to the blocking pool is not (the pool
//! thread has a file to `fsync` first).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use identity_core::{IdentityStore, TenantId};
use uuid::Uuid;

use crate::support::*;

const T: TenantId = TenantId::DEFAULT;

/// A multi-threaded runtime with one worker.
fn multi_threaded() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .expect("runtime")
}

/// Awaits `future`, telling whether its first poll left it pending.
async fn pending_at_first<F: Future>(future: F) -> (bool, F::Output) {
    let mut future = pin!(future);
    let first = std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(done) => (false, done),
        Poll::Pending => (true, future.await),
    }
}

/// Polls `future` once, with a waker that does nothing.
fn poll_once<F: Future>(future: F) -> Poll<F::Output> {
    let mut future = pin!(future);
    future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn without_a_runtime_every_call_runs_on_the_callers_thread() {
    let (store, _dir, _) = file_store();
    let identity = person(Uuid::new_v4(), "no-runtime@example.com");
    let created = poll_once(store.create(T, &valid(&identity)));
    assert!(matches!(created, Poll::Ready(Ok(1))), "{created:?}");
    let updated = poll_once(store.update(
        T,
        &valid(&moved(
            &identity,
            "moved@example.com",
            "2024-02-01T00:00:00Z",
        )),
        Some(1),
    ));
    assert!(matches!(updated, Poll::Ready(Ok(2))), "{updated:?}");
    let Poll::Ready(Ok(read)) = poll_once(store.get(T, identity.id)) else {
        panic!("the read did not finish on the first poll");
    };
    assert_eq!(read.version, 2);
    let deleted = poll_once(store.delete(T, identity.id, Some(2)));
    assert!(matches!(deleted, Poll::Ready(Ok(()))), "{deleted:?}");
}

#[test]
fn block_on_of_a_multi_threaded_runtime_writes_on_its_own_thread() {
    let (store, _dir, _) = file_store();
    let runtime = multi_threaded();
    let identity = person(Uuid::new_v4(), "block-on@example.com");
    let created = runtime.block_on(async { poll_once(store.create(T, &valid(&identity))) });
    assert!(matches!(created, Poll::Ready(Ok(1))), "{created:?}");
}

#[test]
fn a_task_writes_on_the_blocking_pool() {
    let (store, _dir, _) = file_store();
    let runtime = multi_threaded();
    let identity = person(Uuid::new_v4(), "task@example.com");
    let task_store = store.clone();
    let task_identity = identity.clone();
    let (first_poll_pending, created) = runtime
        .block_on(runtime.spawn(async move {
            let valid = valid(&task_identity);
            pending_at_first(task_store.create(T, &valid)).await
        }))
        .expect("task");
    assert!(
        first_poll_pending,
        "a task's write ran on the task's thread"
    );
    assert_eq!(created.ok(), Some(1));
    let stored = runtime.block_on(store.get(T, identity.id)).expect("get");
    assert_eq!(stored.version, 1);
}

#[test]
fn a_current_thread_runtime_writes_on_the_blocking_pool() {
    let (store, _dir, _) = file_store();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let identity = person(Uuid::new_v4(), "current-thread@example.com");
    let valid = valid(&identity);
    let (first_poll_pending, created) = runtime.block_on(pending_at_first(store.create(T, &valid)));
    assert!(first_poll_pending, "the runtime's one thread ran the write");
    assert_eq!(created.ok(), Some(1));
}
