//! Password hashes run on the `BlockingExecutor` the embedder gives the
//! builder, with no async runtime at all; the default executor outside
//! Tokio refuses instead of hashing inline.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

use identity_core::password::PasswordHasher;
use identity_core::{
    BlockingExecutor, BlockingFuture, BlockingJob, CreateIdentityBody, CredentialInclude,
    IdentityManager, IdentityStore as _, TenantId,
};
use identity_store_memory::MemoryStore;
use serde_json::json;

use crate::ops_support::registry;

/// Runs each job on a fresh OS thread named `hash-worker`, and wakes the
/// awaiting task when the job has returned.
#[derive(Debug, Default)]
struct ThreadPerJob {
    jobs: AtomicUsize,
    /// The name of the thread each job ran on.
    ran_on: Arc<Mutex<Vec<Option<String>>>>,
}

#[derive(Default)]
struct Completion {
    done: bool,
    waker: Option<Waker>,
}

impl BlockingExecutor for ThreadPerJob {
    fn spawn_blocking(&self, job: BlockingJob) -> BlockingFuture {
        self.jobs.fetch_add(1, Ordering::SeqCst);
        let state = Arc::new(Mutex::new(Completion::default()));
        let (done, ran_on) = (Arc::clone(&state), Arc::clone(&self.ran_on));
        let spawned = std::thread::Builder::new()
            .name("hash-worker".to_owned())
            .spawn(move || {
                let name = std::thread::current().name().map(str::to_owned);
                ran_on.lock().expect("lock").push(name);
                job();
                let mut done = done.lock().expect("lock");
                done.done = true;
                if let Some(waker) = done.waker.take() {
                    waker.wake();
                }
            });
        if let Err(e) = spawned {
            return Box::pin(std::future::ready(Err(e.into())));
        }
        Box::pin(std::future::poll_fn(move |cx| {
            let mut state = state.lock().expect("lock");
            if state.done {
                Poll::Ready(Ok(()))
            } else {
                state.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }))
    }
}

/// A waker that unparks the thread blocked in [`block_on`].
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Drives `future` to completion on this thread: no Tokio, no `futures`.
fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

fn body() -> CreateIdentityBody {
    CreateIdentityBody::from_json(json!({
        "schema_id": "default",
        "traits": {"email": "ada@example.com"},
        "credentials": {"password": {"config": {"password": "correct horse battery"}}}
    }))
    .expect("body")
}

#[test]
fn hashes_run_on_a_custom_executor_without_any_runtime() {
    assert!(
        tokio::runtime::Handle::try_current().is_err(),
        "this test runs outside Tokio"
    );
    let executor = Arc::new(ThreadPerJob::default());
    let manager = IdentityManager::builder(Arc::new(MemoryStore::new()), Arc::new(registry()))
        .hasher(PasswordHasher::insecure_fast_for_tests())
        .blocking_executor(executor.clone())
        .hash_concurrency(1)
        .build();
    let created = block_on(manager.create(TenantId::DEFAULT, body())).expect("created");
    assert_eq!(executor.jobs.load(Ordering::SeqCst), 1);
    assert_eq!(
        *executor.ran_on.lock().expect("lock"),
        [Some("hash-worker".to_owned())]
    );
    let json = manager.to_json(&created, CredentialInclude::All);
    let hash = json["credentials"]["password"]["config"]["hashed_password"]
        .as_str()
        .expect("a hash");
    assert!(identity_core::password::verify("correct horse battery", hash).expect("verifies"));
    // An identity without a plaintext password needs no executor job.
    block_on(
        manager.create(
            TenantId::DEFAULT,
            CreateIdentityBody::from_json(json!({
                "schema_id": "default", "traits": {"email": "grace@example.com"}
            }))
            .expect("body"),
        ),
    )
    .expect("created");
    assert_eq!(executor.jobs.load(Ordering::SeqCst), 1);
}

/// The default executor is Tokio's blocking pool: outside a Tokio runtime
/// it refuses, and nothing is written (it used to hash inline, stalling the
/// caller's executor for the whole hash).
#[cfg(feature = "tokio")]
#[test]
fn the_default_executor_outside_tokio_refuses_and_writes_nothing() {
    let store = Arc::new(MemoryStore::new());
    let manager = IdentityManager::builder(store.clone(), Arc::new(registry()))
        .hasher(PasswordHasher::insecure_fast_for_tests())
        .build();
    let err = block_on(manager.create(TenantId::DEFAULT, body())).expect_err("no runtime");
    assert_eq!(err.kind(), identity_core::ErrorKind::Internal);
    assert_eq!(
        err.to_string(),
        "internal error: the password hashing job failed"
    );
    assert_eq!(block_on(store.count(TenantId::DEFAULT)).expect("count"), 0);
}
